"""How long Snakemake takes to plan a study, as seconds and as ratios against baselines run in the same command.

Measured, each the best of ``--repeats`` runs of a fresh ``python -m snakemake`` process:

- baseline 1, ``snakemake --version``: interpreter and Snakemake start-up;
- baseline 2, ``snakemake -n`` on the smoke study (``.test/config.yaml``) in an empty directory;
- ``snakemake -n`` on the paper's study (``config/studies/doit-paper.yaml``, 624 jobs), without its data;
- ``snakemake -n`` on a grid ten times larger (the paper's study with seeds 0-9: ten times the cells);
- ``snakemake -n`` on the paper's study pointed at data that is there (the DoIT-layout and benchmark
  fixtures of the tests, a small stand-in directory per base model): planning then computes the key of
  every artifact (``growthpace.reuse``) from the files' hashes, cached in the store after the first run;
- a no-op re-run: the real ``snakemake`` (not ``-n``) on a finished study with nothing to do. By default
  the smoke study is run once in a temporary directory first (a few minutes); ``--study-dir DIR``
  times a study already finished in DIR instead (e.g. the demo: ``--study-dir . --configfile
  config/config.yaml``), and ``--skip-noop`` leaves this part out. A study that still has jobs to
  run is reported and not run.

Run: ``.venv/bin/python benchmarks/bench_dag.py [--repeats 3] [--study-dir DIR --configfile FILE]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / ".test" / "config.yaml"
PAPER = ROOT / "config" / "studies" / "doit-paper.yaml"


def snakemake_cmd(workdir: Path, configfile: Path | None, *args: str) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--cores", "2"]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    return cmd + list(args)


def timed(cmd: list[str], repeats: int, check: bool = True) -> tuple[float, str]:
    """Best wall time of ``repeats`` runs, and the output of the last."""
    best, out = float("inf"), ""
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{out[-3000:]}")
    return best, out


def n_jobs(out: str) -> int:
    m = re.search(r"^total\s+(\d+)\s*$", out, re.M)
    return int(m.group(1)) if m else 0


def on_fixture_data(tmp: Path) -> Path:
    """The paper's study on the tests' fixture data: every key can be computed when it is planned."""
    cfg = yaml.safe_load(PAPER.read_text())
    fixtures = ROOT / "tests" / "fixtures"
    cfg["store_dir"] = str(tmp / "fixture-store")
    cfg["data"].update(source_dir=str(fixtures / "doit"), cap_to_pool=True)  # the fixture's pools are tiny
    for size, spec in cfg["models"]["sizes"].items():
        model = tmp / f"model-{size}"
        model.mkdir()
        (model / "config.json").write_text("{}\n")
        (model / "model.safetensors").write_bytes(size.encode() * (1 << 20))
        spec["path"] = str(model)
    cfg["evaluation"]["benchmarks"]["cmmlu"]["dir"] = str(fixtures / "cmmlu")
    cfg["evaluation"]["benchmarks"]["agieval"]["dir"] = str(fixtures / "agieval")
    path = tmp / "doit-paper-fixtures.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def tenfold(tmp: Path) -> Path:
    cfg = yaml.safe_load(PAPER.read_text())
    cfg["grid"]["seeds"] = list(range(10 * len(cfg["grid"].get("seeds", [0]))))
    path = tmp / "doit-paper-x10.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--study-dir", type=Path, help="a finished study's working directory (no-op re-run)")
    parser.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml",
                        help="the config of --study-dir's study (default: the demo)")
    parser.add_argument("--skip-noop", action="store_true", help="leave out the no-op re-run")
    args = parser.parse_args()

    rows: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-dag-") as tmp:
        tmp = Path(tmp)
        version, _ = timed([sys.executable, "-m", "snakemake", "--version"], args.repeats)
        rows.append(("snakemake --version (start-up)", version, 0))
        smoke, out = timed(snakemake_cmd(tmp / "smoke-n", SMOKE, "-n"), args.repeats)
        rows.append(("snakemake -n, smoke study", smoke, n_jobs(out)))
        paper, out = timed(snakemake_cmd(tmp / "paper-n", PAPER, "-n"), args.repeats)
        rows.append(("snakemake -n, doit-paper", paper, n_jobs(out)))
        big, out = timed(snakemake_cmd(tmp / "paper10-n", tenfold(tmp), "-n"), args.repeats)
        rows.append(("snakemake -n, doit-paper x10 (10 seeds)", big, n_jobs(out)))
        fixture_cfg = on_fixture_data(tmp)
        cold, out = timed(snakemake_cmd(tmp / "paper-data-n", fixture_cfg, "-n"), 1)
        rows.append(("snakemake -n, doit-paper on data, first (hashes)", cold, n_jobs(out)))
        warm, out = timed(snakemake_cmd(tmp / "paper-data-n", fixture_cfg, "-n"), args.repeats)
        rows.append(("snakemake -n, doit-paper on data, hashes cached", warm, n_jobs(out)))

        if not args.skip_noop:
            if args.study_dir is not None:
                workdir, config, label = args.study_dir.resolve(), args.configfile.resolve(), f"{args.study_dir}"
            else:
                workdir, config, label = tmp / "smoke-run", SMOKE, "smoke study"
                print("running the smoke study once (a few minutes) ...", flush=True)
                start = time.perf_counter()
                timed(snakemake_cmd(workdir, config), 1)
                print(f"  finished in {time.perf_counter() - start:.0f} s", flush=True)
            _, out = timed(snakemake_cmd(workdir, config, "-n", "--nolock"), 1)
            if "Nothing to be done" not in out:
                print(f"{label}: not finished ({n_jobs(out)} jobs to run); no-op re-run not timed")
            else:
                noop, _ = timed(snakemake_cmd(workdir, config), args.repeats)
                rows.append((f"snakemake (real), finished {label}, nothing to do", noop, 0))

    print(f"\n{'measurement':<52} {'jobs':>6} {'seconds':>8} {'/ --version':>11} {'/ smoke -n':>10}")
    for name, seconds, jobs in rows:
        print(f"{name:<52} {jobs or '':>6} {seconds:8.2f} {seconds / version:10.2f}x {seconds / smoke:9.2f}x")
    paper_jobs, big_jobs = rows[2][2], rows[3][2]
    if paper_jobs and big_jobs:
        print(f"\nx10 grid: {big_jobs / paper_jobs:.1f}x the jobs in {big / paper:.2f}x the time; planning cost per job "
              f"(minus smoke -n): doit-paper {1000 * (paper - smoke) / paper_jobs:.2f} ms, "
              f"x10 {1000 * (big - smoke) / big_jobs:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
