"""Incremental re-runs, artifact reuse across studies, concurrent studies, status and store gc.

All with real snakemake runs on copies of the finished smoke study (its store lives inside its work
directory, so a copy is a finished study of its own).
"""

import re
import shutil
import subprocess
import sys
import threading

import pandas as pd
import pytest
import yaml

from growthpace.status import cell_states
from growthpace.store import Store, collect_garbage, list_artifacts

from .conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow

SMOKE = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())


def copy_study(smoke_run, tmp_path, name="copy"):
    dst = tmp_path / name
    shutil.copytree(smoke_run, dst, symlinks=True)  # copy2 keeps mtimes: snakemake sees the same state
    return dst


def write_config(tmp_path, edit, name="edited.yaml"):
    cfg = yaml.safe_load(yaml.safe_dump(SMOKE))
    edit(cfg)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def planned_jobs(workdir, configfile=None):
    """Jobs per rule that a dry run would run (snakemake's 'Job stats' table)."""
    proc = snakemake(workdir, "-n", configfile=configfile)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M) if rule != "total"}


AGGREGATE = {"tables": 1, "plot_growth": 1, "summary": 1, "analysis": 1, "analysis_plots": 1, "report_md": 1,
             "all": 1}


def test_nothing_changed_runs_nothing(smoke_run, tmp_path):
    assert planned_jobs(copy_study(smoke_run, tmp_path)) == {}


def test_new_data_size_runs_only_its_cells(smoke_run, tmp_path):
    cfg = write_config(tmp_path, lambda c: c["grid"]["data_sizes"]["curated"].append(20))
    # one new subset, one cell per model size (2), each evaluated at 2 epochs
    assert planned_jobs(copy_study(smoke_run, tmp_path), cfg) == {
        "subset": 1, "train_cell": 2, "evaluate_checkpoint": 4, **AGGREGATE}


def test_new_model_size_runs_only_its_cells(smoke_run, tmp_path):
    def add_size(c):
        c["models"]["sizes"]["t"] = {**c["models"]["sizes"]["xs"], "arch": {**c["models"]["sizes"]["xs"]["arch"],
                                                                             "hidden_size": 16}}
        c["grid"]["model_sizes"].append("t")
    cfg = write_config(tmp_path, add_size)
    # one base model, 3 cells (2 curated + 1 synthetic), 2 epochs each; subsets are shared
    assert planned_jobs(copy_study(smoke_run, tmp_path), cfg) == {
        "base_model": 1, "train_cell": 3, "evaluate_checkpoint": 6, **AGGREGATE}


def test_changed_evaluation_setting_reruns_evaluation_only(smoke_run, tmp_path):
    cfg = write_config(tmp_path, lambda c: c["evaluation"]["max_new_tokens"].update(math=16))
    assert planned_jobs(copy_study(smoke_run, tmp_path), cfg) == {"evaluate_checkpoint": 12, **AGGREGATE}


def test_new_ability_keeps_suite_tokenizer_and_base_models(smoke_run, tmp_path):
    cfg = write_config(tmp_path, lambda c: (c["data"].update(abilities=c["data"]["abilities"][:5]),
                                            c["grid"]["data_sizes"].update(curated=[5, 20])))
    jobs = planned_jobs(copy_study(smoke_run, tmp_path), cfg)
    # curated cells train on a different mixture (they are new cells); nothing upstream is rebuilt
    assert not {"suite", "tokenizer", "base_model"} & set(jobs)
    assert jobs["train_cell"] == 4


def _store_log_lines(workdir, study):
    text = "".join(p.read_text() for p in (workdir / "results" / study / "logs").rglob("*.log"))
    return re.findall(r"(\w+) (\w+): (building|found in store)", text)


def test_second_study_reuses_the_first_ones_artifacts(smoke_run, tmp_path):
    workdir = copy_study(smoke_run, tmp_path)
    cfg = write_config(tmp_path, lambda c: (c.update(study="second"),
                                            c["grid"].update(model_sizes=["xs"]),
                                            c["grid"]["data_sizes"].update(curated=[10, 40, 20])))
    snakemake(workdir, configfile=cfg)
    built = {(kind, key) for kind, key, what in _store_log_lines(workdir, "second") if what == "building"}
    # Only the new cell (xs, curated-20) is trained: its subset, its SFT run and its predictions.
    assert sorted(kind for kind, _ in built) == ["predictions", "predictions", "sft", "subset"]
    first = pd.read_parquet(workdir / "results" / "smoke" / "tables" / "cells.parquet")
    second = pd.read_parquet(workdir / "results" / "second" / "tables" / "cells.parquet")
    shared = second.merge(first, on=["model_size", "data_source", "data_size", "seed"], suffixes=("", "_first"))
    assert len(shared) == 3 and (shared["sft_key"] == shared["sft_key_first"]).all()


def test_concurrent_studies_build_shared_artifacts_once(tmp_path):
    store = tmp_path / "shared-store"

    def tiny(c, name):
        c.update(study=name, store_dir=str(store))
        c["grid"].update(model_sizes=["xs"])
        c["grid"]["data_sizes"] = {"curated": [10]}

    cfgs = [write_config(tmp_path, lambda c, n=n: tiny(c, n), name=f"{n}.yaml") for n in ("one", "two")]
    dirs = [tmp_path / "one", tmp_path / "two"]
    results = [None, None]

    def run(i):
        results[i] = snakemake(dirs[i], "--cores", "1", configfile=cfgs[i], check=False)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results]
    lines = _store_log_lines(dirs[0], "one") + _store_log_lines(dirs[1], "two")
    for kind in ("suite", "tokenizer", "base_model", "subset", "sft", "predictions"):
        keys = {key for k, key, _ in lines if k == kind}
        builds = [key for k, key, what in lines if k == kind and what == "building"]
        assert sorted(builds) == sorted(keys), f"{kind}: each artifact is built exactly once"
    assert len({a["key"] for a in list_artifacts(Store(store)) if a["kind"] == "sft"}) == 1


def test_status_and_gc(smoke_run, tmp_path):
    workdir = copy_study(smoke_run, tmp_path)
    states = cell_states(SMOKE, workdir)
    assert len(states) == 6 and {s["state"] for s in states} == {"done"}
    dropped = workdir / "results" / "smoke" / "predictions" / "xs" / "curated-10-seed0" / "epoch2.parquet"
    dropped_key = pd.read_parquet(dropped)["predictions_key"].iloc[0]
    dropped.unlink()
    (workdir / "results" / "smoke" / "receipts" / "sft" / "s" / "curated-40-seed0.json").unlink()
    by_cell = {(s["model_size"], s["data_source"], s["data_size"]): s["state"] for s in cell_states(SMOKE, workdir)}
    assert by_cell[("xs", "curated", 10)] == "evaluating" and by_cell[("s", "curated", 40)] == "missing"
    cli = subprocess.run([sys.executable, "-m", "growthpace.cli", "status", "--configfile",
                          str(ROOT / ".test" / "config.yaml")], cwd=workdir, capture_output=True, text=True)
    assert "4 done, 1 evaluating, 1 missing" in cli.stdout, cli.stdout + cli.stderr

    store = Store(workdir / ".test" / "results" / "store")
    before = list_artifacts(store)
    orphan = store.build("subset", {"orphan": True}, None, lambda d: (d / "x").write_text("x") and None)
    # unreferenced: the orphan, and the predictions whose table the study no longer has
    expected = sorted([orphan.key, dropped_key])
    assert sorted(a["key"] for a in collect_garbage(store, [workdir / "results" / "smoke"], dry_run=True)) == expected
    assert len(list_artifacts(store)) == len(before) + 1  # a dry run deletes nothing
    doomed = collect_garbage(store, [workdir / "results" / "smoke"])
    assert sorted(a["key"] for a in doomed) == expected
    # the s/curated-40 SFT run is referenced only through its predictions now: kept, with its inputs
    assert sorted(a["key"] for a in list_artifacts(store)) == sorted(a["key"] for a in before if a["key"] != dropped_key)
    with pytest.raises(FileNotFoundError, match="no such study"):
        collect_garbage(store, [workdir / "results" / "nope"])
