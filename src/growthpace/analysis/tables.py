"""The study's parquet tables: predictions (per instance), scores (per cell, epoch, split, ability), cells.

Every stored prediction row is graded again here under the study's scoring mode
(``evaluation.scoring``: ``careful`` or ``authors``, ``evaluate.scoring.rescore``), from the evidence the
row keeps; both tables carry the mode in a ``scoring`` column. Changing the mode recomputes the tables
(and what follows from them) without generating anything.

Checkpoint selection follows the paper: per training cell, the epoch with the best mean validation
score over abilities after ``select_after`` epochs (the split ``analysis.decide_on``; test only when the
study has no such split, ``selected_on`` in ``cells``); ties go to the earlier epoch. ``scores`` marks
that epoch's rows with ``selected``; ``cells`` records it per cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..evaluate.scoring import DEFAULT_MODE, rescore
from ..files import write_parquet_atomic
from .bootstrap import CELL_KEYS, bootstrap_ci, split_of

# A cell (CELL_KEYS, see analysis.bootstrap): plain grid cells have recipe "" (recipe cells: the recipe's
# name; single-ability cells: only-{ability}-{n}; the untuned base model: data_source "base", epoch 0).
SCORE_KEYS = CELL_KEYS + ["epoch", "split", "ability"]


def scores_table(predictions: pd.DataFrame) -> pd.DataFrame:
    df = predictions.assign(split=predictions["eval_set"].map(split_of))
    rows = []
    for key, g in df.groupby(SCORE_KEYS, sort=True):
        values = g["score"].to_numpy(dtype=float)
        lo, hi = bootstrap_ci(values)
        # items whose generation prompt was cut to fit the window (files before the column: none known)
        cut = int((g["prompt_tokens_cut"] > 0).sum()) if "prompt_tokens_cut" in g else 0
        rows.append({**dict(zip(SCORE_KEYS, key)), "score": float(values.mean()),
                     "expected": float(g["expected"].mean()), "n": len(g), "ci_low": lo, "ci_high": hi,
                     "prompts_cut": cut})
    out = pd.DataFrame(rows)
    if "scoring" in predictions:
        out["scoring"] = ",".join(sorted(predictions["scoring"].unique()))
    return out


def select_epochs(scores: pd.DataFrame, select_after: int, split: str = "valid") -> pd.DataFrame:
    """Per cell: the epoch with the best mean score on ``split`` (``analysis.decide_on``) after
    ``select_after`` (earliest on ties); on test when the study has no ``split``. ``selected_on``
    says which split chose it."""
    split = split if (scores["split"] == split).any() else "test"
    on = scores[scores["split"] == split]
    # only the sets a cell has at every epoch: benchmarks evaluated at the selected epoch alone do not choose it
    every = on.groupby(CELL_KEYS + ["ability"])["epoch"].transform("nunique") == on.groupby(CELL_KEYS)["epoch"].transform(
        "nunique")
    per_epoch = on[every].groupby(CELL_KEYS + ["epoch"])["score"].mean().reset_index()
    # A cell with no epoch after select_after (the base model's epoch 0) competes with all of its own.
    late = per_epoch["epoch"] > select_after
    eligible = per_epoch[late | ~late.groupby([per_epoch[k] for k in CELL_KEYS]).transform("any")]
    best = (eligible.sort_values(CELL_KEYS + ["score", "epoch"], ascending=[True] * len(CELL_KEYS) + [False, True])
            .groupby(CELL_KEYS).head(1))
    return best.rename(columns={"epoch": "selected_epoch", "score": "selection_score"}).assign(selected_on=split)


def selected_epoch(prediction_files, select_after: int, decide_on: str = "valid",
                   scoring: str | None = DEFAULT_MODE) -> int:
    """One cell's selected epoch from the predictions of its epochs, as ``write_tables`` selects it
    (graded under ``scoring``; None: the rows' own scores)."""
    predictions = pd.concat([pd.read_parquet(f) for f in prediction_files], ignore_index=True)
    predictions["recipe"] = predictions["recipe"].fillna("") if "recipe" in predictions else ""
    if scoring is not None:
        predictions = rescore(predictions, scoring)
    selection = select_epochs(scores_table(predictions), select_after, decide_on)
    if len(selection) != 1:
        raise ValueError(f"expected the predictions of one cell, got {len(selection)} cells in "
                         f"{', '.join(map(str, prediction_files))}")
    return int(selection["selected_epoch"].iloc[0])


def cells_table(sft_receipts: list[str | Path], selection: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for path in sft_receipts:
        receipt = json.loads(Path(path).read_text())
        manifest = json.loads((Path(receipt["path"]) / "manifest.json").read_text())
        train = manifest.get("train", {})
        rows.append({
            **receipt["cell"],
            "sft_key": receipt["key"],
            "engine": train.get("engine"),
            "zero_stage": train.get("zero_stage"),
            "precision": train.get("precision"),
            "world_size": train.get("world_size"),
            "n_items": train.get("n_items"),
            "epochs": train.get("epochs"),
            "steps": train.get("steps"),
            "tokens_seen": train.get("tokens_seen"),
            "wall_seconds": train.get("wall_seconds"),
            "tokens_per_second": train.get("tokens_per_second"),
            "first_loss": train.get("first_loss"),
            "last_loss": train.get("last_loss"),
            "peak_memory_bytes": train.get("peak_memory_bytes"),
            "peak_memory_kind": train.get("peak_memory_kind"),
            "bytes_stored": manifest.get("bytes"),
            "bytes_if_every_epoch_with_optimizer": train.get("bytes_if_every_epoch_with_optimizer"),
        })
    cells = pd.DataFrame(rows)
    if "recipe" not in cells:  # receipts written before cells had a recipe
        cells["recipe"] = ""
    cells["recipe"] = cells["recipe"].fillna("")
    return cells.merge(selection, on=CELL_KEYS, how="left")


def write_tables(prediction_files, sft_receipts, select_after: int, out_predictions, out_scores, out_cells,
                 scoring: str = DEFAULT_MODE, decide_on: str = "valid") -> None:
    predictions = pd.concat([pd.read_parquet(f) for f in prediction_files], ignore_index=True)
    if "recipe" not in predictions:  # files written before cells had a recipe
        predictions["recipe"] = ""
    predictions["recipe"] = predictions["recipe"].fillna("")
    predictions = rescore(predictions, scoring)
    scores = scores_table(predictions)
    selection = select_epochs(scores, select_after, decide_on)
    scores = scores.merge(selection[CELL_KEYS + ["selected_epoch"]], on=CELL_KEYS, how="left")
    scores["selected"] = scores["epoch"] == scores["selected_epoch"]
    scores = scores.drop(columns="selected_epoch")
    write_parquet_atomic(predictions, out_predictions)
    write_parquet_atomic(scores, out_scores)
    write_parquet_atomic(cells_table(sft_receipts, selection), out_cells)
