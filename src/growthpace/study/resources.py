"""Cluster resources of a study's jobs, per model size and stage (``models.sizes.*.resources``)."""

from __future__ import annotations

# Resources of a job when a model size says nothing (a tiny model on one CPU core).
DEFAULT_RESOURCES = {"gpus": 0, "cpus": 1, "mem_mb": 4000, "runtime": 60, "processes": 1}


def job_resources(config: dict, model_size: str, stage: str) -> dict:
    """Cluster resources of a ``train`` or ``evaluate`` job for a model size, defaults filled in."""
    given = config["models"]["sizes"][model_size].get("resources", {}).get(stage, {})
    return {**DEFAULT_RESOURCES, **given}


# Resources that double with each retry of a job, so that a job that ran out of either gets more.
GROWS_ON_RETRY = ("mem_mb", "runtime")


def on_attempt(name: str, given: int, attempt: int, ceiling: int | None = None) -> int:
    """A job's ``name`` resource on its ``attempt``-th try (1 first): doubled on each retry for the
    resources in ``GROWS_ON_RETRY``, but never past ``ceiling`` (what the largest node of the partition
    has: 13b's 640 GB must not become a 1.28 TB request no node can meet). A first request above the
    ceiling is left as asked (the cluster then says it cannot be met)."""
    if name not in GROWS_ON_RETRY or attempt <= 1:
        return given
    grown = given * 2 ** (attempt - 1)
    return grown if ceiling is None else max(given, min(grown, ceiling))
