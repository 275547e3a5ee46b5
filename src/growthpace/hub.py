"""Hugging Face Hub ids in a study config: ``models.sizes.<size>.path``, ``data.source_dir`` and the
benchmark directories (``evaluation.benchmarks.{cmmlu,agieval}.dir``) may name a Hub repository,
``org/name`` or ``org/name@revision`` (a branch, tag or commit), as lm-evaluation-harness and
transformers name models. A value that is a local path (it exists) stays a path.

Each id is resolved through huggingface_hub's cache (``snapshot_download``; with ``HF_HUB_OFFLINE=1``
the cache only, no network) to its snapshot directory, ``.../models--org--name/snapshots/<commit>``,
which replaces it in the config. So the key of everything built from it holds the resolved commit (the
path, and ``origin`` for a model) and the files' content hashes (what each build reads is fingerprinted),
and a branch that has moved gives new keys. An id that cannot be resolved is reported, naming the id and
the cache directory, before any job starts."""

from __future__ import annotations

import re
from pathlib import Path

# org/name with an optional @revision; no leading '.' or '/' (those are paths)
HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?$")
# a snapshot directory of the cache: <cache>/{models,datasets}--org--name/snapshots/<commit>
SNAPSHOT = re.compile(r"(?:^|/)(?P<type>models|datasets)--(?P<org>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<commit>[0-9a-f]{40})/?$")


def parse(value) -> tuple[str, str] | None:
    """``(repo, revision)`` when ``value`` names a Hub repository, None for a local path or anything else."""
    if not isinstance(value, str) or Path(value).exists():
        return None
    m = HUB_ID.match(value)
    return (m["repo"], m["revision"] or "main") if m else None


def hub_keys(config: dict) -> list[tuple[str, dict, str, str]]:
    """``(key, holder, field, repo_type)`` of each config value that may be a Hub id."""
    out = []
    for size, spec in (config.get("models") or {}).get("sizes", {}).items():
        if isinstance(spec, dict) and "path" in spec:
            out.append((f"models.sizes.{size}.path", spec, "path", "model"))
    data = config.get("data") or {}
    if data.get("source_dir"):
        out.append(("data.source_dir", data, "source_dir", "dataset"))
    bench = ((config.get("evaluation") or {}).get("benchmarks")) or {}
    for name in ("cmmlu", "agieval"):
        if isinstance(bench.get(name), dict) and bench[name].get("dir"):
            out.append((f"evaluation.benchmarks.{name}.dir", bench[name], "dir", "dataset"))
    return out


def cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def snapshot(repo: str, revision: str, repo_type: str) -> Path:
    """The snapshot directory of ``repo`` at ``revision``, downloaded if need be (not when offline)."""
    from huggingface_hub import constants, snapshot_download

    return Path(snapshot_download(repo, repo_type=repo_type, revision=revision,
                                  local_files_only=constants.HF_HUB_OFFLINE))


def resolve_config(config: dict) -> dict[str, str]:
    """Replace every Hub id of ``config`` by its snapshot directory; returns ``{key: problem}`` for the
    ids that could not be resolved (left as they are: a dry run still builds the DAG, and a real run
    stops before its first job with every one of them listed, ``study.check_inputs``)."""
    problems = {}
    for key, holder, field, repo_type in hub_keys(config):
        ref = parse(holder[field])
        if ref is None:
            continue
        try:
            holder[field] = str(snapshot(*ref, repo_type))
        except Exception as e:  # noqa: BLE001  not cached (offline), no such repo or revision, no network
            from huggingface_hub import constants

            how = "HF_HUB_OFFLINE=1: the cache only" if constants.HF_HUB_OFFLINE else "online"
            problems[key] = (f"{key}: {holder[field]} is not a local directory, and the Hub {repo_type} "
                             f"{ref[0]} at revision {ref[1]} is not in the cache {cache_dir()} ({how}; "
                             f"{type(e).__name__}); download it (hf download {ref[0]} "
                             f"--revision {ref[1]}{' --repo-type dataset' if repo_type == 'dataset' else ''}) "
                             "or give a local directory")
    return problems


def origin(path: str | Path) -> str | None:
    """``org/name@commit`` of a Hub cache snapshot directory, None for any other directory."""
    m = SNAPSHOT.search(Path(path).as_posix())
    return f"{m['org']}/{m['name']}@{m['commit']}" if m else None
