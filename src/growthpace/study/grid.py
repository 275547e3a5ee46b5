"""A study config expanded into its grid: the cells, their epochs, recipes and SFT settings.

The JSON Schema (``workflow/schemas/config.schema.yaml``) checks types and fills defaults;
``study.checks`` checks what a schema cannot; ``study.specs`` turns cells into the specs that key
artifacts; ``study.resources`` gives their jobs' resources.

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

from ..train.checks import settings_for_size
from ..train.settings import SFTSettings

SOURCES = ("curated", "synthetic")        # the plain grid's data sources (grid.data_sizes)
RECIPE, SINGLE, BASE = "recipe", "single_ability", "base"
BASE_NAME = "base"
# The {cell} wildcard: a training cell's name (never "base", which has rules of its own).
CELL_PATTERN = (r"(?:curated|synthetic)-\d+-seed\d+"
                r"|recipe-[A-Za-z0-9][A-Za-z0-9_.-]*-seed\d+"
                r"|only-[a-z_]+-\d+-seed\d+")


class ConfigError(ValueError):
    """A config problem; the message starts with the offending key (raised here by ``lookup``, and by
    ``study.checks``)."""


def canonical(obj):
    """Dicts with sorted keys, recursively: Snakemake compares params by their printed form, so the
    key order of a config file must not make a finished job look changed."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    return obj


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


def split_key(key: str) -> tuple[str, str]:
    """(model size, cell name) of a cell's key ``{model_size}/{name}`` (as the adaptive rounds record cells)."""
    model_size, _, name = key.partition("/")
    return model_size, name


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
            "min_effect": g.get("min_effect", 0.02),
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
    merged.pop("keep_epochs", None)  # what the store keeps afterwards, not how the cell trains (keep_epochs())
    return SFTSettings.from_dict(merged).__dict__


def keep_epochs(config: dict, model_size: str) -> str:
    """``training.keep_epochs`` (a model size's ``sft.keep_epochs`` first): ``all`` keeps every epoch's
    snapshot of a cell; ``selected`` deletes, once the tables selected its epoch, those of the epochs
    that neither were selected nor are benchmarked (``kept_epochs``)."""
    size = (config["models"]["sizes"].get(model_size) or {}).get("sft") or {}
    return size.get("keep_epochs", (config.get("training") or {}).get("keep_epochs", "all"))


def epochs(config: dict, model_size: str) -> list[int]:
    return list(range(1, sft_settings(config, model_size)["epochs"] + 1))
