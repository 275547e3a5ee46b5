"""The guideline and adaptive figures of a finished demo, to set before and after a change side by side,
and whether the valid split is large enough to decide on (``analysis.decide_on``).

Printed (and written to ``--out``):

- guideline: per derived recipe, the split its counts were chosen on, its counts, the gain of the mean
  over the uniform split that the curves predicted and the one measured on test, the interval's
  half-width, and the test items per ability that detect ``analysis.guideline.min_effect`` (tables
  written before these columns existed show what they have);
- extrapolation: the kept form, the split it was kept on, each form's held-out error on test;
- adaptive (``--adaptive``, the adaptive demo's results directory): rounds, cells trained, the stop,
  and the final groups and rules;
- decision noise: the conclusions the analysis draws (each ability's group and stop point, the paper
  recipe's rule and counts: ``analysis.adaptive.conclusions``) re-drawn on ``--draws`` bootstrap
  replicates of the valid items and of the test items. Agreement of a valid replicate with the test
  point says how often a choice made on valid is the one test supports; a test replicate against the
  test point is the same for a split of the test's size (the noise any finite set of items has).
  Decisions on valid are called too noisy here when they agree with test on the recipe in fewer than
  half of the replicates; the verdict says whether a larger valid split would fix that (test's own
  replicates do at least half again as often) or whether the test split is as unstable (fewer than half
  of its own replicates give its recipe back), so that only more items on both splits would.

Run on a finished demo (and the adaptive demo):
    .venv/bin/python benchmarks/decision_figures.py --results results/demo --adaptive results/demo-adaptive \\
        --out before.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from growthpace.analysis import adaptive
from growthpace.analysis.bootstrap import bootstrap, selected_items

TOO_NOISY = 0.5  # share of valid replicates with test's recipe below which deciding on valid is too noisy


def _ci(row, col: str) -> str:
    v, lo, hi = (row.get(c, np.nan) for c in (col, f"{col}_low" if col == "predicted" else "ci_low",
                                                f"{col}_high" if col == "predicted" else "ci_high"))
    return "n/a" if not np.isfinite(v) else f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def guideline_lines(analysis: Path, settings: dict) -> list[str]:
    alloc, recipes = (pd.read_parquet(analysis / f"{n}.parquet") for n in ("allocation", "recipes"))
    lines = ["## Guideline", "", f"decide_on: {settings.get('decide_on', 'n/a (tables before decide_on)')}, "
             f"decided on: {settings.get('decided_on', 'test (tables before decide_on)')}", ""]
    names = settings.get("recipe_names") or {}
    # one recipe per method and model size (the optimiser's for a size not trained is a recipe of its own)
    for (method, size), g in alloc.groupby(["method", "model_size"], sort=False):
        per, mean = g[g["ability"] != "mean"], g[g["ability"] == "mean"]
        counts = ", ".join(f"{r.ability} {int(r.count)}" for r in per.itertuples())
        decided = per["decided_on"].iloc[0] if "decided_on" in per else "test"
        trained = size in set(recipes["model_size"])
        name = names.get(method, "?") if trained else f"{names.get(method, '?')}-{size}-extrapolated, not trained"
        lines.append(f"- {method} ({name}, model {size}, counts chosen on {decided}): {counts}")
        if len(mean):
            lines.append(f"  - predicted gain of the mean: {_ci(mean.iloc[0], 'predicted')}")
        r = recipes[(recipes["recipe"] == names.get(method)) & (recipes["ability"] == "mean")
                    & (recipes["model_size"] == size)]
        for row in r.to_dict("records"):
            per_ability = row.get("items_per_ability_needed", np.nan)
            lines.append(f"  - measured on test ({row['model_size']}): {_ci(row, 'diff')}, half-width "
                         f"{row['half_width']:.3f} on {int(row['n_items'])} items"
                         + (f"; {per_ability:,.0f} items per ability detect {row['min_effect']:g}"
                            if np.isfinite(per_ability) else
                            f"; observed-power items needed {row.get('items_needed', np.nan):,.0f}"))
    val = pd.read_parquet(analysis / "extrapolation_validation.parquet")
    info = settings.get("extrapolation") or {}
    lines += ["", "## Extrapolation", "", f"kept form: {info.get('form')}, kept on: "
              f"{info.get('form_decided_on') or 'test (tables before decide_on)'}"]
    for r in val[val["ability"] == "all"].itertuples():
        lines.append(f"- {r.form}: held-out MAE on test {r.mae:.3f}, coverage {r.coverage:.0%}, "
                     f"decisions {r.decision_accuracy:.0%}")
    return lines + [""]


def adaptive_lines(results: Path) -> list[str]:
    rounds = pd.read_parquet(results / "analysis" / "adaptive_rounds.parquet")
    heads = rounds[rounds["ability"] == ""]
    last = heads.iloc[-1]
    final = rounds[(rounds["round"] == last["round"]) & (rounds["ability"] != "")]
    lines = ["## Adaptive", "", f"{len(heads) - 1} round(s) after the seed design, {int(last['n_cells'])} cells "
             f"({last['fraction']:.0%}), stop: {last['stop'] or '-'}, last instability {last['instability']:.2f}"]
    lines += [f"- {r.ability}: {r.group}, rule {r.rule}, count {r.count:.0f}" for r in final.itertuples()]
    note = results / "adaptive.md"
    if note.is_file():
        lines += ["", *[x for x in note.read_text().splitlines() if x.startswith(("- ", "Validation", "**Decided",
                                                                                "Each round"))]]
    return lines + [""]


def agreement(c: dict, ref: dict, budget: int) -> tuple[float, bool, float]:
    """(share of abilities with ref's group, every rule the same, share of the budget moved)."""
    same = np.mean([c[a]["group"] == ref[a]["group"] for a in ref])
    rules = all(c[a]["rule"] == ref[a]["rule"] for a in ref)
    moved = sum(abs(c[a]["count"] - ref[a]["count"]) for a in ref) / 2 / max(budget, 1)
    return float(same), rules, float(moved)


def noise_lines(tables: Path, settings: dict, draws: int, seed: int) -> list[str]:
    predictions, scores = pd.read_parquet(tables / "predictions.parquet"), pd.read_parquet(tables / "scores.parquet")
    spec = adaptive.Spec(abilities=settings["abilities"], model_sizes=settings["model_sizes"],
                         guideline_model_sizes=settings.get("guideline_model_sizes") or settings["model_sizes"],
                         budget=int(settings["budget"]), weighting=settings.get("weighting", "gain"),
                         tau_data=settings["tau_data"], tau_model=settings["tau_model"], seed=seed)
    boots, n_items = {}, {}
    for split in ("valid", "test"):
        items = selected_items(predictions, scores, split)
        items = items[items["data_source"].isin(["curated", "base"]) & (items["recipe"] == "")]
        if items.empty:
            return ["## Decision noise", "", f"No {split} items in {tables}: nothing to compare.", ""]
        n_items[split] = int(items.groupby("ability")["item_hash"].nunique().median())
        boots[split] = bootstrap(items, n_boot=draws, seed=seed)
    point = {s: adaptive.conclusions(b, spec) for s, b in boots.items()}
    rows, own = {}, {}
    for split, b in boots.items():
        drawn = [adaptive.conclusions(adaptive.shifted(b, k), spec) for k in range(draws)]
        rows[split] = [agreement(c, point["test"], spec.budget) for c in drawn]
        own[split] = np.mean([agreement(c, point[split], spec.budget)[1] for c in drawn])
    p = agreement(point["valid"], point["test"], spec.budget)
    lines = ["## Decision noise (valid against test)", "",
             f"Median items per ability: valid {n_items['valid']}, test {n_items['test']}; {draws} bootstrap replicates "
             "of each split, the analysis's conclusions re-drawn on each (pools not applied).", "",
             f"- valid point against test point: {p[0]:.0%} of groups the same, recipe rules "
             f"{'the same' if p[1] else 'not the same'}, {p[2]:.0%} of the budget moved",
             "", "| replicates of | groups as test's | recipe rules as test's | budget moved | recipe rules as the split's "
                 "own point |", "|---|---|---|---|---|"]
    share = {}
    for split, r in rows.items():
        arr = np.array(r, dtype=float)
        share[split] = arr[:, 1].mean()
        lines.append(f"| {split} | {arr[:, 0].mean():.0%} | {share[split]:.0%} | {arr[:, 2].mean():.0%} | "
                     f"{own[split]:.0%} |")
    groups = {split: np.mean([r[0] for r in rows[split]]) for split in rows}
    if share["valid"] >= TOO_NOISY:
        verdict = "not too noisy by this measure (see the table)."
    elif share["test"] < TOO_NOISY:
        # the test split's own replicates rarely give its recipe back: no split of this size decides it
        verdict = (f"**too noisy, and so is the test split**: the recipe's rules are not determined by this many "
                   f"items on either split (test's own replicates give test's recipe in {share['test']:.0%}); "
                   f"the groups are as stable on valid as on a split of the test's size ({groups['valid']:.0%} "
                   f"against {groups['test']:.0%} of test's). A recipe needs more items per ability on both "
                   "splits (data.demo.n_valid and n_test), not only a larger valid split.")
    elif share["test"] >= 1.5 * share["valid"]:
        verdict = ("**too noisy**: its recipe matches the one test supports in fewer than half of the replicates, "
                   "while a split of the test's size does so far more often; a larger valid split "
                   "(data.demo.n_valid, e.g. as large as the test split) would fix it.")
    else:
        verdict = "about as noisy as a split of the test's size (see the table)."
    lines += ["", f"Verdict: deciding on {n_items['valid']} valid items per ability is {verdict}", ""]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, required=True, help="a finished study's results directory")
    parser.add_argument("--adaptive", type=Path, help="the adaptive demo's results directory")
    parser.add_argument("--out", type=Path, help="also write the figures as markdown here")
    parser.add_argument("--draws", type=int, default=200, help="bootstrap replicates of the decision noise")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    analysis = args.results / "analysis"
    needed = [analysis / f for f in ("settings.json", "allocation.parquet", "recipes.parquet",
                                     "extrapolation_validation.parquet")]
    needed += [args.results / "tables" / f for f in ("predictions.parquet", "scores.parquet")]
    if args.adaptive:
        needed.append(args.adaptive / "analysis" / "adaptive_rounds.parquet")
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    settings = json.loads((analysis / "settings.json").read_text())
    lines = [f"# Decision figures of {args.results}", "", *guideline_lines(analysis, settings)]
    if args.adaptive:
        lines += adaptive_lines(args.adaptive)
    lines += noise_lines(args.results / "tables", settings, args.draws, args.seed)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
