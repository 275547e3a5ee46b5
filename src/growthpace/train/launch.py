"""Starting one training cell under a distributed launcher, and the worker that each process runs.

``run_cell`` writes the cell's job file and starts ``torchrun`` (or the ``deepspeed`` launcher) with
one process per GPU of the job, or one process on a CPU; each process runs ``python -m growthpace.train``
(``worker_main``). The same call therefore trains on one CPU, one GPU or every GPU of a SLURM node.
One process under ``torchrun`` is started directly, with the environment torchrun would give it: the
launcher's own start (importing torch, a rendezvous) took 8 s of a cell's wall time on 2 busy cores.

The launched processes get ``LOW_MEMORY_ENV`` (large freed blocks go back to the system) and a
DeepSpeed op cache of this environment's own (``TORCH_EXTENSIONS_DIR``), unless the caller set them.

If the calling process dies (a scheduler's SIGTERM, or SIGKILL), the launcher is told to stop, and a
worker whose launcher is gone is killed, so that a re-run never trains the same cell twice at once;
the re-run resumes from the last complete epoch checkpoint in the work directory.

With ``evaluation.in_training_job``, the main worker then builds the predictions of the cell's epoch
snapshots itself (``artifacts.evaluate_epochs_in_training``), before it writes the metrics: each evaluate
job would import torch and transformers and load the eval sets again (5-6 s of a demo evaluation's 10).

The model directory and the data are checked by the workers, first thing (``sft.prepare``): before any
model is loaded or process group made. The main worker writes what stopped it to ``error.json``, and
``run_cell`` raises it again in the calling process, with its class for a bad model directory or data
(``ModelDirError``, ``NoTrainableTokens``), so a rule's error names the file and the problem. (Checking
in the calling process as well cost every cell 3-4 s of CPU: the checks import torch and transformers.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..files import write_json_atomic
from .checks import ModelDirError, NoTrainableTokens
from .rendezvous import free_port

LAUNCHERS = ("torchrun", "deepspeed")
# glibc raises its mmap threshold each time a large block is freed, after which blocks of that size come
# from the heap and stay resident once freed. Building a model under zero.Init allocates and frees every
# full parameter (each process keeps only its partition), so without a fixed threshold a process's
# resident memory ends as high as if it held the whole model (benchmarks/bench_memory.py). With it,
# blocks of 4 MiB or more (weights, gathered parameters) go back to the system when freed.
LOW_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20)}
# glibc's mallopt parameters, and the values its dynamic thresholds reach on a 64-bit machine.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
HEAP_FOR_EVALUATION = {M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 64 << 20}
log = logging.getLogger(__name__)
# Errors of the checks a worker makes before it trains, raised again as themselves in the calling process.
RELAYED_ERRORS = {cls.__name__: cls for cls in (ModelDirError, NoTrainableTokens)}


def launch_command(job_file: Path, metrics_file: Path, nproc: int, launcher: str = "torchrun",
                   threads: int | None = None) -> list[str]:
    if nproc < 1:
        raise ValueError(f"nproc: {nproc} processes; need at least 1")
    worker = ["--job", str(job_file), "--metrics", str(metrics_file)]
    if threads:
        worker += ["--threads", str(threads)]
    if launcher == "torchrun" and nproc == 1:  # see single_process_env
        return [sys.executable, "-m", "growthpace.train", *worker]
    if launcher == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                "-m", "growthpace.train", *worker]
    if launcher == "deepspeed":
        return [sys.executable, "-m", "deepspeed.launcher.runner", f"--num_gpus={nproc}",
                f"--master_port={free_port()}", "--module", "growthpace.train", *worker]
    raise ValueError(f"launcher: {launcher!r} is not one of {', '.join(LAUNCHERS)}")


def _die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux; elsewhere a no-op)."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(sig))  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _log_stream():
    """Where the launched processes print: this process's stderr (a rule's log), if it is a real file."""
    try:
        sys.stderr.flush()
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def heap_for_evaluation() -> None:
    """Let blocks up to 32 MiB be reused from the heap again, as they are in an evaluate job.

    Under ``LOW_MEMORY_ENV`` every block of 4 MiB or more is mapped and unmapped (and its pages faulted
    in) each time: an evaluation allocates and frees logits of that size in every batch, and ran 14%
    slower in a training process than in an evaluate job (demo, 43 evaluations). Linux only."""
    if sys.platform != "linux" or "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    for param, value in HEAP_FOR_EVALUATION.items():
        libc.mallopt(param, value)


def single_process_env() -> dict:
    """What ``torchrun --standalone --nproc_per_node=1`` tells its one worker about the process group."""
    return {"RANK": "0", "LOCAL_RANK": "0", "GROUP_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
            "ROLE_RANK": "0", "ROLE_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}


def launch_env(threads: int | None = None) -> dict:
    """The environment of launched training processes: this one's, plus what the caller did not set."""
    env = dict(os.environ)
    # DeepSpeed compiles its ops on first use into ~/.cache/torch_extensions; environments with other
    # torch builds sharing that directory rebuild them in turn, minutes each. Ops built for this
    # environment stay with it. (Training skips the one op a CPU run would build: sft.skip_shm_op.)
    env.setdefault("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch_extensions"))
    for name, value in LOW_MEMORY_ENV.items():
        env.setdefault(name, value)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_cell(job: dict, work_dir: str | Path, nproc: int = 1, launcher: str = "torchrun",
             threads: int | None = None) -> dict:
    """Train one cell (``job``: base_model_dir, train_file, out_dir, work_dir, settings) in launched processes.

    Returns the metrics written by the main process.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    job_file, metrics_file = work_dir / "job.json", work_dir / "metrics.json"
    # When the launch began: the worker reports how long its start (interpreter, imports) took.
    write_json_atomic(job_file, {**job, "launched_at": time.time()})
    metrics_file.unlink(missing_ok=True)
    error_file(metrics_file).unlink(missing_ok=True)
    cmd = launch_command(job_file, metrics_file, nproc, launcher, threads)
    env = launch_env(threads)
    if job.get("device") == "cpu":  # keyed as a CPU cell: it trains there, whatever GPUs the machine has
        env["CUDA_VISIBLE_DEVICES"] = ""
    if launcher == "torchrun" and nproc == 1:
        env.update(single_process_env())
    log.info("launching: %s", " ".join(cmd))
    proc = subprocess.Popen(cmd, env=env, stdout=_log_stream(), stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent)

    def forward(signum, frame):
        proc.send_signal(signum)
    # A scheduler's SIGTERM reaches this process; pass it on (only the main thread may set handlers).
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)} if main else {}
    try:
        rc = proc.wait()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if rc != 0:
        raise worker_error(error_file(metrics_file), f"training launched as `{' '.join(cmd)}` failed with exit "
                                                     f"status {rc}")
    metrics = json.loads(metrics_file.read_text())
    metrics["cell_seconds"] = round(time.time() - json.loads(job_file.read_text())["launched_at"], 3)
    return metrics


def error_file(metrics_file: Path) -> Path:
    """Where the main worker writes the error that stopped it."""
    return Path(metrics_file).with_name("error.json")


def worker_error(path: Path, failed: str) -> Exception:
    """The error a worker recorded in ``path``: a check's own class and message, else a RuntimeError
    that says how the launch failed and why (the traceback is in the log)."""
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return RuntimeError(failed)
    if recorded.get("type") in RELAYED_ERRORS:
        return RELAYED_ERRORS[recorded["type"]](recorded["message"])
    return RuntimeError(f"{failed}: {recorded.get('type')}: {recorded.get('message')}")


def worker_main(argv: list[str] | None = None, evaluate_epochs=None) -> None:
    """One process of a launched cell: read the job, train, write metrics (main process only).

    ``evaluate_epochs(plan, epochs_dir) -> {epoch: key or error}``: what the main process runs on the
    job's ``evaluate`` plan once training is done (``artifacts.evaluate_epochs_in_training``, given by
    ``__main__``: training does not import the store's builders)."""
    parser = argparse.ArgumentParser(prog="python -m growthpace.train")
    parser.add_argument("--job", required=True, help="job file written by run_cell")
    parser.add_argument("--metrics", required=True, help="where the main process writes its metrics (JSON)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None,
                        help="set by the deepspeed launcher; LOCAL_RANK in the environment is used instead")
    args = parser.parse_args(argv)
    # torchrun starts workers in sessions of their own, so a kill of the job's process group can miss
    # them: a worker whose launcher is gone must not go on training (a re-run would train beside it).
    parent = os.getppid()
    _die_with_parent(signal.SIGKILL)
    if os.getppid() != parent:  # the launcher died before the request took effect
        sys.exit(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import torch

    from ..data.loaders import load_jsonl
    from .sft import SFTSettings, train_sft

    if args.threads:
        torch.set_num_threads(args.threads)
    job = json.loads(Path(args.job).read_text())
    started = round(time.time() - job["launched_at"], 3) if "launched_at" in job else None
    settings = SFTSettings.from_dict(job["settings"])
    main = int(os.environ.get("RANK", "0")) == 0
    try:
        records = load_jsonl(job["train_file"])
        metrics = train_sft(job["base_model_dir"], records, job["out_dir"], job["work_dir"], settings,
                            device=job.get("device"))
    except Exception as e:
        if main:
            write_json_atomic(error_file(args.metrics), {"type": type(e).__name__, "message": str(e)})
        raise
    # Launch to the start of training: interpreter and launcher start, imports, reading the data.
    metrics["phase_seconds"] = {"process_start": started, **metrics["phase_seconds"]}
    # A process group left to interpreter shutdown can abort in its destructor (gloo); close it here.
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if main and job.get("evaluate") and evaluate_epochs:  # evaluation.in_training_job, once trained
        import gc

        gc.collect()  # training's model, optimizer and DeepSpeed engine went out of scope: free them first
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        heap_for_evaluation()
        began = time.perf_counter()
        metrics["evaluated_in_job"] = evaluate_epochs(job["evaluate"], Path(job["out_dir"]) / "epochs")
        metrics["phase_seconds"]["evaluate"] = round(time.perf_counter() - began, 3)
    if main:
        write_json_atomic(args.metrics, metrics)
