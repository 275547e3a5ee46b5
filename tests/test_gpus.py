"""Concurrent jobs on one machine each get GPUs of their own (growthpace.gpus), through real file locks
held by separate processes. No GPU is needed: the claim only names devices in CUDA_VISIBLE_DEVICES."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from growthpace.gpus import ALLOCATION_GPU_ENVS, LOCK_DIR_ENV, SUBMITTED_ENV, claimed_gpus, lock_dir

# Variables that would tell the claim it runs inside an allocation or a submitted job.
CLUSTER_ENVS = ("SLURM_JOB_ID", SUBMITTED_ENV, *ALLOCATION_GPU_ENVS)

JOB = """
import json, os, sys, time
from pathlib import Path
from growthpace.gpus import ALLOCATION_GPU_ENVS, LOCK_DIR_ENV, SUBMITTED_ENV, claimed_gpus, lock_dir

# Variables that would tell the claim it runs inside an allocation or a submitted job.
CLUSTER_ENVS = ("SLURM_JOB_ID", SUBMITTED_ENV, *ALLOCATION_GPU_ENVS)
n, out, hold = int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
with claimed_gpus(n, poll_seconds=0.05) as got:
    out.write_text(json.dumps({"claimed": got, "visible": os.environ["CUDA_VISIBLE_DEVICES"],
                               "order": os.environ["CUDA_DEVICE_ORDER"], "at": time.time()}))
    time.sleep(hold)
"""


def start(tmp_path, name, n, hold, env):
    return subprocess.Popen([sys.executable, "-c", JOB, str(n), str(tmp_path / f"{name}.json"), str(hold)], env=env)


def wait_for(path, timeout=60):
    deadline = time.time() + timeout
    while not path.exists() and time.time() < deadline:
        time.sleep(0.02)
    return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A machine with 4 GPUs as CUDA_VISIBLE_DEVICES lists them, and a lock directory of its own."""
    env = {k: v for k, v in os.environ.items() if k not in CLUSTER_ENVS}
    env.update(CUDA_VISIBLE_DEVICES="0,1,2,3", GROWTHPACE_GPU_LOCK_DIR=str(tmp_path / "locks"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in CLUSTER_ENVS:
        monkeypatch.delenv(k, raising=False)
    return env


def test_concurrent_jobs_get_disjoint_gpus_and_a_third_waits(tmp_path, machine):
    a, b = start(tmp_path, "a", 2, 3.0, machine), start(tmp_path, "b", 2, 10.0, machine)  # a ends first
    got_a, got_b = wait_for(tmp_path / "a.json"), wait_for(tmp_path / "b.json")
    assert len(got_a["claimed"]) == len(got_b["claimed"]) == 2
    assert set(got_a["claimed"]).isdisjoint(got_b["claimed"])
    assert set(got_a["claimed"]) | set(got_b["claimed"]) == {"0", "1", "2", "3"}
    assert got_a["visible"] == ",".join(got_a["claimed"]) and got_a["order"] == "PCI_BUS_ID"
    c = start(tmp_path, "c", 1, 0.0, machine)  # every GPU is taken: it waits for one to be released
    time.sleep(1.0)
    assert not (tmp_path / "c.json").exists()
    a.wait(timeout=60)
    got_c = wait_for(tmp_path / "c.json")
    assert got_c["claimed"][0] in got_a["claimed"] and got_c["at"] >= got_a["at"] + 3.0 - 0.5
    for p in (b, c):
        assert p.wait(timeout=60) == 0


def test_a_killed_job_leaves_its_gpus_free(tmp_path, machine):
    a = start(tmp_path, "a", 4, 600.0, machine)
    assert wait_for(tmp_path / "a.json")["claimed"] == ["0", "1", "2", "3"]
    a.kill()
    a.wait(timeout=60)
    b = start(tmp_path, "b", 4, 0.0, machine)
    assert wait_for(tmp_path / "b.json")["claimed"] == ["0", "1", "2", "3"]
    assert b.wait(timeout=60) == 0


def test_claim_in_process_restores_the_environment(machine, monkeypatch):
    with claimed_gpus(0) as none:
        assert none == [] and os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    with claimed_gpus(3) as got:
        assert got == ["0", "1", "2"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    with pytest.raises(RuntimeError, match="asks for 5 GPU\\(s\\) but this machine has 4"):
        with claimed_gpus(5):
            pass
    # A job the SLURM executor submitted uses its own allocation as it is, with no lock.
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv(SUBMITTED_ENV, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with claimed_gpus(2) as got:
        assert got == ["0", "1"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
        with claimed_gpus(2) as again:  # another job of the node numbers its GPUs the same: no wait
            assert again == ["0", "1"]


def test_jobs_sharing_an_allocation_claim_disjoint_gpus_of_it(tmp_path, machine):
    """Snakemake inside an allocation (salloc) runs its jobs side by side there: SLURM_JOB_ID is set in
    each, and each claims out of the allocation's GPUs (SLURM_JOB_GPUS here: no CUDA_VISIBLE_DEVICES)."""
    env = {k: v for k, v in machine.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(SLURM_JOB_ID="42", SLURM_JOB_GPUS="4,5,6,7")
    a, b = start(tmp_path, "a", 3, 3.0, env), start(tmp_path, "b", 1, 3.0, env)
    got_a, got_b = wait_for(tmp_path / "a.json"), wait_for(tmp_path / "b.json")
    assert set(got_a["claimed"]) | set(got_b["claimed"]) == {"4", "5", "6", "7"}
    assert len(got_a["claimed"]) == 3 and set(got_a["claimed"]).isdisjoint(got_b["claimed"])
    assert got_b["visible"] == got_b["claimed"][0]
    # The locks are named after the allocation: another allocation on the node numbering its GPUs the
    # same way does not wait on them.
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == [f"slurm-42-gpu-{d}.lock" for d in "4567"]
    other = {**env, "SLURM_JOB_ID": "43"}
    c = start(tmp_path, "c", 4, 0.0, other)
    assert wait_for(tmp_path / "c.json")["claimed"] == ["4", "5", "6", "7"]
    for p in (a, b, c):
        assert p.wait(timeout=60) == 0


def test_step_gpus_come_before_job_gpus(machine, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURM_JOB_GPUS", "0,1,2,3")
    monkeypatch.setenv("SLURM_STEP_GPUS", "2,3")
    with claimed_gpus(2) as got:
        assert got == ["2", "3"]
    with pytest.raises(RuntimeError, match=r"asks for 3 GPU\(s\) but SLURM allocation 42 has 2 \(SLURM_STEP_GPUS=2,3\)"):
        with claimed_gpus(3):
            pass


def test_one_lock_directory_per_machine_and_user_whatever_tmpdir(tmp_path, machine, monkeypatch):
    """Two jobs with different TMPDIR claim from the same locks (the machine's default directory; an
    allocation id of this test's own keeps its lock names apart from anything else on the machine)."""
    monkeypatch.delenv(LOCK_DIR_ENV)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert lock_dir() == Path(f"/tmp/growthpace-gpu-locks-{os.getuid()}")
    job = f"test-{uuid.uuid4().hex}"
    env = {k: v for k, v in machine.items() if k != LOCK_DIR_ENV}
    env.update(SLURM_JOB_ID=job)
    (tmp_path / "t1").mkdir()
    (tmp_path / "t2").mkdir()
    a = start(tmp_path, "a", 2, 3.0, {**env, "TMPDIR": str(tmp_path / "t1")})
    b = start(tmp_path, "b", 2, 3.0, {**env, "TMPDIR": str(tmp_path / "t2")})
    got_a, got_b = wait_for(tmp_path / "a.json"), wait_for(tmp_path / "b.json")
    assert set(got_a["claimed"]).isdisjoint(got_b["claimed"])
    assert set(got_a["claimed"]) | set(got_b["claimed"]) == {"0", "1", "2", "3"}
    for p in (a, b):
        assert p.wait(timeout=60) == 0
    for d in "0123":
        (lock_dir() / f"slurm-{job}-gpu-{d}.lock").unlink(missing_ok=True)
