"""An adaptive study replayed on a full grid's stored results, without training: the rounds it would
run, and its conclusions against the full grid's (growthpace.analysis.adaptive.replay).

The baseline is the full grid itself, in the same command: the same rules and bootstrap settings on
every cell. Printed: the rounds (cells chosen, instability), the three figures (abilities with the same
sensitivity group, the same guideline recipe rule for every ability, the fraction of training cells),
and the training time of the cells the adaptive study trains against the full grid's (measured, from
the full grid's tables/cells.parquet).

Run, on a finished demo (results/demo) with the adaptive demo's settings:
    .venv/bin/python benchmarks/adaptive_replay.py --results results/demo \\
        --configfile config/config.yaml config/studies/demo-adaptive.yaml [--set budget=null] [--out FILE.md]
``--set key=value`` overrides grid.adaptive keys (YAML values), e.g. a budget or a tolerance.

``--oracle N`` also prints what N cells could reach at best, whatever rule picks them: the most abilities
with the full grid's group over every set of N cells that holds the seed design, and over every set of N
cells of the conclusions' source (an upper bound for any selection rule; synthetic cells inform no
conclusion, so they are left out).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from snakemake.utils import validate

from growthpace import study
from growthpace.analysis import adaptive
from growthpace.study import load_config

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, required=True, help="a full grid's results directory (tables/)")
    parser.add_argument("--configfile", type=Path, nargs="+",
                        default=[ROOT / "config" / "config.yaml", ROOT / "config" / "studies" / "demo-adaptive.yaml"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, help="also write the figures as markdown here")
    parser.add_argument("--oracle", type=int, metavar="N", help="the best any N cells could reach (module doc)")
    args = parser.parse_args(argv)
    config = load_config(*args.configfile)
    config["grid"].setdefault("adaptive", {})["enabled"] = True
    for kv in args.set:
        key, _, value = kv.partition("=")
        config["grid"]["adaptive"][key] = yaml.safe_load(value)
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    settings = study.adaptive_settings(config)
    tables = args.results / "tables"
    missing = [str(tables / f) for f in ("predictions.parquet", "scores.parquet", "cells.parquet")
               if not (tables / f).is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    predictions, scores = pd.read_parquet(tables / "predictions.parquet"), pd.read_parquet(tables / "scores.parquet")
    t0 = time.process_time()
    result = adaptive.replay(predictions, scores, adaptive.spec_from(study.analysis_spec(config), settings))
    cpu = time.process_time() - t0
    cells = pd.read_parquet(tables / "cells.parquet")
    hours = adaptive.cell_hours(cells, adaptive.cells_of(result["cells"] + result["skipped"]),
                                adaptive.cells_of(result["cells"]))
    spent, total = hours.loc[hours["trained"], "hours"].sum(), hours["hours"].sum()
    lines = [f"Adaptive replay on {args.results} (grid.adaptive: {json.dumps(settings)})", ""]
    for r in result["records"]:
        u = r["instability"]
        lines.append(f"- round {r['round']}: {', '.join(r['chosen']) or '-'}"
                     + (f"  [instability groups {u['mean_group']:.2f}, stop points {u['mean_stop']:.2f}, recipe "
                        f"{u['recipe']:.2f}]" if u else "  [seed design]") + (f"  stop: {r['stop']}" if r["stop"] else ""))
    # The trajectory: after each round, what the cells so far conclude against the full grid.
    from growthpace.analysis.bootstrap import selected_items

    items, spec, so_far = selected_items(predictions, scores), adaptive.spec_from(study.analysis_spec(config), settings), []
    lines.append("")
    for r in result["records"]:
        so_far += adaptive.cells_of(r["chosen"])
        if r["chosen"]:
            a = adaptive.agreement(adaptive.final_conclusions(items, so_far, spec), result["full"])
            lines.append(f"- after round {r['round']}: {len(so_far)} cells ({len(so_far) / result['n_candidates']:.0%}), "
                         f"{a['same_group']}/{a['n_abilities']} groups, recipe {'same' if a['same_recipe'] else 'not the same'}")
    lines += ["", *adaptive.figures(result),
              f"- training time (measured on the full grid): {spent:.3f} of {total:.3f} cell-hours "
              f"(ratio {spent / total:.2f} against the full grid)",
              f"- skipped: {', '.join(result['skipped'])}",
              f"- replay CPU time: {cpu:.1f} s"]
    if args.oracle:
        lines += ["", *oracle(items, spec, result, args.oracle)]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


def oracle(items: pd.DataFrame, spec, result: dict, n: int) -> list[str]:
    """The best agreement with the full grid that any ``n`` cells reach, with and without the seed design."""
    candidates = adaptive.cells_of(result["cells"] + result["skipped"])
    pool = sorted(c for c in candidates if c.data_source == adaptive.SOURCE)
    seed = adaptive.seed_design(candidates)
    out = []
    for label, fixed in (("holding the seed design", seed), ("of any kind", [])):
        rest = [c for c in pool if c not in fixed]
        sets = [fixed + list(extra) for extra in itertools.combinations(rest, n - len(fixed))] if n >= len(fixed) else []
        scored = []
        for cells in sets:
            a = adaptive.agreement(adaptive.final_conclusions(items, cells, spec), result["full"])
            scored.append(((a["same_group"], a["same_recipe"]), cells))
        best = max(score for score, _ in scored) if scored else None
        best_sets = [cells for score, cells in scored if score == best]
        if not sets:
            out.append(f"- oracle, {n} cells {label}: none (the seed design alone has {len(fixed)})")
            continue
        example = ", ".join(c.key for c in sorted(set(best_sets[0]) - set(fixed))) or "-"
        out.append(f"- oracle, {n} cells {label} ({len(sets)} sets of the conclusions' source): at best "
                   f"{best[0]}/{len(result['full'])} groups, recipe {'same' if best[1] else 'not the same'} "
                   f"({len(best_sets)} sets reach it; e.g. adding {example})")
    return out


if __name__ == "__main__":
    sys.exit(main())
