"""The content-addressed store: stable keys, atomic builds, one build under concurrency."""

import json
import multiprocessing as mp
import time

import pytest

from growthpace.gpus import SUBMITTED_ENV
from growthpace.store import Store, artifact_key


def test_keys_depend_on_spec_inputs_and_kind_only():
    k = artifact_key("subset", {"a": 1, "b": [1, 2]}, {"suite": "x"})
    assert k == artifact_key("subset", {"b": [1, 2], "a": 1}, {"suite": "x"})  # key order does not matter
    assert k != artifact_key("subset", {"a": 2, "b": [1, 2]}, {"suite": "x"})
    assert k != artifact_key("subset", {"a": 1, "b": [1, 2]}, {"suite": "y"})
    assert k != artifact_key("tokenizer", {"a": 1, "b": [1, 2]}, {"suite": "x"})
    with pytest.raises(KeyError, match="unknown artifact kind 'nope'"):
        artifact_key("nope", {})


def test_build_once_then_reuse(tmp_path):
    store = Store(tmp_path)
    calls = []

    def builder(d):
        calls.append(d)
        (d / "data.txt").write_text("hello")
        return {"n": 1}

    a = store.build("suite", {"x": 1}, None, builder)
    b = store.build("suite", {"x": 1}, None, builder)
    assert a == b and len(calls) == 1
    assert (a.path / "data.txt").read_text() == "hello"
    manifest = json.loads((a.path / "manifest.json").read_text())
    assert manifest["spec"] == {"x": 1} and manifest["n"] == 1 and manifest["bytes"] == 5


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path):
    store = Store(tmp_path)

    def failing(d):
        (d / "half.txt").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.build("suite", {"x": 2}, None, failing)
    key = artifact_key("suite", {"x": 2})
    assert not store.exists("suite", key)
    assert not store.path("suite", key).exists()
    built = store.build("suite", {"x": 2}, None, lambda d: (d / "ok.txt").write_text("ok") and None)
    assert (built.path / "ok.txt").exists() and not (built.path / "half.txt").exists()


def _slow_build(root, counter):
    def builder(d):
        with open(counter, "a") as f:
            f.write("built\n")
        time.sleep(1.0)
        (d / "x").write_text("x")
    Store(root).build("suite", {"shared": True}, None, builder)


def test_concurrent_builders_build_once(tmp_path):
    counter = tmp_path / "count.txt"
    procs = [mp.get_context("spawn").Process(target=_slow_build, args=(tmp_path / "store", counter)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert counter.read_text().count("built") == 1


def _slow_holder(root, started):
    def builder(d):
        started.set()
        time.sleep(4)
        (d / "x").write_text("built by the other run")
    Store(root).build("sft", {"cell": 1}, {"base": "b"}, builder)


def test_a_job_in_a_cluster_allocation_does_not_wait_for_another_build(tmp_path, monkeypatch):
    """Inside a SLURM job a build held by another run stops the job (after a short grace) instead of
    keeping its allocation waiting; elsewhere it waits and then finds what the other run built."""
    import growthpace.store as store_module
    from growthpace.store import BuildInProgress, NotInStore

    ctx = mp.get_context("spawn")
    started = ctx.Event()
    other = ctx.Process(target=_slow_holder, args=(tmp_path, started))
    other.start()
    assert started.wait(60)
    store = Store(tmp_path)
    key = artifact_key("sft", {"cell": 1}, {"base": "b"})
    assert store.state("sft", key) == "building"
    called = []
    monkeypatch.setattr(store_module, "LOCK_GRACE_SECONDS", 0.5)
    # A job that snakemake runs inside an salloc (SLURM_JOB_ID set, not submitted) waits like any other;
    # only a job the cluster executor submitted gives up.
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert not store_module.in_allocation()
    monkeypatch.setenv(SUBMITTED_ENV, "1")
    with pytest.raises(BuildInProgress, match="being built by another run.*SLURM job 4242"):
        store.build("sft", {"cell": 1}, {"base": "b"}, lambda d: called.append(d))
    monkeypatch.delenv(SUBMITTED_ENV)
    found = store.build("sft", {"cell": 1}, {"base": "b"}, lambda d: called.append(d))
    other.join(60)
    assert called == [] and (found.path / "x").read_text() == "built by the other run"
    assert store.state("sft", key) == "done"
    # A job planned to reuse an artifact never builds one that is missing.
    with pytest.raises(NotInStore, match="planned to reuse it"):
        store.build("sft", {"cell": 2}, {"base": "b"}, lambda d: called.append(d), reuse_only=True)
    assert called == [] and store.state("sft", artifact_key("sft", {"cell": 2}, {"base": "b"})) is None
