"""The ``growthpace`` command: run studies through Snakemake.

    growthpace demo [--cores N]                   the embedded demo study (config/config.yaml)
    growthpace run --configfile X.yaml [-- ...]  any study; extra arguments go to snakemake
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

# The workflow lives beside the package in the source tree (the package is installed editable).
ROOT = Path(__file__).resolve().parents[2]


def workflow_root() -> Path:
    if not (ROOT / "Snakefile").is_file():
        sys.exit(f"growthpace: no Snakefile in {ROOT}; run from a clone of the growthpace repository")
    return ROOT


def snakemake(configfile: Path, cores: int, extra: list[str]) -> int:
    root = workflow_root()
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(root / "Snakefile"), "--directory", str(root),
           "--configfile", str(configfile), "--cores", str(cores), *extra]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def print_outputs(configfile: Path) -> None:
    study = yaml.safe_load(configfile.read_text())["study"]
    out = workflow_root() / "results" / study
    print(f"\nResults of study {study!r}:")
    for rel in ("tables/scores.parquet", "tables/predictions.parquet", "tables/cells.parquet",
                "plots/growth.png", "summary.md"):
        path = out / rel
        print(f"  {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
              f"{'' if path.exists() else '  (missing)'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="growthpace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the embedded demo study")
    demo.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    run = sub.add_parser("run", help="run a study")
    run.add_argument("--configfile", type=Path, required=True)
    run.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args, extra = parser.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]

    configfile = workflow_root() / "config" / "config.yaml" if args.command == "demo" else args.configfile.resolve()
    if not configfile.is_file():
        sys.exit(f"growthpace: config file {configfile} does not exist")
    rc = snakemake(configfile, args.cores, extra)
    if rc == 0 and "-n" not in extra and "--dry-run" not in extra:
        print_outputs(configfile)
    return rc


if __name__ == "__main__":
    sys.exit(main())
