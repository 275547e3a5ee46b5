"""The pairwise matrix run for real (``make test-matrix``; CI runs it after ``make test``): the tiny
studies of tests/matrix.py that hold every pair of values of the switches that change what runs. Each
run completes, and its tables pass the same consistency checks: no duplicate keys, every planned cell
scored, every evaluation set present at every epoch."""
import pandas as pd
import pytest
import yaml

from .conftest import snakemake
from .matrix import RUN_SWITCHES, expected_cells, name_of, pairwise, study_config

pytestmark = pytest.mark.matrix

CELL_KEYS = ["model_size", "data_source", "data_size", "seed", "recipe"]
RUNS = pairwise(RUN_SWITCHES)


GUIDELINE = {("recipe", 12, "guideline"), ("recipe", 12, "guideline-optimize")}


def check_tables(out, config: dict, combo: dict) -> None:
    wanted = expected_cells(combo)
    # the guideline's cells train after the grid's tables: their tables are apart (tables/guideline)
    check_table_set(out / "tables", config, combo, wanted - GUIDELINE, adaptive=combo["adaptive"])
    if wanted & GUIDELINE:
        check_table_set(out / "tables" / "guideline", config, combo, wanted & GUIDELINE, adaptive=False)
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# Analysis of study")


def check_table_set(tables, config: dict, combo: dict, wanted: set, adaptive: bool) -> None:
    predictions = pd.read_parquet(tables / "predictions.parquet")
    scores = pd.read_parquet(tables / "scores.parquet")
    cells = pd.read_parquet(tables / "cells.parquet")

    # no duplicate keys
    dup = predictions.duplicated(CELL_KEYS + ["epoch", "eval_set", "item_hash"])
    assert not dup.any(), predictions[dup].head()
    assert not scores.duplicated(CELL_KEYS + ["epoch", "split", "ability"]).any()

    # every planned cell scored (an adaptive study: the cells its rounds chose, all of the grid)
    base = ("base", 0, "")
    scored = {(r.data_source, int(r.data_size), r.recipe) for r in scores[CELL_KEYS].drop_duplicates().itertuples()}
    if adaptive:
        assert 1 <= len(scored - {base}) and scored - {base} <= wanted - {base}
        assert (base in scored) == (base in wanted)
    else:
        assert scored == wanted
    trained = {(r.data_source, int(r.data_size), r.recipe) for r in cells[CELL_KEYS].itertuples()}
    assert trained == scored - {base}
    assert cells["selected_epoch"].notna().all()

    # every evaluation set at every epoch: both splits of each ability, the OOD sets, the benchmarks
    abilities = set(config["data"]["abilities"])
    for key, g in scores.groupby(CELL_KEYS + ["epoch"]):
        for split in ("valid", "test"):
            assert abilities <= set(g.loc[g["split"] == split, "ability"]), (key, split)
        extra = set(g["ability"]) - abilities
        assert bool(extra) == (combo["ood"] or combo["benchmarks"] != "none"), (key, extra)
    sets = predictions.groupby(CELL_KEYS + ["epoch"])["eval_set"].agg(lambda s: " ".join(sorted(set(s))))
    for key, names in sets.items():
        for bench in ("cmmlu", "agieval"):
            assert (bench in names) == (combo["benchmarks"] == bench), (key, names)


@pytest.mark.parametrize("index", range(len(RUNS)), ids=[name_of(c) for c in RUNS])
def test_combination_runs_and_its_tables_hold(index, tmp_path, llama_checkpoints):
    combo = RUNS[index]
    config = study_config(combo, tmp_path, llama_checkpoints["safetensors"])
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    snakemake(tmp_path, configfile=path)
    check_tables(tmp_path / "results" / config["study"], config, combo)
