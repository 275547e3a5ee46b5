"""CPU rates for ``growthpace plan --rates``, calibrated on a finished run of a study on this machine.

What the plan's rate model (``growthpace.throughput``) needs, measured here:

- the peak: the best fp32 matrix-multiply rate of one core (``gpu_check.gemm_peak``, one thread): on a
  CPU a device is a core, and a job's core-seconds are its seconds times its threads;
- the MFUs: the model FLOPs the plan counts for each job of the run (``growthpace.plan``, as if the store
  were empty: the same tokens and parameters it predicts with) over the peak times the core-seconds of
  the job's model work (an SFT loop's ``phase_seconds.loop``, an evaluation's ``phase_seconds.evaluate``);
  training's is one ratio over every cell; scoring and generation share each evaluation's seconds, so
  theirs come from a least-squares fit over the evaluations (a share of zero or below, or an MFU above one,
  falls back to one MFU for both);
- the overhead of each rule's jobs: job core-seconds (from the Snakemake log) less their model work,
  per job (``demo_profile.py``'s accounting).

Calibrate on one study (the smoke study: minutes), then predict another (the demo) with
``benchmarks/plan_vs_measured.py``. Run from the run's work directory:

    .venv/bin/python benchmarks/calibrate_cpu.py --configfile .test/config.yaml --out cpu_rates.json
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from demo_profile import model_work, parse_log  # noqa: E402


def core_peak_tflops() -> float:
    import torch

    from gpu_check import gemm_peak

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return gemm_peak(cpu=True)["tflops"]  # the best of its five runs
    finally:
        torch.set_num_threads(threads)


def job_key(job: dict) -> tuple:
    """A logged job as the plan keys it: its rule and its wildcards' values."""
    return (job["rule"], *job["wildcards"].values())


def calibrate(configfiles: list[Path], workdir: Path, log: Path | None = None) -> "Rates":  # noqa: F821
    from growthpace.plan import plan_study
    from growthpace.study import load_config
    from growthpace.throughput import Rates

    config = load_config(*configfiles)
    log = log or max((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs, _ = parse_log(log)
    results = workdir / "results" / config["study"]
    # the model FLOPs the plan counts for each job, as if the store held none of them
    flops = plan_study(config, memory=False, fresh=True).job_flops
    peak = core_peak_tflops() * 1e12
    train_f = train_s = 0.0
    evals, overhead = [], {}
    for job in jobs:
        work = model_work(job, results)
        core_s = job["seconds"] * job["threads"]
        key = job_key(job)
        if work is None or key not in flops:
            continue
        work_core = work * job["threads"]
        overhead.setdefault(job["rule"], []).append(max(0.0, core_s - work_core))
        if job["rule"] in ("train_cell", "base_model"):
            train_f, train_s = train_f + flops[key][0], train_s + work_core
        else:
            evals.append((*flops[key][1:], work_core))
    mfu_train = train_f / (peak * train_s)
    a = np.array([[fs / peak, fg / peak] for fs, fg, _ in evals])
    b = np.array([s for *_, s in evals])
    (inv_score, inv_decode), *_ = np.linalg.lstsq(a, b, rcond=None)
    # not separable on this run (a share of zero or below, or an MFU above one, which no device reaches):
    # one MFU for both
    if min(inv_score, inv_decode) < 1:
        inv_score = inv_decode = b.sum() / a.sum()
    return Rates(device=f"CPU core (calibrated on {config['study']})", peak_tflops=peak / 1e12,
                 mfu_train=float(mfu_train), mfu_score=float(1 / inv_score), mfu_decode=float(1 / inv_decode),
                 overhead_seconds={rule: float(np.mean(v)) for rule, v in overhead.items()}, source="calibrated")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configfile", type=Path, nargs="+", required=True)
    ap.add_argument("--workdir", type=Path, default=Path("."))
    ap.add_argument("--log", type=Path, default=None, help="a Snakemake log of the run (default: the newest)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    configs, out = [c.resolve() for c in args.configfile], args.out.resolve()
    log = args.log.resolve() if args.log else None
    os.chdir(args.workdir)  # the study's store_dir is relative to its work directory
    rates = calibrate(configs, Path("."), log)
    rates.save(out)
    print(rates)


if __name__ == "__main__":
    main()
