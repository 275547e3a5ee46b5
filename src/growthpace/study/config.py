"""A study's config as the workflow sees it, read outside Snakemake (``growthpace status``, the memory
plan, tests): the same layering of config files, schema defaults and checks."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..layout import schema
from .checks import check_study



def load_config(*configfiles: str | Path) -> dict:
    """A study's config as snakemake reads ``--configfile A B``: later files update earlier ones
    (nested keys merged), then validated with the schema's defaults filled in."""
    from snakemake.utils import update_config, validate

    config: dict = {}
    for f in configfiles:
        update_config(config, yaml.safe_load(Path(f).read_text()) or {})
    validate(config, str(schema()))
    check_study(config)
    return config
