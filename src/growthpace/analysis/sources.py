"""Human-curated against synthetic data: the gap per ability and data size, and each source's ceiling.

``source_gaps``: curated minus synthetic score at every (ability, model size, data size) that both
sources have (the same total number of training items), with a paired bootstrap interval; ability
``mean`` is the mean over the given abilities.

``ceilings``: per (ability or ``mean``, model size, source) the curve's stop point
(``curves.stop_point``): the smallest size from which more data no longer raises the score
significantly, with its bootstrap interval; ``inf`` means still rising at the largest size.
``gain_after`` is the score at the largest size minus the score at the ceiling (what the data beyond
the ceiling bought), with its interval. The *synthetic ceiling* of the paper is the ``mean`` row of
the synthetic source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import Boot, interval
from .curves import curve, discrete_interval, stop_point

GAP_COLUMNS = ["ability", "model_size", "data_size", "curated", "synthetic", "gap", "ci_low", "ci_high"]
CEILING_COLUMNS = ["ability", "model_size", "data_source", "n_sizes", "min_size", "max_size", "ceiling",
                   "ceiling_low", "ceiling_high", "stop_share", "gain_after", "gain_after_low", "gain_after_high"]


def _with_mean(boot: Boot, abilities) -> list[Boot]:
    abilities = list(abilities)
    keep = boot.units["ability"].isin(abilities).to_numpy()
    own = Boot(boot.units[keep], boot.point[keep], boot.reps[:, keep], boot.level)
    return [own, boot.mean_over(abilities)]


def source_gaps(boot: Boot, abilities) -> pd.DataFrame:
    rows = []
    for b in _with_mean(boot, abilities):
        u = b.units
        cur = u[(u["data_source"] == "curated") & (u["recipe"] == "")]
        for i, r in cur.iterrows():
            j = b.pos(r["ability"], r["model_size"], "synthetic", r["data_size"])
            if j is None:
                continue
            diff = b.reps[:, i] - b.reps[:, j]
            lo, hi = interval(diff, b.level)
            rows.append({"ability": r["ability"], "model_size": r["model_size"], "data_size": int(r["data_size"]),
                         "curated": float(b.point[i]), "synthetic": float(b.point[j]),
                         "gap": float(b.point[i] - b.point[j]), "ci_low": float(lo), "ci_high": float(hi)})
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def ceilings(boot: Boot, abilities, sources=("curated", "synthetic")) -> pd.DataFrame:
    rows = []
    for b in _with_mean(boot, abilities):
        u = b.units
        plain = u[u["data_source"].isin(list(sources)) & (u["recipe"] == "") & (u["data_size"] > 0)]
        for (ability, ms, source), _ in plain.groupby(["ability", "model_size", "data_source"], sort=True):
            sizes, point, reps = curve(b, ability, ms, source)
            if len(sizes) < 2:
                continue
            stop, stop_reps = stop_point(sizes, point, reps)
            lo, hi = discrete_interval(stop_reps, b.level)
            row = {"ability": ability, "model_size": ms, "data_source": source, "n_sizes": len(sizes),
                   "min_size": float(sizes[0]), "max_size": float(sizes[-1]), "ceiling": stop, "ceiling_low": lo,
                   "ceiling_high": hi, "stop_share": float(np.mean(np.isfinite(stop_reps))),
                   "gain_after": np.nan, "gain_after_low": np.nan, "gain_after_high": np.nan}
            if np.isfinite(stop):
                k = int(np.flatnonzero(sizes == stop)[0])
                after = reps[:, -1] - reps[:, k]
                row["gain_after"] = float(point[-1] - point[k])
                row["gain_after_low"], row["gain_after_high"] = map(float, interval(after, b.level))
            rows.append(row)
    return pd.DataFrame(rows, columns=CEILING_COLUMNS)
