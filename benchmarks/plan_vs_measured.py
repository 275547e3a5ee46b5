"""The plan's time model against a finished run: predicted and measured core-seconds per rule.

Predicted: ``growthpace plan`` of the study as if its store were empty (``plan_study(fresh=True)``), with
CPU rates from ``benchmarks/calibrate_cpu.py`` (calibrated on another run: the smoke study), in
device-seconds per rule, a device being one core. Measured: the jobs' core-seconds in the run's Snakemake
log (``demo_profile.py``: seconds from start to finish times the job's threads). The ratio per rule is
predicted / measured; the model counts model FLOPs and a fixed overhead per job, so it misses what
neither is: contention between jobs on shared cores, and work that grows with something else than
tokens (tokenizing, writing predictions, a tiny model's per-operation overhead).

    .venv/bin/python benchmarks/plan_vs_measured.py --configfile config/config.yaml --rates cpu_rates.json \\
        [--workdir .] [--log .snakemake/log/X.snakemake.log]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pandas as pd  # noqa: E402

from demo_profile import parse_log  # noqa: E402

RULES = ("base_model", "train_cell", "evaluate_checkpoint", "evaluate_base")


def compare(configfiles: list[Path], rates_file: Path, workdir: Path, log: Path | None = None) -> pd.DataFrame:
    from growthpace.plan import plan_study
    from growthpace.study import load_config
    from growthpace.throughput import Rates

    config = load_config(*configfiles)
    plan = plan_study(config, Rates.load(rates_file), memory=False, fresh=True)
    jobs, _ = parse_log(log or max((workdir / ".snakemake" / "log").glob("*.snakemake.log")))
    measured = defaultdict(float)
    counts = defaultdict(int)
    for job in jobs:
        measured[job["rule"]] += job["seconds"] * job["threads"]
        counts[job["rule"]] += 1
    rows = [{"rule": r, "jobs": counts[r], "predicted_core_s": plan.rule_seconds.get(r, 0.0),
             "measured_core_s": measured[r]} for r in RULES if counts[r] or r in plan.rule_seconds]
    table = pd.DataFrame(rows).set_index("rule")
    table["ratio"] = table.predicted_core_s / table.measured_core_s
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configfile", type=Path, nargs="+", required=True)
    ap.add_argument("--rates", type=Path, required=True, help="from benchmarks/calibrate_cpu.py")
    ap.add_argument("--workdir", type=Path, default=Path("."))
    ap.add_argument("--log", type=Path, default=None, help="a Snakemake log of the run (default: the newest)")
    args = ap.parse_args()
    configs, rates = [c.resolve() for c in args.configfile], args.rates.resolve()
    log = args.log.resolve() if args.log else None
    os.chdir(args.workdir)  # the study's store_dir is relative to its work directory
    table = compare(configs, rates, Path("."), log)
    print(table.round(2).to_markdown())


if __name__ == "__main__":
    main()
