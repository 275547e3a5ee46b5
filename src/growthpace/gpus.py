"""Which GPUs a job uses when several jobs share one machine.

Snakemake's ``gpu`` resource (``--resources gpu=N``) limits how many GPUs the running jobs ask for
together, but it does not say which ones a job gets: every job would use ``cuda:0``. So a job claims
its GPUs itself, from a pool of lock files, one per device of the machine (``CUDA_VISIBLE_DEVICES`` if
set, else ``nvidia-smi``), and runs with ``CUDA_VISIBLE_DEVICES`` naming only those. A lock is an
``flock`` held by the job's process: the kernel releases it when the process ends, however it ends, so
a killed job never leaves a GPU claimed. A job that finds too few free GPUs waits for them.

Under SLURM (``SLURM_JOB_ID`` set) the scheduler has already given the job its own GPUs in
``CUDA_VISIBLE_DEVICES``; nothing is claimed (device numbers there are the job's own, and another job
on the node may number its GPUs the same way).
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "GROWTHPACE_GPU_LOCK_DIR"


def lock_dir() -> Path:
    """Shared by every job on the machine, whoever runs it (world-writable, sticky, as /tmp)."""
    path = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "growthpace-gpu-locks")
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        try:
            path.chmod(0o1777)
        except PermissionError:  # made by another user meanwhile
            pass
    return path


def machine_gpus() -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else every GPU nvidia-smi lists.

    Read without initialising CUDA, so that the claim can still narrow ``CUDA_VISIBLE_DEVICES``.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def _try_claim(devices: list[str], n: int, directory: Path) -> list:
    """Locks on ``n`` free devices, or none (all-or-nothing, so two jobs cannot each hold half)."""
    from filelock import FileLock, Timeout

    held = []
    for device in devices:
        lock = FileLock(str(directory / f"gpu-{device}.lock"), mode=0o666)
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

    Yields the device ids. ``n`` 0 claims nothing; under SLURM the job's allocation is used as it is.
    """
    if n <= 0:
        yield []
        return
    devices = machine_gpus()
    if os.environ.get("SLURM_JOB_ID"):
        yield devices[:n]
        return
    if len(devices) < n:
        raise RuntimeError(f"the job asks for {n} GPU(s) but this machine has {len(devices)} "
                           f"({'CUDA_VISIBLE_DEVICES=' + os.environ['CUDA_VISIBLE_DEVICES'] if 'CUDA_VISIBLE_DEVICES' in os.environ else 'nvidia-smi'}); "
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
