"""Checks of a study config that a JSON Schema cannot make: cross references between keys
(``check_study``) and the input paths it reads (``check_inputs``), before any job starts. Every message
starts with the offending key."""

from __future__ import annotations

from pathlib import Path

from ..data.recipes import RecipeError, parse_recipe
from .grid import (GUIDELINE_POOL, GUIDELINE_RECIPES, ConfigError, cell_recipe, guideline_cells, guideline_settings,
                   model_sizes, model_sizes_for, recipe_definition, recipe_names, sft_settings, single_ability_recipes,
                   training_cells)
from .adaptive import check_adaptive
from .resources import job_resources
from .specs import extrapolate_spec, ood_enabled


class ConfigProblems(ConfigError):
    """Every problem found in a study config, each ``key: problem and fix``, reported in one message."""

    def __init__(self, study: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"study {study!r}: {len(problems)} config problem(s); nothing was started:\n"
                         + "\n".join(f"  - {p}" for p in problems))


class MissingInputs(ConfigError):
    """Paths a study reads that do not exist; ``missing`` lists them as ``key: path (problem)``."""

    def __init__(self, study: str, missing: list[str]):
        self.missing = missing
        super().__init__(f"study {study!r}: {len(missing)} input path(s) missing; nothing was started:\n"
                         + "\n".join(f"  - {m}" for m in missing))


def _demo_pools(config: dict) -> tuple[dict[str, int], int] | None:
    """Pool sizes the generated demo suite will have (None for a study that reads a source_dir)."""
    data = config["data"]
    if data.get("source_dir"):
        return None
    demo = data.get("demo") or {}
    return {a: demo.get("n_train", 256) for a in data["abilities"]}, demo.get("n_synthetic", 1024)


def _check_adaptive(config: dict, out: list[str]) -> None:
    try:
        check_adaptive(config)
    except ConfigError as e:
        out.append(str(e))


def _check_references(config: dict, out: list[str]) -> None:
    grid, sizes = config["grid"], config["models"]["sizes"]
    used = [("grid.model_sizes", grid["model_sizes"])]
    used += [(f"grid.model_sizes_by_source.{s}", v) for s, v in (grid.get("model_sizes_by_source") or {}).items()]
    if grid.get("single_ability"):
        used.append(("grid.single_ability.model_sizes", grid["single_ability"].get("model_sizes") or []))
    for key, names in used:
        for i, ms in enumerate(names):
            if ms not in sizes:
                out.append(f"{key}[{i}]: {ms!r} is not defined under models.sizes "
                           f"(defined: {', '.join(sizes)})")
    for name, spec in sizes.items():
        if "path" not in spec and not ("arch" in spec and "pretrain" in spec):
            out.append(f"models.sizes.{name}: give either 'path' (a local HF model directory) "
                       "or both 'arch' and 'pretrain' (a tiny model pretrained here)")
        eval_gpus = (spec.get("resources") or {}).get("evaluate", {}).get("gpus", 0)
        if eval_gpus > 1:
            # The engine runs one model on one device (no tensor or data parallelism): more GPUs would be
            # claimed, held for hours, and left idle.
            out.append(f"models.sizes.{name}.resources.evaluate.gpus: {eval_gpus} GPUs, but an evaluation "
                       "runs its model on one GPU; set 1 (a model too large for one GPU is not supported "
                       "by the evaluation engine)")
    abilities = config["data"]["abilities"]
    n = len(abilities)
    for i, size in enumerate(grid["data_sizes"].get("curated", [])):
        if size % n:
            out.append(f"grid.data_sizes.curated[{i}]: {size} is not a multiple of the {n} abilities "
                       "(curated cells take data_size / n_abilities items per ability)")


def _check_training(config: dict, out: list[str]) -> None:
    after = config.get("evaluation", {}).get("select_after_epoch", 5)
    short = {}  # model sizes that train no epoch after select_after_epoch: one problem, every size named
    for ms in [m for m in model_sizes(config) if m in config["models"]["sizes"]]:  # undefined: reported above
        settings = sft_settings(config, ms)
        if settings["micro_batch_size"] > settings["batch_size"]:
            out.append(f"models.sizes.{ms}.sft: micro_batch_size {settings['micro_batch_size']} is larger "
                       f"than batch_size {settings['batch_size']}")
        else:
            _check_batch_split(config, ms, settings, out)
        if after >= settings["epochs"]:
            short[ms] = settings["epochs"]
    if short:
        out.append(f"evaluation.select_after_epoch: {after} leaves no epoch to select for model size "
                   + ", ".join(f"{ms!r}, which trains {n} epochs" for ms, n in short.items()))


def _check_analysis(config: dict, out: list[str]) -> None:
    for name in extrapolate_spec(config)["model_sizes"]:
        if name in model_sizes(config):
            out.append(f"analysis.extrapolate.model_sizes.{name}: {name!r} is a model size the grid trains; "
                       "name the sizes to predict only (e.g. 13b) differently")
    bench = (config.get("evaluation") or {}).get("benchmarks") or {}
    for i, ms in enumerate(bench.get("model_sizes") or []):
        if ms not in model_sizes(config):
            out.append(f"evaluation.benchmarks.model_sizes[{i}]: {ms!r} is not a model size of the grid")


def _check_cells(config: dict, out: list[str]) -> None:
    if not training_cells(config):
        out.append("grid: no training cells (give grid.data_sizes, grid.recipes or grid.single_ability)")


def _check_batch_split(config: dict, ms: str, settings: dict, out: list[str]) -> None:
    """The global batch must split into micro-batches over the training processes (one per GPU), or the
    worker stops after the queue wait and the model load (``train.batches.micro_batches_per_step``)."""
    train = job_resources(config, ms, "train")
    world, key = (train["gpus"], "gpus") if train["gpus"] else (train["processes"], "processes")
    micro, batch = settings["micro_batch_size"], settings["batch_size"]
    if batch % (micro * world):
        out.append(f"models.sizes.{ms}.sft.micro_batch_size: batch_size {batch} is not a multiple of "
                   f"micro_batch_size {micro} x {world} training processes "
                   f"(models.sizes.{ms}.resources.train.{key}); pick a micro-batch that divides "
                   f"batch_size / {world}")


def _check_recipes(config: dict, out: list[str]) -> None:
    grid, abilities = config["grid"], config["data"]["abilities"]
    defined = grid.get("recipe_definitions") or {}
    demo = _demo_pools(config)
    cap = config["data"].get("cap_to_pool", False)
    for i, name in enumerate(recipe_names(config)):
        key = f"grid.recipe_definitions.{name}" if name in defined else f"grid.recipes[{i}]"
        if name.startswith("only-"):
            out.append(f"grid.recipes[{i}]: {name!r}: names starting with 'only-' are the single-ability "
                       "cells (grid.single_ability)")
        try:
            recipe = parse_recipe(recipe_definition(config, name), abilities)
            if demo is not None:  # the demo suite's pool sizes are known now: check before anything runs
                recipe.resolve(demo[0], demo[1], cap=cap)
        except RecipeError as e:
            where = " (generated demo suite: data.demo.n_train per ability, data.demo.n_synthetic)" \
                if demo is not None and "pool has" in str(e) else ""
            out.append(f"{key}: {e}{where}")
    for name in defined:
        if name not in recipe_names(config):
            out.append(f"grid.recipe_definitions.{name}: defined but not listed in grid.recipes")
    single = grid.get("single_ability") or {}
    for i, a in enumerate(single.get("abilities") or []):
        if a not in abilities:
            out.append(f"grid.single_ability.abilities[{i}]: {a!r} is not one of data.abilities")
    if demo is not None:
        for i, size in enumerate(single.get("sizes") or []):
            if size > min(demo[0].values()) and not cap:
                out.append(f"grid.single_ability.sizes[{i}]: {size} items of one ability, but the demo "
                           f"suite's pools have data.demo.n_train = {min(demo[0].values())}")


def _check_untrained(config: dict, out: list[str]) -> None:
    """A size of ``analysis.guideline.untrained_model_sizes`` is predict-only (a parameter count under
    ``analysis.extrapolate.model_sizes``, which may not be a trained size), and the growth model over data
    size and parameter count that predicts it needs two model sizes and two data sizes of curated cells."""
    names = guideline_settings(config)["untrained_model_sizes"]
    predict_only = extrapolate_spec(config)["model_sizes"]
    for i, ms in enumerate(names):
        if ms in model_sizes(config):
            out.append(f"analysis.guideline.untrained_model_sizes[{i}]: {ms!r} is a model size the grid trains; "
                       "its recipe is derived from its own curves (analysis.guideline.model_sizes)")
        if ms not in predict_only:
            out.append(f"analysis.guideline.untrained_model_sizes[{i}]: {ms!r} has no parameter count; give "
                       f"it under analysis.extrapolate.model_sizes (name -> parameters; given: "
                       f"{', '.join(predict_only) or 'none'})")
    curated_sizes = model_sizes_for(config, "curated")
    curated = (config["grid"].get("data_sizes") or {}).get("curated") or []
    if names and (len(curated_sizes) < 2 or len(curated) < 2):
        out.append("analysis.guideline.untrained_model_sizes: the recipe for a model size that is not trained "
                   "is derived from the growth model over data size and parameter count, which needs curated "
                   f"cells of two or more model sizes and data sizes (the grid has model sizes "
                   f"{', '.join(curated_sizes) or 'none'} and curated data sizes {curated or 'none'})")


def _check_guideline(config: dict, out: list[str]) -> None:
    g = guideline_settings(config)
    if not g["enabled"]:
        return
    curated = (config["grid"].get("data_sizes") or {}).get("curated") or []
    if len(curated) < 2:
        out.append("analysis.guideline.enabled: the recipe is derived from how each ability grows with "
                   "curated data, which needs at least two grid.data_sizes.curated sizes "
                   f"(the grid has {curated or 'none'})")
    if g["budget"] not in curated:
        out.append(f"analysis.guideline.budget: {g['budget']} is not a curated data size of the grid "
                   f"(grid.data_sizes.curated: {curated}); the derived recipe is validated against "
                   f"the uniform curated-{g['budget']} cell, so the grid must have it")
    curated_sizes = model_sizes_for(config, "curated")
    for i, ms in enumerate(g["model_sizes"]):
        if ms not in curated_sizes:
            out.append(f"analysis.guideline.model_sizes[{i}]: {ms!r} has no curated cells to compare the "
                       f"derived recipe with (curated model sizes: {', '.join(curated_sizes)}); to derive, "
                       "not train, a recipe for a model size that is not trained, give its parameter count "
                       "under analysis.extrapolate.model_sizes and list it under "
                       "analysis.guideline.untrained_model_sizes")
    for i, name in enumerate(recipe_names(config)):
        if name in GUIDELINE_RECIPES:
            out.append(f"grid.recipes[{i}]: {name!r} names the derived recipe's cells while "
                       "analysis.guideline.enabled; give the recipe another name")
    if "optimize" in g["methods"] and g["optimize"].get("transfer"):
        if not single_ability_recipes(config) or not config["grid"].get("evaluate_base", False):
            out.append("analysis.guideline.optimize.transfer: the transfer matrix comes from single-ability "
                       "cells against the base model; give grid.single_ability and grid.evaluate_base: true")
    demo = _demo_pools(config)
    if demo is not None and sum(demo[0].values()) < g["budget"]:
        out.append(f"analysis.guideline.budget: {g['budget']} items, but the demo suite's pools hold "
                   f"{sum(demo[0].values())} (data.demo.n_train = {min(demo[0].values())} per ability)")


# Each check appends every problem it finds. Later ones read what earlier ones check (a model size named
# in the grid is defined, a recipe parses): when one of them stumbles on a problem already reported, it
# has nothing to add.
CHECKS = (_check_references, _check_recipes, _check_training, _check_untrained, _check_guideline,
          _check_adaptive, _check_analysis, _check_cells)


def study_problems(config: dict) -> list[str]:
    """Every problem of a (schema-valid) study config, each ``key: what is wrong, and the fix``."""
    out: list[str] = []
    for check in CHECKS:
        try:
            check(config, out)
        except Exception:
            if not out:
                raise
    return list(dict.fromkeys(out))


def check_study(config: dict) -> None:
    """Raise ``ConfigProblems`` listing every problem of the config at once."""
    problems = study_problems(config)
    if problems:
        raise ConfigProblems(config.get("study", "?"), problems)


# Defaults of a model loaded from ``path`` (a real model, trained on GPUs): recompute activations in the


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
        from ..evaluate.agieval import CHINESE_MC_TASKS, prompts_path

        a = bench["agieval"]
        root = Path(a["dir"])
        if _is_dir(root, f"{key}.agieval.dir", out):
            for task in a.get("tasks") or CHINESE_MC_TASKS:
                _is_file(root / f"{task}.jsonl", f"{key}.agieval.dir", out)
            if "few-shot" in a.get("settings", ["zero-shot", "few-shot"]):
                where = f"{key}.agieval.prompts" if a.get("prompts") else f"{key}.agieval.dir"
                _is_file(prompts_path(root, a.get("prompts")), where, out)
    return out


def missing_inputs(config: dict, unresolved: dict[str, str] | None = None) -> list[str]:
    """Every path outside the store that the study reads and that is missing, as ``key: path (why)``:
    the DoIT directory and the files of it that the grid uses, the base-model directories, the
    benchmark directories; and the Hub ids that could not be resolved (``unresolved``: ``{key: problem}``
    from ``hub.resolve_config``), in place of their paths. Checked before a real run starts (``onstart``
    in common.smk)."""
    skip = unresolved or {}  # reported as Hub ids, not as missing paths
    out: list[str] = list(skip.values())
    data, ev = config["data"], config.get("evaluation") or {}
    if data.get("source_dir") and "data.source_dir" not in skip:
        root = Path(data["source_dir"])
        if _is_dir(root, "data.source_dir", out):
            out += _missing_data_files(config, root)
    for ms in model_sizes(config):
        key, path = f"models.sizes.{ms}.path", config["models"]["sizes"][ms].get("path")
        if path and key not in skip and _is_dir(Path(path), key, out):
            _is_file(Path(path) / "config.json", key, out, "not a model directory")
    bench = {name: b for name, b in (ev.get("benchmarks") or {}).items()
             if f"evaluation.benchmarks.{name}.dir" not in skip}
    out += missing_benchmark_paths(bench)
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
    tiny = [ms for ms in model_sizes(config) if "path" not in config["models"]["sizes"][ms]]
    if tiny:  # a DoIT release has no pretraining corpus: the tokenizer and a tiny model need one
        _is_file(root / "pretrain" / "corpus.txt", key, out, f"no pretraining corpus: model size {tiny[0]!r} is a "
                 "tiny model pretrained here on it; give it a path to a model, or add the corpus")
    if ood_enabled(config) and not sorted((root / "curated" / "test").glob("ceval_*.json")):
        out.append(f"{key}: {root / 'curated' / 'test'}/ceval_*.json (no out-of-domain sets; or set "
            "evaluation.ood: false)")
    return out


def check_inputs(config: dict, unresolved: dict[str, str] | None = None) -> None:
    missing = missing_inputs(config, unresolved)
    if missing:
        raise MissingInputs(config["study"], missing)
