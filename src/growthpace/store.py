"""Content-addressed artifact store.

An artifact (a generated suite, a tokenizer, a base model, an SFT run, a set of predictions) lives in
``{store_dir}/{kind}/{key}/``. Its key is the hash of a canonical JSON of everything that determines
it: its spec, the keys of its inputs, the content fingerprint of the files it reads from outside the
store (``growthpace.fingerprint``) and the code version of its kind. Builds happen in a temporary
directory beside the final one and are renamed into place under a file lock, so two studies that need
the same artifact at the same time build it once, and an interrupted build never looks complete.
``manifest.json`` inside each artifact records spec, inputs, fingerprints, sizes, timings and versions.

Snakemake's declared outputs under ``results/{study}/`` are small *receipts* (JSON naming kind, key and
path), so each study keeps its own DAG while artifacts are built once and shared.

Waiting for another build. A build of the same key by another run holds the key's lock. A process
waits for it, except in a job a cluster executor submitted (``gpus.submitted_job``; inside an
``salloc`` where snakemake itself runs, the allocation is held whatever the job does): there it waits at most
``LOCK_GRACE_SECONDS`` (enough for the cheap kinds) and then stops with ``BuildInProgress``, because a
training job would otherwise hold its GPUs for hours doing nothing. The workflow plans such jobs as
local ones where it can (``growthpace.reuse``): a job whose artifact exists, or is being built when
the study is planned, runs where snakemake runs and waits there, holding no allocation.

What ``store gc`` leaves alone besides what the kept studies use. A build in progress holds its key's
build lock. A build reading artifacts (training its subset and base model, evaluation its checkpoint
and the suite) holds a shared lock on each (``Store.reading``): ``gc`` deletes an artifact only under
an exclusive lock on it. A running study holds what its plan computed (``hold_plan``: a file under
``{store}/.studies/`` written when it starts and removed when it ends), so an artifact it planned to
reuse but has not read yet stays; a hold whose process is gone (same host, dead pid) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from .files import atomic_dir, tree_bytes, write_json_atomic

# Bump a kind's version when its builder changes in a way that changes results: old artifacts are
# then simply not found (new keys), never silently reused, and the workflow re-runs the jobs of that
# kind (each rule has its kind's version among its params).
CODE_VERSIONS = {
    "suite": 2,
    "subset": 1,
    "tokenizer": 1,
    "base_model": 2,
    "sft": 1,
    # 2: rows keep their scoring evidence (evaluate.run.SCORING_VERSION 3); 3: and the prompt tokens cut
    # to fit the window (prompt_tokens_cut, SCORING_VERSION 4)
    "predictions": 3,
}

MANIFEST = "manifest.json"
# Inside a cluster allocation, how long a build waits for another run's build of the same key before
# giving up (a subset or a tokenizer takes seconds; an SFT run takes hours).
LOCK_GRACE_SECONDS = 60
# Rules whose name starts with this resolve their artifact from the store and never build it
# (workflow/rules/reuse.smk).
REUSE_PREFIX = "reuse_"

log = logging.getLogger(__name__)


class BuildInProgress(RuntimeError):
    """Another run holds the build lock of the artifact, and this process does not wait for it."""


class NotInStore(LookupError):
    """A job planned to reuse an artifact finds none."""


def in_allocation() -> bool:
    """Whether this process is a job a cluster executor submitted (waiting there holds the job's resources
    for nothing); not merely a process under SLURM_JOB_ID, as every job snakemake runs in an salloc is."""
    from .gpus import submitted_job

    return submitted_job()


def reuse_only(rule: str) -> bool:
    """Whether a workflow rule only resolves its artifact from the store (``reuse_*`` rules)."""
    return rule.startswith(REUSE_PREFIX)


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

    def lock(self, kind: str, key: str) -> FileLock:
        """The lock a build of (kind, key) holds; ``store gc`` takes it too."""
        return FileLock(str(self.path(kind, key)) + ".lock")

    def readers_file(self, kind: str, key: str) -> Path:
        """What builds reading (kind, key) hold a shared lock on (``reading``), and ``store gc`` an
        exclusive one on while it deletes the artifact."""
        return Path(str(self.path(kind, key)) + ".readers")

    @contextmanager
    def reading(self, *artifacts: Artifact | None) -> Iterator[None]:
        """Hold shared locks on ``artifacts`` (None, or a directory outside this store: skipped) for the
        duration of a build that reads them, so that ``store gc`` leaves them alone. The kernel drops the
        locks when the process ends, however it ends. Raises ``NotInStore`` if one was deleted before its
        lock was taken."""
        import fcntl

        fds = []
        try:
            for a in artifacts:
                if a is None:
                    continue
                if not self.exists(a.kind, a.key) and not Path(a.path).resolve().is_relative_to(self.root):
                    continue  # a directory outside this store (a model given by its path): no gc deletes it
                path = self.readers_file(a.kind, a.key)
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
                fds.append(fd)
                fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a gc deletes it
                if not self.exists(a.kind, a.key):
                    raise NotInStore(f"{a.kind} {a.key}: deleted from the store ({self.path(a.kind, a.key)}) before "
                                     "this build could read it. Run snakemake again: it is then built again.")
            yield
        finally:
            for fd in fds:
                os.close(fd)  # releases its lock

    def state(self, kind: str, key: str) -> str | None:
        """``done`` (complete), ``building`` (another process holds its build lock now), or None."""
        if self.exists(kind, key):
            return "done"
        if Path(str(self.path(kind, key)) + ".lock").exists() and is_held(self.lock(kind, key)):
            return "building"
        return None

    def fingerprints(self):
        """The store's cache of input-file hashes (``growthpace.fingerprint``)."""
        from .fingerprint import CACHE_DIR, Fingerprints

        return Fingerprints(self.root / CACHE_DIR)

    def build(self, kind: str, spec: dict, inputs: dict[str, str] | None,
              builder: Callable[[Path], dict | None] | None, *, extra: dict | None = None,
              reuse_only: bool = False, wait: bool | None = None) -> Artifact:
        """Return the artifact for (kind, spec, inputs), building it with ``builder(tmp_dir)`` if absent.

        ``builder`` writes the artifact's files into the directory it is given and may return extra
        manifest fields (``extra`` adds more, e.g. the fingerprint of its input files). The directory
        becomes visible only once the builder has returned. With ``reuse_only`` an absent artifact is an
        error (``NotInStore``), never built. ``wait``: whether to wait for another run's build of the
        same key; by default yes, except in a submitted cluster job (see the module's docstring).
        """
        key = artifact_key(kind, spec, inputs)
        final = self.path(kind, key)
        if self.exists(kind, key):
            log.info("%s %s: found in store", kind, key)
            return Artifact(kind, key, final)
        final.parent.mkdir(parents=True, exist_ok=True)
        if wait is None:
            wait = reuse_only or not in_allocation()
        lock = self.lock(kind, key)
        try:
            lock.acquire(timeout=-1 if wait else LOCK_GRACE_SECONDS)
        except Timeout:
            raise BuildInProgress(
                f"{kind} {key} is being built by another run (it holds {final}.lock). This job was submitted to "
                f"the cluster (SLURM job {os.environ.get('SLURM_JOB_ID')}) and does not keep its allocation waiting "
                "for that build. Run the study again once the other build is done: the job then finds the "
                "artifact in the store and runs where snakemake runs, without a cluster job.") from None
        try:
            if self.exists(kind, key):  # built by someone else while we waited
                log.info("%s %s: found in store (built meanwhile by another run)", kind, key)
                return Artifact(kind, key, final)
            if reuse_only or builder is None:
                raise NotInStore(
                    f"{kind} {key}: this job was planned to reuse it from the store, but {final} is not there "
                    "(deleted since, or another run's build of it failed). Run snakemake again: the job is "
                    "then planned to build it.")
            log.info("%s %s: building", kind, key)
            # Under the lock nobody else builds this key: any temporary directory of it is a leftover
            # of a killed build.
            for stale in final.parent.glob(f".tmp-{key}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            # A stale, incomplete directory at ``final`` (no manifest, from an interrupted build) is
            # replaced by the new one.
            with atomic_dir(final, final.parent / f".tmp-{key}-{os.getpid()}") as tmp:
                start = time.time()
                built = builder(tmp) or {}
                manifest = {
                    "kind": kind,
                    "key": key,
                    "code_version": CODE_VERSIONS[kind],
                    "spec": spec,
                    "inputs": inputs or {},
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "build_seconds": round(time.time() - start, 3),
                    "host": platform.node(),
                    "bytes": tree_bytes(tmp),
                    **(extra or {}),
                    **built,
                }
                write_json_atomic(tmp / MANIFEST, manifest)
        finally:
            lock.release()
        return Artifact(kind, key, final)

    def manifest(self, kind: str, key: str) -> dict:
        return json.loads((self.path(kind, key) / MANIFEST).read_text())


def is_held(lock: FileLock) -> bool:
    """Whether another process holds ``lock`` now (probed by taking it, without waiting)."""
    try:
        with lock.acquire(timeout=0):
            return False
    except Timeout:
        return True


def read_receipt(path: str | Path) -> Artifact:
    r = json.loads(Path(path).read_text())
    return Artifact(r["kind"], r["key"], Path(r["path"]))


def write_receipt(path: str | Path, artifact: Artifact, **extra) -> None:
    write_json_atomic(path, {**artifact.receipt(), **extra})


# ------------------------------------------------------------------------------ running studies' holds
STUDIES_DIR = ".studies"


def hold_plan(store: Store, study: str, keys: set[str] | list[str]) -> Path:
    """Record that this process's study will read ``keys`` (what its plan computed): ``store gc``
    leaves them, and their inputs, alone until ``release_plan`` or this process ends."""
    path = store.root / STUDIES_DIR / f"{study}-{socket.gethostname()}-{os.getpid()}.json"
    write_json_atomic(path, {"study": study, "host": socket.gethostname(), "pid": os.getpid(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "keys": sorted(keys)})
    return path


def release_plan(path: str | Path) -> None:
    Path(path).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def plan_holds(store: Store) -> list[dict]:
    """The holds of studies running now. A hold of this host whose process is gone (killed before it
    could remove it) is stale and left out; one of another host cannot be checked and counts."""
    holds = []
    for path in sorted((store.root / STUDIES_DIR).glob("*.json")):
        try:
            hold = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # removed or being written meanwhile
            continue
        if hold.get("host") == socket.gethostname() and not _alive(int(hold["pid"])):
            log.info("%s: stale hold (process %s is gone), ignored", path, hold["pid"])
            continue
        holds.append({**hold, "path": path})
    return holds


# ------------------------------------------------------------------------------ listing and collection
def list_artifacts(store: Store) -> list[dict]:
    """One row per complete artifact: kind, key, bytes, build time, when built."""
    rows = []
    for manifest in sorted(store.root.glob(f"*/*/{MANIFEST}")):
        if manifest.parent.name.startswith("."):  # a killed build's temporary directory, not an artifact
            continue
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


# What a finished artifact leaves beside it, and when it is no longer needed:
#   {kind}/.tmp-{key}-{pid}/        a build's directory before its rename: left only by a killed build
#   {kind}/.work-.tmp-{key}-{pid}/  scratch of one build process (pretraining): left only by a killed build
#   {kind}/.gc-{name}-{pid}/        what a killed `store gc` had renamed to delete
#   sft/.work-{key}/                resume state of an SFT run (trainer checkpoints with optimizer states,
#                                   epoch snapshots): needed until the artifact is complete
#   predictions/.rows/{model}-{settings}/  chunks of predictions, written as an evaluation goes: needed
#                                   while some of its rows are in no complete predictions artifact
_KEY = r"[0-9a-f]{20}"
_WORK = re.compile(rf"^\.work-({_KEY})$")
_TMP = re.compile(rf"^(?:\.work-)?\.tmp-({_KEY})-\d+$")
_GC = re.compile(r"^\.gc-.+-\d+$")


def collect_garbage(store: Store, keep_results: list[str | Path], dry_run: bool = False,
                    unfinished: bool = False) -> list[dict]:
    """Free what no given study uses and no unfinished build needs; return a row per item.

    Freed: every complete artifact no given study references (directly or as an input of one it
    references); the resume state of builds whose artifact is complete; temporary directories of killed
    builds; prediction chunk rows that are all in complete predictions artifacts. The resume state of an
    unfinished build (an interrupted SFT run, an evaluation's chunks) is kept, since a re-run resumes
    from it, unless ``unfinished`` (the build will not be resumed: its study was changed or dropped).

    Each item is deleted holding the build lock of its key, as a build holds it, so nothing being
    built is touched: an item whose lock another process holds is returned with ``busy`` and left
    alone. So is an artifact that a build is reading (``Store.reading``; ``busy`` says ``being read``),
    and what a running study's plan holds (``hold_plan``; never listed). An item is first renamed out of
    place, so a reader sees it whole or not at all. Rows: ``what`` (artifact, temporary, resume state,
    prediction rows), ``kind``, ``key``, ``path``, ``bytes``, ``busy`` (False, ``being built`` or
    ``being read``). With ``dry_run`` nothing is deleted.
    """
    artifacts = {a["key"]: a for a in list_artifacts(store)}
    keep = referenced_keys(keep_results)
    for hold in plan_holds(store):
        keep.update(hold["keys"])
    stack = list(keep)
    while stack:  # inputs of kept artifacts are kept too ("model" inputs name "{sft key}/epoch-k")
        for value in artifacts.get(stack.pop(), {}).get("inputs", {}).values():
            key = str(value).split("/")[0]
            if key not in keep:
                keep.add(key)
                stack.append(key)
    items = [{"what": "artifact", "kind": a["kind"], "key": k, "path": store.path(a["kind"], k)}
             for k, a in artifacts.items() if k not in keep]
    for kind_dir in sorted(p for p in store.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for p in sorted(kind_dir.glob(".*")):
            if not p.is_dir():
                continue
            if m := _TMP.match(p.name):
                items.append({"what": "temporary", "kind": kind_dir.name, "key": m.group(1), "path": p})
            elif _GC.match(p.name):
                items.append({"what": "temporary", "kind": kind_dir.name, "key": None, "path": p})
            elif (m := _WORK.match(p.name)) and (unfinished or store.exists(kind_dir.name, m.group(1))):
                items.append({"what": "resume state", "kind": kind_dir.name, "key": m.group(1), "path": p})
    items += _prediction_rows(store, unfinished)
    for item in items:
        item["bytes"] = tree_bytes(item["path"]) if item["path"].is_dir() else 0
        lock = _lock_of(store, item)
        item["busy"] = "being built" if lock is not None and Path(lock.lock_file).exists() and is_held(lock) else False
        if not item["busy"] and item["what"] == "artifact" and _being_read(store, item):
            item["busy"] = "being read"
        if dry_run or item["busy"]:
            continue
        if lock is None:  # a leftover of a killed gc: nobody builds it
            _delete(item["path"])
            continue
        try:
            lock.acquire(timeout=0)
        except Timeout:  # taken since the probe
            item["busy"] = "being built"
            continue
        try:
            if item["what"] == "artifact":
                readers = _exclusive(store.readers_file(item["kind"], item["key"]))
                if readers is None:  # a build started reading it since the probe
                    item["busy"] = "being read"
                    continue
                try:
                    _delete(item["path"])
                    store.readers_file(item["kind"], item["key"]).unlink(missing_ok=True)  # see Store.reading
                finally:
                    os.close(readers)
            else:
                _delete(item["path"])
            if item["what"] in ("artifact", "prediction rows"):  # its lock guards nothing any more
                Path(lock.lock_file).unlink(missing_ok=True)  # safe while held: filelock re-checks the inode
        finally:
            lock.release()
    return items


def _exclusive(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on ``path``, or None if a reader holds it."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _being_read(store: Store, item: dict) -> bool:
    path = store.readers_file(item["kind"], item["key"])
    if not path.exists():
        return False
    fd = _exclusive(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def _lock_of(store: Store, item: dict) -> FileLock | None:
    if item["what"] == "prediction rows":
        return FileLock(str(item["path"]) + ".lock")  # evaluate.predictions.PredictionLog.lock
    return store.lock(item["kind"], item["key"]) if item["key"] else None


def _delete(path: Path) -> None:
    """Rename out of place, then delete: a reader sees the directory whole or not at all."""
    if not path.exists():
        return
    doomed = path.with_name(f".gc-{path.name}-{os.getpid()}")
    os.rename(path, doomed)
    shutil.rmtree(doomed)


def _prediction_rows(store: Store, unfinished: bool) -> list[dict]:
    """Prediction chunk logs whose every row is in a complete predictions artifact that used the log
    (with ``unfinished``: every chunk log)."""
    import pandas as pd

    rows_root = store.root / "predictions" / ".rows"
    if not rows_root.is_dir():
        return []
    covered: dict[str, set] = {}
    for manifest in store.root.glob(f"predictions/*/{MANIFEST}"):
        m = json.loads(manifest.read_text())
        if m.get("rows_log"):
            table = pd.read_parquet(manifest.parent / "predictions.parquet", columns=["eval_set", "item_hash"])
            covered.setdefault(Path(m["rows_log"]).name, set()).update(zip(table["eval_set"], table["item_hash"]))
    out = []
    for log_dir in sorted(p for p in rows_root.iterdir() if p.is_dir()):
        done = covered.get(log_dir.name, set())
        rows = set()
        for part in log_dir.glob("part-*.parquet"):
            df = pd.read_parquet(part, columns=["eval_set", "item_hash"])
            rows.update(zip(df["eval_set"], df["item_hash"]))
        if unfinished or rows <= done:
            out.append({"what": "prediction rows", "kind": "predictions", "key": log_dir.name, "path": log_dir})
    return out
