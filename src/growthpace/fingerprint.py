"""Content fingerprints of the files a study reads from outside the store.

An artifact built from a DoIT directory, a base-model directory or a benchmark directory is keyed by
what those files hold, never by where they are: each file's SHA-256, and a digest of the (label,
SHA-256) pairs of every file the artifact reads. Fix one record in place, or re-merge one weight file,
and exactly the artifacts that read it get new keys.

Hashing a 33b model (about 65 GB) takes minutes, and planning a study needs the keys, so each file is
hashed once: its hash is cached by (resolved path, size, mtime_ns, ctime_ns, inode) and re-used while
none of these changed. ``ctime`` is in the identity because a tool can write a file and then restore
its mtime (``touch -r``, ``cp --preserve``, some archive tools): the kernel sets ctime on every write
and no user call can set it back.

The cache lives in the store (``{store}/.fingerprints/``), one small JSON file per directory whose
files were hashed, so that every study, job and node sharing the store shares it. JSON files written
atomically (temporary file, then rename) under a file lock rather than SQLite: a store usually sits on
a cluster filesystem, where SQLite's locking is unreliable; here the worst a broken lock can do is
drop an entry, which is then hashed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

log = logging.getLogger(__name__)

CACHE_DIR = ".fingerprints"
# Above this many bytes to hash, show a progress bar (a cold 7b model is about 13 GB).
PROGRESS_BYTES = 1 << 30


@dataclass(frozen=True)
class Fingerprint:
    """The SHA-256 of each file an artifact reads (by label) and one digest of them all."""

    files: dict[str, str]

    @property
    def digest(self) -> str:
        blob = json.dumps(self.files, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def record(self) -> dict:
        """What a manifest records: the digest and every file's hash."""
        return {"digest": self.digest, "files": dict(sorted(self.files.items()))}


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def tree_files(root: str | Path) -> list[Path]:
    """Every regular file under ``root``, hidden files and directories (``.git``, ``.cache``) left out."""
    root = Path(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".")]
    return out


class Fingerprints:
    """File hashes, cached in ``cache_dir`` (None: no cache, every file is read each time)."""

    def __init__(self, cache_dir: str | Path | None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._dirs: dict[Path, dict] = {}  # directory -> {file name: entry}, as read from its cache file

    # ------------------------------------------------------------------------------- the cache
    def _cache_file(self, directory: Path) -> Path:
        name = hashlib.sha256(str(directory).encode()).hexdigest()[:24]
        return self.cache_dir / f"{name}.json"

    def _entries(self, directory: Path) -> dict:
        if directory not in self._dirs:
            entries = {}
            if self.cache_dir is not None:
                path = self._cache_file(directory)
                try:
                    cached = json.loads(path.read_text())
                    if cached.get("dir") == str(directory):
                        entries = cached["files"]
                except (OSError, ValueError, KeyError):
                    entries = {}  # absent or unreadable: hash again
            self._dirs[directory] = entries
        return self._dirs[directory]

    def _save(self, directory: Path, updates: dict) -> None:
        """Merge ``updates`` into the directory's cache file (others may have added entries meanwhile)."""
        self._entries(directory).update(updates)
        if self.cache_dir is None:
            return
        from .files import write_json_atomic

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        path = self._cache_file(directory)
        with FileLock(str(path) + ".lock"):
            try:
                on_disk = json.loads(path.read_text())["files"]
            except (OSError, ValueError, KeyError):
                on_disk = {}
            write_json_atomic(path, {"dir": str(directory), "files": {**on_disk, **updates}})

    def _cached(self, path: Path, st: os.stat_result) -> dict | None:
        entry = self._entries(path.parent).get(path.name)
        return entry if entry and entry.get("id") == _identity(st) else None

    # ------------------------------------------------------------------------------- hashing
    def hashes(self, paths: Iterable[str | Path]) -> dict[Path, str]:
        """{path: SHA-256} of each file (as given), hashing only those not cached or changed since."""
        resolved = {Path(p): Path(p).resolve() for p in paths}
        stats, todo = {}, []
        for real in dict.fromkeys(resolved.values()):
            try:
                st = real.stat()
            except FileNotFoundError:
                raise FileNotFoundError(f"{real}: no such file (fingerprinting the inputs of a study)") from None
            stats[real] = st
            if self._cached(real, st) is None:
                todo.append(real)
        if todo:
            self._hash(todo, stats)
        return {p: self._cached(real, stats[real])["sha256"] for p, real in resolved.items()}

    def _hash(self, todo: list[Path], stats: dict[Path, os.stat_result]) -> None:
        total = sum(stats[p].st_size for p in todo)
        log.info("fingerprinting %d file(s), %.1f MB", len(todo), total / 1e6)
        bar = None
        if total >= PROGRESS_BYTES:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="B", unit_scale=True, desc="fingerprinting inputs")

        def one(p: Path) -> tuple[Path, str]:
            digest = sha256_file(p)
            if bar is not None:
                bar.update(stats[p].st_size)
            return p, digest

        # hashlib releases the GIL while hashing: parallel reads help on cluster filesystems.
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            done = list(pool.map(one, todo))
        if bar is not None:
            bar.close()
        updates: dict[Path, dict] = {}
        for p, digest in done:
            st = p.stat()
            if _identity(st) != _identity(stats[p]):  # written while we read it: do not cache
                raise RuntimeError(f"{p}: changed while it was being fingerprinted; run again once it is complete")
            updates.setdefault(p.parent, {})[p.name] = {"id": _identity(st), "sha256": digest}
        for directory, entries in updates.items():
            self._save(directory, entries)

    def fingerprint(self, files: dict[str, str | Path]) -> Fingerprint:
        """The fingerprint of ``{label: path}`` (labels name each file independently of where it is)."""
        hashes = self.hashes(files.values())
        return Fingerprint({label: hashes[Path(p)] for label, p in files.items()})

    def record_count(self, path: str | Path, count: Callable[[Path], int]) -> int:
        """``count(path)`` (records in a data file), cached with the file's hash: planning resolves a
        recipe against pool sizes without parsing every pool again."""
        path = Path(path)
        real = path.resolve()
        self.hashes([path])
        entry = self._cached(real, real.stat())
        if "records" not in entry:
            self._save(real.parent, {real.name: {**entry, "records": int(count(path))}})
        return self._cached(real, real.stat())["records"]


def labelled(root: str | Path, files: Iterable[str | Path], prefix: str = "") -> dict[str, Path]:
    """{label: path} with each label the file's path relative to ``root`` (after ``prefix``)."""
    root = Path(root)
    return {f"{prefix}{Path(f).relative_to(root).as_posix()}": Path(f) for f in files}
