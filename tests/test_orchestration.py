"""Incremental re-runs, artifact reuse across studies, concurrent studies, status and store gc.

All with real snakemake runs on copies of the finished smoke study (its store lives inside its work
directory, so a copy is a finished study of its own).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading

import pandas as pd
import pytest
import yaml

from growthpace.cell_status import cell_states
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


def job_stats(out):
    """Jobs per rule in snakemake's 'Job stats' table ({} when there is nothing to do)."""
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M) if rule != "total"}


def planned_jobs(workdir, configfile=None):
    """Jobs per rule that a dry run would run."""
    proc = snakemake(workdir, "-n", configfile=configfile)
    return job_stats(proc.stdout + proc.stderr)


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


def test_second_study_reuses_the_first_ones_artifacts(smoke_run, tmp_path, monkeypatch):
    workdir = copy_study(smoke_run, tmp_path)
    cfg = write_config(tmp_path, lambda c: (c.update(study="second"),
                                            c["grid"].update(model_sizes=["xs"]),
                                            c["grid"]["data_sizes"].update(curated=[10, 40, 20])))
    # up to the tables: the analysis after them reads no artifact of the store
    proc = snakemake(workdir, "results/second/tables/scores.parquet", configfile=cfg)
    built = {(kind, key) for kind, key, what in _store_log_lines(workdir, "second") if what == "building"}
    # Only the new cell (xs, curated-20) is trained: its subset, its SFT run and its predictions.
    assert sorted(kind for kind, _ in built) == ["predictions", "predictions", "sft", "subset"]
    # Every job whose artifact was in the store ran here, under its rule's local twin: the cells of
    # the first study cost no training or evaluation job.
    assert job_stats(proc.stdout + proc.stderr) == {
        "suite": 1, "tokenizer": 1, "reuse_base_model": 1, "subset": 1, "reuse_subset": 3, "train_cell": 1,
        "reuse_train_cell": 3, "evaluate_checkpoint": 2, "reuse_evaluate_checkpoint": 6, "tables": 1}
    first = pd.read_parquet(workdir / "results" / "smoke" / "tables" / "cells.parquet")
    second = pd.read_parquet(workdir / "results" / "second" / "tables" / "cells.parquet")
    shared = second.merge(first, on=["model_size", "data_source", "data_size", "seed"], suffixes=("", "_first"))
    assert len(shared) == 3 and (shared["sft_key"] == shared["sft_key_first"]).all()
    # The keys the plan computes without building anything are the keys the builds got.
    from growthpace.reuse import Plan
    from growthpace.study import load_config

    monkeypatch.chdir(workdir)
    plan = Plan(load_config(cfg))
    preds = pd.read_parquet(workdir / "results" / "second" / "tables" / "predictions.parquet")
    for cell in plan.cells.values():
        receipt = workdir / "results" / "second" / "receipts" / "sft" / cell.model_size / f"{cell.name}.json"
        assert plan.sft(cell.model_size, cell.name).key == json.loads(receipt.read_text())["key"]
        for epoch in (1, 2):
            rows = preds[(preds["data_size"] == cell.data_size) & (preds["data_source"] == cell.data_source)
                         & (preds["epoch"] == epoch)]
            assert set(rows["predictions_key"]) == {plan.predictions(cell.model_size, cell.name, epoch).key}
    for name in plan.subsets:
        receipt = workdir / "results" / "second" / "receipts" / "subset" / f"{name}.json"
        assert plan.subset(name).key == json.loads(receipt.read_text())["key"]


def planned_with_version_raised(workdir, kind):
    """A dry run of the smoke study with ``CODE_VERSIONS[kind]`` one higher, as after a code change."""
    code = ("import sys; import growthpace.store as s; s.CODE_VERSIONS[sys.argv[1]] += 1; "
            "from snakemake.cli import main; sys.argv = ['snakemake', *sys.argv[2:]]; main()")
    cmd = [sys.executable, "-c", code, kind, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(ROOT / ".test" / "config.yaml"), "--cores", "2", "-n"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return job_stats(proc.stdout + proc.stderr)


def test_a_raised_code_version_reruns_what_it_changes_and_nothing_else(smoke_run, tmp_path):
    workdir = copy_study(smoke_run, tmp_path)
    assert planned_with_version_raised(workdir, "predictions") == {"evaluate_checkpoint": 12, **AGGREGATE}
    assert planned_with_version_raised(workdir, "sft") == {"train_cell": 6, "evaluate_checkpoint": 12, **AGGREGATE}
    assert planned_with_version_raised(workdir, "tokenizer") == {
        "tokenizer": 1, "base_model": 2, "train_cell": 6, "evaluate_checkpoint": 12, **AGGREGATE}


def test_concurrent_studies_build_shared_artifacts_once(tmp_path):
    store = tmp_path / "shared-store"

    def tiny(c, name):
        c.update(study=name, store_dir=str(store))
        c["grid"].update(model_sizes=["xs"])
        c["grid"]["data_sizes"] = {"curated": [10]}

    cfgs = [write_config(tmp_path, lambda c, n=n: tiny(c, n), name=f"{n}.yaml") for n in ("one", "two")]
    dirs = [tmp_path / "one", tmp_path / "two"]
    results = [None, None]

    def run(i):  # up to the tables: what follows them builds nothing in the store
        results[i] = snakemake(dirs[i], f"results/{('one', 'two')[i]}/tables/scores.parquet", "--cores", "1",
                               configfile=cfgs[i], check=False)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results]
    lines = _store_log_lines(dirs[0], "one") + _store_log_lines(dirs[1], "two")
    # Both studies have the same results.
    one, two = (pd.read_parquet(d / "results" / n / "tables" / "scores.parquet") for d, n in zip(dirs, ("one", "two")))
    pd.testing.assert_frame_equal(one, two)
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
    artifacts = [i for i in collect_garbage(store, [workdir / "results" / "smoke"], dry_run=True)
                 if i["what"] == "artifact"]
    assert sorted(i["key"] for i in artifacts) == expected
    assert len(list_artifacts(store)) == len(before) + 1  # a dry run deletes nothing
    doomed = [i for i in collect_garbage(store, [workdir / "results" / "smoke"]) if i["what"] == "artifact"]
    assert sorted(i["key"] for i in doomed) == expected and not any(i["busy"] for i in doomed)
    # the s/curated-40 SFT run is referenced only through its predictions now: kept, with its inputs
    assert sorted(a["key"] for a in list_artifacts(store)) == sorted(a["key"] for a in before if a["key"] != dropped_key)
    assert not (store.root / "predictions" / dropped_key).exists()
    with pytest.raises(FileNotFoundError, match="no such study"):
        collect_garbage(store, [workdir / "results" / "nope"])


def _bytes(path):
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _hold_lock(lock_file, ready, release):
    from filelock import FileLock

    with FileLock(lock_file):
        ready.set()
        release.wait(60)


def test_gc_frees_resume_state_and_chunk_rows_but_never_a_build_in_progress(smoke_run, tmp_path):
    import multiprocessing as mp

    workdir = copy_study(smoke_run, tmp_path)
    results = workdir / "results" / "smoke"
    store = Store(workdir / ".test" / "results" / "store")
    finished = sorted(a["key"] for a in list_artifacts(store) if a["kind"] == "sft")
    # What builds leave: resume state of a finished cell (as a kill between the rename and the clean-up
    # would), resume state of an interrupted cell, a killed build's temporary directory.
    done_work = store.root / "sft" / f".work-{finished[0]}"
    (done_work / "trainer" / "checkpoint-4").mkdir(parents=True)
    (done_work / "trainer" / "checkpoint-4" / "optimizer.pt").write_bytes(b"o" * 5000)
    open_work = store.root / "sft" / ".work-0123456789abcdef0123"
    (open_work / "trainer").mkdir(parents=True)
    (open_work / "trainer" / "optimizer.pt").write_bytes(b"o" * 700)
    tmp_dir = store.root / "subset" / ".tmp-0123456789abcdef0123-4242"
    tmp_dir.mkdir()
    (tmp_dir / "train.jsonl").write_text("{}\n")
    # Chunk rows: every log of the smoke run is in finished predictions; one more has a row that is not
    # (an evaluation killed after its first chunk).
    rows = sorted(p for p in (store.root / "predictions" / ".rows").iterdir() if p.is_dir())
    partial = rows[0].with_name("ffffffffffffffff-" + rows[0].name.split("-")[1])
    shutil.copytree(rows[0], partial)
    df = pd.read_parquet(next(partial.glob("part-*.parquet")))
    df.assign(item_hash="not-in-any-artifact").head(1).to_parquet(partial / "part-09999.parquet")
    # Another process is building an (unreferenced) artifact right now: it holds the key's lock.
    orphan = store.build("subset", {"orphan": True}, None, lambda d: (d / "x").write_text("x") and None)
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(store.path("subset", orphan.key)) + ".lock", ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        listed = collect_garbage(store, [results], dry_run=True)
        by_path = {i["path"]: i for i in listed}
        assert set(by_path) == {done_work, tmp_dir, store.path("subset", orphan.key), *rows}
        assert {by_path[p]["what"] for p in rows} == {"prediction rows"}
        assert by_path[done_work]["what"] == "resume state" and by_path[tmp_dir]["what"] == "temporary"
        assert all(i["bytes"] == _bytes(i["path"]) for i in listed)  # an independent count of the bytes
        assert by_path[store.path("subset", orphan.key)]["busy"] and not by_path[done_work]["busy"]
        assert all(p.exists() for p in by_path)  # the dry run deleted nothing
        cli = subprocess.run([sys.executable, "-m", "growthpace.cli", "store", "gc", "--store", str(store.root),
                              "--keep", str(results), "--dry-run"], capture_output=True, text=True)
        freed = sum(i["bytes"] for i in listed if not i["busy"])
        assert f"would free {freed:,} bytes" in cli.stdout, cli.stdout + cli.stderr
        assert "busy, left alone (being built): artifact subset/" in cli.stdout

        collect_garbage(store, [results])
        assert not done_work.exists() and not tmp_dir.exists() and not any(p.exists() for p in rows)
        assert store.exists("subset", orphan.key)  # being built: left alone
        assert open_work.exists() and partial.exists()  # an unfinished build resumes from these
        assert store.exists("sft", finished[0])
    finally:
        release.set()
        holder.join(60)
    items = collect_garbage(store, [results], unfinished=True)
    assert {i["path"] for i in items} == {open_work, partial, store.path("subset", orphan.key)}
    assert not open_work.exists() and not partial.exists() and not store.exists("subset", orphan.key)
    # what the study uses is all there: it still has nothing to do
    assert planned_jobs(workdir) == {}


# A build of another study, in a process of its own: training holds its subset and base model as
# artifacts.build_sft does (``read``), a running study holds its plan as the workflow's onstart does
# (``plan``). It says "ready" and holds until its stdin closes (or it is killed).
HOLDER = """
import sys
from growthpace.store import Store, hold_plan, read_receipt, release_plan
mode = sys.argv[1]
if mode == "read":
    store = Store(sys.argv[2])
    with store.reading(*[read_receipt(p) for p in sys.argv[3:]]):
        print("ready", flush=True)
        sys.stdin.read()
else:
    from growthpace.reuse import Plan
    from growthpace.study import load_config
    plan = Plan(load_config(sys.argv[2]))
    path = hold_plan(plan.store, plan.config["study"], plan.keys())
    print("ready", flush=True)
    sys.stdin.read()
    release_plan(path)
"""


def _holder(workdir, *args):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, *map(str, args)], cwd=workdir, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_gc_leaves_what_running_studies_read_and_planned(smoke_run, tmp_path):
    """`store gc` keeping only an empty study, while another study runs: its training holds its subset
    and base model (xs, curated-10), and its plan (the s model size) holds what it will read. Only what
    neither needs goes (the xs cells' SFT runs and predictions); a hold whose process was killed counts
    for nothing; the workflow removes its own hold when it ends."""
    workdir = copy_study(smoke_run, tmp_path)
    store = Store(workdir / ".test" / "results" / "store")
    results = workdir / "results" / "smoke"
    # the smoke run's own hold was written when it started and removed when it ended
    assert (store.root / ".studies").is_dir() and not list((store.root / ".studies").iterdir())
    empty = workdir / "results" / "empty"
    empty.mkdir()
    receipts = results / "receipts"
    reads = [receipts / "subset" / "curated-10-seed0.json", receipts / "base" / "xs.json"]
    read = {json.loads(p.read_text())["key"] for p in reads}
    only_s = write_config(tmp_path, lambda c: c["grid"].update(model_sizes=["s"]), "only-s.yaml")
    reader, planner = _holder(workdir, "read", store.root, *reads), _holder(workdir, "plan", only_s)
    try:
        xs_sft = {json.loads(p.read_text())["key"] for p in (receipts / "sft" / "xs").glob("*.json")}
        xs_preds = {k for p in (results / "predictions" / "xs").rglob("*.parquet")
                    for k in pd.read_parquet(p)["predictions_key"]}
        assert len(xs_sft) == 3 and len(xs_preds) == 6
        before = {a["key"]: a["kind"] for a in list_artifacts(store)}
        cli = subprocess.run([sys.executable, "-m", "growthpace.cli", "store", "gc", "--configfile", str(only_s),
                              "--keep", str(empty), "-n"], cwd=workdir, capture_output=True, text=True)
        assert "kept for the running study 'smoke'" in cli.stdout, cli.stdout + cli.stderr
        assert "busy, left alone (being read): artifact base_model/" in cli.stdout
        items = [i for i in collect_garbage(store, [empty]) if i["what"] == "artifact"]
        gone = {i["key"] for i in items if not i["busy"]}
        assert gone == xs_sft | xs_preds
        base_xs = json.loads(reads[1].read_text())["key"]  # the subset is in the plan too: not even listed
        assert {i["key"] for i in items if i["busy"] == "being read"} == {base_xs}
        after = {a["key"] for a in list_artifacts(store)}
        assert after == set(before) - gone
        # what the running study needs is all there: every key it planned, and the inputs of each
        from growthpace.reuse import Plan
        from growthpace.study import load_config

        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            plan = Plan(load_config(only_s))
        finally:
            os.chdir(cwd)
        # all it planned that was there (a key may name what is not built yet), and what the training reads
        assert after == (plan.keys() & set(before)) | read
        # a killed study leaves its hold behind: stale, ignored
        planner.kill()
        planner.wait(60)
        assert list((store.root / ".studies").glob("*.json"))
        listed = collect_garbage(store, [empty], dry_run=True)
        assert {i["key"] for i in listed if not i["busy"]} == after - read
        assert {i["key"] for i in listed if i["busy"] == "being read"} == read
    finally:
        for p in (reader, planner):
            if p.poll() is None:
                p.communicate("", timeout=60)
    # the training ended: what it read may go too
    assert {i["key"] for i in collect_garbage(store, [empty], dry_run=True) if not i["busy"]} == after
