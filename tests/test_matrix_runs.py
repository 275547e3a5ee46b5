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


def check_tables(out, config: dict, combo: dict) -> None:
    tables = out / "tables"
    predictions = pd.read_parquet(tables / "predictions.parquet")
    scores = pd.read_parquet(tables / "scores.parquet")
    cells = pd.read_parquet(tables / "cells.parquet")

    # no duplicate keys
    dup = predictions.duplicated(CELL_KEYS + ["epoch", "eval_set", "item_hash"])
    assert not dup.any(), predictions[dup].head()
    assert not scores.duplicated(CELL_KEYS + ["epoch", "split", "ability"]).any()

    # every planned cell scored (an adaptive study: the cells its rounds chose, all of the grid)
    scored = {(r.data_source, int(r.data_size), r.recipe) for r in scores[CELL_KEYS].drop_duplicates().itertuples()}
    wanted = expected_cells(combo)
    if combo["adaptive"]:
        rounds = pd.read_parquet(out / "analysis" / "adaptive_rounds.parquet")
        assert len(rounds) >= 1 and scored - {("base", 0, "")} <= wanted and len(scored - {("base", 0, "")}) >= 1
        assert ("base", 0, "") in scored if combo["evaluate_base"] else ("base", 0, "") not in scored
    else:
        assert scored == wanted
    trained = {(r.data_source, int(r.data_size), r.recipe) for r in cells[CELL_KEYS].itertuples()}
    assert trained == scored - {("base", 0, "")}
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
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# Analysis of study")


@pytest.mark.parametrize("index", range(len(RUNS)), ids=[name_of(c) for c in RUNS])
def test_combination_runs_and_its_tables_hold(index, tmp_path, llama_checkpoints):
    combo = RUNS[index]
    config = study_config(combo, tmp_path, llama_checkpoints["safetensors"])
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    snakemake(tmp_path, configfile=path)
    check_tables(tmp_path / "results" / config["study"], config, combo)
