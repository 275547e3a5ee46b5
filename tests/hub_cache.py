"""A Hugging Face Hub cache written on disk, as ``snapshot_download`` leaves it (no network):
``{models,datasets}--org--name/`` with ``blobs/<sha256>``, ``snapshots/<commit>/<file>`` (relative
symlinks into blobs) and ``refs/<branch>`` holding the commit."""

import hashlib
import os
import shutil
from pathlib import Path


def write_repo(cache: Path, repo_type: str, repo_id: str, source: Path, branch: str = "main",
               extra: dict[str, str] | None = None) -> str:
    """Put every file under ``source`` (and ``extra``: {relative path: text}) into ``cache`` as one commit
    of ``repo_id`` that ``branch`` points to; returns the commit (a hash of the contents, 40 hex digits)."""
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in sorted(source.rglob("*")) if p.is_file()}
    files.update({k: v.encode() for k, v in (extra or {}).items()})
    commit = hashlib.sha1(b"".join(k.encode() + hashlib.sha256(v).digest() for k, v in sorted(files.items())))
    commit = commit.hexdigest()
    repo = cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    shutil.rmtree(snapshot, ignore_errors=True)
    for rel, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / branch).write_text(commit)
    return commit
