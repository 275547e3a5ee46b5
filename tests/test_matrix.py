"""The pairwise matrix of studies (tests/matrix.py): its coverage, every combination planned by
snakemake, and the combinations no study can hold refused at planning with every problem in one message.
The real runs of the matrix are tests/test_matrix_runs.py (``make test-matrix``)."""
import subprocess
import sys
from itertools import combinations

import pytest
import yaml

from .conftest import ROOT
from .matrix import (INVALID, RUN_SWITCHES, SWITCHES, expected_cells, invalid_pairs, pairwise, study_config,
                     uncovered_pairs)


@pytest.mark.parametrize("switches", [list(SWITCHES), RUN_SWITCHES], ids=["all", "run"])
def test_the_matrix_holds_every_valid_pair(switches):
    combos = pairwise(switches)
    assert uncovered_pairs(combos, switches) == []
    assert not [c for c in combos if invalid_pairs(c)]
    # the count below is independent of the generator: every pair of values, less the invalid ones
    n_pairs = sum(len(SWITCHES[a]) * len(SWITCHES[b]) for a, b in combinations(switches, 2))
    held = {p for c in combos for p in combinations(sorted((s, c[s]) for s in switches), 2)}
    assert len(held) == n_pairs - len([p for p in INVALID if {p[0][0], p[1][0]} <= set(switches)])
    # and the check sees a pair that goes missing: drop the only combination holding some pair
    for i, combo in enumerate(combos):
        own = set(combinations(sorted((s, combo[s]) for s in switches), 2))
        others = {p for c in combos[:i] + combos[i + 1:] for p in combinations(sorted((s, c[s]) for s in switches), 2)}
        if own - others:
            assert set(uncovered_pairs(combos[:i] + combos[i + 1:], switches)) == own - others
            break
    else:
        pytest.fail("no combination holds a pair of its own: the matrix has a redundant combination")


def plan(workdir, config):
    path = workdir / "study.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                           "--directory", str(workdir), "--configfile", str(path), "-n", "--cores", "2", "--quiet", "rules"],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def path_model(tmp_path_factory, llama_checkpoints):
    return llama_checkpoints["safetensors"]


@pytest.mark.parametrize("index", range(len(pairwise())))
def test_every_combination_plans(index, tmp_path, path_model):
    combo = pairwise()[index]
    proc = plan(tmp_path, study_config(combo, tmp_path, path_model))
    assert proc.returncode == 0, f"{combo}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    jobs = job_counts(proc.stdout + proc.stderr)
    trained = len(expected_cells(combo) - {("base", 0, "")})
    if combo["adaptive"]:  # the rounds are checkpoints: cells are planned as each round decides
        assert jobs["adaptive_round"] == 1 and jobs.get("train_cell", 0) < trained
    else:
        assert jobs["train_cell"] == trained
        assert jobs.get("evaluate_base", 0) == int(combo["evaluate_base"])


def job_counts(log: str) -> dict[str, int]:
    """snakemake's "Job stats" table of a dry run, as {rule: jobs}."""
    table = log.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = [line.split() for line in table.splitlines()[3:]]
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[0] != "total"}


def test_invalid_combinations_stop_at_planning_with_every_problem(tmp_path, path_model):
    """Each invalid pair, and an unrelated mistake beside them, in one message before any job."""
    combo = {**pairwise()[0], "adaptive": True, "recipes": True, "single_ability": True}
    assert len(invalid_pairs(combo)) == len(INVALID)
    config = study_config(combo, tmp_path, path_model)
    config["grid"]["model_sizes_by_source"] = {"synthetic": ["nope"]}  # a size models.sizes lacks
    proc = plan(tmp_path, config)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for words in set(INVALID.values()) | {"grid.model_sizes_by_source.synthetic[0]"}:
        assert words in out, out[-3000:]
    assert "recipes" in out and "single_ability" in out
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.parquet"))
