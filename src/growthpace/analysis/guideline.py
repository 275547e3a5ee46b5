"""The data-construction guideline: a per-ability allocation of a fixed budget, written as a recipe,
and recipe cells measured against the uniform baseline at the same budget.

``allocate`` applies the paper's rules (v1 section 5) to measured groups (``sensitivity``):

1. cut    an ability that does not respond to data (group ``neither`` or ``model``) gets its stop
          point: the per-ability size from which more data stopped helping (for a flat curve, the
          smallest size of the grid; the smallest size too when the curve never stopped);
2. freeze an ability that saturates (group ``saturating``) gets its stop point (saturation size);
3. share  the rest of the budget goes to the abilities that respond to data (``data+model``,
          ``data``) in proportion to their data gain (``weighting="gain"``) or evenly
          (``"uniform"``); with no responsive ability, all abilities share it evenly, since data
          that does not help its own ability still helps others;
4. total  counts are integers that sum exactly to the budget (largest remainders, ties in ability
          order); when the cut and frozen sizes alone exceed the budget, they are scaled down to it.

With ``pool_sizes`` no ability gets more than its pool; what does not fit goes to the others that
share (rule 3) and, when none can take it, to any ability with room (``ValueError`` when the pools
together hold less than the budget).

``write_recipe`` writes the allocation as a YAML mapping for ``grid.recipe_definitions``
(``name: {ability: count, ..., pool: full}``), so that the next run trains and validates it.

``compare_recipes``: for each recipe cell, the uniform baseline at the same budget is the recipe
cell ``baseline`` of the same model size and realised total or, failing that, the curated grid cell
of that total (a recipe cell with neither is left out). Per evaluated set (abilities, out-of-domain
sets and benchmarks alike), and for the mean over the given abilities: recipe minus baseline, with
the paired bootstrap interval over items (``bootstrap``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .bootstrap import Boot, interval, order_model_sizes

RESPONSIVE = ("data+model", "data")
SATURATING = "saturating"
ALLOCATION_COLUMNS = ["ability", "group", "rule", "count", "uniform", "data_gain", "stop_per_ability"]
COMPARISON_COLUMNS = ["recipe", "model_size", "data_size", "baseline", "ability", "recipe_score", "baseline_score",
                      "diff", "ci_low", "ci_high"]


def largest_remainder(quotas: dict[str, float], total: int) -> dict[str, int]:
    """Integers as close as possible to ``quotas`` (which sum to ``total``) that sum to ``total``."""
    floors = {a: math.floor(q + 1e-9) for a, q in quotas.items()}
    left = total - sum(floors.values())
    order = sorted(quotas, key=lambda a: -(quotas[a] - floors[a]))  # stable: ties keep ability order
    for a in order[:max(left, 0)]:
        floors[a] += 1
    return floors


def rule_of(group: str) -> str:
    return "share" if group in RESPONSIVE else ("freeze" if group == SATURATING else "cut")


def _fixed_size(row: pd.Series) -> float:
    """Per-ability size for a cut or frozen ability: its stop point, else the grid's smallest size."""
    stop = row["stop_per_ability"]
    return float(stop) if np.isfinite(stop) else float(row["min_size"] / row["n_abilities"])


def _spread(amount: float, weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0:
        weights = dict.fromkeys(weights, 1.0)
        total = len(weights)
    return {a: amount * w / total for a, w in weights.items()}


def allocate(sensitivity: pd.DataFrame, budget: int, weighting: str = "gain",
             pool_sizes: dict[str, int] | None = None) -> dict[str, int]:
    """Per-ability counts summing to ``budget`` by the rules of the module doc."""
    if weighting not in ("gain", "uniform"):
        raise ValueError(f"weighting must be 'gain' or 'uniform', got {weighting!r}")
    rows = sensitivity.set_index("ability")
    abilities = list(rows.index)
    if not abilities:
        return {}
    caps = {a: float((pool_sizes or {}).get(a, math.inf)) for a in abilities}
    if sum(caps.values()) < budget:
        raise ValueError(f"the pools hold {int(sum(caps.values()))} items, fewer than the budget {budget}")
    sharing = [a for a in abilities if rows.loc[a, "group"] in RESPONSIVE]
    fixed = {a: _fixed_size(rows.loc[a]) for a in abilities if a not in sharing}
    quota = dict.fromkeys(abilities, 0.0)
    if sum(fixed.values()) > budget:
        quota.update(_spread(budget, fixed))
    else:
        quota.update(fixed)
        if sharing:
            weights = {a: max(float(rows.loc[a, "data_gain"]), 0.0) if weighting == "gain" else 1.0 for a in sharing}
        else:
            weights = dict.fromkeys(abilities, 1.0)
        for a, q in _spread(budget - sum(fixed.values()), weights).items():
            quota[a] += q
    # Pools: move what does not fit to those that share, then to anyone with room.
    for _ in range(len(abilities) + 1):
        over = {a: quota[a] - caps[a] for a in abilities if quota[a] > caps[a] + 1e-9}
        if not over:
            break
        for a in over:
            quota[a] = caps[a]
        room = [a for a in (sharing or abilities) if quota[a] < caps[a] - 1e-9] or \
               [a for a in abilities if quota[a] < caps[a] - 1e-9]
        gains = {a: max(float(rows.loc[a, "data_gain"]), 0.0) if (weighting == "gain" and a in sharing) else 1.0
                 for a in room}
        for a, q in _spread(sum(over.values()), gains).items():
            quota[a] += q
    return largest_remainder(quota, int(budget))


def allocation_table(sensitivity: pd.DataFrame, allocation: dict[str, int]) -> pd.DataFrame:
    """The allocation beside the uniform split of the same budget, with the rule applied to each ability."""
    budget = sum(allocation.values())
    uniform = largest_remainder({a: budget / len(allocation) for a in allocation}, budget) if allocation else {}
    rows = []
    for r in sensitivity.itertuples(index=False):
        if r.ability in allocation:
            rows.append({"ability": r.ability, "group": r.group, "rule": rule_of(r.group),
                         "count": allocation[r.ability], "uniform": uniform[r.ability],
                         "data_gain": r.data_gain, "stop_per_ability": r.stop_per_ability})
    return pd.DataFrame(rows, columns=ALLOCATION_COLUMNS)


def recipe_definition(allocation: dict[str, int], pool: str = "full") -> dict:
    """The allocation as a ``grid.recipe_definitions`` entry."""
    return {**{a: int(n) for a, n in allocation.items()}, "pool": pool}


def write_recipe(path: str | Path, name: str, allocation: dict[str, int], pool: str = "full",
                 comment: str = "") -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}" for line in comment.splitlines()] if comment else []
    # No allocation (no measured sensitivity): an empty mapping, so that the file still parses.
    body = {name: recipe_definition(allocation, pool)} if allocation else {}
    text = "\n".join(lines + [yaml.safe_dump(body, sort_keys=False)])
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def compare_recipes(boot: Boot, abilities, baseline: str = "baseline", model_sizes=None) -> pd.DataFrame:
    """Every recipe cell against the uniform baseline at its budget (see the module doc)."""
    abilities = list(abilities)
    mean = boot.mean_over(abilities)
    u = boot.units
    recipes = u[(u["data_source"] == "recipe") & (u["recipe"] != baseline)][["model_size", "data_size", "recipe"]]
    rows = []
    for r in recipes.drop_duplicates().itertuples(index=False):
        for b, names in ((boot, sorted(u["ability"].unique())), (mean, ["mean"])):
            for ability in names:
                i = b.pos(ability, r.model_size, "recipe", r.data_size, r.recipe)
                j, label = b.pos(ability, r.model_size, "recipe", r.data_size, baseline), baseline
                if j is None:
                    j, label = b.pos(ability, r.model_size, "curated", r.data_size, ""), f"curated-{r.data_size}"
                if i is None or j is None:
                    continue
                lo, hi = interval(b.reps[:, i] - b.reps[:, j], b.level)
                rows.append({"recipe": r.recipe, "model_size": r.model_size, "data_size": int(r.data_size),
                             "baseline": label, "ability": ability, "recipe_score": float(b.point[i]),
                             "baseline_score": float(b.point[j]), "diff": float(b.point[i] - b.point[j]),
                             "ci_low": float(lo), "ci_high": float(hi)})
    df = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    if df.empty:
        return df
    order = order_model_sizes(df["model_size"].unique(), model_sizes)
    return (df.assign(_m=df["model_size"].map(order.index)).sort_values(["recipe", "_m", "data_size"], kind="stable")
            .drop(columns="_m").reset_index(drop=True))
