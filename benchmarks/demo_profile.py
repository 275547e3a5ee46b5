"""Where a finished study's wall time went, and what bounds it.

Reads the Snakemake log of a run (the newest under ``.snakemake/log/`` by default) and what the store
recorded about each artifact the run built:

- per rule: jobs, job-seconds (start to finish, from the log), core-seconds (x the job's threads);
- the model work inside those jobs: pretraining loops (a base model's ``train_seconds``), SFT loops
  (a cell's ``phase_seconds.loop``) and evaluations (a prediction's ``phase_seconds.evaluate``: the
  inference and scoring, without imports, model load or writing; ``build_seconds`` for a prediction
  recorded before those phases were, which overstates it);
- what is left of each job (process start, imports, checks, DeepSpeed set-up, model load, store
  writes): the overhead that cutting jobs or processes could save;
- the floor: the core-seconds of the model work alone over the cores. No schedule of these jobs on
  these cores finishes sooner while the model work costs what it costs; the ratio of the wall time
  to it is what all overheads and idle cores together cost.

Usage: ``.venv/bin/python benchmarks/demo_profile.py [--workdir .] [--study demo] [--cores 2] [--log PATH]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd

STAMP = re.compile(r"\[(\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4})\]")
RULE = re.compile(r"(?:local)?rule (\w+):")
FIELD = re.compile(r"\s+(jobid|wildcards|threads): (.*)")
FINISHED = re.compile(r"Finished jobid: (\d+)")


def parse_log(path: Path) -> tuple[list[dict], float]:
    """The jobs a Snakemake log shows finished (rule, wildcards, threads, start, seconds) and the wall time."""
    jobs: dict[str, dict] = {}
    done: list[dict] = []
    now = first = None
    current = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := STAMP.match(line):
            now = dt.datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
            first = first or now
        elif m := RULE.match(line):
            current = {"rule": m.group(1), "start": now, "wildcards": {}, "threads": 1}
        elif current is not None and (m := FIELD.match(line)):
            key, value = m.groups()
            if key == "jobid":
                jobs[value] = current
            elif key == "wildcards":
                current["wildcards"] = dict(kv.split("=", 1) for kv in value.split(", "))
            else:
                current["threads"] = int(value)
        elif m := FINISHED.match(line):
            job = jobs.get(m.group(1))
            if job is not None:
                done.append({**job, "seconds": (now - job["start"]).total_seconds()})
    wall = (now - first).total_seconds() if first else 0.0
    return done, wall


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def model_work(job: dict, results: Path) -> float | None:
    """Seconds of model work inside one job (pretraining, SFT loop or evaluation), if recorded."""
    rule, w = job["rule"], job["wildcards"]
    if rule == "base_model":
        receipt = _json(results / "receipts" / "base" / f"{w['model_size']}.json")
        return _json(Path(receipt["path"]) / "manifest.json").get("train_seconds") if receipt else None
    if rule == "train_cell":
        metrics = _train_metrics(results, w)
        loop = (metrics.get("phase_seconds") or {}).get("loop")
        # evaluation.in_training_job: the evaluations of its epochs ran in this job
        evaluated = [_prediction_manifest(results, key) for key in (metrics.get("evaluated_in_job") or {}).values()]
        return None if loop is None else loop + sum(_evaluation_seconds(m) for m in evaluated)
    if rule in ("evaluate_checkpoint", "evaluate_base"):
        cell, epoch = (w["cell"], w["epoch"]) if rule == "evaluate_checkpoint" else ("base", "0")
        table = results / "predictions" / w["model_size"] / cell / f"epoch{epoch}.parquet"
        if not table.is_file():
            return None
        key = pd.read_parquet(table, columns=["predictions_key"])["predictions_key"].iloc[0]
        if rule == "evaluate_checkpoint" and key in (_train_metrics(results, w).get("evaluated_in_job") or {}).values():
            return 0.0  # built by the training job: this job found it in the store
        return _evaluation_seconds(_prediction_manifest(results, key))
    return None


def _train_metrics(results: Path, w: dict) -> dict:
    receipt = _json(results / "receipts" / "sft" / w["model_size"] / f"{w['cell']}.json")
    return _json(Path(receipt["path"]) / "train_metrics.json") if receipt else {}


def _prediction_manifest(results: Path, key: str) -> dict:
    store = Path(_json(results / "receipts" / "suite.json")["path"]).parents[1]
    return _json(store / "predictions" / key / "manifest.json")


def _evaluation_seconds(manifest: dict) -> float:
    return (manifest.get("phase_seconds") or {}).get("evaluate", manifest.get("build_seconds", 0.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("."))
    ap.add_argument("--study", default="demo")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--log", type=Path, default=None, help="a Snakemake log (default: the newest)")
    args = ap.parse_args()
    log = args.log or max((args.workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs, wall = parse_log(log)
    results = args.workdir / "results" / args.study
    rows = defaultdict(lambda: {"jobs": 0, "job_s": 0.0, "core_s": 0.0, "work_core_s": 0.0, "recorded": 0})
    for job in jobs:
        r = rows[job["rule"]]
        r["jobs"] += 1
        r["job_s"] += job["seconds"]
        r["core_s"] += job["seconds"] * job["threads"]
        work = model_work(job, results)
        if work is not None:
            r["work_core_s"] += work * job["threads"]
            r["recorded"] += 1
    table = pd.DataFrame.from_dict(rows, orient="index").sort_values("core_s", ascending=False)
    table["overhead_per_job_s"] = ((table.core_s - table.work_core_s) / table.jobs).where(table.recorded > 0)
    print(f"log: {log}")
    print(table.round(1).to_string())
    core_s, work = table.core_s.sum(), table.work_core_s.sum()
    floor = work / args.cores
    print(f"\nwall {wall:.0f} s on {args.cores} cores: {core_s:.0f} job core-seconds "
          f"({100 * core_s / (wall * args.cores):.0f}% of the cores busy)")
    print(f"model work {work:.0f} core-seconds -> floor {floor:.0f} s; wall / floor {wall / floor:.2f}x; "
          f"all overheads {core_s - work:.0f} core-seconds ({100 * (core_s - work) / core_s:.0f}% of the jobs' time)")
    for rule in ("base_model", "train_cell", "evaluate_checkpoint", "evaluate_base"):
        if rule in table.index and table.loc[rule, "recorded"]:
            r = table.loc[rule]
            print(f"  {rule}: {r.work_core_s:.0f} of {r.core_s:.0f} core-seconds are model work; "
                  f"{r.overhead_per_job_s:.1f} s of overhead per job")


if __name__ == "__main__":
    main()
