"""Concurrent jobs on one machine each get GPUs of their own (growthpace.gpus), through real file locks
held by separate processes. No GPU is needed: the claim only names devices in CUDA_VISIBLE_DEVICES."""

import json
import os
import subprocess
import sys
import time

import pytest

from growthpace.gpus import claimed_gpus

JOB = """
import json, os, sys, time
from pathlib import Path
from growthpace.gpus import claimed_gpus
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
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    env.update(CUDA_VISIBLE_DEVICES="0,1,2,3", GROWTHPACE_GPU_LOCK_DIR=str(tmp_path / "locks"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
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
    # Under SLURM the allocation's own devices are used as they are, with no lock.
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with claimed_gpus(2) as got:
        assert got == ["0", "1"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
        with claimed_gpus(2) as again:  # another job of the node numbers its GPUs the same: no wait
            assert again == ["0", "1"]
