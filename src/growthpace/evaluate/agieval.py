"""AGIEval's Chinese multiple-choice sets from a local copy of its data, with the DoIT paper's prompts.

Layout (as released, ``data/v1``): ``{root}/{task}.jsonl`` with one JSON object per line holding
``passage`` (may be null), ``question``, ``options`` (``["(A)…", "(B)…", …]``) and ``label`` (``"B"``, or a
list such as ``["C"]`` / ``["A", "D"]``), and ``{root}/few_shot_prompts.csv`` (one column per task; the
rows ``sample 1`` … ``sample 5`` hold the demos as Python dict literals, the ``explanation`` rows are
not used).

The tasks are the ten Chinese multiple-choice sets the authors' script runs (``CHINESE_MC_TASKS``;
paper.md 4.3). Only single-answer items with exactly four options are kept (the authors' filter); the
same filter drops multi-answer demos.

Prompts (the authors' ``dataset_loader.py``):

- zero-shot, one user turn: ``{passage}问题：{question} 选项：{options joined by spaces}\\n答案：从A到D, 我们应选择``
- few-shot, demos as user/assistant turns ``问题 {i}.   {passage} {question}\\n从以下选项中选择:    {options}\\n答案：从A到D, 我们应选择`` →
  ``{label}``, then the question in the same form. Demos are kept in order while the chat-encoded
  prompt fits ``max_tokens - reserve`` tokens (the authors: 2048 − 48 − the question's length).

The prediction is the argmax of the A-D logits at the first answer position. ``summarize`` gives the
accuracy per task and both averages the authors' script prints: over all examples and over tasks.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..data.schema import RecordError
from ..models.chat import encode_prompt
from .run import first_token_record

CHINESE_MC_TASKS = ("logiqa-zh", "gaokao-chinese", "gaokao-geography", "gaokao-history", "gaokao-biology",
                    "gaokao-chemistry", "gaokao-mathqa", "jec-qa-kd", "jec-qa-ca", "gaokao-physics")
PROMPTS_FILE = "few_shot_prompts.csv"
LETTERS = "ABCD"
DEFAULT_MAX_TOKENS, RESERVE = 2048, 48


def _single_label(label) -> str | None:
    """The letter of a single-answer label (``"B"`` or ``["B"]``), else None."""
    if isinstance(label, list):
        label = label[0] if len(label) == 1 else None
    return label if isinstance(label, str) and label in LETTERS else None


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
    if not isinstance(obj["label"], (str, list)):
        raise RecordError(where, "label", "must be a letter or a list of letters")
    return obj


def read_task(path: Path) -> list[tuple[int, dict]]:
    """(line, item) for every single-answer 4-option item of one task file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such AGIEval task file")
    items = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(where, "json", f"invalid JSON ({e.msg} at column {e.colno})") from None
            _check_item(obj, where)
            label = _single_label(obj["label"])
            if label is not None and len(obj["options"]) == 4:
                items.append((lineno, {**obj, "label": label}))
    return items


def read_demos(path: Path, task: str) -> list[dict]:
    """The single-answer demos of ``task`` from ``few_shot_prompts.csv`` (rows ``sample 1`` …)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (AGIEval few-shot demos)")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
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
            label = _single_label(obj["label"])
            if label is not None:
                demos.append({**obj, "label": label})
    return demos


def _question_text(item: dict, number: int | None) -> str:
    passage = item.get("passage") or ""
    options = " ".join(item["options"])
    if number is None:
        return passage + "问题：" + item["question"] + " " + "选项：" + options + "\n" + "答案：从A到D, 我们应选择"
    return (f"问题 {number}.   " + passage + " " + item["question"] + "\n" + "从以下选项中选择:    " + options
            + "\n" + "答案：从A到D, 我们应选择")


def _messages(item: dict, demos: list[dict]) -> list[dict]:
    msgs = []
    for i, d in enumerate(demos, start=1):
        msgs += [{"role": "user", "content": _question_text(d, i)}, {"role": "assistant", "content": d["label"]}]
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
                 tokenizer=None, max_tokens: int = DEFAULT_MAX_TOKENS, reserve: int = RESERVE) -> dict[str, list[dict]]:
    """{``agieval_{setting}_{task}_test``: first-token records}; ``shots`` holds zero-shot and/or few-shot."""
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
        items = read_task(path)
        for setting in shots:
            demos = read_demos(root / PROMPTS_FILE, task) if setting == "few-shot" else []
            records = []
            for line, item in items:
                kept = _fit(item, demos, tokenizer, max_tokens - reserve) if demos else []
                records.append(first_token_record(_messages(item, kept), item["label"],
                                                  f"agieval_{setting}", str(path), line))
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
