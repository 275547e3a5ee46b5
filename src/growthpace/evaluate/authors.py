"""The authors' verdicts, bugs included (``evaluation.scoring: authors``).

This module gives, item by item, the verdict of the DoIT authors' evaluation code (repository
``ChiyuSONG/dynamics-of-instruction-tuning`` at ``2ef836b``: ``evaluate/scorer.py``, ``utils.py``,
``parse_utils.py``, ``math_equivalence.py``, ``inference.py``; ``evaluate/cmmlu`` and
``evaluate/agieval`` for the benchmarks), so that a study can be compared with the paper's tables.
It is written from reading that code; ``scorers`` is the careful grader this project reports by
default. ``tests/fixtures/authors_verdicts.jsonl`` holds outputs of every answer style with the
verdicts of the authors' own code, run on them outside this project (``make_authors_verdicts.py``
beside it); ``tests/test_authors_scoring.py`` requires this module to agree on every one.

What their code does, and so what this module does (reference/paper.md §1.3, §7.2):

- **Kind by ability.** Code, creative writing and role-play (``question_format`` 1) are ranked;
  ``math`` is math, ``ethics`` multi-select; biology, reasoning, understanding and the C-Eval sets are
  single choice; history is single choice when its gold is one of ``A``-``D`` and true/false otherwise;
  chinese is single choice when its gold is one of ``A``-``D`` and cloze otherwise. (Their scorer
  raises on any other ability; here one gets the careful grader's kind.)
- **The output** is the decoded generation, ``strip()``-ed (``inference.py``).
- **Single choice** (``choice_parse_mode='both'``): an output of exactly one character is read as
  that character when it is ``A``-``D`` and as no answer (``E``) otherwise; any other output (longer,
  or empty) is answered by the argmax over ``A``-``D`` of the letter logits at the LAST generation
  step (``outputs.scores[-1]``: usually the step that emitted the stop token), the first letter on
  ties. ``Answer: C``, ``C。`` and ``b`` all go to the logits. Their ``softmax`` before the argmax is
  left out: it changes no argmax beyond float32 rounding of logits closer than about 1e-7.
- **True/false** (``tf_parse_mode='text'``): substring search, ``正确 对 T √ V`` true and ``错误 错 F × X``
  false; one kind only decides, both or neither is no answer. So ``不正确`` and ``不对`` are true,
  ``不是错误的`` false, and ``IMF的说法正确`` no answer.
- **Cloze**: the first run of characters U+4E00-U+9FFF plus the punctuation right after it,
  ``strip()``-ed, else the whole output; equal to the gold as written. ``春风。`` is wrong for ``春风``.
- **Multi-select**: every capital ``A``-``F`` of the last non-empty line, as a set, equal to the gold's
  set (``Answer: BC`` is {A, B, C}; two empty sets are equal).
- **Math**: ``parse_math_tasks`` (the text after the last 答案; the last ``\\boxed`` (or, without one,
  ``\\fbox``) with balanced braces, whose content counts only when it reads ``\\boxed{...}`` exactly;
  else the last ``$...$`` of a line; else special cases (one ``a/b``, a run of ``,-./0-9:;<=>?``, the
  last ``sqrt(...)``, the last bracketed part); else the text after the last ``=`` or the last number;
  ``或`` becomes ``, ``, ``$`` goes) and ``is_equiv`` (Hendrycks-MATH's ``strip_string`` with their
  changes; any error inside falls back to plain string equality, and a string of ``,-./0-9:;<=>?``
  always raises there, so ``1,2`` never equals ``2,1`` and ``12.0`` never ``12``).
- **Ranking**: PPL = exp(-mean log-probability of the candidate and ``<eot>``); 1 when the gold's PPL
  equals the minimum. PPLs are compared in double precision here (theirs are float32 losses).
- **Random-guess expectations**: 0.25 for every single choice except understanding items, which get
  0.25 when the question has four option lines ``A.``-``D.`` and 0.33 (not 1/3) otherwise; 0.5 for
  true/false, 0 for cloze and math, 1/3 for ranking, 1/C(4, k) for multi-select with k gold letters.
- **CMMLU and AGIEval**: the argmax over the logits of the vocabulary pieces ``A``-``D``
  (``convert_tokens_to_ids``) right after ``<assistant>``, first on ties. With a SentencePiece
  tokenizer that is the bare piece ``A``, not the ``▁A`` an answer is tokenised as (which is what the
  careful grader reads); prediction rows keep both.

Golds not in DoIT's form. DoIT's golds are a letter, a true/false word or the cloze word, and their code
asserts so. A gold written otherwise (the generated demo suite writes ``它全身是蓝色的，选C``) is first
read by the careful grader (its letter, its true/false value), which is what DoIT's file would hold.

Aggregates (``file_scores``). Their ``scorer.py`` reports per file the SUM of item scores (C-Eval items
count 100/40 each) and an ``average`` and ``expected_average`` divided by twice the number of files
(the results dict holds a score and an expected key per file). ``scores.parquet`` keeps per-ability
means in both modes (the analysis needs rates); ``file_scores`` rebuilds the authors' numbers from it,
and the study summary prints them under ``scoring: authors``. Two steps of theirs are not reproduced:
duplicated prediction lines (their ``pred.py`` appends, so a re-run counted items twice) cannot occur
here, and CMMLU's row shuffle only reorders items.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from ..data.schema import LETTERS
from . import scorers

TF_TRUE = ("正确", "对", "T", "√", "V")
TF_FALSE = ("错误", "错", "F", "×", "X")
CHOICE_ABILITIES = ("biology", "reasoning", "understanding")
CEVAL_PREFIX = "ceval_"


class _Raised(Exception):
    """Where the authors' ``strip_string`` raises (and ``is_equiv`` falls back to string equality)."""


# -------------------------------------------------------------------------------------- kinds, golds
def kind(record: dict) -> str:
    """The item kind the authors' scorer gives ``record`` (see the module docstring)."""
    careful = scorers.item_kind(record)
    if careful in ("ranking", "math", "multi_select"):  # by question_format and ability, as theirs
        return careful
    t = record.get("type", "")
    if t in ("history", "chinese"):
        if doit_gold(record) in LETTERS:
            return "single_choice"
        return "true_false" if t == "history" else "cloze"
    if t in CHOICE_ABILITIES or t.startswith(CEVAL_PREFIX):
        return "single_choice"
    return careful


def doit_gold(record: dict) -> str:
    """The gold as a DoIT file holds it: as written, or the letter the careful grader reads in it."""
    gold = record["messages"][-1]["content"]
    if gold in LETTERS:
        return gold
    careful = scorers.item_kind(record)
    if careful == "single_choice":
        try:
            return scorers.gold_letter(record)
        except ValueError:
            return gold
    return gold


def _tf_gold(gold: str) -> str:
    if gold in TF_TRUE:
        return "T"
    if gold in TF_FALSE:
        return "F"
    return scorers.gold_true_false(gold)  # a sentence ("他是宋朝人，所以正确"): its careful reading


def expected(record: dict, item_kind: str) -> float:
    """The authors' random-guess expectation of one item."""
    if item_kind == "ranking":
        return 1.0 / 3
    if item_kind == "true_false":
        return 0.5
    if item_kind in ("math", "cloze"):
        return 0.0
    if item_kind == "multi_select":
        k = len(multi_select(doit_gold(record)))
        return 1.0 / math.comb(4, k) if k <= 4 else 0.0  # their 1/C(4, k) divides by zero for k > 4
    if record.get("type") == "understanding":
        return 0.25 if _four_option_lines(_question(record)) else 0.33
    return 0.25


def _question(record: dict) -> str:
    msgs = record["messages"]
    return msgs[-2]["content"] if len(msgs) >= 2 else ""


def _four_option_lines(question: str) -> bool:
    """Four consecutive lines starting ``A.`` ``B.`` ``C.`` ``D.``, the first not the question's first line."""
    lines = question.split("\n")
    return any(all(lines[i + j].startswith(f"{L}.") for j, L in enumerate(LETTERS))
               for i in range(1, len(lines) - 3))


# ---------------------------------------------------------------------------------------- parsers
def argmax_letter(logits: dict | None) -> str | None:
    """The first of ``A``-``D`` with the largest logit (numpy's argmax order), or None without logits."""
    if not logits or any(L not in logits for L in LETTERS):
        return None
    values = [float(logits[L]) for L in LETTERS]
    best = 0
    for i, v in enumerate(values):  # numpy's argmax: the first maximum, and a NaN is the maximum
        if math.isnan(v):
            return LETTERS[i]
        if v > values[best]:
            best = i
    return LETTERS[best]


def single_choice(output: str, last_letter_logits: dict | None) -> str:
    answer = output.strip()
    if len(answer) != 1:
        return argmax_letter(last_letter_logits) or "E"
    return answer if answer in LETTERS else "E"


def true_false(output: str) -> str:
    answer = output.strip()
    t = any(w in answer for w in TF_TRUE)
    f = any(w in answer for w in TF_FALSE)
    if t and not f:
        return "T"
    if f and not t:
        return "F"
    return "E"


_CLOZE = re.compile(r"[\u4e00-\u9fff]+[^\w\s]*")


def cloze(output: str) -> str:
    answer = output.strip()
    m = _CLOZE.search(answer)
    return m.group(0).strip() if m else answer


def multi_select(text: str) -> frozenset[str]:
    line = text
    for candidate in reversed(text.split("\n")):
        if candidate.strip() != "":
            line = candidate
            break
    return frozenset(re.findall("[A-F]", line))


# ------------------------------------------------------------------------------------------- math
def _last_boxed(s: str) -> str | None:
    start = s.rfind("\\boxed")
    if start < 0:
        start = s.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for i in range(start, len(s)):
        if s[i] == "{":
            depth += 1
        elif s[i] == "}":
            depth -= 1
            if depth == 0:
                return s[start:i + 1]
    return None


def _unbox(s: str) -> str | None:
    head = "\\boxed{"
    if not s.startswith(head) or not s.endswith("}"):
        return None  # an \fbox never passes
    inner = s[len(head):-1]
    return inner.split("=")[-1].lstrip(" ") if "=" in inner else inner


def _last_dollar(s: str) -> str | None:
    found = re.findall(r"\$([^\n]*)\$", s)  # per line, from its first $ to its last
    if not found:
        return None
    last = found[-1]
    return last.split("=")[-1].lstrip(" ") if "=" in last else last


_PUNCT_RUN = re.compile(r"[\d,\-./:;<=>?]+")  # the characters from ',' to '?' and any digit


def _special_case(s: str) -> str | None:
    s = s.strip()
    halves = s.split("/")
    if len(halves) == 2:
        return None if any(re.search(r"[^a-zA-Z0-9]", h) for h in halves) else s
    s = s.replace("，", ",")
    if _PUNCT_RUN.fullmatch(s):
        return s
    s = s.replace(" ", "")
    roots = re.findall(r"sqrt\([^)]*\)", s)
    if roots:
        return roots[-1]
    brackets = re.findall(r"\[.*?\]|\(.*?\)", s)
    return brackets[-1] if brackets else None


def _after_eq_or_number(s: str) -> str | None:
    if "=" in s:
        tail = s.split("=")[-1].lstrip(" ").rstrip(".")
        return tail.split("\\n")[0]  # a literal backslash-n, not a line break
    numbers = re.findall(r"\$?-?\d+(?:\.\d+)?(?!\w)", s)
    return numbers[-1].strip("$") if numbers else None


def math_answer(output: str) -> str | None:
    """The authors' ``parse_math_tasks`` of an output."""
    s = output
    if "答案" in s:
        s = s.split("答案")[-1].strip()
    boxed = _last_boxed(s)
    if boxed is not None:
        answer = _unbox(boxed)
    else:
        answer = _last_dollar(s) or _special_case(s) or _after_eq_or_number(s)
    if answer is not None:
        answer = answer.replace("或", ", ").replace("$", "")
    return answer


def _fix_fracs(s: str) -> str:
    pieces = s.split("\\frac")
    out = pieces[0]
    for piece in pieces[1:]:
        out += "\\frac"
        if not piece:
            raise _Raised("\\frac at the end")
        if piece[0] == "{":
            out += piece
        elif len(piece) < 2:
            return s
        elif piece[1] != "{":
            out += "{" + piece[0] + "}{" + piece[1] + "}" + piece[2:]
        else:
            out += "{" + piece[0] + "}" + piece[1] + piece[2:]
    return out


def _fix_sqrt(s: str) -> str:
    if "\\sqrt" not in s:
        return s
    pieces = s.split("\\sqrt")
    out = pieces[0]
    for piece in pieces[1:]:
        if not piece:
            raise _Raised("\\sqrt at the end")
        out += "\\sqrt" + piece if piece[0] == "{" else "\\sqrt{" + piece[0] + "}" + piece[1:]
    return out


def _fix_a_slash_b(s: str) -> str:
    halves = s.split("/")
    if len(halves) != 2:
        return s
    a, b = halves
    if not a:
        raise _Raised("nothing before /")
    negative = a[0] == "-"
    if negative:
        a = a[1:]
    try:
        num, den = int(a), int(b)
    except ValueError:
        return s
    if negative:
        return f"-\\frac{{{num}}}{{{den}}}"
    return f"\\frac{{{num}}}{{{den}}}" if s == f"{num}/{den}" else s


def _strip_string(s: str) -> str:
    """The authors' ``_strip_string``; raises ``_Raised`` (or another error) where theirs raises."""
    s = s.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
    s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "")
    if "\\text{ " in s:  # units: exactly one "\text{ " allowed
        parts = s.split("\\text{ ")
        if len(parts) != 2:
            raise _Raised("several \\text{ ")
        s = parts[0]
    s = s.replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = _fix_sqrt(s).replace(" ", "")
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    s = _fix_a_slash_b(s)
    if _PUNCT_RUN.fullmatch(s):
        raise _Raised("turned into a set, which re.match rejects")
    if "\\frac{" in s:
        s = re.sub(r"\\frac\{-(\d+)\}\{(\d+)\}", r"-\\frac{\1}{\2}", s)
    if re.match(r"\\text\{\(([A-F])\)", s):
        s = re.findall(r"\\text\{\(([A-F])\)", s)[-1]
    return s


def is_equiv(pred: str | None, gold: str | None) -> bool:
    """The authors' ``is_equiv``: both None is equal; an error while normalising compares the raw strings."""
    if pred is None and gold is None:
        return True
    if pred is None or gold is None:
        return False
    try:
        return _strip_string(pred) == _strip_string(gold)
    except Exception:  # noqa: BLE001 - theirs catches everything here
        return pred == gold


# ----------------------------------------------------------------------------------------- verdict
def ranking(choice_logprobs: list[float], choice_lengths: list[int]) -> tuple[int, float]:
    """(index of the lowest PPL, 1 if the gold's PPL is the minimum). Python's ``min`` as theirs: a NaN
    PPL first wins every comparison."""
    ppl = []
    for lp, n in zip(choice_logprobs, choice_lengths):
        try:
            ppl.append(math.exp(-float(lp) / n))
        except OverflowError:
            ppl.append(math.inf)
    lowest = min(ppl)
    best = next((i for i, p in enumerate(ppl) if p == lowest), 0)
    return best, float(lowest == ppl[0])


def score_item(record: dict, output: str | None = None, last_letter_logits: dict | None = None,
               choice_logprobs: list[float] | None = None, choice_lengths: list[int] | None = None) -> dict:
    """The authors' verdict on one item: {"kind", "parsed", "score", "expected"}. Never raises on odd
    text; a ranking item needs its log-probabilities."""
    k = kind(record)
    exp = expected(record, k)
    if k == "ranking":
        if not choice_logprobs or choice_lengths is None or len(choice_logprobs) != len(choice_lengths):
            raise ValueError("a ranking item needs one log-prob and one length per candidate")
        best, score = ranking(choice_logprobs, choice_lengths)
        return {"kind": k, "parsed": str(best), "score": score, "expected": exp}
    out = (output or "").strip()
    gold = doit_gold(record)
    if k == "single_choice":
        parsed = single_choice(out, last_letter_logits)
        score = float(parsed == gold)
    elif k == "true_false":
        parsed = true_false(out)
        score = float(parsed == _tf_gold(gold))
    elif k == "cloze":
        parsed = cloze(out)
        score = float(parsed == gold)
    elif k == "multi_select":
        got = multi_select(out)
        parsed, score = "".join(sorted(got)), float(got == multi_select(gold))
    else:  # math
        parsed = math_answer(out)
        score = float(is_equiv(parsed, record.get("answer", gold)))
    return {"kind": k, "parsed": parsed, "score": score, "expected": exp}


# --------------------------------------------------------------------------------------- aggregates
def file_scores(scores: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numbers the authors' ``scorer.py`` writes, from a ``scores.parquet`` table, as (per file, per
    group): per group of ``keys`` (a checkpoint and split) and ability (one test file), the sum of item
    scores and of expectations (C-Eval items weigh 100/40 each); per group, ``average`` and
    ``expected_average`` = the sums over files divided by twice the number of files. Benchmark sets
    (CMMLU, AGIEval) are left out."""
    df = scores[~scores["ability"].str.startswith(("cmmlu_", "agieval_"))]
    weight = df["ability"].str.startswith(CEVAL_PREFIX).map({True: 100 / 40, False: 1.0})
    files = df.assign(file_score=df["score"] * df["n"] * weight, file_expected=df["expected"] * df["n"] * weight)
    files = files[keys + ["ability", "file_score", "file_expected"]]
    per = files.groupby(keys, sort=True).agg(files=("ability", "size"), total=("file_score", "sum"),
                                             expected_total=("file_expected", "sum")).reset_index()
    per["average"] = per["total"] / (2 * per["files"])
    per["expected_average"] = per["expected_total"] / (2 * per["files"])
    return files, per
