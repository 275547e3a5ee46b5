"""A study config, expanded into its grid, and the specs that key each artifact.

The JSON Schema (``workflow/schemas/config.schema.yaml``) checks types and fills defaults; this module
checks what a schema cannot (cross references between keys) and expands the grid:

- a *training cell* is (model_size, data_source, data_size, seed);
- an *evaluation cell* is (training cell, epoch): every eval set of the study, valid and test splits.

``data_size`` is the total number of training items of a cell; curated cells take
``data_size / n_abilities`` items of each ability, as in the paper (curated-10 ... curated-10000).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .train.checks import settings_for_size
from .train.sft import SFTSettings

SOURCES = ("curated", "synthetic")


class ConfigError(ValueError):
    """A config problem; the message starts with the offending key."""


@dataclass(frozen=True, order=True)
class Cell:
    model_size: str
    data_source: str
    data_size: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.data_source}-{self.data_size}-seed{self.seed}"

    def as_dict(self) -> dict:
        return canonical(asdict(self))


def check_study(config: dict) -> None:
    sizes = config["models"]["sizes"]
    for i, ms in enumerate(config["grid"]["model_sizes"]):
        if ms not in sizes:
            raise ConfigError(f"grid.model_sizes[{i}]: {ms!r} is not defined under models.sizes "
                              f"(defined: {', '.join(sizes)})")
    for name, spec in sizes.items():
        if "path" not in spec and not ("arch" in spec and "pretrain" in spec):
            raise ConfigError(f"models.sizes.{name}: give either 'path' (a local HF model directory) "
                              "or both 'arch' and 'pretrain' (a tiny model pretrained here)")
    n = len(config["data"]["abilities"])
    for i, size in enumerate(config["grid"]["data_sizes"].get("curated", [])):
        if size % n:
            raise ConfigError(f"grid.data_sizes.curated[{i}]: {size} is not a multiple of the {n} abilities "
                              "(curated cells take data_size / n_abilities items per ability)")
    for ms in config["grid"]["model_sizes"]:
        settings = sft_settings(config, ms)
        if settings["micro_batch_size"] > settings["batch_size"]:
            raise ConfigError(f"models.sizes.{ms}.sft: micro_batch_size {settings['micro_batch_size']} is larger "
                              f"than batch_size {settings['batch_size']}")
        after = config.get("evaluation", {}).get("select_after_epoch", 5)
        if after >= settings["epochs"]:
            raise ConfigError(f"evaluation.select_after_epoch: {after} leaves no epoch to select for model size "
                              f"{ms!r}, which trains {settings['epochs']} epochs")


def training_cells(config: dict) -> list[Cell]:
    grid = config["grid"]
    return sorted(
        Cell(ms, source, size, seed)
        for ms in grid["model_sizes"]
        for source, sizes in grid["data_sizes"].items()
        for size in sizes
        for seed in grid.get("seeds", [0])
    )


def sft_settings(config: dict, model_size: str) -> dict:
    """Paper defaults < study ``training`` < the model size's ``sft`` overrides."""
    defaults = {f.name: f.default for f in fields(SFTSettings)}
    merged = settings_for_size(defaults, config.get("training", {}), config["models"]["sizes"], model_size)
    return SFTSettings.from_dict(merged).__dict__


def epochs(config: dict, model_size: str) -> list[int]:
    return list(range(1, sft_settings(config, model_size)["epochs"] + 1))


# Resources of a job when a model size says nothing (a tiny model on one CPU core).
DEFAULT_RESOURCES = {"gpus": 0, "cpus": 1, "mem_mb": 4000, "runtime": 60}


def job_resources(config: dict, model_size: str, stage: str) -> dict:
    """Cluster resources of a ``train`` or ``evaluate`` job for a model size, defaults filled in."""
    given = config["models"]["sizes"][model_size].get("resources", {}).get(stage, {})
    return {**DEFAULT_RESOURCES, **given}


# ------------------------------------------------------------------------- artifact specs
def canonical(obj):
    """Dicts with sorted keys, recursively: Snakemake compares params by their printed form, so the
    key order of a config file must not make a finished job look changed."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    return obj

def suite_spec(config: dict) -> dict:
    """The data suite does not depend on the study's abilities: the demo suite always has all ten,
    so adding an ability to a study reuses the suite, the tokenizer and the base models."""
    data = config["data"]
    if data.get("source_dir"):
        return canonical({"source_dir": data["source_dir"]})
    return canonical({"demo": data.get("demo", {})})


def tokenizer_spec(config: dict) -> dict:
    return canonical({"kind": "char"})


def base_spec(config: dict, model_size: str) -> dict:
    spec = config["models"]["sizes"][model_size]
    if "path" in spec:
        return canonical({"path": spec["path"]})
    return canonical({"arch": spec["arch"], "pretrain": spec["pretrain"], "seed": 0})


def subset_spec(config: dict, source: str, data_size: int, seed: int) -> dict:
    data = config["data"]
    spec = {"source": source, "data_size": int(data_size), "seed": data.get("subset_seed", 0) + int(seed),
            "cap": data.get("cap_to_pool", False)}
    if source == "curated":  # the synthetic pool is one pool whatever the study's abilities
        spec["abilities"] = data["abilities"]
    return canonical(spec)


def sft_spec(config: dict, model_size: str, seed: int) -> dict:
    settings = sft_settings(config, model_size)
    settings["seed"] = int(seed)
    return canonical({"settings": settings})


def eval_spec(config: dict) -> dict:
    ev = config.get("evaluation", {})
    return canonical({
        "abilities": config["data"]["abilities"],
        "splits": ev.get("splits", ["valid", "test"]),
        "batch_size": ev.get("batch_size", 64),
        "dtype": ev.get("dtype", "auto"),
        "max_new_tokens": ev.get("max_new_tokens", {}),
    })
