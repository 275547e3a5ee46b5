"""Which GPUs a job uses when several jobs share one machine or one allocation.

Snakemake's ``gpu`` resource (``--resources gpu=N``) limits how many GPUs the running jobs ask for
together, but it does not say which ones a job gets: every job would use ``cuda:0``. So a job claims
its GPUs itself, from a pool of lock files, one per device it may use, and runs with
``CUDA_VISIBLE_DEVICES`` naming only those. A lock is an ``flock`` held by the job's process: the
kernel releases it when the process ends, however it ends, so a killed job never leaves a GPU claimed.
A job that finds too few free GPUs waits for them.

The devices to claim from: ``CUDA_VISIBLE_DEVICES`` if set, else the allocation's GPUs
(``SLURM_STEP_GPUS``, ``SLURM_JOB_GPUS``), else every GPU ``nvidia-smi`` lists. Snakemake running
inside an allocation (``salloc``, an interactive 8-GPU node) runs its jobs there side by side: they
claim like jobs on a workstation, out of the allocation's GPUs. ``SLURM_JOB_ID`` alone therefore says
nothing; only a job that the SLURM executor submitted (``SUBMITTED_ENV``, set by the workflow in
remote jobs: workflow/rules/common.smk) has an allocation of its own, which it uses as it is.

The locks live in one directory per machine and user, ``/tmp/growthpace-gpu-locks-{uid}``, never under
``TMPDIR`` (two jobs with different ``TMPDIR`` must see each other's locks). Inside an allocation the
lock names carry its job id: device numbers there may be the allocation's own (cgroups renumber them
from 0), so two allocations on one node would otherwise wait on each other's ``gpu-0``.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

# Set (to any non-empty value) in the jobs that a cluster executor submitted, each in an allocation of
# its own.
SUBMITTED_ENV = "GROWTHPACE_SUBMITTED_JOB"
# A lock directory other than the machine's (tests, or a machine whose /tmp is not local).
LOCK_DIR_ENV = "GROWTHPACE_GPU_LOCK_DIR"
ALLOCATION_GPU_ENVS = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS")


def submitted_job() -> bool:
    """Whether this job was submitted by a cluster executor and so has its allocation to itself."""
    return bool(os.environ.get(SUBMITTED_ENV))


def lock_dir() -> Path:
    """Shared by every job of this user on this machine, whatever ``TMPDIR`` is."""
    path = Path(os.environ.get(LOCK_DIR_ENV) or f"/tmp/growthpace-gpu-locks-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _devices(value: str) -> list[str]:
    return [d.strip() for d in value.split(",") if d.strip() and d.strip() != "-1"]


def machine_gpus() -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else those of the allocation it
    runs in, else every GPU nvidia-smi lists.

    Read without initialising CUDA, so that the claim can still narrow ``CUDA_VISIBLE_DEVICES``.
    """
    for name in ("CUDA_VISIBLE_DEVICES", *ALLOCATION_GPU_ENVS):
        if os.environ.get(name) is not None:
            return _devices(os.environ[name])
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def _where() -> str:
    """What the devices are numbered within: an allocation (its job id), or the machine."""
    job = os.environ.get("SLURM_JOB_ID")
    return f"slurm-{job}" if job else "machine"


def _try_claim(devices: list[str], n: int, directory: Path) -> list:
    """Locks on ``n`` free devices, or none (all-or-nothing, so two jobs cannot each hold half)."""
    from filelock import FileLock, Timeout

    held, where = [], _where()
    for device in devices:
        lock = FileLock(str(directory / f"{where}-gpu-{device}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        held.append((device, lock))
        if len(held) == n:
            return held
    for _, lock in held:
        lock.release()
    return []


@contextmanager
def claimed_gpus(n: int, poll_seconds: float = 2.0) -> Iterator[list[str]]:
    """Hold ``n`` GPUs of this machine for the duration, with ``CUDA_VISIBLE_DEVICES`` naming them
    (and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so that CUDA numbers them as nvidia-smi does).

    Yields the device ids. ``n`` 0 claims nothing; a job the cluster executor submitted uses its
    allocation as it is.
    """
    if n <= 0:
        yield []
        return
    devices = machine_gpus()
    if submitted_job():
        yield devices[:n]
        return
    if len(devices) < n:
        source = next((f"{k}={os.environ[k]}" for k in ("CUDA_VISIBLE_DEVICES", *ALLOCATION_GPU_ENVS)
                       if os.environ.get(k) is not None), "nvidia-smi")
        where = f"SLURM allocation {os.environ['SLURM_JOB_ID']}" if os.environ.get("SLURM_JOB_ID") else "this machine"
        raise RuntimeError(f"the job asks for {n} GPU(s) but {where} has {len(devices)} ({source}); "
                           "lower models.sizes.<size>.resources.*.gpus")
    directory = lock_dir()
    held, waited = [], False
    while not (held := _try_claim(devices, n, directory)):
        if not waited:
            log.info("waiting for %d free GPU(s) of %s (run snakemake with --resources gpu=%d to queue jobs "
                     "instead)", n, ",".join(devices), len(devices))
            waited = True
        time.sleep(poll_seconds * (0.5 + random.random()))
    claimed = [d for d, _ in held]
    saved = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")}
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(claimed)
    os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    log.info("using GPU(s) %s", ",".join(claimed))
    try:
        yield claimed
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for _, lock in held:
            lock.release()
