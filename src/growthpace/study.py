"""A study config, expanded into its grid, and the specs that key each artifact.

The JSON Schema (``workflow/schemas/config.schema.yaml``) checks types and fills defaults; this module
checks what a schema cannot (cross references between keys) and expands the grid.

A *training cell* is (model_size, data_source, data_size, seed, recipe). Its ``name`` is the single
``{cell}`` wildcard of the workflow's paths:

============================  ==================  ==============================  ===========================
grid key                      data_source         data_size                       name
============================  ==================  ==============================  ===========================
``grid.data_sizes.curated``   ``curated``         total items (N / n per ability) ``curated-40-seed0``
``grid.data_sizes.synthetic`` ``synthetic``       total items                     ``synthetic-640-seed0``
``grid.recipes``              ``recipe``          0 here; the realised total is   ``recipe-mix-2560-seed0``
                                                  filled in when the cell trains
``grid.single_ability``       ``single_ability``  items of the one ability        ``only-math-64-seed0``
============================  ==================  ==============================  ===========================

``recipe`` is the recipe's name (``only-{ability}-{n}`` for single-ability cells) and ``""`` for plain
grid cells. A *guideline cell* (``analysis.guideline``) is a recipe cell ``recipe-guideline-seed{seed}``
(the paper's rules) or ``recipe-guideline-{method}-seed{seed}`` (another method: ``optimize``) whose
recipe is derived from the grid's own measurements (``analysis/derived/recipe.yaml``); it is not a cell
of the grid (``training_cells``), since the grid's tables are what derive it (``guideline_cells``). A *base cell* (``grid.evaluate_base``) is the untuned base model of a model size, evaluated
like an epoch 0: data_source ``base``, data_size 0, name ``base``; it trains nothing. An *evaluation
cell* is (training cell, epoch) or (base cell, 0): every eval set of the study.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .data.recipes import RecipeError, parse_recipe
from .train.checks import settings_for_size
from .train.settings import LATER_DEFAULTS, SFTSettings

SOURCES = ("curated", "synthetic")        # the plain grid's data sources (grid.data_sizes)
RECIPE, SINGLE, BASE = "recipe", "single_ability", "base"
BASE_NAME = "base"
# The {cell} wildcard: a training cell's name (never "base", which has rules of its own).
CELL_PATTERN = (r"(?:curated|synthetic)-\d+-seed\d+"
                r"|recipe-[A-Za-z0-9][A-Za-z0-9_.-]*-seed\d+"
                r"|only-[a-z_]+-\d+-seed\d+")
# Evaluation defaults of growthpace.evaluate (left out of an eval spec when unchanged, so that the
# artifacts of a study that does not set them keep their keys). tests/test_study.py checks them.
EVAL_DEFAULTS = {"loglikelihood_strategy": "auto", "max_batch_tokens": None, "chunk_size": 512}
# evaluation.base_prompt (the schema fills the same defaults)
BASE_PROMPT_DEFAULTS = {"format": "plain", "shots": 3, "question": "问：", "answer": "答："}


class ConfigError(ValueError):
    """A config problem; the message starts with the offending key."""


class MissingInputs(ConfigError):
    """Paths a study reads that do not exist; ``missing`` lists them as ``key: path (problem)``."""

    def __init__(self, study: str, missing: list[str]):
        self.missing = missing
        super().__init__(f"study {study!r}: {len(missing)} input path(s) missing; nothing was started:\n"
                         + "\n".join(f"  - {m}" for m in missing))


@dataclass(frozen=True, order=True)
class Cell:
    model_size: str
    data_source: str
    data_size: int
    seed: int
    recipe: str = ""

    @property
    def name(self) -> str:
        if self.data_source == BASE:
            return BASE_NAME
        if self.data_source == RECIPE:
            return f"recipe-{self.recipe}-seed{self.seed}"
        if self.data_source == SINGLE:
            return f"{self.recipe}-seed{self.seed}"
        return f"{self.data_source}-{self.data_size}-seed{self.seed}"

    @property
    def trains(self) -> bool:
        return self.data_source != BASE

    def as_dict(self) -> dict:
        return canonical(asdict(self))


# ----------------------------------------------------------------------------------------- grid
def model_sizes_for(config: dict, source: str) -> list[str]:
    """Model sizes of one data source (``curated``, ``synthetic``, ``recipe``, ``single_ability``)."""
    grid = config["grid"]
    if source == SINGLE:
        return list((grid.get("single_ability") or {}).get("model_sizes") or grid["model_sizes"])
    return list((grid.get("model_sizes_by_source") or {}).get(source) or grid["model_sizes"])


def recipe_names(config: dict) -> list[str]:
    return list(config["grid"].get("recipes") or [])


def single_ability_recipes(config: dict) -> list[tuple[str, str, int]]:
    """(recipe name, ability, n) of every single-ability setting."""
    single = config["grid"].get("single_ability") or {}
    abilities = single.get("abilities") or config["data"]["abilities"]
    return [(f"only-{a}-{n}", a, n) for a in abilities for n in single.get("sizes") or []]


def training_cells(config: dict) -> list[Cell]:
    grid = config["grid"]
    seeds = grid.get("seeds", [0])
    cells = [Cell(ms, source, size, seed)
             for source, sizes in grid["data_sizes"].items()
             for ms in model_sizes_for(config, source)
             for size in sizes
             for seed in seeds]
    cells += [Cell(ms, RECIPE, 0, seed, name)
              for ms in model_sizes_for(config, RECIPE) if recipe_names(config)
              for name in recipe_names(config)
              for seed in seeds]
    cells += [Cell(ms, SINGLE, n, seed, name)
              for ms in model_sizes_for(config, SINGLE)
              for name, _, n in single_ability_recipes(config)
              for seed in seeds]
    return sorted(cells)


def base_cells(config: dict) -> list[Cell]:
    """The untuned base model of every model size the study uses (when ``grid.evaluate_base``)."""
    if not config["grid"].get("evaluate_base", False):
        return []
    return [Cell(ms, BASE, 0, 0) for ms in model_sizes(config)]


def model_sizes(config: dict) -> list[str]:
    """Every model size some cell uses, in the order they are first named."""
    seen = list(config["grid"]["model_sizes"])
    for source in (*SOURCES, RECIPE, SINGLE):
        seen += model_sizes_for(config, source)
    return list(dict.fromkeys(seen))


def evaluations(config: dict) -> list[tuple[Cell, int]]:
    """(cell, epoch) of every evaluation of the grid: each training cell at each epoch, each base cell at 0."""
    return ([(c, e) for c in training_cells(config) for e in epochs(config, c.model_size)]
            + [(c, 0) for c in base_cells(config)])


def cell_index(config: dict) -> dict[tuple[str, str], Cell]:
    """{(model_size, name): cell} of every training cell, guideline cells included."""
    return {(c.model_size, c.name): c for c in training_cells(config) + guideline_cells(config)}


def subset_cells(config: dict) -> dict[str, Cell]:
    """{name: a cell of that name}: a cell's training set does not depend on its model size."""
    return {c.name: c for c in training_cells(config) + guideline_cells(config)}


# ------------------------------------------------------------------------------------ guideline
GUIDELINE = "guideline"  # recipe name of the cells that train the recipe derived from the grid
GUIDELINE_METHODS = ("paper", "optimize")  # growthpace.analysis.guideline.METHODS
# The derived recipe draws from curated/full (the demo suite's curated/1000 is its whole pool), like the
# paper's reconstruct: a responsive ability may get more than the uniform split's share.
GUIDELINE_POOL = "full"


def guideline_recipe(method: str) -> str:
    """The recipe name of a guideline method's cells: the paper's rules keep ``guideline`` (the name from
    before there was a choice), another method adds its name (``guideline-optimize``)."""
    return GUIDELINE if method == "paper" else f"{GUIDELINE}-{method}"


GUIDELINE_RECIPES = tuple(guideline_recipe(m) for m in GUIDELINE_METHODS)


def guideline_settings(config: dict) -> dict:
    """``analysis.guideline`` with its defaults: budget = the largest curated size, model sizes = those
    of the curated cells (the derived recipe is compared with ``curated-{budget}`` of each), methods =
    ``method`` as a list."""
    g = (config.get("analysis") or {}).get("guideline") or {}
    curated = (config["grid"].get("data_sizes") or {}).get("curated") or []
    method = g.get("method", "paper")
    return {"enabled": bool(g.get("enabled", False)),
            "budget": g.get("budget") or (max(curated) if curated else None),
            "model_sizes": list(g.get("model_sizes") or model_sizes_for(config, "curated")),
            "weighting": g.get("weighting", "gain"),
            "methods": list(dict.fromkeys([method] if isinstance(method, str) else method)),
            "optimize": dict(g.get("optimize") or {}),
            "untrained_model_sizes": [str(m) for m in g.get("untrained_model_sizes") or []]}


def guideline_cells(config: dict) -> list[Cell]:
    """The cells that train the derived recipes (one per method, guideline model size and seed), when enabled."""
    g = guideline_settings(config)
    if not g["enabled"]:
        return []
    return sorted(Cell(ms, RECIPE, 0, seed, guideline_recipe(method)) for method in g["methods"]
                  for ms in g["model_sizes"] for seed in config["grid"].get("seeds", [0]))


def guideline_evaluations(config: dict) -> list[tuple[Cell, int]]:
    return [(c, e) for c in guideline_cells(config) for e in epochs(config, c.model_size)]


def is_guideline(cell: Cell) -> bool:
    return cell.data_source == RECIPE and cell.recipe in GUIDELINE_RECIPES


def analysis_spec(config: dict) -> dict:
    """What ``stages.analyze_study`` computes (``analysis.*``). The same spec derives the recipe from the
    grid and analyses grid + guideline cells, so both write the same allocation; with the guideline on,
    pools too small for the budget are an error (without it, the suggested recipe ignores the pools).
    With the optimiser, ``training`` gives the optimiser steps of each guideline model size (epochs,
    min_steps, batch_size: how often a cell of each size sees each item)."""
    a, g = config.get("analysis") or {}, guideline_settings(config)
    spec = {
        "study": config["study"], "abilities": config["data"]["abilities"], "model_sizes": model_sizes(config),
        "n_boot": a.get("n_boot", 1000), "seed": a.get("seed", 0), "level": a.get("level", 0.95),
        "tau_data": a.get("tau_data", 0.01), "tau_model": a.get("tau_model", 0.01),
        "budget": g["budget"], "weighting": g["weighting"], "pool": GUIDELINE_POOL,
        "guideline_model_sizes": g["model_sizes"], "methods": g["methods"],
        "recipe_name": GUIDELINE if g["enabled"] else None, "strict_pools": g["enabled"]}
    if "optimize" in g["methods"]:
        spec["optimize"] = g["optimize"]
        spec["training"] = {ms: {k: sft_settings(config, ms)[k] for k in ("epochs", "min_steps", "batch_size")}
                            for ms in g["model_sizes"]}
    return canonical(spec)


def extrapolate_spec(config: dict) -> dict:
    """``analysis.extrapolate``: model sizes to predict only (name -> parameters) and the form."""
    e = (config.get("analysis") or {}).get("extrapolate") or {}
    return canonical({"model_sizes": {str(k): float(v) for k, v in (e.get("model_sizes") or {}).items()},
                      "form": e.get("form", "auto")})


def untrained_spec(config: dict) -> dict:
    """``analysis.guideline.untrained_model_sizes``: the model sizes not trained (their parameter counts
    from ``analysis.extrapolate.model_sizes``) that the analysis derives the optimiser's recipe for, and the
    SFT settings such a size would train with (the study's ``training``: it has no ``models.sizes`` entry),
    for the support in examples seen. Only the analysis rule takes it: nothing is trained for these sizes,
    so the recipe that the guideline cells train does not depend on it."""
    g, predict_only = guideline_settings(config), extrapolate_spec(config)["model_sizes"]
    training = sft_settings(config, None)
    return canonical({"model_sizes": {m: predict_only[m] for m in g["untrained_model_sizes"] if m in predict_only},
                      "training": {k: training[k] for k in ("epochs", "min_steps", "batch_size")}})


def recipe_cell_names(config: dict) -> dict[str, str]:
    """{recipe: the name of one of its cells} for every recipe the study trains (grid and guideline):
    a recipe's per-ability counts are the same at every model size and seed."""
    cells = [c for c in training_cells(config) + guideline_cells(config) if c.data_source == RECIPE]
    return {c.recipe: c.name for c in cells}


def lookup(index: dict, key, what: str):
    try:
        return index[key]
    except KeyError:
        raise ConfigError(f"{what} {key!r} is not a cell of this study's grid") from None


# ------------------------------------------------------------------------------------- recipes
RECIPE_OPTIONS = ("synthetic", "pool", "cap")


def definition_spec(name: str, entry: dict) -> dict:
    """A ``grid.recipe_definitions`` entry (abilities -> counts, plus synthetic/pool/cap) as the mapping
    that ``data.recipes.parse_recipe`` takes."""
    d = dict(entry)
    options = {k: d.pop(k) for k in RECIPE_OPTIONS if k in d}
    return {"name": name, "counts": d, **options}


def recipe_definition(config: dict, name: str):
    """What ``data.recipes.parse_recipe`` takes for a recipe of the grid: a built-in name, or the
    user's mapping from ``grid.recipe_definitions`` (abilities -> counts, plus synthetic/pool/cap)."""
    defined = config["grid"].get("recipe_definitions") or {}
    if name in defined:
        return definition_spec(name, defined[name])
    if name.startswith("only-"):
        for recipe, ability, n in single_ability_recipes(config):
            if recipe == name:
                return {"name": name, "counts": {ability: n}, "pool": "1000"}
    return name


def cell_recipe(config: dict, cell: Cell):
    return recipe_definition(config, cell.recipe)


def equivalent_plain_cell(config: dict, cell: Cell) -> Cell | None:
    """The plain grid cell (same model size and seed) whose training set a recipe cell's equals by
    definition (curated-N, synthetic-N, baseline), when the grid has it: the recipe cell then trains
    after it and finds the fine-tuned model in the store instead of training it twice at once."""
    if cell.data_source != RECIPE or cell.recipe in (config["grid"].get("recipe_definitions") or {}):
        return None
    n = len(config["data"]["abilities"])
    m = re.fullmatch(r"(curated|synthetic)-(\d+)", cell.recipe)
    if m:
        source, size = m.group(1), int(m.group(2))
    elif cell.recipe == "baseline":
        source, size = "curated", 1000 * n
    else:
        return None
    plain = Cell(cell.model_size, source, size, cell.seed)
    return plain if plain in training_cells(config) else None


def _demo_pools(config: dict) -> tuple[dict[str, int], int] | None:
    """Pool sizes the generated demo suite will have (None for a study that reads a source_dir)."""
    data = config["data"]
    if data.get("source_dir"):
        return None
    demo = data.get("demo") or {}
    return {a: demo.get("n_train", 256) for a in data["abilities"]}, demo.get("n_synthetic", 1024)


# ---------------------------------------------------------------------------------------- checks
def check_study(config: dict) -> None:
    grid, sizes = config["grid"], config["models"]["sizes"]
    used = [("grid.model_sizes", grid["model_sizes"])]
    used += [(f"grid.model_sizes_by_source.{s}", v) for s, v in (grid.get("model_sizes_by_source") or {}).items()]
    if grid.get("single_ability"):
        used.append(("grid.single_ability.model_sizes", grid["single_ability"].get("model_sizes") or []))
    for key, names in used:
        for i, ms in enumerate(names):
            if ms not in sizes:
                raise ConfigError(f"{key}[{i}]: {ms!r} is not defined under models.sizes "
                                  f"(defined: {', '.join(sizes)})")
    for name, spec in sizes.items():
        if "path" not in spec and not ("arch" in spec and "pretrain" in spec):
            raise ConfigError(f"models.sizes.{name}: give either 'path' (a local HF model directory) "
                              "or both 'arch' and 'pretrain' (a tiny model pretrained here)")
    abilities = config["data"]["abilities"]
    n = len(abilities)
    for i, size in enumerate(grid["data_sizes"].get("curated", [])):
        if size % n:
            raise ConfigError(f"grid.data_sizes.curated[{i}]: {size} is not a multiple of the {n} abilities "
                              "(curated cells take data_size / n_abilities items per ability)")
    _check_recipes(config)
    for ms in model_sizes(config):
        settings = sft_settings(config, ms)
        if settings["micro_batch_size"] > settings["batch_size"]:
            raise ConfigError(f"models.sizes.{ms}.sft: micro_batch_size {settings['micro_batch_size']} is larger "
                              f"than batch_size {settings['batch_size']}")
        after = config.get("evaluation", {}).get("select_after_epoch", 5)
        if after >= settings["epochs"]:
            raise ConfigError(f"evaluation.select_after_epoch: {after} leaves no epoch to select for model size "
                              f"{ms!r}, which trains {settings['epochs']} epochs")
    _check_guideline(config)
    check_adaptive(config)
    for name in extrapolate_spec(config)["model_sizes"]:
        if name in model_sizes(config):
            raise ConfigError(f"analysis.extrapolate.model_sizes.{name}: {name!r} is a model size the grid trains; "
                              "name the sizes to predict only (e.g. 13b) differently")
    bench = (config.get("evaluation") or {}).get("benchmarks") or {}
    for i, ms in enumerate(bench.get("model_sizes") or []):
        if ms not in model_sizes(config):
            raise ConfigError(f"evaluation.benchmarks.model_sizes[{i}]: {ms!r} is not a model size of the grid")
    if not training_cells(config):
        raise ConfigError("grid: no training cells (give grid.data_sizes, grid.recipes or grid.single_ability)")


def _check_recipes(config: dict) -> None:
    grid, abilities = config["grid"], config["data"]["abilities"]
    defined = grid.get("recipe_definitions") or {}
    demo = _demo_pools(config)
    cap = config["data"].get("cap_to_pool", False)
    for i, name in enumerate(recipe_names(config)):
        key = f"grid.recipe_definitions.{name}" if name in defined else f"grid.recipes[{i}]"
        if name.startswith("only-"):
            raise ConfigError(f"grid.recipes[{i}]: {name!r}: names starting with 'only-' are the single-ability "
                              "cells (grid.single_ability)")
        try:
            recipe = parse_recipe(recipe_definition(config, name), abilities)
            if demo is not None:  # the demo suite's pool sizes are known now: check before anything runs
                recipe.resolve(demo[0], demo[1], cap=cap)
        except RecipeError as e:
            where = " (generated demo suite: data.demo.n_train per ability, data.demo.n_synthetic)" \
                if demo is not None and "pool has" in str(e) else ""
            raise ConfigError(f"{key}: {e}{where}") from None
    for name in defined:
        if name not in recipe_names(config):
            raise ConfigError(f"grid.recipe_definitions.{name}: defined but not listed in grid.recipes")
    single = grid.get("single_ability") or {}
    for i, a in enumerate(single.get("abilities") or []):
        if a not in abilities:
            raise ConfigError(f"grid.single_ability.abilities[{i}]: {a!r} is not one of data.abilities")
    if demo is not None:
        for i, size in enumerate(single.get("sizes") or []):
            if size > min(demo[0].values()) and not cap:
                raise ConfigError(f"grid.single_ability.sizes[{i}]: {size} items of one ability, but the demo "
                                  f"suite's pools have data.demo.n_train = {min(demo[0].values())}")


def _check_untrained(config: dict) -> None:
    """A size of ``analysis.guideline.untrained_model_sizes`` is predict-only (a parameter count under
    ``analysis.extrapolate.model_sizes``, which may not be a trained size), and the growth model over data
    size and parameter count that predicts it needs two model sizes and two data sizes of curated cells."""
    names = guideline_settings(config)["untrained_model_sizes"]
    predict_only = extrapolate_spec(config)["model_sizes"]
    for i, ms in enumerate(names):
        if ms in model_sizes(config):
            raise ConfigError(f"analysis.guideline.untrained_model_sizes[{i}]: {ms!r} is a model size the grid trains; "
                              "its recipe is derived from its own curves (analysis.guideline.model_sizes)")
        if ms not in predict_only:
            raise ConfigError(f"analysis.guideline.untrained_model_sizes[{i}]: {ms!r} has no parameter count; give "
                              f"it under analysis.extrapolate.model_sizes (name -> parameters; given: "
                              f"{', '.join(predict_only) or 'none'})")
    curated_sizes = model_sizes_for(config, "curated")
    curated = (config["grid"].get("data_sizes") or {}).get("curated") or []
    if names and (len(curated_sizes) < 2 or len(curated) < 2):
        raise ConfigError("analysis.guideline.untrained_model_sizes: the recipe for a model size that is not trained "
                          "is derived from the growth model over data size and parameter count, which needs curated "
                          f"cells of two or more model sizes and data sizes (the grid has model sizes "
                          f"{', '.join(curated_sizes) or 'none'} and curated data sizes {curated or 'none'})")


def _check_guideline(config: dict) -> None:
    _check_untrained(config)
    g = guideline_settings(config)
    if not g["enabled"]:
        return
    curated = (config["grid"].get("data_sizes") or {}).get("curated") or []
    if len(curated) < 2:
        raise ConfigError("analysis.guideline.enabled: the recipe is derived from how each ability grows with "
                          "curated data, which needs at least two grid.data_sizes.curated sizes "
                          f"(the grid has {curated or 'none'})")
    if g["budget"] not in curated:
        raise ConfigError(f"analysis.guideline.budget: {g['budget']} is not a curated data size of the grid "
                          f"(grid.data_sizes.curated: {curated}); the derived recipe is validated against "
                          f"the uniform curated-{g['budget']} cell, so the grid must have it")
    curated_sizes = model_sizes_for(config, "curated")
    for i, ms in enumerate(g["model_sizes"]):
        if ms not in curated_sizes:
            raise ConfigError(f"analysis.guideline.model_sizes[{i}]: {ms!r} has no curated cells to compare the "
                              f"derived recipe with (curated model sizes: {', '.join(curated_sizes)}); to derive, "
                              "not train, a recipe for a model size that is not trained, give its parameter count "
                              "under analysis.extrapolate.model_sizes and list it under "
                              "analysis.guideline.untrained_model_sizes")
    for i, name in enumerate(recipe_names(config)):
        if name in GUIDELINE_RECIPES:
            raise ConfigError(f"grid.recipes[{i}]: {name!r} names the derived recipe's cells while "
                              "analysis.guideline.enabled; give the recipe another name")
    if "optimize" in g["methods"] and g["optimize"].get("transfer"):
        if not single_ability_recipes(config) or not config["grid"].get("evaluate_base", False):
            raise ConfigError("analysis.guideline.optimize.transfer: the transfer matrix comes from single-ability "
                              "cells against the base model; give grid.single_ability and grid.evaluate_base: true")
    demo = _demo_pools(config)
    if demo is not None and sum(demo[0].values()) < g["budget"]:
        raise ConfigError(f"analysis.guideline.budget: {g['budget']} items, but the demo suite's pools hold "
                          f"{sum(demo[0].values())} (data.demo.n_train = {min(demo[0].values())} per ability)")


# Defaults of a model loaded from ``path`` (a real model, trained on GPUs): recompute activations in the
# backward pass, and bf16 where the GPU has it.
PATH_MODEL_DEFAULTS = {"gradient_checkpointing": True, "precision": "auto"}


def sft_settings(config: dict, model_size: str | None) -> dict:
    """Paper defaults (and ``PATH_MODEL_DEFAULTS`` for a model from ``path``) < study ``training`` < the
    model size's ``sft`` overrides (``None``: a size with no ``models.sizes`` entry, which trains with the
    study's settings)."""
    defaults = {f.name: f.default for f in fields(SFTSettings)}
    if model_size is None:
        merged = {**defaults, **config.get("training", {})}
    else:
        if "path" in (config["models"]["sizes"].get(model_size) or {}):
            defaults.update(PATH_MODEL_DEFAULTS)
        merged = settings_for_size(defaults, config.get("training", {}), config["models"]["sizes"], model_size)
    return SFTSettings.from_dict(merged).__dict__


def epochs(config: dict, model_size: str) -> list[int]:
    return list(range(1, sft_settings(config, model_size)["epochs"] + 1))


# Resources of a job when a model size says nothing (a tiny model on one CPU core).
DEFAULT_RESOURCES = {"gpus": 0, "cpus": 1, "mem_mb": 4000, "runtime": 60, "processes": 1}


def job_resources(config: dict, model_size: str, stage: str) -> dict:
    """Cluster resources of a ``train`` or ``evaluate`` job for a model size, defaults filled in."""
    given = config["models"]["sizes"][model_size].get("resources", {}).get(stage, {})
    return {**DEFAULT_RESOURCES, **given}


# --------------------------------------------------------------------------------- input paths
def _is_file(path: Path, key: str, out: list[str], what: str = "no such file") -> None:
    if not path.is_file():
        out.append(f"{key}: {path} ({what})")


def _is_dir(path: Path, key: str, out: list[str]) -> bool:
    if not path.is_dir():
        out.append(f"{key}: {path} (no such directory)")
        return False
    return True


def missing_benchmark_paths(bench: dict, key: str = "evaluation.benchmarks") -> list[str]:
    """Benchmark paths that an evaluation with ``bench`` (the ``benchmarks`` of an eval spec or of the
    config) would read and that do not exist: CMMLU's ``test/`` (and ``dev/`` for k-shot), AGIEval's
    ``{task}.jsonl`` (and ``few_shot_prompts.csv`` for few-shot)."""
    out: list[str] = []
    if "cmmlu" in bench:
        root = Path(bench["cmmlu"]["dir"])
        if _is_dir(root, f"{key}.cmmlu.dir", out):
            _is_dir(root / "test", f"{key}.cmmlu.dir", out)
            if any(k > 0 for k in bench["cmmlu"].get("shots", [0, 5])):
                _is_dir(root / "dev", f"{key}.cmmlu.dir", out)
    if "agieval" in bench:
        from .evaluate.agieval import CHINESE_MC_TASKS, prompts_path

        a = bench["agieval"]
        root = Path(a["dir"])
        if _is_dir(root, f"{key}.agieval.dir", out):
            for task in a.get("tasks") or CHINESE_MC_TASKS:
                _is_file(root / f"{task}.jsonl", f"{key}.agieval.dir", out)
            if "few-shot" in a.get("settings", ["zero-shot", "few-shot"]):
                where = f"{key}.agieval.prompts" if a.get("prompts") else f"{key}.agieval.dir"
                _is_file(prompts_path(root, a.get("prompts")), where, out)
    return out


def missing_inputs(config: dict) -> list[str]:
    """Every path outside the store that the study reads and that is missing, as ``key: path (why)``:
    the DoIT directory and the files of it that the grid uses, the base-model directories, the
    benchmark directories. Checked before a real run starts (``onstart`` in common.smk)."""
    out: list[str] = []
    data, ev = config["data"], config.get("evaluation") or {}
    if data.get("source_dir"):
        root = Path(data["source_dir"])
        if _is_dir(root, "data.source_dir", out):
            out += _missing_data_files(config, root)
    for ms in model_sizes(config):
        path = config["models"]["sizes"][ms].get("path")
        if path and _is_dir(Path(path), f"models.sizes.{ms}.path", out):
            _is_file(Path(path) / "config.json", f"models.sizes.{ms}.path", out, "not a model directory")
    out += missing_benchmark_paths(ev.get("benchmarks") or {})
    return out


def _missing_data_files(config: dict, root: Path) -> list[str]:
    out: list[str] = []
    abilities, key = config["data"]["abilities"], "data.source_dir"
    cells = training_cells(config)
    pools, synthetic = set(), False
    for c in cells:
        if c.data_source == "curated":
            pools.add("1000")
        elif c.data_source == "synthetic":
            synthetic = True
        else:
            recipe = parse_recipe(cell_recipe(config, c), abilities)
            if recipe.needs_curated:
                pools.add(recipe.pool_split)
            synthetic |= recipe.needs_synthetic
    if guideline_cells(config):
        pools.add(GUIDELINE_POOL)
    splits = set((config.get("evaluation") or {}).get("splits", ["valid", "test"]))
    for split in sorted(pools | splits):
        for a in abilities:
            _is_file(root / "curated" / split / f"{a}_{split}.json", key, out)
    if synthetic and not sorted((root / "synthetic" / "40960").glob("*.json")):
        out.append(f"{key}: {root / 'synthetic' / '40960'}/*.json (no synthetic data files)")
    if ood_enabled(config) and not sorted((root / "curated" / "test").glob("ceval_*.json")):
        out.append(f"{key}: {root / 'curated' / 'test'}/ceval_*.json (no out-of-domain sets; or set "
                   "evaluation.ood: false)")
    return out


def check_inputs(config: dict) -> None:
    missing = missing_inputs(config)
    if missing:
        raise MissingInputs(config["study"], missing)


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


def needs_tokenizer(config: dict, model_size: str) -> bool:
    """A tiny model pretrained here needs the suite's character tokenizer; a local HF model has its own."""
    return "path" not in config["models"]["sizes"][model_size]


def base_spec(config: dict, model_size: str) -> dict:
    spec = config["models"]["sizes"][model_size]
    if "path" in spec:
        return canonical({"path": spec["path"]})
    return canonical({"arch": spec["arch"], "pretrain": spec["pretrain"], "seed": 0})


def subset_spec(config: dict, cell: Cell) -> dict:
    """The training set of a cell. Plain cells: source, size, seed (and the abilities, for curated).
    Recipe and single-ability cells: the recipe (a name or a user mapping); the stage resolves it
    against the pools and keys the artifact by the resolved counts (``stages.build_recipe_subset``).
    Guideline cells: only that the recipe is the derived one; its counts are in the file that
    ``stages.build_subset`` is given, written by the study's own analysis."""
    data = config["data"]
    seed = data.get("subset_seed", 0) + int(cell.seed)
    cap = data.get("cap_to_pool", False)
    if is_guideline(cell):  # the counts are read from the derived recipe when the subset is built
        return canonical({"derived_recipe": cell.recipe, "abilities": data["abilities"], "seed": seed, "cap": cap})
    if cell.data_source in SOURCES:
        spec = {"source": cell.data_source, "data_size": int(cell.data_size), "seed": seed, "cap": cap}
        if cell.data_source == "curated":  # the synthetic pool is one pool whatever the study's abilities
            spec["abilities"] = data["abilities"]
        return canonical(spec)
    return canonical({"recipe": cell_recipe(config, cell), "abilities": data["abilities"], "seed": seed,
                      "cap": cap})


def leakage_mode(config: dict) -> str:
    """``data.leakage`` as ``data.leakage.check_leakage`` names it (warn -> report)."""
    mode = config["data"].get("leakage", "error")
    return {"warn": "report"}.get(mode, mode)


def sft_spec(config: dict, model_size: str, seed: int) -> dict:
    """The settings of a cell; those added later (``LATER_DEFAULTS``) only when they differ from their
    defaults, so that cells trained before they existed keep their keys."""
    settings = sft_settings(config, model_size)
    settings["seed"] = int(seed)
    for key, default in LATER_DEFAULTS.items():
        if settings.get(key) == default:
            del settings[key]
    return canonical({"settings": settings})


def ood_enabled(config: dict) -> bool:
    """Whether the suite's out-of-domain sets are evaluated: ``evaluation.ood``, the test split, and a
    suite that has them (a DoIT directory, or a demo suite with ``data.demo.n_ood > 0``)."""
    data, ev = config["data"], config.get("evaluation") or {}
    if not ev.get("ood", True) or "test" not in ev.get("splits", ["valid", "test"]):
        return False
    return bool(data.get("source_dir")) or (data.get("demo") or {}).get("n_ood", 40) > 0


def benchmark_spec(config: dict, cell: Cell | None, epoch: int | None) -> dict:
    """The ``benchmarks`` of one evaluation, or {} when its cell and epoch are outside
    ``evaluation.benchmarks.{model_sizes, epochs, cells}``."""
    b = (config.get("evaluation") or {}).get("benchmarks") or {}
    spec = {k: b[k] for k in ("cmmlu", "agieval") if k in b}
    if not spec:
        return {}
    if cell is not None:
        if b.get("model_sizes") and cell.model_size not in b["model_sizes"]:
            return {}
        if b.get("cells", "all") == "recipes" and cell.data_source != RECIPE:
            return {}
    if epoch is not None and b.get("epochs") is not None and epoch not in b["epochs"]:
        return {}
    if b.get("max_tokens") is not None:
        spec["max_tokens"] = b["max_tokens"]
    return spec


def scoring_spec(config: dict) -> dict:
    """The tables' scoring mode (``evaluation.scoring``) and its verdicts' version: a rule parameter, so
    that a new mode or a change of verdicts recomputes the tables from the stored predictions, and
    nothing is evaluated again (the mode is not part of ``eval_spec``)."""
    from .evaluate.scoring import VERSIONS, check_mode

    mode = check_mode((config.get("evaluation") or {}).get("scoring", "careful"))
    return {"mode": mode, "version": VERSIONS[mode]}


def eval_spec(config: dict, cell: Cell | None = None, epoch: int | None = None) -> dict:
    """What ``stages.build_predictions`` evaluates for one (cell, epoch). Options left at their
    defaults are left out, so that studies which do not set them keep their artifacts' keys."""
    ev = config.get("evaluation", {})
    spec = {
        "abilities": config["data"]["abilities"],
        "splits": ev.get("splits", ["valid", "test"]),
        "batch_size": ev.get("batch_size", 64),
        "dtype": ev.get("dtype", "auto"),
        "max_new_tokens": ev.get("max_new_tokens", {}),
    }
    for key, default in EVAL_DEFAULTS.items():
        if ev.get(key, default) != default:
            spec[key] = ev[key]
    if ood_enabled(config):
        spec["ood"] = True
    bench = benchmark_spec(config, cell, epoch)
    if bench:
        spec["benchmarks"] = bench
    prompt = {**BASE_PROMPT_DEFAULTS, **(ev.get("base_prompt") or {})}
    if cell is not None and cell.data_source == BASE and prompt["format"] == "plain":
        # an untuned base model is prompted in plain text (evaluate.prompts.PlainPrompts)
        spec["plain_prompt"] = {"shots": prompt["shots"], "question": prompt["question"], "answer": prompt["answer"],
                                "seed": config["data"].get("subset_seed", 0)}
    return canonical(spec)


# ---------------------------------------------------------------------------------------- adaptive
def adaptive_settings(config: dict) -> dict | None:
    """``grid.adaptive`` with its defaults (``analysis.adaptive.SETTINGS``), or None when it is off."""
    from .analysis.adaptive import SETTINGS

    a = config["grid"].get("adaptive") or {}
    if not a.get("enabled", False):
        return None
    return canonical({**SETTINGS, **{k: v for k, v in a.items() if k != "enabled"}})


def adaptive_candidates(config: dict) -> list[Cell]:
    """The cells an adaptive study chooses from: the plain grid's (curated and synthetic)."""
    return [c for c in training_cells(config) if c.data_source in SOURCES]


def check_adaptive(config: dict) -> None:
    """An adaptive study trains plain grid cells only (recipes and single-ability cells are not cells it
    could skip), and its seed design needs two curated sizes."""
    settings = adaptive_settings(config)
    if settings is None:
        return
    grid = config["grid"]
    if recipe_names(config) or (grid.get("single_ability") or {}).get("sizes"):
        raise ConfigError("grid.adaptive: an adaptive study chooses among the plain grid's cells; "
                          "grid.recipes and grid.single_ability must be empty")
    if len((grid["data_sizes"].get("curated") or [])) < 2:
        raise ConfigError("grid.adaptive: needs at least two curated data sizes (grid.data_sizes.curated)")
    against = (grid.get("adaptive") or {}).get("validate_against")
    if against:
        missing = [f"{against}/tables/{t}.parquet" for t in ("scores", "predictions")
                   if not (Path(against) / "tables" / f"{t}.parquet").is_file()]
        if missing:
            raise ConfigError(f"grid.adaptive.validate_against: no such file {', '.join(missing)}")
