"""Cluster resources of a study's jobs, per model size and stage (``models.sizes.*.resources``)."""

from __future__ import annotations

# Resources of a job when a model size says nothing (a tiny model on one CPU core).
DEFAULT_RESOURCES = {"gpus": 0, "cpus": 1, "mem_mb": 4000, "runtime": 60, "processes": 1}


def job_resources(config: dict, model_size: str, stage: str) -> dict:
    """Cluster resources of a ``train`` or ``evaluate`` job for a model size, defaults filled in."""
    given = config["models"]["sizes"][model_size].get("resources", {}).get(stage, {})
    return {**DEFAULT_RESOURCES, **given}
