"""A pairwise matrix of study configs: every pair of values of the switches a user combines.

``SWITCHES`` names each switch of a study and its values; ``study_config`` turns one combination into
a tiny study config (one model size, one epoch, a few items per ability); ``pairwise`` draws a set of
combinations that holds every pair of values of the given switches at least once (all-pairs coverage,
generated with allpairspy); ``uncovered_pairs`` checks that a set does. A combination that the study
checks refuse is no study: ``INVALID`` lists each such pair and the message that refuses it, and the
generator leaves those pairs out.
"""
from __future__ import annotations

from itertools import combinations, product
from pathlib import Path

from allpairspy import AllPairs

from growthpace.data.schema import ABILITIES

FIXTURES = Path(__file__).resolve().parent / "fixtures"

SWITCHES = {
    "data": ["generated", "doit"],            # the generated demo suite, or a DoIT-layout directory
    "model": ["tiny", "path"],                # a tiny model pretrained here, or a LLaMA checkpoint from a path
    "processes": [1, 2],                      # training processes of a cell
    "engine": ["zero2", "zero3", "trainer"],  # DeepSpeed ZeRO-2 or ZeRO-3, or the plain HF Trainer
    "recipes": [False, True],                 # recipe cells (grid.recipes)
    "single_ability": [False, True],          # single-ability cells
    "guideline": ["off", "paper", "optimize"],  # the derived recipe, by either method
    "extrapolate": [False, True],             # predictions for an untrained model size
    "adaptive": [False, True],                # cells chosen round by round
    "evaluate_base": [False, True],           # the untuned base model as epoch 0
    "benchmarks": ["none", "cmmlu", "agieval"],
    "ood": [False, True],                     # the out-of-domain sets
    "scoring": ["careful", "authors"],
}

# Switches that change only how stored predictions are read, not which jobs run.
READ_ONLY = {"scoring"}
RUN_SWITCHES = [s for s in SWITCHES if s not in READ_ONLY]

# Pairs no study can hold, each with the words of the check that refuses it at planning.
INVALID = {
    (("adaptive", True), ("recipes", True)): "grid.adaptive",
    (("adaptive", True), ("single_ability", True)): "grid.adaptive",
}


def invalid_pairs(combo: dict) -> list[tuple]:
    items = sorted(combo.items())
    return [p for p in combinations(items, 2) if p in INVALID or p[::-1] in INVALID]


def pairwise(switches: list[str] | None = None) -> list[dict]:
    """Combinations of ``switches`` (default: all) holding every valid pair of their values."""
    # the switches with most values first: allpairspy then needs fewer combinations (12 rather than 15)
    names = sorted(switches or SWITCHES, key=lambda n: -len(SWITCHES[n]))

    def allowed(row):
        return not invalid_pairs(dict(zip(names, row)))

    rows = AllPairs([SWITCHES[n] for n in names], filter_func=allowed)
    defaults = {n: values[0] for n, values in SWITCHES.items()}
    combos = [{**defaults, **dict(zip(names, row))} for row in rows]
    # allpairspy's filter can leave pairs out: more combinations, each holding as many as fit
    missing = uncovered_pairs(combos, names)
    while missing:
        fixed: dict = {}
        for pair in missing:
            trial = {**fixed, **dict(pair)}
            if all(fixed.get(k, v) == v for k, v in pair) and not invalid_pairs({**defaults, **trial}):
                fixed = trial
        combos.append({**defaults, **fixed})
        missing = uncovered_pairs(combos, names)
    return combos


def uncovered_pairs(combos: list[dict], switches: list[str]) -> list[tuple]:
    """Every valid pair of values of ``switches`` that no combination holds."""
    seen = {p for c in combos for p in combinations(sorted((s, c[s]) for s in switches), 2)}
    wanted = []
    for a, b in combinations(sorted(switches), 2):
        for pair in product([(a, v) for v in SWITCHES[a]], [(b, v) for v in SWITCHES[b]]):
            if pair not in INVALID and pair[::-1] not in INVALID:
                wanted.append(pair)
    return [p for p in wanted if p not in seen]


def name_of(combo: dict) -> str:
    return "-".join(str(combo[s]).lower() for s in SWITCHES)


def study_config(combo: dict, workdir: Path, llama_dir: Path | None = None) -> dict:
    """A tiny study with the switches of ``combo``; ``llama_dir``: the LLaMA checkpoint of ``model: path``."""
    size = "p" if combo["model"] == "path" else "xs"
    if combo["model"] == "path":
        model = {"path": str(llama_dir)}
    else:
        model = {"arch": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                          "num_key_value_heads": 1, "intermediate_size": 64},
                 "pretrain": {"steps": 20, "batch_size": 8, "seq_len": 64, "lr": 0.005}}
    model["sft"] = {"lr": 0.003, "end_lr": 0.0003}
    if combo["processes"] > 1:
        model["resources"] = {"train": {"processes": combo["processes"], "cpus": combo["processes"]}}
    # 6 abilities keep the guideline's choices meaningful and the jobs short
    abilities = ["biology", "history", "code", "reasoning", "math", "ethics"]
    assert set(abilities) <= set(ABILITIES)
    training = {"epochs": 1, "batch_size": 4, "micro_batch_size": 2, "min_steps": 2, "max_len": 160}
    training.update({"zero2": {"engine": "deepspeed", "zero_stage": 2},
                     "zero3": {"engine": "deepspeed", "zero_stage": 3},
                     "trainer": {"engine": "trainer"}}[combo["engine"]])
    config = {
        "study": name_of(combo)[:60],
        "store_dir": str(workdir / "store"),
        "data": {"abilities": abilities, "cap_to_pool": True},
        "grid": {"model_sizes": [size], "data_sizes": {"curated": [6, 12]},
                 "evaluate_base": combo["evaluate_base"]},
        "models": {"sizes": {size: model}},
        "training": training,
        "evaluation": {"batch_size": 32, "select_after_epoch": 0, "max_new_tokens": {"math": 16},
                       "ood": combo["ood"], "scoring": combo["scoring"]},
        "analysis": {"n_boot": 20},
    }
    if combo["data"] == "doit":
        config["data"]["source_dir"] = str(FIXTURES / "doit")
    else:
        config["data"]["source_dir"] = None
        config["data"]["demo"] = {"seed": 0, "n_train": 4, "n_valid": 3, "n_test": 4, "n_synthetic": 24,
                                  "n_ood": 2, "corpus_passes": 2}
    if combo["recipes"]:
        config["grid"]["recipes"] = ["mix"]
        config["grid"]["recipe_definitions"] = {"mix": {"math": 2, "code": 1, "biology": 1}}
    if combo["single_ability"]:
        config["grid"]["single_ability"] = {"sizes": [2], "abilities": ["math"]}
    if combo["guideline"] != "off":
        config["analysis"]["guideline"] = {"enabled": True, "budget": 12, "method": combo["guideline"]}
    if combo["extrapolate"]:
        config["analysis"]["extrapolate"] = {"model_sizes": {"big": 1.0e8}}
    if combo["adaptive"]:
        config["grid"]["adaptive"] = {"enabled": True, "batch": 1, "max_rounds": 2, "n_boot": 10, "n_draws": 5}
    if combo["benchmarks"] == "cmmlu":
        config["evaluation"]["benchmarks"] = {"cmmlu": {"dir": str(FIXTURES / "cmmlu"), "shots": [0]}}
    elif combo["benchmarks"] == "agieval":
        config["evaluation"]["benchmarks"] = {"agieval": {"dir": str(FIXTURES / "agieval" / "data" / "v1"),
                                                          "settings": ["zero-shot"], "tasks": ["logiqa-zh"]}}
    return config


def expected_cells(combo: dict) -> set[tuple[str, int, str]]:
    """(data_source, data_size, recipe) of every cell the study's config asks for, counted by hand."""
    cells = {("curated", 6, ""), ("curated", 12, "")}
    if combo["recipes"]:
        cells.add(("recipe", 4, "mix"))  # math 2 + code 1 + biology 1
    if combo["single_ability"]:
        cells.add(("single_ability", 2, "only-math-2"))
    if combo["guideline"] == "paper":
        cells.add(("recipe", 12, "guideline"))
    elif combo["guideline"] == "optimize":
        cells.add(("recipe", 12, "guideline-optimize"))
    if combo["evaluate_base"]:
        cells.add(("base", 0, ""))
    return cells
