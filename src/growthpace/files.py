"""Files written whole or not at all, and the bytes a tree holds: one implementation for the package.

A reader (another process, a resumed run) sees either the previous file or the complete new one, never
a half-written one: everything is written to a temporary name in the same directory, then renamed.
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temporary_name(path: Path, suffix: str = "") -> Path:
    """A name next to ``path`` for this process's temporary copy (``suffix`` keeps a needed extension)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path, tmp: str | Path | None = None) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces the directory ``path`` (whatever stood
    there is removed first: a stale leftover, or an older copy that the new one supersedes)."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else temporary_name(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def write_parquet_atomic(df, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def tree_bytes(path: str | Path) -> int:
    """Bytes of the files below ``path`` (0 when it does not exist)."""
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0
