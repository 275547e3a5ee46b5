"""Growth curves: score against log2(data size) per (ability, model size, data source), their fitted
shape, and the size from which they stop rising.

``growth_curves``: one row per unit of the plain grid (curated, synthetic) and of the base model
(data_source ``base``, data_size 0), with the bootstrap interval of its mean score (``bootstrap``).

``fit_curves``: one row per curve. With x = log2(data size), three shapes are fitted by least squares:

    flat        y = c
    linear      y = a + b x                    b = gain per doubling of the data
    saturating  y = a + b min(x, xs), b > 0    rises linearly up to the saturation point 2**xs, flat
                                               after it (a linear-plateau model; xs is searched between
                                               the second and the second-to-last size)

The fitted shape is the one with the smallest AIC = chi2 + 2k, where chi2 = sum_i (r_i / se_i)^2 is the
sum of the fit's squared residuals r_i, each divided by the standard error se_i of its point (the standard
deviation of that point over the bootstrap replicates), and k is the shape's parameters (1, 2, 3). The
points' noise is known from the items, so the residual variance is not estimated from the few points
themselves (on the demo's 4 sizes, an AICc that estimates it from the points called 36 of 39 curves
flat, some with a slope interval well above 0). A shape takes part only when n >= k + 1 (linear needs 3 sizes,
saturating 4), and a shape is chosen only when there is a choice (3 sizes or more); with fewer sizes
``model`` is empty. The points of one curve share their test items, so
their errors are positively correlated and the independent-errors chi2 somewhat favours the simpler
shape. ``p_chosen`` is the share of bootstrap replicates in which the same shape wins (each replicate
judged with the same se). Slopes, the saturation point and the plateau have percentile intervals from
refitting the same shape on every replicate; the fits themselves are unweighted least squares (the
points' standard errors are nearly equal: the same number of test items at every size).

``stop_point`` (a property of any curve, used for the saturation groups, the synthetic ceiling and the
guideline): for each size x_k but the last, the trend from x_k on is the least-squares slope over
sizes x_k..x_n; it *rises* when slope - 1.645 se > 0 (one-sided 95 %, se = the slope's bootstrap
standard deviation). The stop point is the smallest size x_k whose trend onwards does not rise: from
there, more data no longer raises the score significantly. When every trend rises, down to the last
step, the curve has not stopped within the grid (``inf``). The interval applies the same rule, with
the same se, to every replicate; ``stop_share`` is the share of replicates in which the curve stops
within the grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import BASE, PLAIN_SOURCES, Boot, interval, ols_slope

CURVE_COLUMNS = ["ability", "model_size", "data_source", "data_size", "score", "ci_low", "ci_high", "expected",
                 "n_items", "n_seeds"]
SHAPES = {"flat": 1, "linear": 2, "saturating": 3}  # shape -> parameters
FIT_COLUMNS = ["ability", "model_size", "data_source", "n_sizes", "min_size", "max_size", "model", "p_chosen",
               "aic_flat", "aic_linear", "aic_saturating", "flat_level", "intercept", "slope", "slope_low",
               "slope_high", "sat_intercept", "sat_slope", "sat_slope_low", "sat_slope_high", "sat_point",
               "sat_point_low", "sat_point_high", "plateau", "plateau_low", "plateau_high", "gain", "gain_low",
               "gain_high", "stop_point", "stop_low", "stop_high", "stop_share"]
Z_ONE_SIDED = 1.6448536269514722  # 95 % one-sided
SE_FLOOR = 1e-3  # a point's standard error is at least this (a score that no replicate moves)
XS_STEP = 0.01    # search step of the saturation point, in log2 units


def growth_curves(boot: Boot) -> pd.DataFrame:
    """Mean score with its interval for every plain-grid and base-model unit."""
    units = boot.units
    keep = ((units["data_source"].isin(PLAIN_SOURCES) & (units["recipe"] == "")) | (units["data_source"] == BASE))
    rows = []
    for i in np.flatnonzero(keep.to_numpy()):
        u = units.iloc[i]
        lo, hi = interval(boot.reps[:, i], boot.level)
        rows.append({**{k: u[k] for k in ["ability", "model_size", "data_source", "data_size"]},
                     "score": float(boot.point[i]), "ci_low": float(lo), "ci_high": float(hi),
                     "expected": float(u["expected"]), "n_items": int(u["n_items"]), "n_seeds": int(u["n_seeds"])})
    df = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    return df.sort_values(["ability", "data_source", "model_size", "data_size"], ignore_index=True)


def curve(boot: Boot, ability: str, model_size: str, source: str):
    """(sizes, point (n,), replicates (B, n)) of one plain-grid curve, sizes ascending."""
    u = boot.units
    m = (u["ability"] == ability) & (u["model_size"] == str(model_size)) & (u["data_source"] == source) \
        & (u["recipe"] == "") & (u["data_size"] > 0)
    sub = u[m].sort_values("data_size")
    point, reps = boot.values(sub.index)
    return sub["data_size"].to_numpy(dtype=float), point, reps


# ------------------------------------------------------------------------------------------ shapes
def fit_flat(x: np.ndarray, Y: np.ndarray) -> dict:
    c = Y.mean(axis=1)
    resid = Y - c[:, None]
    return {"level": c, "resid": resid, "rss": (resid ** 2).sum(axis=1)}


def fit_linear(x: np.ndarray, Y: np.ndarray) -> dict:
    b = ols_slope(x, Y)
    a = Y.mean(axis=1) - b * x.mean()
    resid = Y - a[:, None] - b[:, None] * x[None, :]
    return {"intercept": a, "slope": b, "resid": resid, "rss": (resid ** 2).sum(axis=1)}


def fit_saturating(x: np.ndarray, Y: np.ndarray, step: float = XS_STEP) -> dict:
    """Linear-plateau fit of every row of ``Y``; rss is inf where no rising fit exists."""
    m = Y.shape[0]
    nan = np.full(m, np.nan)
    if len(x) < 4:
        return {"intercept": nan, "slope": nan, "xs": nan, "rss": np.full(m, np.inf),
                "resid": np.full(Y.shape, np.nan)}
    cand = np.unique(np.concatenate([np.arange(x[1], x[-2], step), x[1:-1]]))
    Z = np.minimum(x[None, :], cand[:, None])                   # (candidates, n)
    dz = Z - Z.mean(axis=1, keepdims=True)
    szz = (dz ** 2).sum(axis=1)
    dy = Y - Y.mean(axis=1, keepdims=True)
    b = (dy @ dz.T) / szz                                       # (m, candidates)
    rss = (dy ** 2).sum(axis=1)[:, None] - b ** 2 * szz[None, :]  # least squares: Syy - b^2 Szz
    rss = np.where(b > 0, np.maximum(rss, 0), np.inf)
    g = np.argmin(rss, axis=1)
    rows = np.arange(m)
    best = rss[rows, g]
    ok = np.isfinite(best)
    slope = np.where(ok, b[rows, g], np.nan)
    xs = np.where(ok, cand[g], np.nan)
    intercept = np.where(ok, Y.mean(axis=1) - slope * Z.mean(axis=1)[g], np.nan)
    resid = Y - intercept[:, None] - slope[:, None] * Z[g]
    return {"intercept": intercept, "slope": slope, "xs": xs, "rss": best, "resid": resid}


def aic(resid: np.ndarray, se: np.ndarray, k: int) -> np.ndarray:
    """AIC = chi2 + 2k of fits with residuals ``resid`` (m, n) at points of known standard error ``se``
    (n,); inf where the shape cannot take part (n < k + 1 or no fit)."""
    resid = np.atleast_2d(np.asarray(resid, dtype=float))
    n = resid.shape[1]
    if n < k + 1:
        return np.full(resid.shape[0], np.inf)
    chi2 = ((resid / np.maximum(np.asarray(se, dtype=float), SE_FLOOR)[None, :]) ** 2).sum(axis=1)
    return np.where(np.isfinite(chi2), chi2 + 2 * k, np.inf)


def fit_shapes(x: np.ndarray, Y: np.ndarray, se: np.ndarray) -> tuple[dict, np.ndarray, list[str]]:
    """Fits of the three shapes, their AIC (m, 3), and the winning shape of each row ('' if none)."""
    fits = {"flat": fit_flat(x, Y), "linear": fit_linear(x, Y), "saturating": fit_saturating(x, Y)}
    scores = np.stack([aic(fits[s]["resid"], se, k) for s, k in SHAPES.items()], axis=1)
    if len(x) < 3:  # only the flat shape could take part: no choice to report
        scores[:] = np.inf
    names = list(SHAPES)
    # Ties (within rounding) go to the simpler shape: argmin returns the first.
    win = np.argmin(np.round(scores, 9), axis=1)
    chosen = [names[w] if np.isfinite(scores[r, w]) else "" for r, w in enumerate(win)]
    return fits, scores, chosen


def shape_values(model: str, params: dict, x) -> np.ndarray:
    """Values of a fitted shape at ``x = log2(size)``: ``params`` holds its parameters, each a scalar or an
    array over fits (replicates), which become the rows (NaN when no shape was fitted). Flat: ``level``;
    linear: ``intercept``, ``slope``; saturating: ``intercept``, ``slope``, ``xs`` (log2 of the saturation point)."""
    x = np.asarray(x, dtype=float)
    p = {k: np.asarray(v, dtype=float)[..., None] for k, v in params.items()}
    if model == "flat":
        return p["level"] + 0 * x
    if model == "linear":
        return p["intercept"] + p["slope"] * x
    if model == "saturating":
        return p["intercept"] + p["slope"] * np.minimum(x, p["xs"])
    return np.full(np.broadcast_shapes(next(iter(p.values())).shape if p else (), x.shape), np.nan)


def predict(fit: dict | pd.Series, sizes) -> np.ndarray:
    """The fitted shape of a ``fit_curves`` row at ``sizes`` (NaN when no shape was fitted)."""
    x = np.log2(np.asarray(sizes, dtype=float))
    params = {"flat": {"level": fit["flat_level"]},
              "linear": {"intercept": fit["intercept"], "slope": fit["slope"]},
              "saturating": {"intercept": fit["sat_intercept"], "slope": fit["sat_slope"],
                             "xs": np.log2(fit["sat_point"]) if fit["model"] == "saturating" else np.nan}}
    return shape_values(fit["model"], params.get(fit["model"], {}), x).reshape(x.shape)


# -------------------------------------------------------------------------------------- stop point
def stop_point(sizes, point: np.ndarray, reps: np.ndarray, z: float = Z_ONE_SIDED) -> tuple[float, np.ndarray]:
    """The stop point of the curve and of every replicate (``inf``: still rising at the end)."""
    sizes = np.asarray(sizes, dtype=float)
    x = np.log2(sizes)
    n = len(x)
    if n < 2:
        return float("nan"), np.full(reps.shape[0], np.nan)
    Y = np.vstack([point[None, :], reps])
    trends = np.stack([ols_slope(x[k:], Y[:, k:]) for k in range(n - 1)], axis=1)  # (1 + B, n - 1)
    se = np.nanstd(trends[1:], axis=0, ddof=1) if reps.shape[0] > 1 else np.zeros(n - 1)
    rising = trends - z * se[None, :] > 1e-12
    # The first size whose trend onwards does not rise; none of them: still rising at the end.
    first_flat = np.where((~rising).any(axis=1), np.argmax(~rising, axis=1), n - 1)
    stops = np.where(first_flat >= n - 1, np.inf, sizes[np.minimum(first_flat, n - 1)])
    stops = np.where(np.isnan(Y).any(axis=1), np.nan, stops)
    return float(stops[0]), stops[1:]


def discrete_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of values on a grid (inf allowed), taken as observed values."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(v, [(1 - level) / 2, 1 - (1 - level) / 2], method="inverted_cdf")
    return float(lo), float(hi)


# ------------------------------------------------------------------------------------------- fits
def fit_curve(sizes, point: np.ndarray, reps: np.ndarray, level: float = 0.95) -> dict:
    """Shape, parameters with intervals, gain and stop point of one curve (see the module doc)."""
    sizes = np.asarray(sizes, dtype=float)
    x = np.log2(sizes)
    n = len(x)
    out = {c: np.nan for c in FIT_COLUMNS[3:]}
    out.update(n_sizes=n, min_size=float(sizes.min()) if n else np.nan, max_size=float(sizes.max()) if n else np.nan,
               model="")
    if n < 2:
        return out
    Y = np.vstack([point[None, :], reps])
    se = np.nanstd(reps, axis=0, ddof=1) if reps.shape[0] > 1 else np.zeros(n)
    fits, scores, chosen = fit_shapes(x, Y, se)
    lin, sat = fits["linear"], fits["saturating"]
    out.update(model=chosen[0], flat_level=float(fits["flat"]["level"][0]),
               aic_flat=float(scores[0, 0]), aic_linear=float(scores[0, 1]), aic_saturating=float(scores[0, 2]),
               intercept=float(lin["intercept"][0]), slope=float(lin["slope"][0]))
    if chosen[0]:
        out["p_chosen"] = float(np.mean([c == chosen[0] for c in chosen[1:]]))
    out["slope_low"], out["slope_high"] = map(float, interval(lin["slope"][1:], level))
    gain = Y[:, -1] - Y[:, 0]
    out["gain"] = float(gain[0])
    out["gain_low"], out["gain_high"] = map(float, interval(gain[1:], level))
    if np.isfinite(scores[0, 2]):
        plateau = sat["intercept"] + sat["slope"] * sat["xs"]
        out.update(sat_intercept=float(sat["intercept"][0]), sat_slope=float(sat["slope"][0]),
                   sat_point=float(2 ** sat["xs"][0]), plateau=float(plateau[0]))
        out["sat_slope_low"], out["sat_slope_high"] = map(float, interval(sat["slope"][1:], level))
        lo, hi = interval(sat["xs"][1:], level)
        out["sat_point_low"], out["sat_point_high"] = float(2 ** lo), float(2 ** hi)
        out["plateau_low"], out["plateau_high"] = map(float, interval(plateau[1:], level))
    stop, stop_reps = stop_point(sizes, point, reps)
    out["stop_point"] = stop
    out["stop_low"], out["stop_high"] = discrete_interval(stop_reps, level)
    out["stop_share"] = float(np.mean(np.isfinite(stop_reps))) if len(stop_reps) else np.nan
    return out


def fit_curves(boot: Boot, sources=PLAIN_SOURCES) -> pd.DataFrame:
    """One row per (ability, model size, source) curve with at least two sizes."""
    u = boot.units
    plain = u[u["data_source"].isin(list(sources)) & (u["recipe"] == "") & (u["data_size"] > 0)]
    rows = []
    for (ability, ms, source), _ in plain.groupby(["ability", "model_size", "data_source"], sort=True):
        sizes, point, reps = curve(boot, ability, ms, source)
        if len(sizes) < 2:
            continue
        rows.append({"ability": ability, "model_size": ms, "data_source": source,
                     **fit_curve(sizes, point, reps, boot.level)})
    return pd.DataFrame(rows, columns=FIT_COLUMNS)
