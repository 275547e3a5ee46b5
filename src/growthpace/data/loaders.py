"""Readers for DoIT data: JSON-lines files and DoIT's directory layout.

Every record is validated (``schema.validate_record``) and gets provenance fields: ``_file`` (path),
``_line`` (1-based line) and ``_hash`` (record hash). A bad line stops the load with
``file:line: field: what is wrong``, before any training or evaluation starts.
"""

from __future__ import annotations

import json
from pathlib import Path

from .schema import ABILITIES, RecordError, record_hash, validate_record

PROVENANCE = ("_file", "_line", "_hash")


def load_jsonl(path: str | Path) -> list[dict]:
    """Read one DoIT file (one JSON object per line); blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such data file")
    records = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(where, "json", f"invalid JSON ({e.msg} at column {e.colno})") from None
            validate_record(obj, where)
            records.append({**obj, "_file": str(path), "_line": lineno, "_hash": record_hash(obj)})
    return records


def strip_provenance(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in PROVENANCE}


def doit_file(root: str | Path, split: str, ability: str) -> Path:
    """Path of one ability's file in DoIT's layout: curated/{1000,full,valid,test}/{ability}_{split}.json."""
    return Path(root) / "curated" / split / f"{ability}_{split}.json"


def load_doit_split(root: str | Path, split: str, abilities=ABILITIES) -> dict[str, list[dict]]:
    """Load one split of a DoIT-layout directory, per ability; checks each record's ``type``."""
    out = {}
    for ability in abilities:
        records = load_jsonl(doit_file(root, split, ability))
        for r in records:
            if r["type"] != ability:
                raise RecordError(f"{r['_file']}:{r['_line']}", "type",
                                  f"record of type {r['type']!r} in the {ability!r} file")
        out[ability] = records
    return out
