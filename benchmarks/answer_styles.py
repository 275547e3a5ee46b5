"""Verdicts on the answer styles of ``tests/test_scorers.py`` (the ``STYLE_*`` tables), and math-verify
against the hand-written math normaliser.

1. Per answer-style class: how many cases the careful scorer gets right (the test tables hold the
   careful grader's verdicts), and each case's verdict. ``--src`` points at another checkout's ``src``
   to print the same table for its scorer (e.g. ``--src /path/to/main/src`` for the verdicts before a
   change; the test tables import ``evaluate.grading``, so a checkout from before the grading stages
   is graded with that checkout's own copy of this script).
2. Math only: the same cases plus the module's older math tables, graded four ways: the hand-written
   normaliser alone; math-verify alone (its own extraction of the raw output); our Chinese answer
   extraction followed by math-verify alone; and the scorer as it is (extraction, normaliser, then
   math-verify for what the normaliser does not settle).

Usage: ``.venv/bin/python benchmarks/answer_styles.py [--src DIR] [--cases]``
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(src: str | None):
    if src:
        sys.path.insert(0, str(Path(src).resolve()))
    sys.path.insert(0, str(ROOT))
    try:
        grading = importlib.import_module("growthpace.evaluate.grading")  # score_item's home since the stages
    except ModuleNotFoundError:
        grading = importlib.import_module("growthpace.evaluate.scorers")
    tables = importlib.import_module("tests.test_scorers")
    return grading, tables


def style_verdicts(S, T) -> dict[str, list[tuple[str, str, str, bool]]]:
    """{class: [(output, gold, verdict, right)]} under scorer module ``S``."""
    out: dict[str, list] = {}
    for output, gold, parsed in T.STYLE_SINGLE_CHOICE:
        got = S.score_item(T.choice_rec(gold), output=output)["parsed"]
        out.setdefault("single choice: letter on line 1, explanation after", []).append(
            (output, gold, got, got == parsed))
    for output, expected in T.STYLE_TRUE_FALSE:
        got = S.parse_true_false(output)
        out.setdefault("true/false: English yes/no", []).append((output, expected, got, got == expected))
    for output, gold, parsed, score in T.STYLE_CLOZE:
        res = S.score_item(T.cloze_rec(gold), output=output)
        out.setdefault("cloze: spaced CJK answer", []).append(
            (output, gold, f"{res['parsed']} ({res['score']:.0f})", res["score"] == score))
    for output, gold, parsed in T.STYLE_MULTI_SELECT:
        res = S.score_item(T.ethics_rec(gold), output=output)
        out.setdefault("multi-select: letters on line 1, explanation after", []).append(
            (output, gold, f"{res['parsed']} ({res['score']:.0f})", res["score"] == float(parsed == gold)))
    for cls, output, gold, score in T.STYLE_MATH_CASES:
        res = S.score_item(T.math_rec(gold), output=output)
        out.setdefault(f"math: {cls}", []).append(
            (output, gold, f"{res['parsed']} ({res['score']:.0f})", res["score"] == score))
    return out


def math_cases(T) -> list[tuple[str, str, bool]]:
    """(output, gold, careful verdict) of every math case of the test module."""
    cases = [(o, g, bool(s)) for _, o, g, s in T.STYLE_MATH_CASES]
    for mark in getattr(T.test_score_math, "pytestmark", []):  # the parametrized table of test_score_math
        if mark.name == "parametrize":
            cases += [(o, g, bool(s)) for o, g, _, s in mark.args[1] if o]
    cases += [(p, g, e) for p, g, e in T.EQUIV if p and g]
    return cases


def math_comparison(S, T) -> list[tuple[str, int, int]]:
    from math_verify import parse, verify

    def mv(pred, gold):
        try:
            g, p = parse(f"${gold}$"), parse(pred)
            return bool(g and p and verify(g, p))
        except Exception:  # noqa: BLE001
            return False

    def ours_then_mv(pred, gold):
        ans = S.extract_math_answer(pred)
        if ans is None:
            return False
        try:
            g, p = parse(f"${gold}$"), parse(f"${ans}$")
            return bool(g and p and verify(g, p))
        except Exception:  # noqa: BLE001
            return False

    def hand_written(pred, gold):
        real = S._symbolic_equiv
        S._symbolic_equiv = lambda a, b: False
        try:
            return bool(S.score_math(pred, gold)[1])
        finally:
            S._symbolic_equiv = real

    cases = math_cases(T)
    graders = {"hand-written normaliser": hand_written, "math-verify alone (its extraction)": mv,
               "our extraction + math-verify": ours_then_mv,
               "scorer (extraction, normaliser, math-verify)": lambda p, g: bool(S.score_math(p, g)[1])}
    rows = []
    for name, grade in graders.items():
        right = sum(grade(p, g) == want for p, g, want in cases)
        false_pos = sum(grade(p, g) and not want for p, g, want in cases)
        rows.append((name, right, false_pos))
    return rows, len(cases)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", help="a checkout's src directory whose scorer to grade with")
    ap.add_argument("--cases", action="store_true", help="print every case's verdict")
    args = ap.parse_args()
    S, T = load(args.src)
    print(f"scorer: {Path(S.__file__).resolve()}\n")
    print("| answer style | cases | careful verdicts |\n|---|---:|---:|")
    verdicts = style_verdicts(S, T)
    for cls, rows in verdicts.items():
        print(f"| {cls} | {len(rows)} | {sum(r[3] for r in rows)} |")
    if args.cases:
        for cls, rows in verdicts.items():
            print(f"\n{cls}")
            for output, gold, got, right in rows:
                print(f"  {'ok ' if right else 'BAD'} {output!r} (gold {gold!r}) -> {got}")
    if not args.src:
        rows, n = math_comparison(S, T)
        print(f"\nMath equivalence on {n} cases of tests/test_scorers.py:\n")
        print("| grader | right | wrong 'equal' |\n|---|---:|---:|")
        for name, right, false_pos in rows:
            print(f"| {name} | {right} | {false_pos} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
