"""A study's config as the workflow sees it: the schema (types, defaults) and the study checks, every
problem of a config reported at once (``check_config``, called by the workflow and by ``load_config``,
which reads config files outside Snakemake: ``growthpace status``, the memory plan, tests)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .. import hub
from ..layout import schema
from .checks import ConfigProblems, study_problems

# What to do about each kind of schema error (the jsonschema keyword that failed).
SCHEMA_FIXES = {
    "required": "add the key",
    "additionalProperties": "remove the key or correct its spelling; config/README.md lists every key",
    "type": "give a value of the type shown",
    "enum": "use one of the values shown",
    "minimum": "give a larger value",
    "exclusiveMinimum": "give a larger value",
    "maximum": "give a smaller value",
    "minItems": "give more items",
    "pattern": "use a name of letters, digits, '_' and '.'",
    "uniqueItems": "remove the repeated item",
}


def _key(path) -> str:
    key = ""
    for p in path:
        key += f"[{p}]" if isinstance(p, int) else (f".{p}" if key else str(p))
    return key or "(top level)"


def schema_problems(config: dict, schema_path: str | Path | None = None) -> list[str]:
    """Every schema violation of ``config``, as ``key: problem (fix)``; the schema's defaults are
    filled into ``config`` as Snakemake's ``validate`` fills them."""
    from jsonschema import Draft202012Validator, validators

    with open(schema_path or schema(), encoding="utf-8") as f:
        sch = yaml.safe_load(f)
    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        for name, prop in properties.items():
            if "default" in prop and isinstance(instance, dict):
                instance.setdefault(name, prop["default"])
        yield from check_properties(validator, properties, instance, subschema)

    validator = validators.extend(Draft202012Validator, {"properties": set_defaults})(sch)
    out = []
    for e in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        # a oneOf/anyOf failure is reported by its most specific branch
        err = min(e.context, key=lambda c: -len(c.absolute_path)) if e.context else e
        fix = SCHEMA_FIXES.get(err.validator, "see config/README.md")
        if err.validator == "additionalProperties":  # named by the unknown key itself
            for name in sorted(set(err.instance) - set(err.schema.get("properties", {}))):
                out.append(f"{_key([*err.absolute_path, name])}: not a key of a study config ({fix})")
            continue
        out.append(f"{_key(err.absolute_path)}: {err.message} ({fix})")
    return list(dict.fromkeys(out))


def check_config(config: dict, schema_path: str | Path | None = None) -> None:
    """Validate ``config`` in place (schema defaults filled in) and raise ``ConfigProblems`` with every
    problem the schema and the study checks find. The study checks read a config the schema accepted:
    next to schema problems they add what they can, and what trips on the schema's problems is left out."""
    problems = schema_problems(config, schema_path)
    try:
        problems += study_problems(config)
    except Exception:
        if not problems:
            raise
    if problems:
        raise ConfigProblems(config.get("study", "?") if isinstance(config, dict) else "?", problems)


def load_config(*configfiles: str | Path) -> dict:
    """A study's config as snakemake reads ``--configfile A B``: later files update earlier ones
    (nested keys merged), then validated with the schema's defaults filled in."""
    from snakemake.utils import update_config

    config: dict = {}
    for f in configfiles:
        update_config(config, yaml.safe_load(Path(f).read_text()) or {})
    check_config(config)
    hub.resolve_config(config)  # an id not resolved stays as given (a real run reports it)
    return config
