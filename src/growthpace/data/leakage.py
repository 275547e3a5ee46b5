"""Train/held-out leakage: the same record, or the same prompt, in a training pool and a valid/test set.

A record leaks when its hash (``schema.record_hash``) equals a held-out record's; a prompt leaks when
the conversation before the gold turn (``schema.prompt_hash``) equals a held-out prompt, even if the
answers differ. Each offending pair is reported with the location of both sides (``file:line``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .loaders import load_doit_ood, load_doit_split, load_synthetic, location
from .schema import prompt_hash, record_hash

log = logging.getLogger(__name__)

MODES = ("error", "report", "off")
SHOWN = 20  # pairs listed in an error message; the count covers them all


@dataclass(frozen=True)
class Leak:
    kind: str        # "record" (identical records) or "prompt" (same prompt, different record)
    train: str       # location of the training record
    held_out: str    # location of the valid/test record

    def __str__(self) -> str:
        return f"{self.train}  <->  {self.held_out}  [same {self.kind}]"


class LeakageError(ValueError):
    """Training records that also appear in held-out sets; ``leaks`` lists every offending pair."""

    def __init__(self, leaks: list[Leak]):
        self.leaks = leaks
        lines = [f"  {leak}" for leak in leaks[:SHOWN]]
        if len(leaks) > SHOWN:
            lines.append(f"  ... and {len(leaks) - SHOWN} more")
        super().__init__(f"{len(leaks)} training record(s) also appear in held-out data "
                         "(train  <->  held-out):\n" + "\n".join(lines))


def _rec_hash(r: dict) -> str:
    return r.get("_hash") or record_hash(r)


def find_leaks(train: Iterable[dict], held_out: Iterable[dict], by: str = "prompt") -> list[Leak]:
    """Every (train, held-out) pair that shares a record (``by="record"``) or a prompt (``by="prompt"``,
    which also finds identical records). Pairs come in training-pool order."""
    if by not in ("record", "prompt"):
        raise ValueError(f"leakage check 'by' must be 'record' or 'prompt', got {by!r}")
    index: dict[str, list[dict]] = defaultdict(list)
    for h in held_out:
        index[_rec_hash(h) if by == "record" else prompt_hash(h["messages"])].append(h)
    leaks = []
    for t in train:
        key = _rec_hash(t) if by == "record" else prompt_hash(t["messages"])
        for h in index.get(key, ()):
            kind = "record" if _rec_hash(t) == _rec_hash(h) else "prompt"
            leaks.append(Leak(kind, location(t), location(h)))
    return leaks


def check_leakage(train: Iterable[dict], held_out: Iterable[dict], by: str = "prompt",
                  mode: str = "error") -> list[Leak]:
    """Find leaks; ``mode="error"`` raises ``LeakageError`` listing the pairs, ``"report"`` logs a
    warning and returns them, ``"off"`` skips the check."""
    if mode not in MODES:
        raise ValueError(f"leakage mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return []
    leaks = find_leaks(train, held_out, by)
    if leaks and mode == "error":
        raise LeakageError(leaks)
    if leaks:
        log.warning("%s", LeakageError(leaks))
    return leaks


def suite_leaks(root, abilities, train_splits=("1000", "full"), held_out_splits=("valid", "test"),
                synthetic: bool = True, by: str = "prompt") -> list[Leak]:
    """Leaks between a DoIT-layout directory's training pools (and synthetic pool) and its valid/test
    sets, out-of-domain sets included. Splits or pools that the directory lacks are skipped."""
    root = Path(root)
    present = [s for s in train_splits if (root / "curated" / s).is_dir()]
    train = [r for s in present for recs in load_doit_split(root, s, abilities).values() for r in recs]
    if synthetic and (root / "synthetic" / "40960").is_dir():
        train += load_synthetic(root)
    held = [r for s in held_out_splits for recs in load_doit_split(root, s, abilities).values() for r in recs]
    if "test" in held_out_splits:
        held += [r for recs in load_doit_ood(root).values() for r in recs]
    return find_leaks(train, held, by)
