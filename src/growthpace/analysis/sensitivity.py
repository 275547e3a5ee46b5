"""Per-ability sensitivity to data volume and to model size, and the groups that follow from it.

Computed on one data source (default ``curated``) from a ``bootstrap.Boot``, per ability, on the grid
of data sizes that every model size has (``S`` sizes, ``M`` model sizes ordered small to large):

    data_gain    least-squares slope of the score (mean over model sizes) on log2(data size): the gain
                 per doubling of the data
    total_gain   that mean score at the largest size minus at the smallest
    model_gain   least-squares slope of the score (mean over data sizes) on the model-size step
                 0, 1, ..., M-1: the gain per step up in model size (needs M >= 2)
    stop_point   ``curves.stop_point`` of the mean curve, in total items; ``stop_per_ability`` is the
                 same divided by ``n_abilities``, the number of abilities a cell trains (for the guideline)
    early_gain   slope up to the stop point; ``late_gain`` slope from the stop point on
                 (when the curve stops strictly inside the grid)

each with a percentile bootstrap interval (``*_low``, ``*_high``).

Groups. With thresholds ``tau_data`` (gain per doubling) and ``tau_model`` (gain per model-size
step), both 0.01 unless given, the first rule that holds names the group:

    saturating   the mean curve stops inside the grid (smallest size < stop point < not reached),
                 rose before it (early_gain low bound > tau_data) and flattened after it
                 (early_gain - late_gain low bound > 0)
    data+model   data_gain low bound > tau_data and model_gain low bound > tau_model
    data         data_gain low bound > tau_data
    model        model_gain low bound > tau_model
    neither      none of the above

"Responsive" therefore means the whole interval lies above the threshold: an ability whose gain is
uncertain is not called responsive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import Boot, interval, ols_slope, order_model_sizes
from .curves import discrete_interval, stop_point

TAU_DATA = 0.01
TAU_MODEL = 0.01
GROUPS = ("saturating", "data+model", "data", "model", "neither")
GROUP_TEXT = {
    "saturating": "responsive to data up to a point, then saturating",
    "data+model": "responsive to both data volume and model size",
    "data": "responsive to data volume, not to model size",
    "model": "responsive to model size, not to data volume",
    "neither": "responsive to neither",
}
# The paper's groups, read by eye from its curves (v1 section 4.3.1); chinese and math fit none.
PAPER_GROUPS = {
    "code": "data+model", "biology": "data+model", "history": "data+model",
    "understanding": "data", "reasoning": "data",
    "ethics": "neither", "role_play": "neither",
    "creative_writing": "saturating",
}
SENSITIVITY_COLUMNS = [
    "ability", "data_source", "n_model_sizes", "n_sizes", "min_size", "max_size", "n_abilities",
    "data_gain", "data_gain_low", "data_gain_high", "total_gain", "total_gain_low", "total_gain_high",
    "model_gain", "model_gain_low", "model_gain_high", "stop_point", "stop_low", "stop_high", "stop_share",
    "stop_per_ability", "early_gain", "early_gain_low", "early_gain_high", "late_gain", "late_gain_low",
    "late_gain_high", "flattening_low", "group", "paper_group",
]


def grid_values(boot: Boot, ability: str, source: str, model_sizes: list[str]):
    """(sizes (S,), point (M, S), replicates (B, M, S)) on the sizes every model size has."""
    u = boot.units
    u = u[(u["ability"] == ability) & (u["data_source"] == source) & (u["recipe"] == "") & (u["data_size"] > 0)]
    have = [set(u.loc[u["model_size"] == ms, "data_size"]) for ms in model_sizes]
    sizes = sorted(set.intersection(*have)) if have else []
    pos = [[boot.pos(ability, ms, source, s) for s in sizes] for ms in model_sizes]
    point = np.array([[boot.point[p] for p in row] for row in pos]).reshape(len(model_sizes), len(sizes))
    reps = np.stack([boot.reps[:, row] for row in pos], axis=1) if sizes else np.zeros((boot.n_boot, 0, 0))
    return np.asarray(sizes, dtype=float), point, reps


def _stat(out: dict, name: str, point: float, reps: np.ndarray, level: float) -> None:
    out[name] = float(point)
    out[f"{name}_low"], out[f"{name}_high"] = map(float, interval(reps, level))


def group_of(row: dict | pd.Series, tau_data: float = TAU_DATA, tau_model: float = TAU_MODEL) -> str:
    """The group that the rules of the module doc give to one sensitivity row."""
    def above(value, tau):
        return bool(np.isfinite(value) and value > tau)

    stops_inside = (np.isfinite(row["stop_point"]) and row["stop_point"] > row["min_size"])
    if stops_inside and above(row["early_gain_low"], tau_data) and above(row["flattening_low"], 0.0):
        return "saturating"
    data, model = above(row["data_gain_low"], tau_data), above(row["model_gain_low"], tau_model)
    return {(True, True): "data+model", (True, False): "data", (False, True): "model"}.get((data, model), "neither")


def ability_sensitivity(boot: Boot, ability: str, source: str, model_sizes: list[str], n_abilities: int,
                        tau_data: float = TAU_DATA, tau_model: float = TAU_MODEL) -> dict | None:
    sizes, point, reps = grid_values(boot, ability, source, model_sizes)
    if len(sizes) < 2:
        return None
    level = boot.level
    x = np.log2(sizes)
    out = {c: np.nan for c in SENSITIVITY_COLUMNS}
    out.update(ability=ability, data_source=source, n_model_sizes=len(model_sizes), n_sizes=len(sizes),
               min_size=float(sizes[0]), max_size=float(sizes[-1]), n_abilities=n_abilities)
    curve_point, curve_reps = point.mean(axis=0), reps.mean(axis=1)          # (S,), (B, S)
    _stat(out, "data_gain", ols_slope(x, curve_point), ols_slope(x, curve_reps), level)
    _stat(out, "total_gain", curve_point[-1] - curve_point[0], curve_reps[:, -1] - curve_reps[:, 0], level)
    if len(model_sizes) >= 2:
        steps = np.arange(len(model_sizes), dtype=float)
        _stat(out, "model_gain", ols_slope(steps, point.mean(axis=1)), ols_slope(steps, reps.mean(axis=2)), level)
    stop, stop_reps = stop_point(sizes, curve_point, curve_reps)
    out["stop_point"] = stop
    out["stop_low"], out["stop_high"] = discrete_interval(stop_reps, level)
    out["stop_share"] = float(np.mean(np.isfinite(stop_reps)))
    out["stop_per_ability"] = stop / n_abilities if np.isfinite(stop) else np.nan
    if np.isfinite(stop) and stop > sizes[0]:
        k = int(np.flatnonzero(sizes == stop)[0])
        early, early_reps = ols_slope(x[:k + 1], curve_point[:k + 1]), ols_slope(x[:k + 1], curve_reps[:, :k + 1])
        late, late_reps = ols_slope(x[k:], curve_point[k:]), ols_slope(x[k:], curve_reps[:, k:])
        _stat(out, "early_gain", early, early_reps, level)
        _stat(out, "late_gain", late, late_reps, level)
        out["flattening_low"] = float(interval(early_reps - late_reps, level)[0])
    out["group"] = group_of(out, tau_data, tau_model)
    out["paper_group"] = PAPER_GROUPS.get(ability, "")
    return out


def sensitivity(boot: Boot, abilities, source: str = "curated", model_sizes=None, n_abilities: int | None = None,
                tau_data: float = TAU_DATA, tau_model: float = TAU_MODEL) -> pd.DataFrame:
    """One row per ability (see the module doc) over ``model_sizes`` (default: all, in their usual order);
    ``n_abilities``: abilities a cell trains (default: all given)."""
    abilities = list(abilities)
    u = boot.units
    present = u.loc[(u["data_source"] == source) & (u["recipe"] == ""), "model_size"].unique()
    sizes = order_model_sizes(present, model_sizes)
    if model_sizes:  # only the given sizes (e.g. the one a derived recipe is trained on)
        sizes = [s for s in sizes if s in set(map(str, model_sizes))]
    rows = [ability_sensitivity(boot, a, source, sizes, n_abilities or len(abilities), tau_data, tau_model)
            for a in abilities]
    return pd.DataFrame([r for r in rows if r is not None], columns=SENSITIVITY_COLUMNS)
