"""Constructed study tables with known answers for the analysis tests.

Each ability's test items get a latent difficulty u in [0, 1); an item is right in a cell when its
(partly re-drawn) u is below the cell's true accuracy p, so the expected mean score of a cell is p
exactly and cells share item difficulty the way real evaluations do (``coupling``: the share of
items whose u is the same in every cell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from growthpace.analysis import tables


def items_for(truth: dict, n_items: int, seed: int = 0, coupling: float = 0.7, expected: float = 0.25,
              epoch_of=lambda cell: 0 if cell[1] == "base" else 1) -> pd.DataFrame:
    """Prediction rows for ``truth``: {(model_size, data_source, data_size, seed, recipe, ability): p}."""
    rng = np.random.default_rng(seed)
    abilities = sorted({k[5] for k in truth})
    base_u = {a: rng.random(n_items) for a in abilities}
    frames = []
    for (ms, source, size, s, recipe, ability), p in truth.items():
        u = np.where(rng.random(n_items) < coupling, base_u[ability], rng.random(n_items))
        frames.append(pd.DataFrame({
            "model_size": ms, "data_source": source, "data_size": size, "seed": s, "recipe": recipe,
            "epoch": epoch_of((ms, source, size, s, recipe)), "eval_set": f"{ability}_test", "ability": ability,
            "item_hash": [f"{ability}-{i}" for i in range(n_items)], "score": (u < p).astype(float),
            "expected": expected}))
    return pd.concat(frames, ignore_index=True)


def tables_for(predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predictions, scores) as the study's tables module writes them (every cell's one epoch selected)."""
    scores = tables.scores_table(predictions)
    selection = tables.select_epochs(scores, 0)
    scores = scores.merge(selection[tables.CELL_KEYS + ["selected_epoch"]], on=tables.CELL_KEYS, how="left")
    scores["selected"] = scores["epoch"] == scores["selected_epoch"]
    return predictions, scores.drop(columns="selected_epoch")


def grid_truth(curves: dict, model_sizes=("s",), sizes=(10, 40, 160, 640, 2560, 10000), source="curated",
               seeds=(0,), model_step: dict | None = None) -> dict:
    """{cell + ability: p} for plain cells: ``curves[ability](log2 size)`` plus ``model_step[ability]`` per
    model-size step."""
    out = {}
    for a, f in curves.items():
        for m, ms in enumerate(model_sizes):
            for size in sizes:
                for s in seeds:
                    p = f(np.log2(size)) + m * (model_step or {}).get(a, 0.0)
                    out[(ms, source, size, s, "", a)] = float(np.clip(p, 0, 1))
    return out


def covers(lo, hi, truth, widen=1.5) -> bool:
    """Whether ``truth`` lies in the interval widened about its centre (a 95% interval widened by half is
    about a 99.8% one: several such checks in one test still fail only when an estimate is off)."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * widen
    return bool(mid - half <= truth <= mid + half)


def ladder_items(loss: dict, accuracy, n_items: int, seed: int = 0, coupling: float = 0.7, expected: float = 0.25,
                 spread: float = 0.3, tokens: int = 4) -> pd.DataFrame:
    """Prediction rows with a gold-answer loss per item: ``loss``: {(model_size, data_source, data_size,
    ability): mean loss per token of the cell}; an item's loss is that mean times a log-normal item
    factor of mean 1 (``spread``; shared between cells as the difficulty is); the cell's true accuracy
    is ``accuracy(ability, mean loss)``, drawn as in ``items_for``."""
    truth = {(ms, source, size, 0, "", a): accuracy(a, lv) for (ms, source, size, a), lv in loss.items()}
    rows = items_for(truth, n_items, seed=seed, coupling=coupling, expected=expected)
    rng = np.random.default_rng(seed + 1)
    base = {a: rng.standard_normal(n_items) for a in sorted({k[3] for k in loss})}
    parts = []
    for (ms, source, size, a), lv in loss.items():
        e = np.where(rng.random(n_items) < coupling, base[a], rng.standard_normal(n_items))
        parts.append(pd.DataFrame({"model_size": ms, "data_source": source, "data_size": size, "ability": a,
                                   "item_hash": [f"{a}-{i}" for i in range(n_items)],
                                   "gold_logprob": -tokens * lv * np.exp(spread * e - spread ** 2 / 2),
                                   "gold_tokens": tokens}))
    return rows.merge(pd.concat(parts, ignore_index=True), on=["model_size", "data_source", "data_size", "ability",
                                                               "item_hash"], how="left")
