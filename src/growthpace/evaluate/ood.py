"""Out-of-domain C-Eval-style sets (paper.md 4.2): ``curated/test/ceval_*.json`` in a DoIT-layout suite.

Each record is one 4-option single-choice question whose message history holds the few-shot demos
(DoIT: 12 messages = 5 demo question/answer pairs, the question, the gold letter). They are scored
exactly like the in-domain single-choice items (text first, then the first-token A-D logits), and
only exist in the test split. The eval set of ``ceval_physician.json`` is ``ceval_physician_test``.
"""

from __future__ import annotations

from pathlib import Path

from ..data.loaders import load_jsonl
from ..data.schema import RecordError
from . import scorers

PATTERN = "ceval_*.json"


def ood_files(root: str | Path, split: str = "test") -> list[Path]:
    folder = Path(root) / "curated" / split
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such directory (out-of-domain sets live in curated/{split}/)")
    files = sorted(folder.glob(PATTERN))
    if not files:
        raise FileNotFoundError(f"{folder}: no {PATTERN} files (out-of-domain C-Eval-style sets)")
    return files


def load_ood_sets(root: str | Path, split: str = "test") -> dict[str, list[dict]]:
    """{``ceval_<subject>_<split>``: records}; every record must be a single-choice item."""
    sets = {}
    for path in ood_files(root, split):
        records = load_jsonl(path)
        for r in records:
            if scorers.item_kind(r) != "single_choice":
                raise RecordError(f"{path}:{r['_line']}", "messages",
                                  f"out-of-domain items must be single choice (gold {r['messages'][-1]['content']!r})")
            if len(r["messages"]) % 2:
                raise RecordError(f"{path}:{r['_line']}", "messages",
                                  "expected demo user/assistant pairs, the question and its gold answer")
        sets[f"{path.stem}_{split}"] = records
    return sets
