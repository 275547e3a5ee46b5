"""Where the workflow (Snakefile, rules, scripts, schema, example configs, profiles, envs) is.

An installed wheel carries it as package data of ``growthpace.workflow`` (built from the repository's
top-level files by the package-dir mapping in pyproject.toml, so git holds one copy). In a clone (an
editable install, or ``PYTHONPATH=src``) it is the clone itself. Both have the same layout below the
root, so every relative path in the Snakefile and the rules holds in either."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "workflow"
_CLONE = Path(__file__).resolve().parents[2]


class WorkflowNotFound(RuntimeError):
    pass


def workflow_root() -> Path:
    """The directory holding ``Snakefile``: the installed package data first, else the clone."""
    for root in (_PACKAGED, _CLONE):
        if (root / "Snakefile").is_file():
            return root
    raise WorkflowNotFound(f"no Snakefile in {_PACKAGED} (installed package data) nor in {_CLONE} (a clone); "
                           "reinstall growthpace from its wheel or run from a clone of the repository")


def snakefile() -> Path:
    return workflow_root() / "Snakefile"


def schema() -> Path:
    return workflow_root() / "workflow" / "schemas" / "config.schema.yaml"


def demo_config() -> Path:
    return workflow_root() / "config" / "config.yaml"
