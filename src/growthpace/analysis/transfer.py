"""Cross-ability transfer, measured with single-ability cells against the untuned base model.

Input: a ``bootstrap.Boot`` holding single-ability units (data_source ``single_ability``, recipe
``only-{ability}-{n}``, data_size n) and base-model units (data_source ``base``) of the same model
sizes. Without either there is no transfer to measure and both tables are empty.

``transfer_matrix``: one row per (model size, n, trained ability i, evaluated ability j) with
T[i, j] = score on j of the model tuned on n items of i only, minus the base model's score on j, and
its paired bootstrap interval. Model size ``all`` is the mean over the model sizes that have the cell.

``transference``: per (model size, n, ability a):
    self          T[a, a], what a's own data does for a
    transfer_in   mean of T[i, a] over trained abilities i != a: how much a gains from other abilities'
                  data (the cross-ability generalisation that the paper's v3 calls transference)
    transfer_out  mean of T[a, j] over evaluated abilities j != a: how much a's data helps the others
each with its interval.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .bootstrap import BASE, Boot, interval, order_model_sizes

SINGLE = "single_ability"
ALL = "all"
SINGLE_RECIPE = re.compile(r"^only-(?P<ability>.+)-(?P<n>\d+)$")
MATRIX_COLUMNS = ["model_size", "n", "trained", "evaluated", "score", "base_score", "delta", "ci_low", "ci_high"]
TRANSFERENCE_COLUMNS = ["model_size", "n", "ability", "self", "self_low", "self_high", "transfer_in",
                        "transfer_in_low", "transfer_in_high", "transfer_out", "transfer_out_low", "transfer_out_high"]


def single_cells(boot: Boot) -> pd.DataFrame:
    """(model_size, n, trained, recipe) of every single-ability cell."""
    u = boot.units[boot.units["data_source"] == SINGLE][["model_size", "data_size", "recipe"]].drop_duplicates()
    rows = []
    for r in u.itertuples(index=False):
        m = SINGLE_RECIPE.match(r.recipe)
        if m:
            rows.append({"model_size": r.model_size, "n": int(m["n"]), "trained": m["ability"], "recipe": r.recipe,
                         "data_size": int(r.data_size)})
    return pd.DataFrame(rows, columns=["model_size", "n", "trained", "recipe", "data_size"])


def _deltas(boot: Boot, abilities) -> dict:
    """{(model_size, n, trained, evaluated): (point, replicates)} for every measurable pair."""
    out = {}
    for c in single_cells(boot).itertuples(index=False):
        for j in abilities:
            cell = boot.pos(j, c.model_size, SINGLE, c.data_size, c.recipe)
            base = boot.pos(j, c.model_size, BASE, 0, "")
            if cell is None or base is None:
                continue
            out[(c.model_size, c.n, c.trained, j)] = (
                boot.point[cell] - boot.point[base], boot.reps[:, cell] - boot.reps[:, base],
                boot.point[cell], boot.point[base])
    sizes = {k[0] for k in out}
    if len(sizes) > 1:  # the mean over model sizes
        pairs = {k[1:] for k in out}
        for n, i, j in pairs:
            have = [out[(ms, n, i, j)] for ms in sizes if (ms, n, i, j) in out]
            out[(ALL, n, i, j)] = tuple(np.mean([h[t] for h in have], axis=0) for t in range(4))
    return out


def transfer_matrix(boot: Boot, abilities, model_sizes=None) -> pd.DataFrame:
    deltas = _deltas(boot, list(abilities))
    rows = []
    for (ms, n, i, j), (d, reps, score, base) in deltas.items():
        lo, hi = interval(reps, boot.level)
        rows.append({"model_size": ms, "n": n, "trained": i, "evaluated": j, "score": float(score),
                     "base_score": float(base), "delta": float(d), "ci_low": float(lo), "ci_high": float(hi)})
    df = pd.DataFrame(rows, columns=MATRIX_COLUMNS)
    return _sorted(df, abilities, model_sizes, ["trained", "evaluated"])


def _sorted(df: pd.DataFrame, abilities, model_sizes, ability_cols) -> pd.DataFrame:
    if df.empty:
        return df
    order = order_model_sizes([m for m in df["model_size"].unique() if m != ALL], model_sizes) + [ALL]
    rank = {a: k for k, a in enumerate(abilities)}
    key = df.assign(_m=df["model_size"].map(order.index), **{f"_{c}": df[c].map(rank) for c in ability_cols})
    return (key.sort_values(["_m", "n"] + [f"_{c}" for c in ability_cols])
            .drop(columns=["_m"] + [f"_{c}" for c in ability_cols]).reset_index(drop=True))


def transference(boot: Boot, abilities, model_sizes=None) -> pd.DataFrame:
    abilities = list(abilities)
    deltas = _deltas(boot, abilities)
    rows = []
    for ms, n in sorted({k[:2] for k in deltas}, key=str):
        here = {k[2:]: v for k, v in deltas.items() if k[:2] == (ms, n)}
        trained = [i for i in abilities if any(k[0] == i for k in here)]
        for a in abilities:
            row = {c: np.nan for c in TRANSFERENCE_COLUMNS}
            row.update(model_size=ms, n=n, ability=a)
            groups = {"self": [here[(a, a)]] if (a, a) in here else [],
                      "transfer_in": [here[(i, a)] for i in trained if i != a and (i, a) in here],
                      "transfer_out": [here[(a, j)] for j in abilities if j != a and (a, j) in here]}
            for name, vals in groups.items():
                if vals:
                    reps = np.mean([v[1] for v in vals], axis=0)
                    row[name] = float(np.mean([v[0] for v in vals]))
                    row[f"{name}_low"], row[f"{name}_high"] = map(float, interval(reps, boot.level))
            if any(groups.values()):
                rows.append(row)
    df = pd.DataFrame(rows, columns=TRANSFERENCE_COLUMNS)
    return _sorted(df, abilities, model_sizes, ["ability"])
