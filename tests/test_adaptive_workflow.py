"""An adaptive smoke study through the real workflow: rounds as checkpoints, and a run stopped between
two rounds that picks up where it was."""

import json
import re
import shutil

import pandas as pd
import yaml

from growthpace.cell_status import cell_states
from growthpace.study import load_config

from .conftest import ROOT, snakemake


def grid_states(work):
    """`growthpace status`'s state of each grid cell, by the rounds' cell key ``{model_size}/{name}``."""
    rows = cell_states(load_config(work / "adaptive.yaml"), work)
    return {f"{r['model_size']}/{r['data_source']}-{r['data_size']}-seed{r['seed']}": r["state"] for r in rows
            if r["data_source"] in ("curated", "synthetic")}


def test_adaptive_rounds_run_and_resume_between_rounds(smoke_run, tmp_path):
    # The smoke study's store holds its base models and trained cells: the seed design (curated 10 and 40
    # on xs and s) is found there, and the cell round 1 picks (curated-20) is trained.
    work = tmp_path / "smoke"
    shutil.copytree(smoke_run, work, symlinks=True)
    config = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())
    config["study"] = "smoke-adaptive"
    config["grid"]["data_sizes"] = {"curated": [10, 20, 40], "synthetic": [20]}
    # tolerance null: spend the budget (the smoke models learn too little for any conclusion to be unstable)
    config["grid"]["adaptive"] = {"enabled": True, "budget": 5, "batch": 1, "tolerance": None, "n_boot": 50,
                                  "n_draws": 10}
    (work / "adaptive.yaml").write_text(yaml.safe_dump(config))
    out = work / "results" / "smoke-adaptive"
    rounds = out / "analysis" / "adaptive"

    # Stopped between rounds: round 1 decided, its cell not trained yet.
    snakemake(work, str(rounds.relative_to(work) / "round1.json"), configfile=work / "adaptive.yaml")
    first = {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in rounds.glob("round*.json")}
    assert sorted(first) == ["round0.json", "round1.json"]
    r0, r1 = (json.loads(first[f"round{i}.json"][1]) for i in (0, 1))
    assert r0["chosen"] == ["s/curated-10-seed0", "s/curated-40-seed0", "xs/curated-10-seed0", "xs/curated-40-seed0"]
    assert r1["measured"] == r0["chosen"] and len(r1["chosen"]) == 1 and "curated-20" in r1["chosen"][0]
    picked = out / "receipts" / "sft" / f"{r1['chosen'][0]}.json"
    assert not picked.exists()
    seed_receipts = {p: p.stat().st_mtime_ns for p in (out / "receipts" / "sft").rglob("*.json")}
    # `growthpace status` between rounds: chosen and trained, chosen and not trained, not chosen yet.
    states = grid_states(work)
    assert len(states) == 8
    assert {k for k, s in states.items() if s == "done"} == set(r0["chosen"])
    assert states[r1["chosen"][0]] == "missing"
    assert {s for k, s in states.items() if k not in r0["chosen"] + r1["chosen"]} == {"unchosen"}

    # The same command again: the rounds on disk stand, round 1's cell trains, round 2 stops at the budget.
    snakemake(work, configfile=work / "adaptive.yaml")
    assert {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in rounds.glob("round[01].json")} == first
    assert all(p.stat().st_mtime_ns == t for p, t in seed_receipts.items())
    assert picked.exists()
    r2 = json.loads((rounds / "round2.json").read_text())
    assert r2["stop"] == "budget" and r2["chosen"] == []
    table = pd.read_parquet(out / "analysis" / "adaptive_rounds.parquet")
    assert sorted(table["round"].unique()) == [0, 1, 2]
    cells = pd.read_parquet(out / "tables" / "cells.parquet")
    assert len(cells) == 5 and set(cells["data_source"]) == {"curated"}
    report = (out / "report.md").read_text()
    assert "## Adaptive design" in report and "xs/synthetic-20-seed0" in report  # skipped, listed
    assert "Cell-hours:" in report
    states = grid_states(work)
    assert {k for k, s in states.items() if s == "done"} == set(r0["chosen"] + r1["chosen"])
    assert {s for k, s in states.items() if k not in r0["chosen"] + r1["chosen"]} == {"skipped"}
    assert "Nothing to be done" in snakemake(work, "-n", configfile=work / "adaptive.yaml").stdout
    # Benchmarks at the selected epoch: the cells the rounds trained get them, the skipped ones do not,
    # and nothing else runs again (planned only: what the tables would read).
    config["evaluation"]["benchmarks"] = {"cmmlu": {"dir": str(ROOT / "tests" / "fixtures" / "cmmlu"), "shots": [0]},
                                          "epochs": "selected"}
    (work / "benchmarks.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(work, "-n", configfile=work / "benchmarks.yaml").stdout
    jobs = {rule: int(n) for rule, n in re.findall(r"^(\w+) +(\d+)$", plan, re.MULTILINE) if rule != "total"}
    assert jobs["evaluate_benchmarks"] == len(r0["chosen"] + r1["chosen"]), jobs
    assert not {"train_cell", "evaluate_checkpoint", "adaptive_round"} & set(jobs), jobs
    planned = set(re.findall(r"predictions/(\w+/[\w-]+)/benchmarks\.parquet", plan))
    assert planned == set(r0["chosen"] + r1["chosen"]), planned
