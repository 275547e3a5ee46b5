"""The benchmark loaders against the DoIT authors' prompt code, on a release: every AGIEval task of a data
folder (zero-shot and few-shot) and every CMMLU subject (0- and 5-shot).

    .venv/bin/python benchmarks/check_benchmarks.py --authors DOIT \\
        --agieval AGIEval/data/v1 [--agieval AGIEval/data/v1_1] --cmmlu CMMLU/data [--record FILE]

``DOIT`` is a checkout of ``ChiyuSONG/dynamics-of-instruction-tuning`` (commit ``2ef836b``): its
``evaluate/agieval/src/dataset_loader.py`` and ``evaluate/cmmlu/src/mp_utils.py`` are imported from
there and run unchanged (nothing of it is copied here). ``--agieval``: a folder of task files
(``{task}.jsonl``, the demos in ``few_shot_prompts.csv`` beside it or one folder up, as released);
``--cmmlu``: a folder with ``dev/`` and ``test/``.

Prompts are compared untrimmed (no token budget on either side), or, with ``--tokenizer DIR`` (a
tokenizer directory, such as the authors' ``models/eval-tokenizer`` with a LLaMA
``tokenizer_config.json``), trimmed to ``--max-tokens`` (2048, theirs) on both sides: the authors count
the demos' text against the budget less 48 and the question's text, this project the chat-encoded
prompt (``evaluate.agieval``, ``evaluate.cmmlu``), so near the budget the two can keep different
numbers of demos.

Prints, per task or subject and setting, the items loaded here and by the authors' code and how many
prompts (and gold letters) are equal, or the error of each side that refuses; then the totals. Exit
status 1 when a prompt differs or only one side refuses. ``--record FILE`` writes the authors' prompts
as JSON: ``tests/fixtures/benchmark_prompts.json`` is this on the test fixtures
(``tests/test_benchmark_release.py`` compares the loaders with it)::

    .venv/bin/python benchmarks/check_benchmarks.py --authors DOIT --agieval tests/fixtures/agieval/data/v1 \\
        --agieval tests/fixtures/agieval_quirks/data/v1 --cmmlu tests/fixtures/cmmlu \\
        --record tests/fixtures/benchmark_prompts.json --relative-to .
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import os
import sys
from pathlib import Path

AGIEVAL_SETTINGS = ("zero-shot", "few-shot")
CMMLU_SHOTS = (0, 5)


class _NoBudget:
    """A stand-in tokenizer for the authors' loader: it only counts, and nothing is trimmed at the
    budget given (``NO_BUDGET``)."""

    def encode(self, text):
        return list(text)


NO_BUDGET = 10 ** 12


def _authors_module(doit: Path, folder: str, name: str):
    """``src.{name}`` of the authors' ``evaluate/{folder}`` (both folders have a package ``src``)."""
    for m in [m for m in sys.modules if m == "src" or m.startswith("src.")]:
        del sys.modules[m]
    sys.path.insert(0, str(doit / "evaluate" / folder))
    try:
        return importlib.import_module(f"src.{name}")
    finally:
        sys.path.pop(0)


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:300]


def prompts_file(task_dir: Path) -> Path:
    here = task_dir / "few_shot_prompts.csv"
    return here if here.is_file() else task_dir.parent / "few_shot_prompts.csv"


def authors_agieval(doit: Path, task_dir: Path, tokenizer=None, max_tokens: int = NO_BUDGET) -> dict[str, dict]:
    """{``setting/task``: {"prompts": [[line index, messages, label], ...]} or {"error": ...}}."""
    loader = _authors_module(doit, "agieval", "dataset_loader")
    out = {}
    for task in sorted(p.stem for p in task_dir.glob("*.jsonl")):
        for setting in AGIEVAL_SETTINGS:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    got = loader.load_dataset(task, setting, str(task_dir), tokenizer=tokenizer or _NoBudget(),
                                              prompt_path=str(prompts_file(task_dir)), max_tokens=max_tokens)
                out[f"{setting}/{task}"] = {"prompts": [[g["metadata"], g["context"], g["label"]] for g in got]}
            except Exception as e:  # noqa: BLE001 (their code fails in many ways; each is a refusal)
                out[f"{setting}/{task}"] = {"error": _error(e)}
    return out


def authors_cmmlu(doit: Path, root: Path, tokenizer=None, max_tokens: int = NO_BUDGET) -> dict[str, dict]:
    """{``{k}shot/subject``: {"prompts": [[row index, prompt, answer], ...]} or {"error": ...}}, in file
    order (their script's shuffle only reorders)."""
    import pandas as pd

    mp = _authors_module(doit, "cmmlu", "mp_utils")
    out = {}
    for subject in sorted(f.split(".csv")[0] for f in os.listdir(root / "test")):
        for k in CMMLU_SHOTS:
            try:
                dev = pd.read_csv(root / "dev" / f"{subject}.csv", header=0, index_col=0)
                test = pd.read_csv(root / "test" / f"{subject}.csv", header=0, index_col=0)
                rows = []
                for i in range(test.shape[0]):
                    end = mp.format_example(test, i, include_answer=False)
                    with contextlib.redirect_stdout(io.StringIO()):
                        prompt = mp.gen_prompt(dev_df=dev, subject=subject, prompt_end=end, num_few_shot=k,
                                               tokenizer=tokenizer, max_length=max_tokens)
                    rows.append([i, prompt, str(test.iloc[i, test.shape[1] - 1])])
                out[f"{k}shot/{subject}"] = {"prompts": rows}
            except Exception as e:  # noqa: BLE001
                out[f"{k}shot/{subject}"] = {"error": _error(e)}
    return out


def ours_agieval(task_dir: Path, key: str, length=None, max_tokens: int = NO_BUDGET) -> list[tuple[int, list[dict], str]]:
    """(line index, prompt messages, gold) of every record this project loads for ``setting/task``."""
    from growthpace.evaluate import agieval

    setting, task = key.split("/")
    records = agieval.load_agieval(task_dir, [setting], [task], length=length,
                                   max_tokens=max_tokens)[f"agieval_{setting}_{task}_test"]
    return [(r["_line"] - 1, r["messages"][:-1], r["messages"][-1]["content"]) for r in records]


def ours_cmmlu(root: Path, key: str, length=None, max_tokens: int = NO_BUDGET) -> list[tuple[int, str, str]]:
    """(row index, prompt, gold) of every record this project loads for ``{k}shot/subject``."""
    from growthpace.evaluate import cmmlu

    shots, subject = key.split("/")
    k = int(shots.removesuffix("shot"))
    records = cmmlu.load_cmmlu(root, [k], [subject], length=length, max_tokens=max_tokens)[
        f"cmmlu_{k}shot_{subject}_test"]
    return [(r["_line"] - 2, r["messages"][0]["content"], r["messages"][-1]["content"]) for r in records]


def compare(expected: dict, ours) -> dict:
    """{"loaded", "authors", "equal", "ours_error", "authors_error", "first_difference"} of one entry:
    ``ours()`` gives this project's (index, prompt, gold) rows or raises."""
    try:
        got = ours()
        ours_error = None
    except (ValueError, OSError) as e:  # RecordError is a ValueError
        got, ours_error = [], _error(e)
    want = expected.get("prompts", [])
    by_index = {i: (p, g) for i, p, g in got}
    equal = sum(1 for i, p, g in want if by_index.get(i) == (p, g))
    first = next(([i, by_index.get(i), [p, g]] for i, p, g in want if by_index.get(i) != (p, g)), None)
    if first is None and len(got) != len(want):
        first = [sorted(set(by_index) - {i for i, _, _ in want})[:1], "loaded here only", None]
    return {"loaded": len(got), "authors": len(want), "equal": equal, "ours_error": ours_error,
            "authors_error": expected.get("error"), "first_difference": first}


def agrees(c: dict) -> bool:
    if c["authors_error"] or c["ours_error"]:
        return bool(c["authors_error"]) and bool(c["ours_error"])
    return c["equal"] == c["authors"] == c["loaded"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--authors", type=Path, required=True, help="a checkout of the DoIT authors' repository")
    ap.add_argument("--agieval", type=Path, action="append", default=[], help="a folder of AGIEval task files")
    ap.add_argument("--cmmlu", type=Path, action="append", default=[], help="a CMMLU data folder (dev/, test/)")
    ap.add_argument("--tokenizer", type=Path, help="trim few-shot prompts with this tokenizer (both sides)")
    ap.add_argument("--max-tokens", type=int, default=2048, help="the budget with --tokenizer (theirs: 2048)")
    ap.add_argument("--record", type=Path, help="write the authors' prompts here (JSON)")
    ap.add_argument("--relative-to", type=Path, help="name the folders in --record relative to this one")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every entry, and the first difference")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)  # the loaders log every dropped item; the table says what counts

    def label(p: Path) -> str:
        return str(p.resolve().relative_to(args.relative_to.resolve())) if args.relative_to else str(p)

    tok, length, budget = None, None, NO_BUDGET
    if args.tokenizer:
        from transformers import AutoTokenizer

        from growthpace.evaluate.prompts import ChatPrompts
        from growthpace.models.chat import add_chat_tokens

        tok, budget = AutoTokenizer.from_pretrained(args.tokenizer), args.max_tokens
        add_chat_tokens(tok)  # what a tuned model's tokenizer holds; the text's own tokens do not change
        length = ChatPrompts(tok).prompt_length
    # the authors' AGIEval loader keeps 48 tokens back (agieval.RESERVE): the same budget here
    record: dict = {"agieval": {}, "cmmlu": {}}
    results = []
    for d in args.agieval:
        expected = record["agieval"][label(d)] = authors_agieval(args.authors, d, tok, budget)
        results += [("agieval", label(d), key, compare(e, lambda d=d, key=key: ours_agieval(d, key, length, budget)))
                    for key, e in expected.items()]
    for d in args.cmmlu:
        expected = record["cmmlu"][label(d)] = authors_cmmlu(args.authors, d, tok, budget)
        results += [("cmmlu", label(d), key, compare(e, lambda d=d, key=key: ours_cmmlu(d, key, length, budget)))
                    for key, e in expected.items()]
    bad = 0
    for bench, folder, key, c in results:
        ok = agrees(c)
        bad += not ok
        if not ok or args.verbose or c["authors_error"]:
            state = "ok  " if ok else "DIFF"
            if c["authors_error"] or c["ours_error"]:
                here = c["ours_error"] or f"loads {c['loaded']}"
                print(f"{state} {bench} {folder} {key}: authors: {c['authors_error'] or 'load'}; here: {here}")
            else:
                print(f"{state} {bench} {folder} {key}: loaded {c['loaded']}, authors {c['authors']}, "
                      f"equal {c['equal']}")
            if not ok and c["first_difference"]:
                print("     first difference (index, here, authors):",
                      json.dumps(c["first_difference"], ensure_ascii=False)[:2000])
    for bench, folder in dict.fromkeys((b, f) for b, f, _, _ in results):
        rs = [c for b, f, _, c in results if (b, f) == (bench, folder)]
        loads = [c for c in rs if not c["authors_error"] and not c["ours_error"]]
        refused = [c for c in rs if c["authors_error"] and c["ours_error"]]
        print(f"{bench} {folder}: {len(loads)} of {len(rs)} (task, setting) entries load on both sides, "
              f"{len(refused)} refused by both; prompts equal {sum(c['equal'] for c in loads)} of "
              f"{sum(c['authors'] for c in loads)} (loaded here {sum(c['loaded'] for c in loads)})")
    print("all agree" if not bad else f"{bad} entries differ")
    if args.record:
        tmp = args.record.with_name(args.record.name + ".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(args.record)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
