"""The ``growthpace`` command: run studies through Snakemake.

    growthpace init DIR                           a study directory: configs (small, paper's), SLURM profile
    growthpace demo [--cores N]                   the embedded demo study (config/config.yaml)
    growthpace run --configfile X.yaml [-- ...]  any study; extra arguments go to snakemake
    growthpace run --configfile A.yaml B.yaml     A's study with B's keys merged on top (as snakemake does)
    growthpace status [--configfile X.yaml ...]   which training cells are done, missing, running, failed
    growthpace plan --configfile X.yaml           the bill before it runs: jobs (and those in the store), device
                                                  hours, disk, and the memory each model size needs
    growthpace memory-plan --configfile X.yaml    GPU and host memory each model size needs, against its resources
    growthpace report --configfile X.yaml         tables, plots and report.md of the cells finished so far
    growthpace store ls (--configfile X.yaml | --store DIR)   artifacts in the store
    growthpace store gc (--configfile X.yaml | --store DIR) --keep results/A ... [-n]
                                                  free artifacts none of the given studies uses, nothing
                                                  a build is reading or a running study holds, and the
                                                  resume state and chunk rows of finished builds
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def workflow_root() -> Path:
    from .layout import WorkflowNotFound, workflow_root as root

    try:
        return root()
    except WorkflowNotFound as e:
        sys.exit(f"growthpace: {e}")


def snakemake(configfiles: list[Path], cores: int, extra: list[str]) -> int:
    """Snakemake on the packaged (or cloned) workflow, working in the current directory: results/ and the
    store go where the user runs it, or where the config's paths say."""
    root = workflow_root()
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(root / "Snakefile"),
           "--configfile", *map(str, configfiles), "--cores", str(cores), *extra]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def print_outputs(configfiles: list[Path]) -> None:
    from .study import load_config

    study = load_config(*configfiles)["study"]  # merged as snakemake merged them
    out = Path.cwd() / "results" / study
    print(f"\nResults of study {study!r}:")
    for rel in ("tables/scores.parquet", "tables/predictions.parquet", "tables/cells.parquet",
                "plots/growth.png", "summary.md", "report.md", "analysis/recipe.yaml"):
        path = out / rel
        print(f"  {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
              f"{'' if path.exists() else '  (missing)'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="growthpace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write a study directory to start from")
    init.add_argument("dir", type=Path)
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    demo = sub.add_parser("demo", help="run the embedded demo study")
    demo.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    run = sub.add_parser("run", help="run a study")
    run.add_argument("--configfile", type=Path, nargs="+", required=True)
    run.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    status = sub.add_parser("status", help="the grid of a study: done, missing, running, failed")
    status.add_argument("--configfile", type=Path, nargs="+", default=None)
    bill = sub.add_parser("plan", help="jobs, device hours, disk and memory of a study before it runs "
                                       "(exit status 1 when memory or disk does not fit)")
    bill.add_argument("--configfile", type=Path, nargs="+", default=None)
    bill.add_argument("--rates", type=Path, default=None, metavar="FILE",
                      help="measured rates: benchmarks/gpu_check.py --out, or benchmarks/calibrate_cpu.py")
    bill.add_argument("--gpu-memory", type=float, default=80.0, metavar="GIB",
                      help="memory of one GPU in GiB (default 80: A100/H100 80GB)")
    bill.add_argument("--running", type=int, default=None, metavar="N",
                      help="cells training at once, for the disk peak (default 8)")
    partial = sub.add_parser("report", help="tables, plots and report.md of the cells complete now "
                                            "(results/{study}/partial/)")
    partial.add_argument("--configfile", type=Path, nargs="+", default=None)
    partial.add_argument("--out", type=Path, default=None, help="default: results/{study}/partial")
    plan = sub.add_parser("memory-plan", help="GPU and host memory of every model size against its resources "
                                              "(exit status 1 when one does not fit)")
    plan.add_argument("--configfile", type=Path, nargs="+", default=None)
    plan.add_argument("--gpu-memory", type=float, default=80.0, metavar="GIB",
                      help="memory of one GPU in GiB (default 80: A100/H100 80GB)")
    store = sub.add_parser("store", help="list or collect the artifact store")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    ls = store_sub.add_parser("ls")
    gc = store_sub.add_parser("gc")
    for p in (ls, gc):  # no default: the store of the wrong study would be collected
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--store", type=Path, help="the store directory")
        which.add_argument("--configfile", type=Path, nargs="+",
                           help="a study's config: its store_dir (relative to the current directory, where "
                                "snakemake runs)")
    gc.add_argument("--keep", nargs="+", required=True, metavar="RESULTS_DIR",
                    help="results/{study} directories whose artifacts are kept")
    gc.add_argument("-n", "--dry-run", action="store_true", help="list what would be freed, and how many bytes")
    gc.add_argument("--unfinished", action="store_true",
                    help="also free the resume state of unfinished builds (they then start over if run again)")
    args, extra = parser.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    if args.command == "store":
        return store_command(args)
    if args.command == "plan":
        from .plan import DEFAULT_RUNNING, main as plan_main
        return plan_main(args.configfile or [workflow_root() / "config" / "config.yaml"], args.rates,
                         args.gpu_memory, args.running or DEFAULT_RUNNING)
    if args.command == "report":
        from .partial_report import main as report_main
        return report_main(args.configfile or [workflow_root() / "config" / "config.yaml"], args.out)
    if args.command == "init":
        from .init import init_study
        try:
            written = init_study(args.dir, args.force)
        except FileExistsError as e:
            sys.exit(str(e))
        print("\n".join(f"wrote {p}" for p in written))
        print(f"next: cd {args.dir} && growthpace run --configfile config.yaml")
        return 0
    if args.command == "memory-plan":
        from .train.memory_plan import main as memory_plan
        return memory_plan(args.configfile or [workflow_root() / "config" / "config.yaml"], args.gpu_memory)
    if args.command == "status":
        from .cell_status import print_status
        return print_status(args.configfile or [workflow_root() / "config" / "config.yaml"])

    configfiles = ([workflow_root() / "config" / "config.yaml"] if args.command == "demo"
                   else [f.resolve() for f in args.configfile])
    for f in configfiles:
        if not f.is_file():
            sys.exit(f"growthpace: config file {f} does not exist")
    rc = snakemake(configfiles, args.cores, extra)
    if rc == 0 and "-n" not in extra and "--dry-run" not in extra:
        print_outputs(configfiles)
    return rc


def store_command(args) -> int:
    from .store import Store, collect_garbage, list_artifacts, plan_holds

    if args.configfile:
        from .study import load_config

        store = Store(load_config(*args.configfile)["store_dir"])
    else:
        store = Store(args.store)
    if not store.root.is_dir():
        sys.exit(f"growthpace: no store at {store.root}")
    if args.store_command == "ls":
        rows = list_artifacts(store)
        for r in rows:
            print(f"{r['kind']:<12} {r['key']}  {r['bytes'] / 1e6:9.2f} MB  {r['built_at']}")
        print(f"{len(rows)} artifacts, {sum(r['bytes'] for r in rows) / 1e6:.1f} MB in {store.root}")
        return 0
    for hold in plan_holds(store):
        print(f"kept for the running study {hold['study']!r} (process {hold['pid']} on {hold['host']}): "
              f"{len(hold['keys'])} planned artifacts")
    items = collect_garbage(store, args.keep, dry_run=args.dry_run, unfinished=args.unfinished)
    verb = "would free" if args.dry_run else "freed"
    freed = [r for r in items if not r["busy"]]
    for r in items:
        where = r["path"].relative_to(store.root)
        print(f"{'busy, left alone (' + r['busy'] + ')' if r['busy'] else verb}: {r['what']} {where} "
              f"({r['bytes'] / 1e6:.2f} MB)")
    counts = ", ".join(f"{sum(r['what'] == w for r in freed)} {w}" for w in dict.fromkeys(r["what"] for r in freed))
    print(f"{verb} {sum(r['bytes'] for r in freed):,} bytes ({sum(r['bytes'] for r in freed) / 1e6:.1f} MB)"
          f"{': ' + counts if counts else ''} in {store.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
