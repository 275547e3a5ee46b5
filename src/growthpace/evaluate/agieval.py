"""AGIEval's multiple-choice tasks from a local copy of its data, with the DoIT paper's prompts.

Layout (as released): ``data/v1/{task}.jsonl``, one JSON object per line holding ``passage`` (may be
null), ``question``, ``options`` (``["(A)…", "(B)…", …]``) and ``label`` (``"B"``, or a list such as
``["C"]`` / ``["A", "D"]``), and ``data/few_shot_prompts.csv`` one folder up (one column per task; the
rows ``sample 1`` … ``sample 5`` hold the demos as Python dict literals, the ``explanation`` rows are not
used). ``dir`` is the folder of the task files; the demos are read from ``prompts`` when given, else
from ``few_shot_prompts.csv`` in ``dir`` or, as released, in its parent (``prompts_path``).

The default tasks are the ten Chinese multiple-choice sets the authors' script runs
(``CHINESE_MC_TASKS``; paper.md 4.3); any task whose items the authors' loader (DoIT's
``evaluate/agieval/src/dataset_loader.py``) takes loads the same way, with the same Chinese prompt
(the English tasks included, as theirs does). What their loader does, and so this one:

- Items: each needs ``passage``, ``question``, ``options`` and ``label``. One whose label has several
  entries (``"AB"``, ``["A", "D"]``) or none (``""``, ``[]``) is dropped and counted; every other item
  must have four options and a label A-D, or the task stops with the file and line (their asserts:
  AGIEval's five-option tasks, ``aqua-rat`` and ``lsat-*``, stop there, and its cloze tasks, whose
  labels are null, stop on the first item).
- Demos: a demo with several answer letters is dropped; an empty label is kept as an empty answer; a
  label is otherwise taken as written. Null options read as none.
- A task with no column in the demos file has no few-shot setting (``sat-en-without-passage``).

``benchmarks/check_benchmarks.py`` compares these prompts with the authors' code on a release.

Prompts (the authors' ``dataset_loader.py``):

- zero-shot, one user turn: ``{passage}问题：{question} 选项：{options joined by spaces}\\n答案：从A到D, 我们应选择``
- few-shot, demos as user/assistant turns ``问题 {i}.   {passage} {question}\\n从以下选项中选择:    {options}\\n答案：从A到{X}, 我们应选择`` →
  ``{label}``, then the question in the same form (``从A到D``, numbered ``k+1`` after ``k`` demos kept,
  also when ``k`` is 0). ``X`` is the demo's last option letter, as the authors word it: three options
  read ``从A到C``; one option reads ``D`` (the gaokao-geography demos give their four options as one
  string); no option reads ``G`` (their ``"ABCDEFG"[-1]``).
- Numbering. A demo keeps its place among the task's non-empty samples, dropped ones included, so
  numbers can jump (1, 3) and the question repeats a demo's number when one was dropped (demos 1 and
  3, question 3).
- Trimming. Demos are kept in order while the prompt fits ``max_tokens - reserve`` tokens, measured on
  the prompt the model actually gets (``length``: chat-encoded, or plain text for a base model). The
  authors count only the demos' text against 2048 − 48 − the question's length, so near the limit the
  number of demos kept can differ.

The prediction is the argmax of the A-D logits at the first answer position. ``summarize`` gives the
accuracy per task and both averages the authors' script prints: over all examples and over tasks.
"""

from __future__ import annotations

import ast
import csv
import io
import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..data.loaders import json_lines, read_utf8
from ..data.schema import RecordError
from .cmmlu import drop_reasons, log_trimmed

log = logging.getLogger(__name__)

CHINESE_MC_TASKS = ("logiqa-zh", "gaokao-chinese", "gaokao-geography", "gaokao-history", "gaokao-biology",
                    "gaokao-chemistry", "gaokao-mathqa", "jec-qa-kd", "jec-qa-ca", "gaokao-physics")
PROMPTS_FILE = "few_shot_prompts.csv"
OPTION_LETTERS, CHOICES = "ABCDEFG", "ABCD"
DEFAULT_MAX_TOKENS, RESERVE = 2048, 48


def prompts_path(root: str | Path, prompts: str | Path | None = None) -> Path:
    """The demos file: ``prompts`` when given, else ``few_shot_prompts.csv`` in ``root`` or (as released,
    ``data/v1`` beside ``data/few_shot_prompts.csv``) in its parent; the released place when neither exists."""
    if prompts:
        return Path(prompts)
    root = Path(root)
    here = root / PROMPTS_FILE
    return here if here.is_file() else root.parent / PROMPTS_FILE


FIELDS = ("passage", "question", "options", "label")


def _fields(obj, where: str) -> dict:
    """The object of one item or demo, with its four fields present (the authors' loader reads every one)."""
    if not isinstance(obj, dict):
        raise RecordError(where, "json", f"expected an object, got {type(obj).__name__}")
    for field in FIELDS:
        if field not in obj:
            raise RecordError(where, field, "missing")
    label = obj["label"]
    if label is None:
        raise RecordError(where, "label", "null: no answer letter (a cloze task? only multiple-choice tasks load)")
    if not isinstance(label, (str, list)):
        raise RecordError(where, "label", f"must be a letter or a list of letters, got {label!r}")
    if obj["passage"] is not None and not isinstance(obj["passage"], str):
        raise RecordError(where, "passage", "must be a string or null")
    if obj["question"] is not None and not isinstance(obj["question"], str):
        raise RecordError(where, "question", "must be a string")
    return obj


def _question(obj: dict, where: str) -> None:
    if obj["question"] is None:
        raise RecordError(where, "question", "null")


def single_label(label: str | list) -> tuple[str | None, str | None]:
    """(the answer, None) of a label with one entry (``"B"``, ``["B"]``, ``""``), or (None, why it is
    dropped): several letters (``"AB"``, ``["A", "D"]``) or an empty list."""
    if len(label) > 1:
        return None, "several answer letters"
    if isinstance(label, list):
        if not label:
            return None, "empty label"
        label = label[0]
    return label, None


def read_task(path: Path, dropped: Counter | None = None) -> list[tuple[int, dict]]:
    """(line, item) for every single-answer item of one task file, each with four options and a letter
    A-D (anything else stops the task, as the authors' asserts do); items with several answer letters
    or none are counted in ``dropped`` by reason."""
    dropped = Counter() if dropped is None else dropped
    items = []
    for lineno, where, obj in json_lines(path, "AGIEval task file"):
        _fields(obj, where)
        label, problem = single_label(obj["label"])
        if problem is None and not label:
            problem = "empty label"
        if problem:
            dropped[problem] += 1
            continue
        options = obj["options"]
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise RecordError(where, "options", "must be a list of strings")
        if len(options) != 4:
            raise RecordError(where, "options", f"{len(options)} options: single-answer items must have four "
                              "(the authors' loader stops on this task too)")
        if not isinstance(label, str) or label not in CHOICES:
            raise RecordError(where, "label", f"expected one of A, B, C, D, got {label!r}")
        _question(obj, where)
        items.append((lineno, {**obj, "label": label}))
    return items


def read_demos(path: Path, task: str, dropped: Counter | None = None) -> list[tuple[int, dict]]:
    """(number, demo) for the single-answer demos of ``task`` in ``few_shot_prompts.csv`` (rows ``sample
    1`` …). A demo's number is its place among the task's non-empty samples, skipped ones included, as
    the authors number them; demos with several answer letters are counted in ``dropped``. A demo's
    answer is taken as written: an empty label is an empty answer, as in the authors' prompts."""
    dropped = Counter() if dropped is None else dropped
    reader = csv.reader(io.StringIO(read_utf8(path, "file (AGIEval few-shot demos)"), newline=""))
    header = next(reader, None)
    if not header or task not in header:
        raise RecordError(f"{path}:1", "header", f"no column for task {task!r}")
    col = header.index(task)
    demos, place = [], 0
    for row in reader:
        if not row or not row[0].strip().startswith("sample"):
            continue
        where = f"{path}:{reader.line_num}"
        cell = row[col] if col < len(row) else ""
        if not cell:
            continue
        place += 1
        try:
            obj = ast.literal_eval(cell.strip())
        except (ValueError, SyntaxError) as e:
            raise RecordError(where, task, f"not a Python dict literal ({e})") from None
        _fields(obj, f"{where} ({task})")
        label, problem = single_label(obj["label"])
        if problem == "empty label":  # the authors' code fails on it (an IndexError)
            raise RecordError(f"{where} ({task})", "label", "an empty list")
        if problem:
            dropped[problem] += 1
            continue
        options = obj["options"] if obj["options"] is not None else []
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise RecordError(f"{where} ({task})", "options", "must be a list of strings or null")
        if len(options) > len(OPTION_LETTERS):
            raise RecordError(f"{where} ({task})", "options", f"{len(options)} options, at most "
                              f"{len(OPTION_LETTERS)}")
        _question(obj, f"{where} ({task})")
        demos.append((place, {**obj, "options": options, "label": label}))
    return demos


def _question_text(item: dict, number: int | None, last: str = "D") -> str:
    passage = item.get("passage") or ""
    options = " ".join(item["options"])
    if number is None:
        return passage + "问题：" + item["question"] + " " + "选项：" + options + "\n" + "答案：从A到D, 我们应选择"
    return (f"问题 {number}.   " + passage + " " + item["question"] + "\n" + "从以下选项中选择:    " + options
            + "\n" + f"答案：从A到{last}, 我们应选择")


def _last_letter(demo: dict) -> str:
    """The last option letter of a demo's range, as the authors compute it: one option counts as four
    (the four options given as one string), none as ``G`` (their ``"ABCDEFG"[-1]``)."""
    n = len(demo["options"])
    return OPTION_LETTERS[(4 if n == 1 else n) - 1]


def _messages(item: dict, demos: list[tuple[int, dict]] | None) -> list[dict]:
    """The prompt: zero-shot (``demos`` None) one turn; few-shot the demos as turns, then the question
    numbered after the count of demos kept (so it repeats a number when a demo was skipped)."""
    if demos is None:
        return [{"role": "user", "content": _question_text(item, None)}]
    msgs = []
    for number, d in demos:
        msgs += [{"role": "user", "content": _question_text(d, number, _last_letter(d))},
                 {"role": "assistant", "content": d["label"]}]
    return msgs + [{"role": "user", "content": _question_text(item, len(demos) + 1)}]


def _fit(item: dict, demos: list[tuple[int, dict]], length, budget: int | None) -> list[tuple[int, dict]]:
    """The longest prefix of ``demos`` whose prompt is at most ``budget`` tokens long, as ``length``
    (messages with their gold turn -> tokens of the prompt the model gets) measures it."""
    if length is None or budget is None:
        return demos
    kept = list(demos)
    while kept and length(_messages(item, kept) + [{"role": "assistant", "content": "A"}]) > budget:
        kept.pop()
    return kept


def load_agieval(root: str | Path, shots: Iterable[str] = ("zero-shot",), tasks: Iterable[str] = CHINESE_MC_TASKS,
                 length=None, max_tokens: int = DEFAULT_MAX_TOKENS, reserve: int = RESERVE,
                 prompts: str | Path | None = None) -> dict[str, list[dict]]:
    """{``agieval_{setting}_{task}_test``: first-token records}; ``shots`` holds zero-shot and/or few-shot;
    ``prompts``: the demos file (default ``prompts_path``); ``length``: the token count of the prompt a
    conversation gets (``prompts.ChatPrompts.prompt_length`` or ``PlainPrompts.prompt_length``), which
    few-shot prompts must keep within ``max_tokens - reserve`` (None: demos are not trimmed)."""
    from .run import first_token_record  # torch: not for the analysis, which reads summarize
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"AGIEval directory {root} does not exist")
    shots = list(shots)
    bad = [s for s in shots if s not in ("zero-shot", "few-shot")]
    if bad:
        raise ValueError(f"AGIEval settings must be zero-shot or few-shot, got {bad}")
    out = {}
    for task in tasks:
        path = root / f"{task}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such AGIEval task file")
        dropped: Counter = Counter()
        items = read_task(path, dropped)
        if dropped:
            log.warning("%s: dropped %d of %d items (%s)", path, sum(dropped.values()),
                        len(items) + sum(dropped.values()), drop_reasons(dropped))
        if not items:
            raise RecordError(str(path), "items", "no single-answer item"
                              + (f" ({drop_reasons(dropped)})" if dropped else ""))
        for setting in shots:
            demos: list[tuple[int, dict]] | None = None
            if setting == "few-shot":
                demo_file, demo_dropped = prompts_path(root, prompts), Counter()
                demos = read_demos(demo_file, task, demo_dropped)
                if demo_dropped:
                    log.warning("%s: %s: dropped %d demos (%s)", demo_file, task, sum(demo_dropped.values()),
                                drop_reasons(demo_dropped))
            records, trimmed = [], Counter()
            for line, item in items:
                kept = _fit(item, demos, length, max_tokens - reserve) if demos else demos
                trimmed[len(demos or []) - len(kept or [])] += 1
                records.append(first_token_record(_messages(item, kept), item["label"],
                                                  f"agieval_{setting}", str(path), line))
            log_trimmed(f"agieval {task} {setting}", trimmed, max_tokens - reserve)
            log.info("agieval %s %s: %d items, %d demos", task, setting, len(records), len(demos or []))
            out[f"agieval_{setting}_{task}_test"] = records
    return out


def summarize(predictions: pd.DataFrame) -> pd.DataFrame:
    """Rows (setting, name, accuracy, n): per task, ``all examples`` and ``all tasks`` averages."""
    df = predictions[predictions["eval_set"].str.startswith("agieval_")]
    rows = []
    for setting, g in df.groupby(df["eval_set"].str.split("_").str[1]):
        per_task = g.groupby("eval_set")["score"].agg(["mean", "size"])
        for name, r in per_task.iterrows():
            task = name.removeprefix(f"agieval_{setting}_").removesuffix("_test")
            rows.append({"setting": setting, "name": task, "accuracy": float(r["mean"]), "n": int(r["size"])})
        rows.append({"setting": setting, "name": "all examples", "accuracy": float(g["score"].mean()), "n": len(g)})
        rows.append({"setting": setting, "name": "all tasks", "accuracy": float(per_task["mean"].mean()),
                     "n": len(g)})
    return pd.DataFrame(rows, columns=["setting", "name", "accuracy", "n"])
