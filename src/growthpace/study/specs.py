"""The specs that key each artifact of a study: what a suite, tokenizer, base model, subset, SFT run,
evaluation or analysis is, as a canonical dict (``grid.canonical``). Equal specs are the same artifact
(``store.artifact_key``); options left at their defaults are left out, so that artifacts built before an
option existed keep their keys."""

from __future__ import annotations

from ..devices import CPU, Device, evaluation_dtype, planned_device, training_precision
from ..train.settings import LATER_DEFAULTS
from .grid import (BASE, GUIDELINE, GUIDELINE_POOL, RECIPE, SOURCES, Cell, canonical, cell_recipe, epochs,
                   guideline_cells, guideline_settings, is_guideline, keep_epochs, model_sizes, sft_settings,
                   training_cells)

# Evaluation defaults of growthpace.evaluate (left out of an eval spec when unchanged, so that the
# artifacts of a study that does not set them keep their keys). tests/test_study.py checks them.
EVAL_DEFAULTS = {"loglikelihood_strategy": "auto", "max_batch_tokens": None, "chunk_size": 512}
# evaluation.base_prompt (the schema fills the same defaults)
BASE_PROMPT_DEFAULTS = {"format": "plain", "shots": 3, "question": "问：", "answer": "答："}
# Bump when the benchmark loaders (evaluate.cmmlu, evaluate.agieval) build other prompts for the same
# files: their predictions are keyed by it. 2: AGIEval demos numbered as the authors number them, and
# trimmed on the prompt the model gets (plain text for a base model).
BENCHMARK_PROMPT_VERSION = 2


def analysis_spec(config: dict) -> dict:
    """What ``artifacts.analyze_study`` computes (``analysis.*``). The same spec derives the recipe from the
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
        "recipe_name": GUIDELINE if g["enabled"] else None, "strict_pools": g["enabled"],
        "decide_on": a.get("decide_on", "valid"), "min_effect": g["min_effect"]}
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
    against the pools and keys the artifact by the resolved counts (``artifacts.build_recipe_subset``).
    Guideline cells: only that the recipe is the derived one; its counts are in the file that
    ``artifacts.build_subset`` is given, written by the study's own analysis."""
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
    defaults, so that cells trained before they existed keep their keys. The precision is the one that
    will run (``auto`` resolved for the device of the size's train jobs), and a cell trained on GPUs
    says so (``device``; CPU cells, all that existed before, keep their keys)."""
    device = planned_device(config, model_size, "train")
    settings = sft_settings(config, model_size)
    settings["seed"] = int(seed)
    settings["precision"] = training_precision(settings["precision"], device)
    for key, default in LATER_DEFAULTS.items():
        if settings.get(key) == default:
            del settings[key]
    spec = {"settings": settings}
    if device.kind != CPU:
        spec["device"] = device.kind
    return canonical(spec)


def ood_enabled(config: dict) -> bool:
    """Whether the suite's out-of-domain sets are evaluated: ``evaluation.ood``, the test split, and a
    suite that has them (a DoIT directory, or a demo suite with ``data.demo.n_ood > 0``)."""
    data, ev = config["data"], config.get("evaluation") or {}
    if not ev.get("ood", True) or "test" not in ev.get("splits", ["valid", "test"]):
        return False
    return bool(data.get("source_dir")) or (data.get("demo") or {}).get("n_ood", 40) > 0


def benchmark_spec(config: dict, cell: Cell | None, epoch: int | None) -> dict:
    """The ``benchmarks`` of one evaluation, or {} when its cell and epoch are outside
    ``evaluation.benchmarks.{model_sizes, epochs, cells}``. With ``epochs: selected`` no per-epoch
    evaluation has them (``epoch`` given): ``selected_benchmark_spec`` evaluates them once per cell."""
    b = (config.get("evaluation") or {}).get("benchmarks") or {}
    spec = {k: b[k] for k in ("cmmlu", "agieval") if k in b}
    if not spec:
        return {}
    if cell is not None:
        if b.get("model_sizes") and cell.model_size not in b["model_sizes"]:
            return {}
        if b.get("cells", "all") == "recipes" and cell.data_source != RECIPE:
            return {}
    if epoch is not None and b.get("epochs") is not None:
        # selected: a training cell's epoch is known only after selection; a base model's one epoch is it
        if b["epochs"] == SELECTED:
            if cell is None or cell.data_source != BASE:
                return {}
        elif epoch not in b["epochs"]:
            return {}
    if b.get("max_tokens") is not None:
        spec["max_tokens"] = b["max_tokens"]
    spec["prompt_version"] = BENCHMARK_PROMPT_VERSION
    return spec


SELECTED = "selected"  # evaluation.benchmarks.epochs: each cell's selected epoch


def selected_benchmark_spec(config: dict, cell: Cell) -> dict:
    """With ``evaluation.benchmarks.epochs: selected``, what ``artifacts.evaluate_benchmarks`` evaluates at
    ``cell``'s selected epoch: its benchmarks only (no eval set of the suite); {} when the study benchmarks
    fixed epochs, or not this cell (``model_sizes``, ``cells``), or ``cell`` is a base model (one epoch, 0,
    evaluated with its benchmarks as usual)."""
    b = (config.get("evaluation") or {}).get("benchmarks") or {}
    if b.get("epochs") != SELECTED or cell.data_source == BASE:
        return {}
    spec = eval_spec(config, cell, None)
    if "benchmarks" not in spec:
        return {}
    spec.update(abilities=[], splits=[])
    spec.pop("ood", None)
    return spec


def scoring_spec(config: dict) -> dict:
    """The tables' scoring mode (``evaluation.scoring``) and its verdicts' version: a rule parameter, so
    that a new mode or a change of verdicts recomputes the tables from the stored predictions, and
    nothing is evaluated again (the mode is not part of ``eval_spec``)."""
    from ..evaluate.scoring import VERSIONS, check_mode

    mode = check_mode((config.get("evaluation") or {}).get("scoring", "careful"))
    return {"mode": mode, "version": VERSIONS[mode]}


def eval_spec(config: dict, cell: Cell | None = None, epoch: int | None = None) -> dict:
    """What ``artifacts.build_predictions`` evaluates for one (cell, epoch). Options left at their
    defaults are left out, so that studies which do not set them keep their artifacts' keys."""
    ev = config.get("evaluation", {})
    # The dtype that will run on the device of the cell's evaluate jobs (a CPU one without a cell).
    device = planned_device(config, cell.model_size, "evaluate") if cell is not None else Device(CPU)
    spec = {
        "abilities": config["data"]["abilities"],
        "splits": ev.get("splits", ["valid", "test"]),
        "batch_size": ev.get("batch_size", 64),
        "dtype": evaluation_dtype(ev.get("dtype", "auto"), device),
        "max_new_tokens": ev.get("max_new_tokens", {}),
    }
    if device.kind != CPU:
        spec["device"] = device.kind
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


def kept_epochs(config: dict, cell: Cell, selected: int | None) -> list[int]:
    """The epochs whose snapshots a cell keeps under ``keep_epochs: selected``: the selected one and
    those the study's benchmarks evaluate (a later scoring or benchmark change evaluates them again)."""
    keep = {e for e in epochs(config, cell.model_size) if benchmark_spec(config, cell, e)}
    return sorted(keep | ({selected} if selected is not None else set()))


def keep_plan(config: dict) -> dict:
    """``{model_size: {cell name: [benchmarked epochs]}}`` of the cells whose model size has keep_epochs:
    selected (the rule keep_epochs adds each cell's selected epoch)."""
    return {ms: {c.name: kept_epochs(config, c, None) for c in training_cells(config) + guideline_cells(config)
                 if c.model_size == ms}
            for ms in model_sizes(config) if keep_epochs(config, ms) == "selected"}
