"""Scoring modes: a verdict is a pure function of a stored prediction row.

A prediction row (``evaluate.run``) keeps the evidence both graders read, not only a verdict: the
ability, the gold (the last message), the question (the message before it), the math ``answer``, the
decoded output, the option-letter logits at the first generated position (``letter_logits``) and at
the last generation step (``last_letter_logits``), for first-token items (CMMLU, AGIEval) the logits
of the bare vocabulary pieces ``A``-``D`` as well (``piece_letter_logits``), and the candidates'
log-probabilities and lengths of ranked items. ``score_row`` grades one row under a mode and
``rescore`` a whole table, so a study is scored either way from its stored predictions, without a
model and without generating again (the ``tables`` rule does it with ``evaluation.scoring``).

Modes (``MODES``):

- ``careful`` (the default): ``scorers``, the verdicts a careful human grader gives; the single-choice
  fallback reads the letter logits at the first generated position.
- ``authors``: ``authors``, the verdicts of the DoIT authors' evaluation code, bugs included; the
  single-choice fallback reads the last generation step, first-token items the bare letter pieces.

First-token items are answered by the argmax of their A-D logits (the first letter on ties) in both
modes; the modes differ only in which token ids those logits belong to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from . import authors, scorers

MODES = ("careful", "authors")
DEFAULT_MODE = "careful"
# Bump a mode's version when its verdicts change: the tables are recomputed from the stored rows
# (a rule parameter), with no generation.
VERSIONS = {"careful": 2, "authors": 1}
FIRST_TOKEN = "first_token"
# The evidence columns a row must hold to be scored (written by evaluate.run since its SCORING_VERSION 3).
EVIDENCE = ["kind", "ability", "gold", "question", "answer", "output", "letter_logits", "last_letter_logits",
            "piece_letter_logits", "choice_logprobs", "choice_lengths"]
VERDICT = ["kind", "parsed", "score", "expected"]


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"evaluation.scoring: {mode!r} is not one of {', '.join(MODES)}")
    return mode


def item_fields(record: dict, kind: str) -> dict:
    """What a row keeps of its record for scoring: the gold, the question and the math answer (none of
    it for a ranked item, whose candidates' log-probabilities are all a verdict needs)."""
    if kind == "ranking":
        return {"gold": None, "question": None, "answer": None}
    msgs = record["messages"]
    question = None if kind == FIRST_TOKEN else (msgs[-2]["content"] if len(msgs) >= 2 else "")
    answer = record.get("answer")
    return {"gold": msgs[-1]["content"], "question": question, "answer": None if answer is None else str(answer)}


def _loads(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    return json.loads(value) if isinstance(value, str) else value


def _record(row: Mapping) -> dict:
    rec = {"type": row["ability"], "question_format": 1 if row["kind"] == "ranking" else 0,
           "messages": [{"role": "user", "content": row.get("question") or ""},
                        {"role": "assistant", "content": row.get("gold") or ""}]}
    if row.get("answer") is not None and row.get("answer") == row.get("answer"):
        rec["answer"] = row["answer"]
    return rec


def _first_token(row: Mapping, mode: str) -> dict:
    logits = _loads(row.get("piece_letter_logits")) if mode == "authors" else None
    logits = logits or _loads(row.get("letter_logits"))
    parsed = authors.argmax_letter(logits) if mode == "authors" else \
        max(scorers.LETTERS, key=lambda L: logits[L])  # first of the largest on ties
    return {"kind": FIRST_TOKEN, "parsed": parsed, "score": float(parsed == (row.get("gold") or "").strip()),
            "expected": 1.0 / len(scorers.LETTERS)}


def score_row(row: Mapping, mode: str = DEFAULT_MODE) -> dict:
    """{"kind", "parsed", "score", "expected"} of one prediction row under ``mode``."""
    if row["kind"] == FIRST_TOKEN:
        res = _first_token(row, check_mode(mode))
    else:
        rec = _record(row)
        lps, lens = _loads(row.get("choice_logprobs")), _loads(row.get("choice_lengths"))
        if check_mode(mode) == "careful":
            res = scorers.score_item(rec, output=row.get("output"), letter_logits=_loads(row.get("letter_logits")),
                                     choice_logprobs=lps, choice_lengths=lens)
        else:
            res = authors.score_item(rec, output=row.get("output"),
                                     last_letter_logits=_loads(row.get("last_letter_logits")),
                                     choice_logprobs=lps, choice_lengths=lens)
    return {"kind": res["kind"], "parsed": None if res["parsed"] is None else str(res["parsed"]),
            "score": float(res["score"]), "expected": float(res["expected"])}


def rescore(predictions: pd.DataFrame, mode: str = DEFAULT_MODE) -> pd.DataFrame:
    """``predictions`` with ``kind``, ``parsed``, ``score`` and ``expected`` recomputed under ``mode``
    from the stored evidence, and a ``scoring`` column naming the mode."""
    check_mode(mode)
    missing = [c for c in EVIDENCE if c not in predictions.columns]
    if missing:
        raise ValueError(f"prediction rows lack {', '.join(missing)}: they were written before rows kept their "
                         "evidence; evaluate again to re-score them")
    verdicts = [score_row(row, mode) for row in predictions[EVIDENCE].to_dict("records")]
    out = predictions.copy()
    if verdicts:
        out[VERDICT] = pd.DataFrame(verdicts, index=predictions.index)[VERDICT]
    out["scoring"] = mode
    return out
