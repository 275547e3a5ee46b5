"""Benchmark scores (CMMLU, AGIEval) of every evaluated model, the untuned base model beside the tuned cells.

The paper (section 5) sets the fine-tuned models' CMMLU and AGIEval accuracies beside the base model's.
``benchmark_table`` gives them for every cell and epoch that was benchmarked
(``evaluation.benchmarks``), in the authors' aggregates: CMMLU per subject, per category and
``Overall`` (the mean of subject accuracies) for each shot count; AGIEval per task and its two averages
(``all examples``, ``all tasks``) for each setting (``evaluate.cmmlu.summarize``,
``evaluate.agieval.summarize``). ``selected`` marks the epoch the study selected for the cell (the base
model's epoch 0 is its only one). ``headline`` keeps the figures the report shows: per cell, CMMLU's
``Overall`` and AGIEval's ``all tasks`` per setting, at the selected epoch when it was benchmarked, else
at the cell's last benchmarked epoch.
"""

from __future__ import annotations

import pandas as pd

from ..evaluate import agieval, cmmlu
from .bootstrap import BASE, CELL_KEYS, with_recipe

BENCHMARK_COLUMNS = CELL_KEYS + ["epoch", "selected", "benchmark", "setting", "level", "name", "accuracy", "n"]
PREFIXES = {"cmmlu": "cmmlu_", "agieval": "agieval_"}


def _summaries(g: pd.DataFrame) -> list[dict]:
    rows = []
    c = cmmlu.summarize(g)
    for r in c.to_dict("records"):
        rows.append({"benchmark": "cmmlu", "setting": f"{r['shots']}-shot", "level": r["level"], "name": r["name"],
                     "accuracy": r["accuracy"], "n": r["n"]})
    a = agieval.summarize(g)
    for r in a.to_dict("records"):
        level = "average" if r["name"] in ("all examples", "all tasks") else "task"
        rows.append({"benchmark": "agieval", "setting": r["setting"], "level": level, "name": r["name"],
                     "accuracy": r["accuracy"], "n": r["n"]})
    return rows


def benchmark_table(predictions: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Rows ``BENCHMARK_COLUMNS`` for every (cell, epoch) with benchmark predictions; empty when none."""
    bench = with_recipe(predictions[predictions["eval_set"].str.startswith(tuple(PREFIXES.values()))])
    if bench.empty:
        return pd.DataFrame(columns=BENCHMARK_COLUMNS)
    chosen = set()
    if "selected" in scores:
        sel = with_recipe(scores)
        sel = sel[sel["selected"].astype(bool)][CELL_KEYS + ["epoch"]].drop_duplicates()
        chosen = {tuple(r) for r in sel.itertuples(index=False)}
    rows = []
    for key, g in bench.groupby(CELL_KEYS + ["epoch"], sort=True):
        cell = dict(zip(CELL_KEYS + ["epoch"], key))
        for r in _summaries(g):
            rows.append({**cell, "selected": key in chosen or cell["data_source"] == BASE, **r})
    return pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)


def headline(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: the epoch shown and CMMLU ``Overall`` / AGIEval ``all tasks`` per setting as
    columns (``CMMLU 0-shot``, ``AGIEval few-shot``), base model first."""
    if table.empty:
        return pd.DataFrame()
    head = table[((table["benchmark"] == "cmmlu") & (table["level"] == "overall"))
                 | ((table["benchmark"] == "agieval") & (table["name"] == "all tasks"))]
    # per cell: the selected epoch when it was benchmarked, else the last benchmarked one
    last = head.groupby(CELL_KEYS)["epoch"].max()
    chosen = head[head["selected"].astype(bool)].groupby(CELL_KEYS)["epoch"].max()
    shown = chosen.reindex(last.index).fillna(last).astype("int64").rename("shown").reset_index()
    head = head.merge(shown, on=CELL_KEYS)
    head = head[head["epoch"] == head["shown"]]
    names = {"cmmlu": "CMMLU", "agieval": "AGIEval"}
    head = head.assign(column=[f"{names[b]} {s}" for b, s in zip(head["benchmark"], head["setting"])])
    wide = head.pivot_table(index=CELL_KEYS + ["epoch"], columns="column", values="accuracy").reset_index()
    wide.columns.name = None
    wide["is_base"] = wide["data_source"] == BASE
    wide = wide.sort_values(["is_base", "model_size", "data_source", "recipe", "data_size", "seed"],
                            ascending=[False, True, True, True, True, True]).drop(columns="is_base")
    return wide.reset_index(drop=True)
