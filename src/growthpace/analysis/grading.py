"""How much the grading choice moves each score: per ability, over the test items at each cell's
selected checkpoint, the share of items whose output was ambiguous (several answers, none committed
to), how their careful answers were found (``parse_path``), and on how many items the careful and the
authors' verdicts differ, with both modes' mean scores.

Both verdicts are graded here from the evidence each prediction row keeps (``evaluate.scoring``), so the
table does not depend on the study's own ``evaluation.scoring`` (rows that the tables graded under the
careful mode keep those verdicts: the same grading of the same evidence). Rows without that evidence (written
before rows kept it) give an empty table.
"""

from __future__ import annotations

import pandas as pd

from ..evaluate.scoring import EVIDENCE, rescore
from .bootstrap import CELL_KEYS, split_of, with_recipe

GRADING_COLUMNS = ["ability", "n", "ambiguous_share", "committed", "correction", "logit_fallback", "none",
                   "verdicts_differ", "careful_score", "authors_score"]


def selected_rows(predictions: pd.DataFrame, scores: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Whole prediction rows (with their evidence) of ``split`` at each cell's selected epoch."""
    sel = with_recipe(scores)
    sel = sel[sel["selected"].astype(bool)][CELL_KEYS + ["epoch"]].drop_duplicates()
    preds = with_recipe(predictions)
    preds = preds[preds["eval_set"].map(split_of) == split]
    return preds.merge(sel, on=CELL_KEYS + ["epoch"], how="inner")


def grading_table(predictions: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """GRADING_COLUMNS, one row per ability (see the module docstring)."""
    if any(c not in predictions.columns for c in EVIDENCE) or "selected" not in scores:
        return pd.DataFrame(columns=GRADING_COLUMNS)
    rows = selected_rows(predictions, scores)
    if rows.empty:
        return pd.DataFrame(columns=GRADING_COLUMNS)
    # Rows the tables graded under the careful mode already carry its verdicts (the tables rule grades
    # every row under the study's mode, ``analysis.tables``): they are not graded again.
    graded = "scoring" in rows and (rows["scoring"] == "careful").all()
    careful = (rows if graded else rescore(rows, "careful")).reset_index(drop=True)
    authors = rescore(rows, "authors").reset_index(drop=True)
    careful["differ"] = careful["score"].to_numpy() != authors["score"].to_numpy()
    careful["authors_score"] = authors["score"].to_numpy()
    out = []
    for ability, g in careful.groupby("ability", sort=True):
        paths = g["parse_path"].value_counts()
        out.append({"ability": ability, "n": len(g), "ambiguous_share": float(g["ambiguous"].astype(bool).mean()),
                    **{p: int(paths.get(p, 0)) for p in ("committed", "correction", "logit_fallback", "none")},
                    "verdicts_differ": int(g["differ"].sum()), "careful_score": float(g["score"].mean()),
                    "authors_score": float(g["authors_score"].mean())})
    return pd.DataFrame(out, columns=GRADING_COLUMNS)
