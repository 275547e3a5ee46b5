"""Adaptive studies: train the cells of the grid that the study's conclusions need, round by round.

The conclusions are those the analysis already draws (``sensitivity``, ``guideline``): each ability's
sensitivity group and stop point, and the paper's recipe, read as the rule it gives each ability
(cut, freeze or share; the counts follow from the rules and the data gains).

Criterion: instability under the bootstrap. A bootstrap replicate is a measurement the study could as
well have made (other test items of the same abilities). Re-drawing the conclusions from replicate b,
with the rules unchanged and the intervals moved with it (point := replicate b, replicates shifted by
b - point, so each interval keeps its width and centres on b), asks: had the measurement come out as
b, would the study conclude the same? The share of replicates that change a conclusion is that
conclusion's instability (0: every plausible measurement agrees; 0.5: a coin flip). Unlike an
interval's width, it is on the scale of the decisions themselves: a wide interval far from every
threshold is stable, a narrow one on a threshold is not; and it needs no model beyond the rules the
study already applies.

Rounds. Round 0 trains the seed design: the smallest and largest data size of each model size of the
conclusions' source (curated): the shortest design on which every conclusion is defined. Each later
round measures the instability of the conclusions from the cells trained so far and stops when it is at
most ``tolerance`` (the mean over abilities of the group and of the stop-point instability, and the
recipe's; ``tolerance: null`` spends the whole budget; a rising curve's stop point counts as unresolved
while a gap between the shared data sizes is wider than ``max_gap`` doublings, since no replicate can
show a saturation inside it), or when the budget of cells is spent, or when no candidate can inform an unstable
conclusion. Otherwise it picks ``batch`` candidates, greedily by ``cell_value``:

- a cell informs groups and stop points if it is of the conclusions' source; these are read on the data
  sizes that every model size has (``sensitivity``), so a cell counts by the share of its data size's
  column (over model sizes) that is measured once it is;
- it informs the recipe if its model size is one the recipe is derived on (the same share, over those);
- among equal values, the cell that halves the widest gap (in doublings) of its curve comes first,
  where the curve is least known (a stop point lies between two measured sizes).

So cells of another source (synthetic) are never picked: no conclusion reads them.

Split. Every round decides (picks and stops) on the decision split (``analysis.decide_on``, ``Spec.decide_on``:
valid by default, as the analysis chooses its recipes), so the test items that report the final groups
and intervals took no part in choosing which cells to train or when to stop; a study without that split
decides on test (``decided_on`` in each round's record says which).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..evaluate.scoring import rescore
from ..files import write_text_atomic
from ..study.grid import split_key
from . import tables
from .bootstrap import Boot, bootstrap, decision_items, order_model_sizes, selected_items
from .guideline import allocate, rule_of
from .sensitivity import TAU_DATA, TAU_MODEL, sensitivity

SOURCE = "curated"  # the source the conclusions are drawn from (sensitivity, guideline)
SETTINGS = {"budget": None, "batch": 2, "tolerance": 0.1, "max_gap": 2, "n_boot": 200, "n_draws": 100,
            "max_rounds": 20}
RISING = ("data+model", "data", "saturating")
ROUND_COLUMNS = ["round", "n_cells", "fraction", "chosen", "instability", "group_instability", "stop_instability",
                 "recipe_instability", "ability", "group", "stop_point", "rule", "count", "ability_group_instability",
                 "ability_stop_instability", "stop"]


@dataclass(frozen=True, order=True)
class GridCell:
    model_size: str
    data_source: str
    data_size: int
    seed: int = 0

    @property
    def name(self) -> str:
        return f"{self.data_source}-{self.data_size}-seed{self.seed}"

    @classmethod
    def parse(cls, model_size: str, name: str) -> GridCell:
        source, size, seed = name.rsplit("-", 2)
        return cls(model_size, source, int(size), int(seed.removeprefix("seed")))

    @property
    def key(self) -> str:
        return f"{self.model_size}/{self.name}"


@dataclass
class Spec:
    """What the conclusions are drawn with (from ``study.analysis_spec``)."""
    abilities: list
    model_sizes: list
    guideline_model_sizes: list
    budget: int                           # the recipe's total items
    weighting: str = "gain"
    pool_sizes: dict | None = None
    tau_data: float = TAU_DATA
    tau_model: float = TAU_MODEL
    seed: int = 0
    settings: dict = field(default_factory=dict)
    decide_on: str = "valid"              # the split the rounds decide on (analysis.decide_on)

    def setting(self, key):
        return {**SETTINGS, **self.settings}.get(key)


# ------------------------------------------------------------------------------------ conclusions
def conclusions(boot: Boot, spec: Spec) -> dict:
    """{ability: {group, stop_point, rule, count}} from ``boot`` by the analysis's own rules."""
    sizes = order_model_sizes(boot.units.loc[boot.units["data_source"] == SOURCE, "model_size"].unique(),
                              spec.model_sizes)
    n = len(spec.abilities)
    sens = sensitivity(boot, spec.abilities, SOURCE, sizes, n, spec.tau_data, spec.tau_model).set_index("ability")
    guide_sizes = [m for m in sizes if m in set(spec.guideline_model_sizes or sizes)] or sizes
    guide = sens.reset_index() if guide_sizes == sizes else sensitivity(
        boot, spec.abilities, SOURCE, guide_sizes, n, spec.tau_data, spec.tau_model)
    counts = allocate(guide, spec.budget, spec.weighting, spec.pool_sizes) if len(guide) else {}
    guide = guide.set_index("ability")
    out = {}
    for a in spec.abilities:
        known, g = a in sens.index, a in guide.index
        out[a] = {"group": sens.loc[a, "group"] if known else None,
                  "stop_point": float(sens.loc[a, "stop_point"]) if known else math.nan,
                  "rule": rule_of(guide.loc[a, "group"]) if g else None,
                  "count": int(counts.get(a, 0))}
    return out


def shifted(boot: Boot, b: int) -> Boot:
    """``boot`` as if replicate ``b`` had been measured: point b, replicates moved by b - point."""
    return Boot(boot.units, boot.reps[b].copy(), boot.reps - boot.point + boot.reps[b], boot.level)


def _same(x, y) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        return (math.isnan(x) and math.isnan(y)) or x == y
    return x == y


def instability(boot: Boot, spec: Spec, base: dict | None = None) -> dict:
    """Shares of ``n_draws`` replicates whose conclusions differ from ``base`` (default: the point's):
    per ability (group, stop point), of the recipe (any ability's rule), and their summary ``overall``
    (the largest of the mean group, the mean stop-point and the recipe instability)."""
    base = base or conclusions(boot, spec)
    n_draws = min(int(spec.setting("n_draws")), boot.n_boot)
    draws = np.random.default_rng(spec.seed + 1).choice(boot.n_boot, n_draws, replace=False)
    group = dict.fromkeys(spec.abilities, 0.0)
    stop = dict.fromkeys(spec.abilities, 0.0)
    recipe = 0.0
    for b in draws:
        c = conclusions(shifted(boot, int(b)), spec)
        for a in spec.abilities:
            group[a] += c[a]["group"] != base[a]["group"]
            stop[a] += not _same(c[a]["stop_point"], base[a]["stop_point"])
        recipe += any(c[a]["rule"] != base[a]["rule"] for a in spec.abilities)
    group = {a: v / n_draws for a, v in group.items()}
    stop = {a: v / n_draws for a, v in stop.items()}
    # The bootstrap cannot see what the design cannot express: between two measured sizes a curve is a
    # straight line, so a saturation inside a wide gap is invisible to every replicate. A rising curve's
    # stop point counts as unresolved (instability 1) while the sizes that every model size has leave a
    # gap wider than max_gap doublings.
    if spec.setting("max_gap") is not None and widest_gap(boot, spec) > float(spec.setting("max_gap")):
        stop.update({a: 1.0 for a in spec.abilities if base[a]["group"] in RISING})
    out = {"group": group, "stop": stop, "recipe": recipe / n_draws,
           "mean_group": float(np.mean(list(group.values()))), "mean_stop": float(np.mean(list(stop.values())))}
    out["overall"] = max(out["mean_group"], out["mean_stop"], out["recipe"])
    return out


def widest_gap(boot: Boot, spec: Spec) -> float:
    """Widest gap, in doublings, between consecutive data sizes that every model size of the conclusions'
    source has (the grid ``sensitivity`` reads)."""
    u = boot.units[(boot.units["data_source"] == SOURCE) & (boot.units["recipe"] == "")]
    per_size = [set(g["data_size"]) for _, g in u.groupby("model_size")]
    shared = sorted(set.intersection(*per_size)) if per_size else []
    return max((math.log2(b / a) for a, b in zip(shared, shared[1:])), default=0.0)


# ------------------------------------------------------------------------------------------ design
def seed_design(candidates) -> list[GridCell]:
    """The smallest and largest data size of each (model size, seed) of the conclusions' source."""
    out = []
    by_curve: dict = {}
    for c in candidates:
        if c.data_source == SOURCE:
            by_curve.setdefault((c.model_size, c.seed), []).append(c)
    for cells in by_curve.values():
        sizes = sorted(cells, key=lambda c: c.data_size)
        out += [sizes[0], sizes[-1]] if len(sizes) > 1 else sizes
    return sorted(set(out))


def _share(cell: GridCell, measured: set, sizes) -> float:
    """Share of ``sizes`` (model sizes) measured at the cell's data size and seed once ``cell`` is."""
    have = {c.model_size for c in measured
            if (c.data_source, c.data_size, c.seed) == (cell.data_source, cell.data_size, cell.seed)}
    return len((have | {cell.model_size}) & set(sizes)) / max(len(sizes), 1)


def _gap(cell: GridCell, measured: set) -> float:
    """Doublings from the cell's data size to the nearer measured size of its curve (the gap it halves)."""
    sizes = [c.data_size for c in measured
             if (c.model_size, c.data_source, c.seed) == (cell.model_size, cell.data_source, cell.seed)]
    if not sizes:
        return math.inf
    return min(abs(math.log2(cell.data_size / s)) for s in sizes)


def cell_value(cell: GridCell, measured: set, unstable: dict, spec: Spec) -> float:
    """How much of the conclusions' instability ``cell`` feeds (module doc); 0 when it informs none."""
    if cell.data_source != SOURCE:
        return 0.0
    sizes = spec.model_sizes
    guide = [m for m in sizes if m in set(spec.guideline_model_sizes or sizes)] or sizes
    value = max(unstable["mean_group"], unstable["mean_stop"]) * _share(cell, measured, sizes)
    if cell.model_size in guide:
        value += unstable["recipe"] * _share(cell, measured, guide)
    return float(value)


def pick(candidates, measured, unstable: dict, spec: Spec, n: int, spend: bool = False) -> list[GridCell]:
    """Up to ``n`` unmeasured candidates, one at a time by (value, share of its column measured, gap halved,
    smaller size first). Only cells that feed an unstable conclusion, unless ``spend`` (a fixed budget to
    spend: then any cell of the conclusions' source, the most informative first)."""
    measured, chosen = set(measured), []
    left = [c for c in candidates if c not in measured]
    for _ in range(n):
        scored = [(cell_value(c, measured, unstable, spec), _share(c, measured, spec.model_sizes),
                   _gap(c, measured), -c.data_size, c) for c in left if c not in chosen]
        scored = [s for s in scored if s[0] > 0 or (spend and s[4].data_source == SOURCE)]
        if not scored:
            break
        best = max(scored, key=lambda s: s[:4])[4]
        chosen.append(best)
        measured.add(best)
    return chosen


def budget_cells(spec: Spec, n_candidates: int) -> int:
    """The budget in cells: an integer, or a fraction (< 1) of the candidates, or all of them."""
    b = spec.setting("budget")
    if b is None:
        return n_candidates
    return int(math.floor(b * n_candidates + 1e-9)) if b < 1 else int(b)


# ------------------------------------------------------------------------------------------ rounds
def decide(round_no: int, items: pd.DataFrame | None, measured, candidates, spec: Spec) -> dict:
    """Round ``round_no``'s record: what the cells measured so far conclude, how unstable that is, and the
    cells to train this round (``chosen``; empty with ``stop`` set when the study is done).

    ``items``: selected items of the measured cells on the decision split (``bootstrap.decision_items``);
    round 0 (nothing measured) chooses the seed design."""
    candidates, measured = sorted(set(candidates)), sorted(set(measured))
    budget = budget_cells(spec, len(candidates))
    record = {"round": round_no, "measured": [c.key for c in measured], "n_candidates": len(candidates),
              "budget": budget, "conclusions": None, "instability": None, "chosen": [], "stop": None}
    if round_no == 0:
        record["chosen"] = [c.key for c in seed_design(candidates)[:budget]]
        return record
    boot = bootstrap(items, n_boot=int(spec.setting("n_boot")), seed=spec.seed)
    base = conclusions(boot, spec)
    unstable = instability(boot, spec, base)
    record["conclusions"], record["instability"] = base, unstable
    room = budget - len(measured)
    tolerance = spec.setting("tolerance")  # None: spend the whole budget
    if tolerance is not None and unstable["overall"] <= float(tolerance):
        record["stop"] = "stable"
    elif room <= 0:
        record["stop"] = "budget"
    elif round_no >= int(spec.setting("max_rounds")):
        record["stop"] = "max_rounds"
    else:
        chosen = pick(candidates, measured, unstable, spec, min(int(spec.setting("batch")), room),
                      spend=tolerance is None)
        record["chosen"] = [c.key for c in chosen]
        record["stop"] = None if chosen else "no_informative_cell"
    return record


def cells_of(keys) -> list[GridCell]:
    return [GridCell.parse(*split_key(k)) for k in keys]


def measured_tables(prediction_files, select_after: int, scoring: str,
                    decide_on: str = "valid") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predictions, scores) of some cells as ``tables.write_tables`` builds them, in memory."""
    predictions = pd.concat([pd.read_parquet(f) for f in prediction_files], ignore_index=True)
    predictions["recipe"] = predictions["recipe"].fillna("") if "recipe" in predictions else ""
    predictions = rescore(predictions, scoring)
    return predictions, with_selection(tables.scores_table(predictions), select_after, decide_on)


def with_selection(scores: pd.DataFrame, select_after: int, decide_on: str = "valid") -> pd.DataFrame:
    selection = tables.select_epochs(scores, select_after, decide_on)
    scores = scores.merge(selection[tables.CELL_KEYS + ["selected_epoch"]], on=tables.CELL_KEYS, how="left")
    scores["selected"] = scores["epoch"] == scores["selected_epoch"]
    return scores.drop(columns="selected_epoch")


def grid_candidates(items: pd.DataFrame) -> list[GridCell]:
    """The plain grid cells of a study's selected items."""
    u = items.loc[items["data_source"].isin(["curated", "synthetic"]) & (items["recipe"].fillna("") == ""),
                  ["model_size", "data_source", "data_size", "seed"]].drop_duplicates()
    return [GridCell(str(m), s, int(d), int(e)) for m, s, d, e in u.itertuples(index=False)]


def items_of(items: pd.DataFrame, cells) -> pd.DataFrame:
    """The rows of ``items`` of the given grid cells, plus every base-model row (not a grid cell)."""
    keys = {(c.model_size, c.data_source, c.data_size, c.seed) for c in cells}
    k = list(zip(items["model_size"].astype(str), items["data_source"], items["data_size"].astype(int),
                 items["seed"].astype(int)))
    mask = np.array([x in keys for x in k]) | (items["data_source"] == "base").to_numpy()
    return items[mask]


def run(items: pd.DataFrame, spec: Spec, candidates=None) -> list[dict]:
    """Every round of an adaptive study replayed on measured ``items`` (the full grid's): each round sees
    only the items of the cells chosen before it. The records are those the workflow writes."""
    candidates = sorted(set(candidates or grid_candidates(items)))
    records, measured = [], []
    for r in range(int(spec.setting("max_rounds")) + 1):
        rec = decide(r, items_of(items, measured) if r else None, measured, candidates, spec)
        records.append(rec)
        measured += cells_of(rec["chosen"])
        if rec["stop"] or (r and not rec["chosen"]):
            break
    return records


def rounds_table(records: list[dict]) -> pd.DataFrame:
    """``ROUND_COLUMNS``: one row per (round, ability), and per round one row ``ability = ""`` for the
    round itself; ``chosen``: the round's cells, comma-joined; ``fraction``: cells measured after the
    round over the candidates."""
    rows = []
    for rec in records:
        n_after = len(rec["measured"]) + len(rec["chosen"])
        u = rec["instability"] or {}
        head = {"round": rec["round"], "n_cells": n_after, "fraction": n_after / max(rec["n_candidates"], 1),
                "chosen": ",".join(rec["chosen"]), "instability": u.get("overall", np.nan),
                "group_instability": u.get("mean_group", np.nan), "stop_instability": u.get("mean_stop", np.nan),
                "recipe_instability": u.get("recipe", np.nan), "stop": rec["stop"] or ""}
        rows.append({**head, "ability": ""})
        for a, c in (rec["conclusions"] or {}).items():
            rows.append({**head, "ability": a, "group": c["group"], "stop_point": c["stop_point"],
                         "rule": c["rule"], "count": c["count"],
                         "ability_group_instability": u["group"][a], "ability_stop_instability": u["stop"][a]})
    return pd.DataFrame(rows, columns=ROUND_COLUMNS)


def final_conclusions(items: pd.DataFrame, cells, spec: Spec) -> dict:
    """The conclusions from the items of ``cells`` (e.g. after the last round, or the full grid)."""
    return conclusions(bootstrap(items_of(items, cells), n_boot=int(spec.setting("n_boot")), seed=spec.seed), spec)


def agreement(adaptive: dict, full: dict) -> dict:
    """How far the adaptive study's conclusions match the full grid's: abilities with the same group,
    whether every ability has the same recipe rule, and the share of the budget the counts move."""
    abilities = list(full)
    same = [a for a in abilities if adaptive[a]["group"] == full[a]["group"]]
    total = sum(full[a]["count"] for a in abilities) or 1
    return {"n_abilities": len(abilities), "same_group": len(same),
            "different_group": {a: [adaptive[a]["group"], full[a]["group"]] for a in abilities if a not in same},
            "same_recipe": all(adaptive[a]["rule"] == full[a]["rule"] for a in abilities),
            "different_rule": {a: [adaptive[a]["rule"], full[a]["rule"]] for a in abilities
                               if adaptive[a]["rule"] != full[a]["rule"]},
            "recipe_moved": sum(abs(adaptive[a]["count"] - full[a]["count"]) for a in abilities) / 2 / total}


def replay(predictions: pd.DataFrame, scores: pd.DataFrame, spec: Spec) -> dict:
    """An adaptive study replayed on a full grid's stored tables, without training: its rounds (on the
    decision split), and its final conclusions against those of the full grid (same rules, same bootstrap
    settings), both read on test."""
    items = selected_items(predictions, scores)
    candidates = grid_candidates(items)
    ditems, decided_on = decision_items(predictions, scores, spec.decide_on)
    records = [{**r, "decided_on": decided_on} for r in run(ditems, spec, candidates)]
    measured = [c for rec in records for c in cells_of(rec["chosen"])]
    adaptive = final_conclusions(items, measured, spec)
    full = final_conclusions(items, candidates, spec)
    return {"records": records, "n_cells": len(measured), "n_candidates": len(candidates),
            "fraction": len(measured) / max(len(candidates), 1), "cells": [c.key for c in sorted(measured)],
            "skipped": [c.key for c in sorted(set(candidates) - set(measured))],
            "adaptive": adaptive, "full": full, "agreement": agreement(adaptive, full)}


# ------------------------------------------------------------------------------- workflow and note
def spec_from(analysis_spec: dict, settings: dict, pool_sizes: dict | None = None) -> Spec:
    """A ``Spec`` from ``study.analysis_spec`` and ``grid.adaptive`` (``study.adaptive_settings``)."""
    s = analysis_spec
    return Spec(abilities=list(s["abilities"]), model_sizes=list(s["model_sizes"]),
                guideline_model_sizes=list(s.get("guideline_model_sizes") or s["model_sizes"]),
                budget=int(s["budget"]), weighting=s["weighting"], pool_sizes=pool_sizes,
                tau_data=s["tau_data"], tau_model=s["tau_model"], seed=s["seed"], settings=dict(settings),
                decide_on=s.get("decide_on", "valid"))


def decide_from_files(round_no: int, prediction_files, measured_keys, candidate_keys, spec: Spec,
                      select_after: int, scoring: str) -> dict:
    """``decide`` on the stored predictions of the cells measured so far (the workflow's round)."""
    items, decided_on = None, None
    if round_no > 0:
        predictions, scores = measured_tables(prediction_files, select_after, scoring, spec.decide_on)
        items, decided_on = decision_items(predictions, scores, spec.decide_on)
    return {**decide(round_no, items, cells_of(measured_keys), cells_of(candidate_keys), spec), "decided_on": decided_on}


def cell_hours(cells: pd.DataFrame, candidates, measured) -> pd.DataFrame:
    """Training hours per candidate: measured (``cells.parquet``'s ``wall_seconds``) for the trained
    cells; for a skipped one, estimated linearly in data size between the trained cells of its model
    size and source (clamped at the ends: the floor on optimiser steps makes small cells cost alike)."""
    trained = cells[cells["data_source"].isin(["curated", "synthetic"])].copy()
    trained["model_size"] = trained["model_size"].astype(str)
    rows, measured = [], set(measured)
    for c in sorted(set(candidates)):
        same = trained[(trained["model_size"] == c.model_size) & (trained["data_size"] == c.data_size)
                       & (trained["data_source"] == c.data_source)]
        if c in measured and len(same):
            rows.append({"cell": c.key, "trained": True, "hours": float(same["wall_seconds"].sum()) / 3600})
            continue
        ref = trained[(trained["model_size"] == c.model_size)].sort_values("data_size")
        ref = ref[ref["data_source"] == c.data_source] if (ref["data_source"] == c.data_source).any() else ref
        hours = float(np.interp(c.data_size, ref["data_size"], ref["wall_seconds"])) / 3600 if len(ref) else np.nan
        rows.append({"cell": c.key, "trained": c in measured, "hours": hours})
    return pd.DataFrame(rows, columns=["cell", "trained", "hours"])


def figures(result: dict) -> list[str]:
    """The three validation figures of a replay, as markdown lines."""
    a = result["agreement"]
    lines = [f"- sensitivity group: the same for {a['same_group']} of {a['n_abilities']} abilities"
             + (" (" + "; ".join(f"{k}: {v[0]} here, {v[1]} on the full grid" for k, v in a["different_group"].items())
                + ")" if a["different_group"] else ""),
             f"- guideline recipe (the paper's rules): {'the same' if a['same_recipe'] else 'not the same'} rule for "
             "every ability" + (" (" + "; ".join(f"{k}: {v[0]} here, {v[1]} on the full grid"
                                                for k, v in a["different_rule"].items()) + ")"
                                if a["different_rule"] else "")
             + f"; {a['recipe_moved']:.0%} of the budget's items in other abilities than the full grid's recipe",
             f"- training cells: {result['n_cells']} of {result['n_candidates']} ({result['fraction']:.0%})"]
    return lines


def _split_line(records: list[dict]) -> list[str]:
    """What the rounds decided on: the valid split, or (a study without it) the test items of the report."""
    split = next((r.get("decided_on") for r in records if r.get("decided_on")), None)
    if split is None:
        return []
    if split == "test":
        return ["**Decided on test:** the study has no valid split, so the picks and the stop were decided on the "
                "same test items that report the final groups and intervals (optional stopping on the reported "
                "items: those intervals claim more than they hold).", ""]
    return [f"Each round picked and stopped on the {split} split; the final groups and intervals are read on test.", ""]


def write_note(records: list[dict], hours: pd.DataFrame, path, replay_result: dict | None = None,
               replay_source: str | None = None) -> None:
    """``adaptive.md``: the rounds, the cells skipped and the cell-hours saved, and (given a replay on a
    full grid) the validation figures."""
    last = records[-1]
    measured = [k for r in records for k in r["chosen"]]
    skipped = hours.loc[~hours["trained"], "cell"].tolist()
    spent, saved = hours.loc[hours["trained"], "hours"].sum(), hours.loc[~hours["trained"], "hours"].sum()
    lines = ["## Adaptive design", "",
             f"{len(measured)} of {last['n_candidates']} grid cells trained ({len(measured) / max(last['n_candidates'], 1):.0%}) "
             f"in {len(records) - 1} round(s) after the seed design; stopped: {last['stop']}.", "",
             *_split_line(records),
             "| round | cells chosen | instability (groups / stop points / recipe) |", "|---|---|---|"]
    for r in records:
        u = r["instability"]
        lines.append(f"| {r['round']} | {', '.join(r['chosen']) or '-'} | "
                     + (f"{u['mean_group']:.2f} / {u['mean_stop']:.2f} / {u['recipe']:.2f}" if u else "seed design")
                     + " |")
    lines += ["", f"Skipped ({len(skipped)}): {', '.join(skipped) or 'none'}.", "",
              f"Cell-hours: {spent:.3f} trained (measured), {saved:.3f} skipped (estimated from the trained cells of "
              f"the same model size, linearly in data size): {saved / max(spent + saved, 1e-12):.0%} of the full "
              "grid's training time saved.", ""]
    if replay_result is not None:
        lines += [f"Validation: the same adaptive rules replayed on the full grid's stored results ({replay_source}),"
                  " against the conclusions of the full grid:", "", *figures(replay_result), ""]
    write_text_atomic(path, "\n".join(lines))
