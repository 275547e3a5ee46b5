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

Each verdict says how its answer was found (``parse_path``): ``committed`` (the output's answer, or the
ranking of a ranked item), ``correction`` (the answer after the output corrected itself),
``logit_fallback`` (the letter logits: a first-token item, or a choice whose text names nothing) or
``none`` (no answer); and whether the output was ``ambiguous`` (several answers, none committed to).
The careful mode reads both from its grading stages (``evaluate.grading``); the authors' code knows no
corrections or ambiguity, so its rows say ``committed``, ``logit_fallback`` or ``none``, never ambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from . import authors, grading, scorers

MODES = ("careful", "authors")
DEFAULT_MODE = "careful"
# Bump a mode's version when its verdicts change: the tables are recomputed from the stored rows
# (a rule parameter), with no generation.
VERSIONS = {"careful": 4, "authors": 1}
FIRST_TOKEN = "first_token"
# The evidence columns a row must hold to be scored (written by evaluate.run since its SCORING_VERSION 3).
EVIDENCE = ["kind", "ability", "gold", "question", "answer", "output", "letter_logits", "last_letter_logits",
            "piece_letter_logits", "choice_logprobs", "choice_lengths"]
VERDICT = ["kind", "parsed", "score", "expected", "parse_path", "ambiguous"]


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
            "expected": 1.0 / len(scorers.LETTERS), "parse_path": "logit_fallback", "ambiguous": False}


def _authors_path(res: dict, output) -> str:
    """How the authors' code found its answer: a choice read from the logits unless the stripped output
    is one character; a ranking decides; otherwise the text, or nothing."""
    if res["kind"] == "ranking":
        return "committed"
    if res["kind"] == "single_choice" and len((output or "").strip()) != 1:
        return "logit_fallback" if res["parsed"] not in (None, "", "E") else "none"
    return "none" if res["parsed"] in (None, "", "E") else "committed"


def _careful_read(rec: dict, output, reads: dict | None) -> tuple[dict, int]:
    """``grading.read`` of a non-ranked item's output, looked up in ``reads`` (and kept there) when given.
    The verdicts kept are never changed in place."""
    if reads is None:
        return grading.read(rec, output)
    key = (rec["type"], rec["messages"][0]["content"], rec["messages"][1]["content"], rec.get("answer"), output)
    if key not in reads:
        reads[key] = grading.read(rec, output)
    return reads[key]


def score_row(row: Mapping, mode: str = DEFAULT_MODE, reads: dict | None = None) -> dict:
    """{"kind", "parsed", "score", "expected", "parse_path", "ambiguous"} of one prediction row under ``mode``.
    ``reads``: the careful reads of the outputs graded so far (``rescore``), filled as it goes."""
    if row["kind"] == FIRST_TOKEN:
        res = _first_token(row, check_mode(mode))
    else:
        rec = _record(row)
        lps, lens = _loads(row.get("choice_logprobs")), _loads(row.get("choice_lengths"))
        if check_mode(mode) == "authors":
            res = authors.score_item(rec, output=row.get("output"),
                                     last_letter_logits=_loads(row.get("last_letter_logits")),
                                     choice_logprobs=lps, choice_lengths=lens)
            res = {**res, "parse_path": _authors_path(res, row.get("output")), "ambiguous": False}
        elif row["kind"] == "ranking":
            res = grading.score_item(rec, choice_logprobs=lps, choice_lengths=lens)
        else:
            verdict, n_fallback = _careful_read(rec, row.get("output"), reads)
            res = grading.with_logit_fallback(verdict, n_fallback, _loads(row.get("letter_logits")), rec)
    return {"kind": res["kind"], "parsed": None if res["parsed"] is None else str(res["parsed"]),
            "score": float(res["score"]), "expected": float(res["expected"]),
            "parse_path": res.get("parse_path", "committed"), "ambiguous": bool(res.get("ambiguous", False))}


def rescore(predictions: pd.DataFrame, mode: str = DEFAULT_MODE) -> pd.DataFrame:
    """``predictions`` with ``kind``, ``parsed``, ``score``, ``expected``, ``parse_path`` and ``ambiguous``
    recomputed under ``mode``
    from the stored evidence, and a ``scoring`` column naming the mode."""
    check_mode(mode)
    missing = [c for c in EVIDENCE if c not in predictions.columns]
    if missing:
        raise ValueError(f"prediction rows lack {', '.join(missing)}: they were written before rows kept their "
                         "evidence; evaluate again to re-score them")
    # The same output of the same test item recurs across cells and epochs (a small model repeats
    # itself): its careful read, most of a verdict's cost, is done once per table.
    reads = {}
    verdicts = [score_row(row, mode, reads) for row in predictions[EVIDENCE].to_dict("records")]
    out = predictions.copy()
    if verdicts:
        out[VERDICT] = pd.DataFrame(verdicts, index=predictions.index)[VERDICT]
    out["scoring"] = mode
    return out
