"""Careful grading in three stages, each its own module:

1. ``find``: the text that holds the output's final committed answer (corrections win, a hedge
   commits to its stated preference, refusals and hedges without one commit to nothing);
2. ``normalise``: one writing for every writing of the same answer (traditional characters, width,
   markdown, number words, math notations);
3. ``match``: the answer against the gold, per item kind.

``grade`` runs them on one item and says how the answer was found (``parse_path``: ``committed``,
``correction``, ``logit_fallback`` or ``none``) and whether the output was ``ambiguous`` (it gives
several answers and commits to none). ``score_item`` is its public face: every item kind, ranked ones
included, on the answer readers of ``evaluate.scorers``.
"""

from __future__ import annotations

from .. import scorers as S
from . import find as F
from . import match as M
from . import normalise as N

__all__ = ["grade", "read", "with_logit_fallback", "score_item", "PARSE_PATHS"]
PARSE_PATHS = F.PARSE_PATHS


def grade(record: dict, output: str | None = None, letter_logits: dict | None = None) -> dict:
    """{"kind", "parsed", "score", "expected", "parse_path", "ambiguous"} of one non-ranked item."""
    verdict, n_fallback = read(record, output)
    return with_logit_fallback(verdict, n_fallback, letter_logits, record)


def read(record: dict, output: str | None = None) -> tuple[dict, int]:
    """(the verdict of the output's text alone, the number of options whose letter logits decide instead):
    0 unless a single-choice answer is to be read from the logits (its text names none). A pure function
    of the item's texts and the output, the letter logits apart: a caller that grades the same output
    of the same item many times (``scoring.rescore``) reads it once."""
    kind = S.item_kind(record)
    expected = S.expected_score(record)
    gold = S._gold(record)
    found = F.find(N.text(output))
    path, ambiguous, text = found.parse_path, found.ambiguous, found.text
    n_fallback = 0
    if kind == "math":
        parsed, score = M.math(text, str(record.get("answer", gold))) if text else (None, 0.0)
    elif kind == "multi_select":
        n = len(S.parse_options(S._question(record))) or 4
        got = M.multi_select(text, n) if text else frozenset()
        want = S.parse_multi_select(N.text(gold))
        parsed, score = "".join(sorted(got)), float(bool(got) and got == want)
    elif kind == "true_false":
        parsed, amb = M.true_false(text) if text else ("E", False)
        ambiguous = ambiguous or amb
        score = float(parsed != "E" and parsed == S.gold_true_false(gold))
    elif kind == "single_choice":
        n = S._n_options(record)
        letter, status = M.choice(text, N.text(S._question(record)), n) if text else (None, "none")
        ambiguous = ambiguous or status == "ambiguous"
        if letter is None and status == "none" and not ambiguous and found.parse_path != F.NONE or \
                letter is None and not (output or "").strip():
            n_fallback = n
        parsed = letter or "E"
        score = float(parsed != "E" and parsed == S.gold_letter(record))
    else:  # cloze
        parsed, amb = M.cloze(text) if text else ("", False)
        ambiguous = ambiguous or amb
        want = S.parse_cloze(N.text(gold)) or gold.strip()
        score = float(M.cloze_equal(parsed, want))
    if ambiguous or not parsed or parsed == "E":
        path = F.NONE
    return {"kind": kind, "parsed": parsed, "score": score, "expected": expected,
            "parse_path": path, "ambiguous": bool(ambiguous)}, n_fallback


def with_logit_fallback(verdict: dict, n_fallback: int, letter_logits: dict | None, record: dict) -> dict:
    """``verdict`` with the letter the logits prefer among ``n_fallback`` options, when ``read`` asks for
    one and the logits name one."""
    letter = S._argmax_letter(letter_logits, n_fallback) if n_fallback else None
    if letter is None:
        return verdict
    return {**verdict, "parsed": letter, "score": float(letter != "E" and letter == S.gold_letter(record)),
            "parse_path": F.LOGIT_FALLBACK}


def score_item(record: dict, output: str | None = None, letter_logits: dict | None = None,
               choice_logprobs: list[float] | None = None, choice_lengths: list[int] | None = None) -> dict:
    """Score one record: {"kind", "parsed", "score", "expected", "parse_path", "ambiguous"}."""
    kind = S.item_kind(record)
    if kind == "ranking":
        if choice_logprobs is None or choice_lengths is None:
            raise ValueError("a ranking item needs choice_logprobs and choice_lengths")
        best, score = S.score_ranking(choice_logprobs, choice_lengths)
        return {"kind": kind, "parsed": str(best), "score": score, "expected": 1.0 / len(choice_logprobs),
                "parse_path": "committed", "ambiguous": False}
    return grade(record, output, letter_logits)
