"""The data-construction guideline: a per-ability allocation of a fixed budget, written as a recipe,
and recipe cells measured against the uniform baseline at the same budget.

Two methods (``METHODS``; ``derive`` runs those asked for):

- ``paper``: ``allocate``, the paper's rules by thresholds on the measured groups (below);
- ``optimize``: ``allocation.optimise``, the counts that maximise the predicted mean score over the
  abilities, from each ability's fitted growth curve at the target model size (marginal gain per item,
  diminishing returns, bootstrap replicates and shrinkage against over-fitting the noise, optional
  lower-quantile objective, tolerance per ability and transfer; see ``growthpace.analysis.allocation``).

The paper's recipe keeps the name it had before there was a choice (``guideline``, or ``derived-{budget}``
outside the closed loop); another method's recipe adds the method (``guideline-optimize``).

A model size that was not trained (no curves of its own) takes the optimiser alone, on the growth model
over data size and parameter count (``allocation.JointModelScores``: ``derive`` with ``joint`` and
``parameters``). Its recipe is an extrapolation, derived only: nothing trained at that size can validate
it in the closed loop, and its name says so (``untrained_recipe_name``: ``guideline-optimize-13b-extrapolated``).

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
the paired bootstrap interval over items (``bootstrap``). Beside it: what the growth curves of the
recipe's model size predicted (``allocation.predicted_gains``, for the recipes whose counts are given:
those derived here), and what the test sets can resolve: ``half_width`` of the interval, ``n_items`` behind
it, and ``items_needed``, the test items (all sets scaled alike) at which an interval of the same level
would exclude 0 with 80 % power if the true difference were the measured one (``items_needed_predicted``:
the predicted one), from the normal approximation n (z_{level} + z_{0.80})^2 sd^2 / d^2, sd^2 = n times the
bootstrap variance of the difference. Those two are observed power; the power by design is
``items_per_ability_needed``: the items of each ability at which the interval excludes 0 with 80 % power
when the true gain is ``min_effect`` (``analysis.guideline.min_effect``). For the mean over abilities, a
stratified mean, the variance is sum_a sd_a^2 / (K^2 n) with n items per ability (``stratified_items_needed``),
each ability's paired spread sd_a measured over its own items; its ``items_needed`` (all abilities together)
uses the same variance. With one seed these intervals hold the test items' sampling error, not the
training run's.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import yaml

from ..files import write_text_atomic
from . import allocation as optimal
from .bootstrap import Boot, interval, order_model_sizes

log = logging.getLogger(__name__)

METHODS = ("paper", "optimize")
RESPONSIVE = ("data+model", "data")
SATURATING = "saturating"
# One row per (method, ability), and per method a row ``mean`` (count = the budget) with the predicted gain
# over the uniform split: ``predicted*`` by the curves (either method), ``expected*`` by the model the
# optimiser maximised (shrunk, with transfer where asked). ``rule``: cut/freeze/share for the paper's rules;
# for the optimiser, what holds the count: ``marginal`` (marginal gains equal), ``lower``/``upper`` (the
# curves' support), ``pool``, ``tolerance``.
# ``examples``: how many examples of the ability the recipe's training shows (count x passes at the budget),
# ``grid_examples``: the fewest that any grid cell of the curves showed it (below it the curves are blind).
# ``model_size``: the size(s) allocated for (comma-joined); ``extrapolated``: a size that was not trained,
# allocated on the growth model over data size and parameter count (no measured group at that size).
ALLOCATION_COLUMNS = ["method", "model_size", "extrapolated", "ability", "group", "rule", "count", "uniform",
                      "data_gain", "stop_per_ability", "lower", "upper", "shrinkage", "predicted", "predicted_low",
                      "predicted_high", "expected", "expected_low", "expected_high", "examples", "grid_examples",
                      "decided_on"]
# ``decided_on``: the split the counts were chosen on (``analysis.decide_on``; ``test`` marks figures that
# share their items with the choice); ``items_per_ability_needed``: see the module doc.
COMPARISON_COLUMNS = ["recipe", "model_size", "data_size", "baseline", "ability", "recipe_score", "baseline_score",
                      "diff", "ci_low", "ci_high", "predicted", "predicted_low", "predicted_high", "n_items",
                      "half_width", "items_needed", "items_needed_predicted", "min_effect", "items_per_ability_needed",
                      "decided_on"]
POWER = 0.8


def recipe_names(base: str, methods) -> dict[str, str]:
    """{method: recipe name}: the paper's keeps ``base``, another method's is ``{base}-{method}``."""
    return {m: base if m == "paper" else f"{base}-{m}" for m in methods}


def untrained_recipe_name(base: str, model_size: str) -> str:
    """The optimiser's recipe for a model size that was not trained: the name says it is an extrapolation."""
    return f"{recipe_names(base, ['optimize'])['optimize']}-{model_size}-extrapolated"


def untrained_distance(info: dict) -> str:
    """Where an untrained model size lies against the largest trained one, in doublings of parameters
    (``info``: ``doublings``, ``largest``, ``largest_params``, as ``pipeline.analyze`` records them)."""
    d = info["doublings"]
    return (f"{abs(d):.2f} doubling{'' if round(abs(d), 2) == 1 else 's'} of parameters "
            f"{'beyond' if d >= 0 else 'below'} {info['largest']} ({info['largest_params']:,.0f}), the largest size "
            "trained")


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


def allocation_table(sensitivity: pd.DataFrame, allocation: dict[str, int], method: str = "paper") -> pd.DataFrame:
    """The allocation beside the uniform split of the same budget, with the rule applied to each ability."""
    budget = sum(allocation.values())
    uniform = largest_remainder({a: budget / len(allocation) for a in allocation}, budget) if allocation else {}
    rows = []
    for r in sensitivity.itertuples(index=False):
        if r.ability in allocation:
            rows.append({"method": method, "ability": r.ability, "group": r.group, "rule": rule_of(r.group),
                         "count": allocation[r.ability], "uniform": uniform[r.ability],
                         "data_gain": r.data_gain, "stop_per_ability": r.stop_per_ability})
    return pd.DataFrame(rows, columns=ALLOCATION_COLUMNS)


def derive(boot: Boot, sensitivity: pd.DataFrame, abilities, model_sizes, budget: int, methods=("paper",), *,
           weighting: str = "gain", pool_sizes: dict | None = None, optimize: dict | None = None,
           transfer: pd.DataFrame | None = None, training=None, joint=None,
           parameters: dict | None = None, predict_on: Boot | None = None,
           predict_joint=None) -> tuple[dict[str, dict[str, int]], pd.DataFrame]:
    """{method: counts} and the allocation table (``ALLOCATION_COLUMNS``) of every method in ``methods``.

    ``sensitivity``: groups measured on ``model_sizes`` (the paper's rules); ``model_sizes``: the sizes
    whose curves the optimiser maximises and both methods' gains are predicted by; ``optimize``: the
    optimiser's settings (``allocation.SETTINGS``); ``transfer``: the transfer matrix
    (``transfer.transfer_matrix``), used when ``optimize["transfer"]``; ``training``: the SFT settings
    (epochs, min_steps, batch_size) of each of ``model_sizes``, for the support in examples seen. A method
    that cannot allocate (no growth curve to optimise on) is left out with a warning.

    ``joint``, ``parameters``: the growth model over data size and parameter count
    (``extrapolation.GrowthModel``) and {model size: parameters}, for one model size that was not
    trained (``allocation.score_model``); only ``optimize`` allocates there (the paper's rules need groups
    measured at that size), and its rows are marked ``extrapolated``, without a group.

    ``predict_on`` (and ``predict_joint`` for an untrained size): the curves that predict the gains
    (``predicted*``), measured on other items than ``boot``, which chose the counts, so that the interval
    does not carry the winner's curse of the choice (default: ``boot`` and ``joint``). ``expected*`` stays
    what the optimiser maximised, on ``boot``."""
    abilities = [a for a in abilities if a in set(sensitivity["ability"])]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown guideline method(s) {', '.join(map(repr, unknown))}; expected {', '.join(METHODS)}")
    counts, tables = {}, []
    try:
        curves_model = optimal.score_model(boot, abilities, model_sizes, len(abilities), joint, parameters)
    except ValueError as e:
        curves_model = None
        reason = str(e)
    extrapolated = isinstance(curves_model, optimal.JointModelScores)
    predict_model = curves_model
    if predict_on is not None and curves_model is not None:
        try:
            predict_model = optimal.score_model(predict_on, abilities, model_sizes, len(abilities),
                                                predict_joint if predict_joint is not None else joint, parameters)
        except ValueError as e:
            log.warning("guideline: no curves on the reported split to predict the gains (%s)", e)
            predict_model = None
    if extrapolated and "paper" in methods:
        raise ValueError(f"model size(s) {', '.join(map(str, model_sizes))} not trained: the paper's rules need groups "
                         "measured at that size; only method optimize allocates there")
    for method in methods:
        if method == "paper":
            counts[method] = allocate(sensitivity, budget, weighting, pool_sizes)
            table = allocation_table(sensitivity, counts[method], method)
            expected = None
        else:
            if curves_model is None:
                log.warning("guideline method %s: no allocation (%s)", method, reason)
                continue
            o = {**optimal.SETTINGS, **(optimize or {})}
            weights = optimal.transfer_weights(transfer, abilities, model_sizes[-1]) if o["transfer"] else None
            result = optimal.optimise(curves_model, abilities, budget, pool_sizes, objective=o["objective"],
                                      quantile=o["quantile"], tolerance=o["tolerance"], shrink=o["shrink"],
                                      transfer=weights, extrapolate=o["extrapolate"], training=training,
                                      level=boot.level)
            counts[method] = result.counts
            groups = sensitivity.set_index("ability")
            t = result.table.set_index("ability")
            measured = not extrapolated  # no group, gain or stop point is measured at an untrained size
            table = pd.DataFrame({
                "method": method, "ability": abilities,
                "group": [groups.loc[a, "group"] if measured else None for a in abilities],
                "rule": [t.loc[a, "bound"] or "marginal" for a in abilities], "count": t["count"].to_numpy(),
                "uniform": t["uniform"].to_numpy(),
                "data_gain": [groups.loc[a, "data_gain"] if measured else np.nan for a in abilities],
                "stop_per_ability": [groups.loc[a, "stop_per_ability"] if measured else np.nan for a in abilities],
                "lower": t["lower"].to_numpy(), "upper": t["upper"].to_numpy(),
                "shrinkage": t["shrinkage"].to_numpy(), "expected": t["predicted"].to_numpy(),
                "expected_low": t["predicted_low"].to_numpy(), "expected_high": t["predicted_high"].to_numpy()},
                columns=ALLOCATION_COLUMNS)
            expected = result.predicted
        if curves_model is not None and counts[method] and training:
            first = training[0] if isinstance(training, list | tuple) else training
            table["examples"] = table["ability"].map(counts[method]) * optimal.passes(budget, first)
            table["grid_examples"] = table["ability"].map(
                lambda a: optimal.grid_examples(curves_model, a, first, len(abilities))[0])
        if predict_model is not None and counts[method]:
            pred = optimal.predicted_gains(predict_model, counts[method], budget, boot.level).set_index("ability")
            for c in ("predicted", "predicted_low", "predicted_high"):
                table[c] = table["ability"].map(pred[c])
            mean = {"method": method, "ability": "mean", "count": sum(counts[method].values()), "uniform": budget,
                    **{c: pred.loc["mean", c] for c in ("predicted", "predicted_low", "predicted_high")}}
            if expected is not None:
                mean.update(expected=expected["value"], expected_low=expected["ci_low"],
                            expected_high=expected["ci_high"])
            table = pd.concat([table, pd.DataFrame([mean], columns=ALLOCATION_COLUMNS)], ignore_index=True)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=ALLOCATION_COLUMNS)
    out = out.assign(model_size=",".join(map(str, model_sizes)), extrapolated=extrapolated)
    return counts, out.astype({"count": "int64", "uniform": "int64", "extrapolated": bool}) if len(out) else out


def recipe_definition(allocation: dict[str, int], pool: str = "full") -> dict:
    """The allocation as a ``grid.recipe_definitions`` entry."""
    return {**{a: int(n) for a, n in allocation.items()}, "pool": pool}


def write_recipe(path: str | Path, recipes: dict[str, dict[str, int]], pool: str = "full",
                 comment: str = "") -> None:
    """``recipes`` ({name: counts}) as ``grid.recipe_definitions`` entries in one YAML file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}" for line in comment.splitlines()] if comment else []
    # No allocation (no measured sensitivity): an empty mapping, so that the file still parses.
    body = {name: recipe_definition(counts, pool) for name, counts in recipes.items() if counts}
    text = "\n".join(lines + [yaml.safe_dump(body, sort_keys=False)])
    write_text_atomic(path, text)


def items_needed(sd_item: float, diff: float, level: float, power: float = POWER) -> float:
    """Test items at which a two-sided ``level`` interval excludes 0 with ``power`` when the true
    difference is ``diff`` and one item's paired difference has standard deviation ``sd_item``."""
    if not np.isfinite(diff) or not np.isfinite(sd_item) or diff == 0:
        return float("nan")
    z = NormalDist().inv_cdf((1 + level) / 2) + NormalDist().inv_cdf(power)
    return float(math.ceil((z * sd_item / abs(diff)) ** 2))


def stratified_items_needed(sd_items, diff: float, level: float, power: float = POWER) -> float:
    """Items per ability at which a two-sided ``level`` interval of the mean over K abilities (each
    resampled on its own: Var = sum_a sd_a^2 / (K^2 n)) excludes 0 with ``power`` when the true difference
    is ``diff``; ``sd_items``: each ability's per-item standard deviation of the paired difference."""
    sd = np.asarray(list(sd_items), dtype=float)
    if not len(sd) or not np.isfinite(sd).all():
        return float("nan")
    return items_needed(float(np.sqrt((sd ** 2).sum())) / len(sd), diff, level, power)


def compare_recipes(boot: Boot, abilities, baseline: str = "baseline", model_sizes=None,
                    predictions: dict | None = None, min_effect: float | None = None) -> pd.DataFrame:
    """Every recipe cell against the uniform baseline at its budget (see the module doc).
    ``predictions``: {(recipe, model size): ``allocation.predicted_gains`` table} to set beside it;
    ``min_effect``: the smallest gain worth detecting (``items_per_ability_needed``; NaN without it)."""
    abilities = list(abilities)
    mean = boot.mean_over(abilities)
    effect = float(min_effect) if min_effect else float("nan")
    u = boot.units
    recipes = u[(u["data_source"] == "recipe") & (u["recipe"] != baseline)][["model_size", "data_size", "recipe"]]
    rows = []
    for r in recipes.drop_duplicates().itertuples(index=False):
        pred = (predictions or {}).get((r.recipe, r.model_size))
        pred = pred.set_index("ability") if pred is not None else None
        sd_of = {}  # per-item spread of each ability's paired difference, for the stratified mean
        for b, names in ((boot, sorted(u["ability"].unique())), (mean, ["mean"])):
            for ability in names:
                i = b.pos(ability, r.model_size, "recipe", r.data_size, r.recipe)
                j, label = b.pos(ability, r.model_size, "recipe", r.data_size, baseline), baseline
                if j is None:
                    j, label = b.pos(ability, r.model_size, "curated", r.data_size, ""), f"curated-{r.data_size}"
                if i is None or j is None:
                    continue
                d = b.reps[:, i] - b.reps[:, j]
                lo, hi = interval(d, b.level)
                n = int(b.units.loc[i, "n_items"])
                sd_item = float(np.nanstd(d, ddof=1) * math.sqrt(n)) if len(d) > 1 else float("nan")
                diff = float(b.point[i] - b.point[j])
                if b is boot:
                    sd_of[ability] = sd_item
                    needed = lambda x: items_needed(sd_item, x, b.level)  # noqa: E731
                else:  # the stratified mean: items per ability; items_needed counts all abilities together
                    sds = [sd_of.get(a, np.nan) for a in abilities]
                    needed = lambda x: stratified_items_needed(sds, x, b.level) * len(sds)  # noqa: E731
                p = pred.loc[ability] if pred is not None and ability in pred.index else None
                predicted = float(p["predicted"]) if p is not None else float("nan")
                rows.append({"recipe": r.recipe, "model_size": r.model_size, "data_size": int(r.data_size),
                             "baseline": label, "ability": ability, "recipe_score": float(b.point[i]),
                             "baseline_score": float(b.point[j]), "diff": diff,
                             "ci_low": float(lo), "ci_high": float(hi), "predicted": predicted,
                             "predicted_low": float(p["predicted_low"]) if p is not None else float("nan"),
                             "predicted_high": float(p["predicted_high"]) if p is not None else float("nan"),
                             "n_items": n, "half_width": float(hi - lo) / 2,
                             "items_needed": needed(diff), "items_needed_predicted": needed(predicted),
                             "min_effect": effect,
                             "items_per_ability_needed": items_needed(sd_item, effect, b.level) if b is boot
                             else stratified_items_needed(sds, effect, b.level)})
    df = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    if df.empty:
        return df
    order = order_model_sizes(df["model_size"].unique(), model_sizes)
    return (df.assign(_m=df["model_size"].map(order.index)).sort_values(["recipe", "_m", "data_size"], kind="stable")
            .drop(columns="_m").reset_index(drop=True))
