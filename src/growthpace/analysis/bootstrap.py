"""Per-item scores at each cell's selected checkpoint, and the bootstrap that every analysis shares.

Input contract (the study's tables, written by ``growthpace.analysis.tables``):

- ``scores``: one row per (cell, epoch, split, ability) with a boolean ``selected`` that marks the
  cell's selected epoch.
- ``predictions``: one row per (cell, epoch, eval set, item) with ``ability``, ``eval_set``
  (``{name}_{split}``), ``item_hash``, ``score`` (0..1) and ``expected`` (the random-guess score);
  optional ``kind``, ``choice_logprobs`` and ``choice_lengths`` (JSON lists), ``gold_logprob`` and
  ``gold_tokens`` are kept when present.

A cell is ``model_size, data_source, data_size, seed`` plus an optional ``recipe`` column (missing or
NaN reads as ``""``):

- plain grid cells: data_source ``curated`` or ``synthetic``, recipe ``""``, data_size = total items;
- recipe cells: data_source ``recipe``, recipe = its name, data_size = the realised total;
- single-ability cells: data_source ``single_ability``, recipe ``only-{ability}-{n}``, data_size n;
- the untuned base model: data_source ``base``, data_size 0 (its only epoch, 0, is the selected one).

A *unit* is a cell without its seed: the analyses report units, averaged over seeds.

Resampling. Every cell answers the same test items, so one bootstrap replicate draws the items of
each ability once, with replacement, and applies that draw to every cell: differences between cells
(a gain with data, a source gap, a transfer effect, a recipe against its baseline) are paired. When a
study has several seeds, a replicate also draws seeds with replacement (one draw shared by all
cells) and a unit's value is the weighted mean over its seeds. Abilities are resampled
independently, so a mean over abilities is a stratified bootstrap. Intervals are percentile
intervals of the replicates. The draws depend only on the seed and on which items and seeds each
ability has, so two calls with the same seed on the same rows with another value in ``score`` (e.g. a
per-item loss, NaN where unknown) draw the same items: their replicates are paired.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

CELL_KEYS = ["model_size", "data_source", "data_size", "seed", "recipe"]
UNIT_KEYS = ["ability", "model_size", "data_source", "data_size", "recipe"]
BASE = "base"
PLAIN_SOURCES = ("curated", "synthetic")
OPTIONAL_ITEM_COLUMNS = ["kind", "choice_logprobs", "choice_lengths", "gold_logprob", "gold_tokens"]
_KNOWN_LABELS = ["xxs", "xs", "s", "m", "l", "xl", "xxl"]
_PARAMS = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmbt])$", re.IGNORECASE)


def with_recipe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``recipe`` column of strings (``""`` for plain cells) and integer sizes."""
    df = df.copy()
    df["recipe"] = df["recipe"].astype(object).fillna("").astype(str) if "recipe" in df else ""
    df["data_size"] = df["data_size"].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    df["model_size"] = df["model_size"].astype(str)
    return df


def selected_test_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows of a scores table (``analysis.tables``) at each cell's selected epoch, on test (valid when the
    study has no test split)."""
    split = "test" if (scores["split"] == "test").any() else "valid"
    return scores[(scores["split"] == split) & scores["selected"]]


def selected_items(predictions: pd.DataFrame, scores: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Per-item rows of ``split`` at each cell's selected epoch."""
    sel = with_recipe(scores)
    sel = sel[sel["selected"].astype(bool)][CELL_KEYS + ["epoch"]].drop_duplicates()
    preds = with_recipe(predictions)
    preds = preds[preds["eval_set"].map(split_of) == split]
    items = preds.merge(sel, on=CELL_KEYS + ["epoch"], how="inner")
    extra = [c for c in OPTIONAL_ITEM_COLUMNS if c in items]
    return items[CELL_KEYS + ["epoch", "ability", "eval_set", "item_hash", "score", "expected"] + extra]


REPORT_SPLIT = "test"  # the split every reported figure is measured on


def decision_items(predictions: pd.DataFrame, scores: pd.DataFrame, decide_on: str = "valid") -> tuple[pd.DataFrame, str]:
    """(per-item rows of the split that the analysis decides on, that split): ``decide_on`` where the
    predictions have it, else the reported split (``test``: the decisions then share the items of the
    figures that follow from them, which the report says)."""
    items = selected_items(predictions, scores, decide_on)
    if decide_on != REPORT_SPLIT and len(items):
        return items, decide_on
    return (items if decide_on == REPORT_SPLIT else selected_items(predictions, scores, REPORT_SPLIT)), REPORT_SPLIT


def order_model_sizes(sizes, given=None) -> list[str]:
    """Model sizes from small to large: ``given`` (the study's order) when set; else by parameter
    count when every label reads as one (``7b``, ``350m``); else by the labels xs < s < m < l < xl;
    else alphabetically."""
    sizes = [str(s) for s in dict.fromkeys(sizes)]
    if given:
        order = [str(s) for s in given]
        return [s for s in order if s in sizes] + sorted(s for s in sizes if s not in order)
    scale = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
    parsed = [_PARAMS.match(s) for s in sizes]
    if all(parsed):
        return sorted(sizes, key=lambda s: float(_PARAMS.match(s)[1]) * scale[_PARAMS.match(s)[2].lower()])
    if all(s.lower() in _KNOWN_LABELS for s in sizes):
        return sorted(sizes, key=lambda s: _KNOWN_LABELS.index(s.lower()))
    return sorted(sizes)


def split_of(eval_set: str) -> str:
    """``valid`` or ``test``: the split named by an eval set's suffix (``{name}_{split}``)."""
    return eval_set.rsplit("_", 1)[1]


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one cell's items; not paired across cells)."""
    if len(values) == 0:
        return (float("nan"), float("nan"))
    lo, hi = interval(values[_resamples(len(values), n_boot, seed)].mean(axis=1), level)
    return float(lo), float(hi)


@functools.lru_cache(maxsize=64)
def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) item positions drawn with replacement from ``seed``: every cell of n items draws the
    same ones, so a scores table (hundreds of cells of a few sizes) draws each size once."""
    positions = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    positions.flags.writeable = False
    return positions


def interval(reps: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the first axis (replicates); NaN replicates are left out."""
    reps = np.asarray(reps, dtype=float)
    if reps.size == 0 or np.all(np.isnan(reps)):
        shape = reps.shape[1:]
        return np.full(shape, np.nan), np.full(shape, np.nan)
    with np.errstate(all="ignore"):
        lo, hi = np.nanquantile(reps, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    return lo, hi


@dataclass
class Boot:
    """Point estimates and bootstrap replicates of every unit's mean score.

    ``units``: one row per unit (``UNIT_KEYS`` plus ``expected``, ``n_items``, ``n_seeds``);
    ``point``: (units,); ``reps``: (replicates, units), replicate b of every unit from the same draw.
    """

    units: pd.DataFrame
    point: np.ndarray
    reps: np.ndarray
    level: float = 0.95

    def __post_init__(self):
        self.units = self.units.reset_index(drop=True)
        self._pos = {tuple(k): i for i, k in enumerate(self.units[UNIT_KEYS].itertuples(index=False, name=None))}

    @property
    def n_boot(self) -> int:
        return self.reps.shape[0]

    def pos(self, ability, model_size, data_source, data_size, recipe="") -> int | None:
        return self._pos.get((ability, str(model_size), data_source, int(data_size), recipe))

    def values(self, positions) -> tuple[np.ndarray, np.ndarray]:
        """(point (k,), replicates (B, k)) of the units at ``positions``."""
        positions = list(positions)
        return self.point[positions], self.reps[:, positions]

    def summary(self, point, reps) -> dict:
        lo, hi = interval(reps, self.level)
        return {"value": float(point), "ci_low": float(lo), "ci_high": float(hi)}

    def mean_over(self, abilities, label: str = "mean") -> Boot:
        """Units averaged over ``abilities`` (those present; only units that every one of them has)."""
        keys = [k for k in UNIT_KEYS if k != "ability"]
        sub = self.units[self.units["ability"].isin(list(abilities))]
        wanted = sub["ability"].nunique()
        rows, point, reps = [], [], []
        for key, g in sub.groupby(keys, sort=True):
            if g["ability"].nunique() < wanted:
                continue
            idx = g.index.to_numpy()
            rows.append({"ability": label, **dict(zip(keys, key)), "expected": g["expected"].mean(),
                         "n_items": int(g["n_items"].sum()), "n_seeds": int(g["n_seeds"].min())})
            point.append(self.point[idx].mean())
            reps.append(self.reps[:, idx].mean(axis=1))
        units = pd.DataFrame(rows, columns=UNIT_KEYS + ["expected", "n_items", "n_seeds"])
        reps_arr = np.stack(reps, axis=1) if reps else np.zeros((self.n_boot, 0))
        return Boot(units, np.asarray(point, dtype=float), reps_arr, self.level)


def bootstrap(items: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Boot:
    """Unit means and their replicates from per-item rows (``selected_items``)."""
    rng = np.random.default_rng(seed)
    items = with_recipe(items)
    seeds = sorted(items["seed"].unique())
    seed_col = {s: i for i, s in enumerate(seeds)}
    if len(seeds) > 1:
        seed_w = rng.multinomial(len(seeds), np.full(len(seeds), 1 / len(seeds)), size=n_boot).astype(float)
    else:
        seed_w = np.ones((n_boot, 1))
    rows, point, reps = [], [], []
    for ability, g in items.groupby("ability", sort=True):
        g = g.groupby(CELL_KEYS + ["eval_set", "item_hash"], as_index=False)[["score", "expected"]].mean()
        item = pd.factorize(g["eval_set"] + "\x00" + g["item_hash"].astype(str))[0]
        groups = g.groupby(CELL_KEYS, sort=True)
        cell = groups.ngroup().to_numpy()
        cells = groups.size().index.to_frame(index=False)
        n_items, n_cells = item.max() + 1, len(cells)
        scores = np.zeros((n_items, n_cells))
        mask = np.zeros((n_items, n_cells))
        value = g["score"].to_numpy(dtype=float)
        known = np.isfinite(value)  # a missing value (NaN) leaves its item out of that cell's means
        scores[item[known], cell[known]] = value[known]
        mask[item[known], cell[known]] = 1.0
        draws = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=n_boot).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            cell_reps = (draws @ scores) / (draws @ mask)
        cell_point = scores.sum(axis=0) / mask.sum(axis=0)
        cell_expected = groups["expected"].mean().to_numpy()
        cell_n = mask.sum(axis=0)
        cells["ability"] = ability
        for key, u in cells.groupby(UNIT_KEYS, sort=True):
            cols = u.index.to_numpy()
            w = seed_w[:, [seed_col[s] for s in u["seed"]]]
            with np.errstate(invalid="ignore", divide="ignore"):
                rep = (cell_reps[:, cols] * w).sum(axis=1) / w.sum(axis=1)
            # A unit with only some of the study's seeds: replicates that drew none of them use all.
            none_drawn = w.sum(axis=1) == 0
            if none_drawn.any():
                rep[none_drawn] = np.nanmean(cell_reps[none_drawn][:, cols], axis=1)
            rows.append({**dict(zip(UNIT_KEYS, key)), "expected": float(cell_expected[cols].mean()),
                         "n_items": int(cell_n[cols].max()), "n_seeds": len(cols)})
            point.append(float(cell_point[cols].mean()))
            reps.append(rep)
    units = pd.DataFrame(rows, columns=UNIT_KEYS + ["expected", "n_items", "n_seeds"])
    reps_arr = np.stack(reps, axis=1) if reps else np.zeros((n_boot, 0))
    return Boot(units, np.asarray(point, dtype=float), reps_arr, level)


def ols_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``y`` (..., n) on ``x`` (n,), over the last axis."""
    x = np.asarray(x, dtype=float)
    dx = x - x.mean()
    y = np.asarray(y, dtype=float)
    return ((y - y.mean(axis=-1, keepdims=True)) * dx).sum(axis=-1) / (dx ** 2).sum()
