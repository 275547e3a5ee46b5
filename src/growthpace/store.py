"""Content-addressed artifact store.

An artifact (a generated suite, a tokenizer, a base model, an SFT run, a set of predictions) lives in
``{store_dir}/{kind}/{key}/``. Its key is the hash of a canonical JSON of everything that determines
it: its spec, the keys of its inputs and the code version of its kind. Builds happen in a temporary
directory beside the final one and are renamed into place under a file lock, so two studies that need
the same artifact at the same time build it once, and an interrupted build never looks complete.
``manifest.json`` inside each artifact records spec, inputs, sizes, timings and versions.

Snakemake's declared outputs under ``results/{study}/`` are small *receipts* (JSON naming kind, key and
path), so each study keeps its own DAG while artifacts are built once and shared.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

# Bump a kind's version when its builder changes in a way that changes results: old artifacts are
# then simply not found (new keys), never silently reused.
CODE_VERSIONS = {
    "suite": 2,
    "subset": 1,
    "tokenizer": 1,
    "base_model": 2,
    "sft": 1,
    "predictions": 2,  # 2: rows keep their scoring evidence (evaluate.run.SCORING_VERSION 3)
}

MANIFEST = "manifest.json"

log = logging.getLogger(__name__)


def canonical_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def artifact_key(kind: str, spec: dict, inputs: dict[str, str] | None = None) -> str:
    """The key of an artifact: a hash of its kind, code version, spec and input keys."""
    if kind not in CODE_VERSIONS:
        raise KeyError(f"unknown artifact kind {kind!r}; known: {', '.join(sorted(CODE_VERSIONS))}")
    payload = {"kind": kind, "version": CODE_VERSIONS[kind], "spec": spec, "inputs": inputs or {}}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Artifact:
    kind: str
    key: str
    path: Path

    def receipt(self) -> dict:
        return {"kind": self.kind, "key": self.key, "path": str(self.path)}


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def exists(self, kind: str, key: str) -> bool:
        return (self.path(kind, key) / MANIFEST).is_file()

    def build(self, kind: str, spec: dict, inputs: dict[str, str] | None,
              builder: Callable[[Path], dict | None]) -> Artifact:
        """Return the artifact for (kind, spec, inputs), building it with ``builder(tmp_dir)`` if absent.

        ``builder`` writes the artifact's files into the directory it is given and may return extra
        manifest fields. The directory becomes visible only once the builder has returned.
        """
        key = artifact_key(kind, spec, inputs)
        final = self.path(kind, key)
        if self.exists(kind, key):
            log.info("%s %s: found in store", kind, key)
            return Artifact(kind, key, final)
        final.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(final) + ".lock"):
            if self.exists(kind, key):  # built by someone else while we waited
                log.info("%s %s: found in store (built meanwhile by another run)", kind, key)
                return Artifact(kind, key, final)
            log.info("%s %s: building", kind, key)
            # Under the lock nobody else builds this key: any temporary directory of it is a leftover
            # of a killed build.
            for stale in final.parent.glob(f".tmp-{key}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            tmp = final.parent / f".tmp-{key}-{os.getpid()}"
            tmp.mkdir()
            start = time.time()
            extra = builder(tmp) or {}
            manifest = {
                "kind": kind,
                "key": key,
                "code_version": CODE_VERSIONS[kind],
                "spec": spec,
                "inputs": inputs or {},
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.time() - start, 3),
                "host": platform.node(),
                "bytes": _tree_bytes(tmp),
                **extra,
            }
            write_json_atomic(tmp / MANIFEST, manifest)
            if final.exists():  # a stale, incomplete directory (no manifest) from an interrupted build
                shutil.rmtree(final)
            os.rename(tmp, final)
        return Artifact(kind, key, final)

    def manifest(self, kind: str, key: str) -> dict:
        return json.loads((self.path(kind, key) / MANIFEST).read_text())


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_json_atomic(path: str | Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def write_parquet_atomic(df, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def read_receipt(path: str | Path) -> Artifact:
    r = json.loads(Path(path).read_text())
    return Artifact(r["kind"], r["key"], Path(r["path"]))


def write_receipt(path: str | Path, artifact: Artifact, **extra) -> None:
    write_json_atomic(path, {**artifact.receipt(), **extra})


# ------------------------------------------------------------------------------ listing and collection
def list_artifacts(store: Store) -> list[dict]:
    """One row per complete artifact: kind, key, bytes, build time, when built."""
    rows = []
    for manifest in sorted(store.root.glob(f"*/*/{MANIFEST}")):
        m = json.loads(manifest.read_text())
        rows.append({"kind": m["kind"], "key": m["key"], "bytes": m.get("bytes", 0),
                     "build_seconds": m.get("build_seconds"), "built_at": m.get("built_at"),
                     "inputs": m.get("inputs", {})})
    return rows


def referenced_keys(results_dirs: list[str | Path]) -> set[str]:
    """Keys a study references: its receipts and prediction tables, and, transitively, their inputs."""
    import pandas as pd

    keys: set[str] = set()
    for d in map(Path, results_dirs):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: no such study results directory")
        for receipt in d.glob("receipts/**/*.json"):
            keys.add(json.loads(receipt.read_text())["key"])
        for table in d.glob("predictions/**/*.parquet"):
            keys.update(pd.read_parquet(table, columns=["predictions_key"])["predictions_key"].unique())
    return keys


def collect_garbage(store: Store, keep_results: list[str | Path], dry_run: bool = False) -> list[dict]:
    """Delete every artifact (and stale temporary or work directory) no given study references.

    Returns the rows of what was (or, with ``dry_run``, would be) deleted.
    """
    artifacts = {a["key"]: a for a in list_artifacts(store)}
    keep = referenced_keys(keep_results)
    stack = list(keep)
    while stack:  # inputs of kept artifacts are kept too ("model" inputs name "{sft key}/epoch-k")
        for value in artifacts.get(stack.pop(), {}).get("inputs", {}).values():
            key = str(value).split("/")[0]
            if key not in keep:
                keep.add(key)
                stack.append(key)
    doomed = [a for k, a in artifacts.items() if k not in keep]
    stale = [p for p in store.root.glob("*/.tmp-*")] + [p for p in store.root.glob("*/*.lock")
                                                         if not p.with_suffix("").exists()]
    if not dry_run:
        for a in doomed:
            shutil.rmtree(store.path(a["kind"], a["key"]))
        for p in stale:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    return doomed
