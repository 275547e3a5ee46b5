r"""Agreement of the careful scorer with a careful human grader on a held-out set of answers.

``benchmarks/heldout_answers.jsonl`` holds two kinds of output, one row each with its item kind,
ability, question, gold answer (and the math ``answer``), the verdict (0/1) a careful grader gives it by
hand, and its ``style``:

* 724 outputs (ids ``h....``) written in the ways instruction-tuned chat models answer (Chinese and
  English, with reasoning around the answer), in styles that the scorer's code and tests do not use;
* 202 real outputs (ids ``r....``, style ``real: <model>, ...``) taken from the model outputs that two
  benchmarks publish. 184 from GAOKAO-Bench's objective questions (OpenLMLab/GAOKAO-Bench: gpt-4-0314
  at commit 6dbb24f, gpt-3.5-turbo, text-davinci-003 and MOSS at b82e164): single choice (119), physics
  items with several correct options (26, as the ``multi_select`` kind, whose ability is ``ethics``;
  ``source`` and ``subject`` say physics) and math fill-in (39). 18 from LawBench's zero-shot
  predictions (open-compass/LawBench at e30981b): single-choice law questions answered by nine Chinese
  chat models (baichuan-13b-chat, chatglm2-6b, chinese-alpaca-2-7b, fuzi-mingcha-7b, hanfei-7b,
  lawyer-llama-13b, qwen-7b-chat, yulan-chat-2-13b, ziya-llama-13b), two each. Each row's ``source``
  names the repository, commit, file, item index and model. Long questions are cut to their start and
  their end with the options, outputs over 1500 characters to their last 1500 (the ``source`` says so).
  Their verdicts were set before either scorer graded them: the last answer the output commits to
  counts; several answers, none, a refusal or an off-topic reply count 0.

No test reads the set: it measures how well the scorer reads answers it was not written against, so it
is measured once a change is done.

Prints agreement per kind and overall, and with ``--misses`` every disagreement. ``--before-src DIR``
also grades the set with the scorer of another checkout's ``src`` (e.g. the main branch) and prints
both figures side by side. ``--style-prefix real:`` measures the real outputs alone.

``benchmarks/heldout_answers_real2.jsonl`` (ids ``s....``, same row format) holds 192 further real outputs, kept
apart from the work on the scorer and measured with ``--data`` once it is done: 38 true/false answers (TheoremQA's
published runs, wenhuchen/TheoremQA ``outputs/``: GPT4, ChatGPT, GPT3.5, GPT3, Claude, anthropic_v2, alpaca, vicuna;
English, gold ``正确``/``错误`` under the ``history`` ability that selects the kind), 15 math answers from the same runs,
GAOKAO-Bench files and items not in the set above (Chinese usage, gpt-4-0314's History/Biology/Chemistry/Politics/
English answers and math fill-in, second and third runs of the physics items with several correct options), LawBench
answers of other models, of the one-shot runs and of two more tasks: charge names (3-3, as ``cloze`` under ``chinese``)
and the amount of a crime in yuan (3-7, as ``math``). Verdicts were set by hand with the rules above.

Usage: ``.venv/bin/python benchmarks/grading_heldout.py [--data PATH] [--before-src DIR] [--misses] [--style-prefix P]``

Agreement before (the single-pass careful scorer, b7266b4) and after the grading stages
(``evaluate.grading``), on the whole set and on the 202 real outputs:

==============  =================  =================  =================  =================
kind            whole set before   whole set after    real before        real after
==============  =================  =================  =================  =================
single choice   274/317   86.4%    302/317   95.3%    125/137   91.2%    125/137   91.2%
true/false      170/200   85.0%    200/200  100.0%
cloze           107/137   78.1%    137/137  100.0%
multi-select    132/148   89.2%    148/148  100.0%     26/26   100.0%     26/26   100.0%
math             84/124   67.7%    113/124   91.1%     32/39    82.1%     32/39    82.1%
overall         767/926   82.8%    900/926   97.2%    183/202   90.6%    183/202   90.6%
==============  =================  =================  =================  =================

On the written outputs alone: 584/724 (80.7%) before, 717/724 (99.0%) after.

The written set and the stages were written by the same hand, and the stages were designed after the
"before" misses had been read, so their "after" figure is an upper bound on agreement with answer styles
that neither has seen. Still missed there: a ``综上所述，正确答案是B`` that follows a list of ruled-out
options (read as ambiguous; read since careful version 4), ``3∶2`` with the ratio colon, ``0.5`` for
``50%``, ``\sqrt 2`` in ``$...$``, and a ramble that tries ``x=7`` without committing (read as 7).

On the real outputs the stages changed no verdict: both scorers missed the same 19 rows (GAOKAO-Bench
167/184, LawBench 16/18). Ten single-choice answers that commit to one letter read as ambiguous because
the text around it names other options or restates the options (``【答案】D<eoa>``, ``【答案】: C <eoa>``,
``【答案】B. other than``, ``因此，选项B正确，选项A、C、D不符合题意``, ``综上所述，错误的叙述是D``,
``[正确答案]D<eoa>`` after the question copied out); two MOSS replies that commit to nothing are read as a
letter (a refusal quoting ``“A”的选项``, ``C的代码量`` about the C language); math answers in a
``【答案】0.98<eoa>`` block keep the bracket and the end tag (3), a line given as ``y=x+1`` or ``y=3x`` does
not match ``x-y+1=0`` or ``3x-y=0`` (3), and ``1和3`` is read as 3.

The real outputs then became a development set: the rules below were written after reading those 19
misses (as general rules, with tests in their own wording), so the real rows' "after" figure is no longer
held-out; a fresh batch of real outputs measures them. Careful scoring version 4: an answer block
(``【答案】``, ``[正确答案]``, ``答案：``, ``综上所述``) is the committed answer and outranks the options a
reasoning names; end-of-section tags (``<eoa>``, ``</s>``) are dropped; the question's list of options
copied back, a capital that names something else (``C语言``, ``C比Java快``) and an apology that asks for the
question are no answer; options ruled out as ``不符合题意`` are no candidates; two equations compare by
their solutions; values listed after 答案 (``1和3``) are a list. Agreement before (the grading stages at
680c723) and after:

==============  =================  =================
part            before (680c723)   careful v4
==============  =================  =================
whole set       900/926   97.2%    922/926   99.6%
written rows    717/724   99.0%    720/724   99.4%
real rows       183/202   90.6%    202/202  100.0%
==============  =================  =================

The real rows' 202/202 is a development figure, not a held-out one. Still missed (written rows):
``3∶2`` with the ratio colon, ``0.5`` for ``50%``, ``\sqrt 2`` in ``$...$``, and a ramble that tries
``x=7`` without committing (read as 7).

The fresh batch (``heldout_answers_real2.jsonl``, 192 real outputs), measured once, after careful version
4, with each scorer: the single-pass scorer (b7266b4), the grading stages before the real rows were read
(448ef6a) and careful version 4:

==============  =================  =================  =================
kind            b7266b4            448ef6a            careful v4
==============  =================  =================  =================
single choice    56/63    88.9%     56/63    88.9%     63/63   100.0%
true/false       32/38    84.2%     28/38    73.7%     35/38    92.1%
cloze            10/18    55.6%     10/18    55.6%     10/18    55.6%
multi-select     23/23   100.0%     23/23   100.0%     23/23   100.0%
math             45/50    90.0%     45/50    90.0%     50/50   100.0%
overall         166/192   86.5%    162/192   84.4%    181/192   94.3%
==============  =================  =================  =================

Its 11 misses: LawBench's charge names given in a labelled block, ``[罪名]容留他人吸毒<eoa>`` (7 of the 8
cloze misses): the label in brackets is read as the answer, as a marked answer (``【】``) is; a structured
reply whose ``罪名：故意毁坏财物罪`` follows a statute's title in 《》 (read as the title); and English
true/false answers that restate the claim or its negation instead of a verdict (``Therefore, the answer
is: f is uniformly continuous on R.``, ``This transformation does not have any eigenvectors.``,
``Poor contrast.``): a verdict by paraphrase of the claim, which the scorer reads only in Chinese
(``这种看法不符合史实``).
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


def _before(src: str, data: Path = DATA) -> list[dict]:
    """Verdicts of another checkout's scorer, in a fresh interpreter so the two never mix."""
    code = (f"import sys, json; from pathlib import Path; sys.path.insert(0, {str(Path(src).resolve())!r});"
            f"sys.path.insert(1, {str(ROOT)!r}); from benchmarks.grading_heldout import grade, load_rows;"
            f"print(json.dumps(grade(load_rows(Path({str(Path(data).resolve())!r})))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before-src", help="src directory of another checkout, graded for comparison")
    ap.add_argument("--misses", action="store_true", help="print every disagreement")
    ap.add_argument("--style-prefix", default="", metavar="PREFIX",
                    help='measure only the rows whose style starts with PREFIX (e.g. "real:")')
    ap.add_argument("--data", type=Path, default=DATA, metavar="PATH",
                    help="the set to measure (default benchmarks/heldout_answers.jsonl)")
    args = ap.parse_args(argv)
    rows = load_rows(args.data)
    sys.path.insert(0, str(ROOT / "src"))
    keep = [i for i, row in enumerate(rows) if row["style"].startswith(args.style_prefix)]
    if not keep:
        raise SystemExit(f"no row's style starts with {args.style_prefix!r}")
    after = grade([rows[i] for i in keep])
    if args.before_src:
        before = _before(args.before_src, args.data)
    rows = [rows[i] for i in keep]
    figures = {"this": agreement(rows, after)}
    if args.before_src:
        figures = {"before": agreement(rows, [before[i] for i in keep]), **figures}
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
