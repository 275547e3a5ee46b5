"""AGIEval's Chinese multiple-choice sets from a local copy of its data, with the DoIT paper's prompts.

Layout (as released): ``data/v1/{task}.jsonl``, one JSON object per line holding ``passage`` (may be
null), ``question``, ``options`` (``["(A)…", "(B)…", …]``) and ``label`` (``"B"``, or a list such as
``["C"]`` / ``["A", "D"]``), and ``data/few_shot_prompts.csv`` one folder up (one column per task; the
rows ``sample 1`` … ``sample 5`` hold the demos as Python dict literals, the ``explanation`` rows are not
used). ``dir`` is the folder of the task files; the demos are read from ``prompts`` when given, else
from ``few_shot_prompts.csv`` in ``dir`` or, as released, in its parent (``prompts_path``).

The tasks are the ten Chinese multiple-choice sets the authors' script runs (``CHINESE_MC_TASKS``;
paper.md 4.3). Labels are checked exactly: one letter among the item's options. Only single-answer
items with exactly four options are evaluated (the authors' filter): an item whose label is several
letters (a list, or a string such as ``"AB"``, which real releases hold in single-answer tasks), or
empty, is dropped, and so is an item with another number of options; a demo with several or no answer
letters is dropped too (the authors kept an empty-label demo, with an empty answer). Any other label
is an error naming file and line. Each task's dropped items and demos are logged with their reasons
(and demos trimmed to fit the prompt budget); a task left with no item is an error, and so is a file
that is not UTF-8 (naming the encoding it looks like).

Prompts (the authors' ``dataset_loader.py``):

- zero-shot, one user turn: ``{passage}问题：{question} 选项：{options joined by spaces}\\n答案：从A到D, 我们应选择``
- few-shot, demos as user/assistant turns ``问题 {i}.   {passage} {question}\\n从以下选项中选择:    {options}\\n答案：从A到{X}, 我们应选择`` →
  ``{label}``, then the question in the same form (``从A到D``). ``X`` is the demo's last option letter,
  as the authors word it: a demo with three options reads ``从A到C`` (one or no option: ``D``). Demos
  are kept in order while the chat-encoded prompt fits ``max_tokens - reserve`` tokens (the authors:
  2048 − 48 − the question's length, counting the demos' text without the chat tokens).

Numbering. Here the kept demos are numbered 1, 2, … in order and the question follows them (``问题
{k+1}``). The authors number each demo by its place among all of the task's CSV samples (skipped
multi-answer demos included, so numbers can jump: 1, 3) and the question by the count of demos kept
plus one, which repeats a demo's number when one was skipped (demos 1 and 3, question 3).

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
from ..models.chat import encode_prompt
from .cmmlu import SEVERAL_LETTERS, drop_reasons, log_trimmed
from .run import first_token_record

log = logging.getLogger(__name__)

CHINESE_MC_TASKS = ("logiqa-zh", "gaokao-chinese", "gaokao-geography", "gaokao-history", "gaokao-biology",
                    "gaokao-chemistry", "gaokao-mathqa", "jec-qa-kd", "jec-qa-ca", "gaokao-physics")
PROMPTS_FILE = "few_shot_prompts.csv"
OPTION_LETTERS = "ABCDEFGHIJ"
DEFAULT_MAX_TOKENS, RESERVE = 2048, 48


def prompts_path(root: str | Path, prompts: str | Path | None = None) -> Path:
    """The demos file: ``prompts`` when given, else ``few_shot_prompts.csv`` in ``root`` or (as released,
    ``data/v1`` beside ``data/few_shot_prompts.csv``) in its parent; the released place when neither exists."""
    if prompts:
        return Path(prompts)
    root = Path(root)
    here = root / PROMPTS_FILE
    return here if here.is_file() else root.parent / PROMPTS_FILE


def label_problem(label, n_options: int) -> tuple[str | None, str | None]:
    """(the letter, None) of a single-answer label (``"B"`` or ``["B"]``), or (None, why it is dropped:
    ``several answer letters`` / ``empty label``); raises ``ValueError`` for a label that is no letter
    among the ``n_options`` options."""
    if label is None or label == [] or (isinstance(label, str) and not label.strip()):
        return None, "empty label"
    if isinstance(label, list):
        if len(label) > 1:
            return None, "several answer letters"
        label = label[0]
    if not isinstance(label, str):
        raise ValueError(f"expected a letter, got {label!r}")
    label = label.strip()
    valid = OPTION_LETTERS[:max(n_options, 1)]
    if len(label) == 1 and label in valid:
        return label, None
    if SEVERAL_LETTERS.fullmatch(label):
        return None, "several answer letters"
    raise ValueError(f"expected one of {', '.join(valid)} (the item's {n_options} options), got {label!r}")


def _check_item(obj, where: str) -> dict:
    if not isinstance(obj, dict):
        raise RecordError(where, "json", "expected a JSON object")
    for field in ("question", "options", "label"):
        if field not in obj:
            raise RecordError(where, field, "missing")
    if not isinstance(obj["question"], str):
        raise RecordError(where, "question", "must be a string")
    if obj.get("passage") is not None and not isinstance(obj["passage"], str):
        raise RecordError(where, "passage", "must be a string or null")
    if not isinstance(obj["options"], list) or not all(isinstance(o, str) for o in obj["options"]):
        raise RecordError(where, "options", "must be a list of strings")
    if obj["label"] is not None and not isinstance(obj["label"], (str, list)):
        raise RecordError(where, "label", "must be a letter or a list of letters")
    return obj


def _label(obj: dict, where: str) -> tuple[str | None, str | None]:
    try:
        return label_problem(obj["label"], len(obj["options"]))
    except ValueError as e:
        raise RecordError(where, "label", str(e)) from None


def read_task(path: Path, dropped: Counter | None = None) -> list[tuple[int, dict]]:
    """(line, item) for every single-answer 4-option item of one task file; the others are counted in
    ``dropped`` by reason."""
    dropped = Counter() if dropped is None else dropped
    items = []
    for lineno, where, obj in json_lines(path, "AGIEval task file"):
        _check_item(obj, where)
        label, problem = _label(obj, where)
        if problem is None and len(obj["options"]) != 4:
            problem = "not four options"
        if problem:
            dropped[problem] += 1
            continue
        items.append((lineno, {**obj, "label": label}))
    return items


def read_demos(path: Path, task: str, dropped: Counter | None = None) -> list[dict]:
    """The single-answer demos of ``task`` from ``few_shot_prompts.csv`` (rows ``sample 1`` …); demos with
    several or no answer letters are counted in ``dropped`` by reason."""
    dropped = Counter() if dropped is None else dropped
    reader = csv.reader(io.StringIO(read_utf8(path, "file (AGIEval few-shot demos)"), newline=""))
    header = next(reader, None)
    if not header or task not in header:
        raise RecordError(f"{path}:1", "header", f"no column for task {task!r}")
    col = header.index(task)
    demos = []
    for row in reader:
        if not row or not row[0].strip().startswith("sample"):
            continue
        where = f"{path}:{reader.line_num}"
        cell = row[col].strip() if col < len(row) else ""
        if not cell:
            continue
        try:
            obj = ast.literal_eval(cell)
        except (ValueError, SyntaxError) as e:
            raise RecordError(where, task, f"not a Python dict literal ({e})") from None
        _check_item(obj, where)
        label, problem = _label(obj, where)
        if problem:
            dropped[problem] += 1
            continue
        demos.append({**obj, "label": label})
    return demos


def _question_text(item: dict, number: int | None, last: str = "D") -> str:
    passage = item.get("passage") or ""
    options = " ".join(item["options"])
    if number is None:
        return passage + "问题：" + item["question"] + " " + "选项：" + options + "\n" + "答案：从A到D, 我们应选择"
    return (f"问题 {number}.   " + passage + " " + item["question"] + "\n" + "从以下选项中选择:    " + options
            + "\n" + f"答案：从A到{last}, 我们应选择")


def _last_letter(demo: dict) -> str:
    """The last option letter of a demo, as the authors word its range (one or no option: D)."""
    n = len(demo["options"])
    return OPTION_LETTERS[(n if n > 1 else 4) - 1]


def _messages(item: dict, demos: list[dict]) -> list[dict]:
    msgs = []
    for i, d in enumerate(demos, start=1):
        msgs += [{"role": "user", "content": _question_text(d, i, _last_letter(d))},
                 {"role": "assistant", "content": d["label"]}]
    number = len(demos) + 1 if demos else None
    return msgs + [{"role": "user", "content": _question_text(item, number)}]


def _fit(item: dict, demos: list[dict], tokenizer, budget: int | None) -> list[dict]:
    """The longest prefix of ``demos`` whose chat-encoded prompt fits ``budget`` tokens."""
    if tokenizer is None or budget is None:
        return demos
    kept = list(demos)
    while kept and len(encode_prompt(tokenizer, _messages(item, kept) + [{"role": "assistant", "content": "A"}])) > budget:
        kept.pop()
    return kept


def load_agieval(root: str | Path, shots: Iterable[str] = ("zero-shot",), tasks: Iterable[str] = CHINESE_MC_TASKS,
                 tokenizer=None, max_tokens: int = DEFAULT_MAX_TOKENS, reserve: int = RESERVE,
                 prompts: str | Path | None = None) -> dict[str, list[dict]]:
    """{``agieval_{setting}_{task}_test``: first-token records}; ``shots`` holds zero-shot and/or few-shot;
    ``prompts``: the demos file (default ``prompts_path``)."""
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
            raise RecordError(str(path), "items", "no single-answer four-option item"
                              + (f" ({drop_reasons(dropped)})" if dropped else ""))
        for setting in shots:
            demos: list[dict] = []
            if setting == "few-shot":
                demo_file, demo_dropped = prompts_path(root, prompts), Counter()
                demos = read_demos(demo_file, task, demo_dropped)
                if demo_dropped:
                    log.warning("%s: %s: dropped %d demos (%s)", demo_file, task, sum(demo_dropped.values()),
                                drop_reasons(demo_dropped))
            records, trimmed = [], Counter()
            for line, item in items:
                kept = _fit(item, demos, tokenizer, max_tokens - reserve) if demos else []
                trimmed[len(demos) - len(kept)] += 1
                records.append(first_token_record(_messages(item, kept), item["label"],
                                                  f"agieval_{setting}", str(path), line))
            log_trimmed(f"agieval {task} {setting}", trimmed, max_tokens - reserve)
            log.info("agieval %s %s: %d items, %d demos", task, setting, len(records), len(demos))
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
