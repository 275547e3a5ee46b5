"""Study configs: the grid expansion and the checks a schema cannot express."""

import copy
import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from growthpace import study

from .conftest import ROOT

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def load(path: Path) -> dict:
    cfg = yaml.safe_load(path.read_text())
    validate(cfg, SCHEMA)
    return cfg


@pytest.mark.parametrize("path", [ROOT / "config" / "config.yaml", ROOT / ".test" / "config.yaml",
                                  ROOT / ".test" / "recipes.yaml", ROOT / ".test" / "guideline.yaml"])
def test_shipped_configs_are_valid(path):
    cfg = load(path)
    study.check_study(cfg)
    assert study.training_cells(cfg)


def test_grid_expansion():
    cfg = load(ROOT / "config" / "config.yaml")
    cells = study.training_cells(cfg)
    grid = cfg["grid"]
    sizes_of = {src: grid.get("model_sizes_by_source", {}).get(src, grid["model_sizes"]) for src in grid["data_sizes"]}
    n = sum(len(sizes_of[src]) * len(v) for src, v in grid["data_sizes"].items()) * len(grid["seeds"])
    assert len(cells) == n == len(set(cells))
    assert {c.data_source for c in cells} == set(grid["data_sizes"])
    for src, sizes in sizes_of.items():
        assert {c.model_size for c in cells if c.data_source == src} == set(sizes)


def test_settings_precedence():
    cfg = load(ROOT / "config" / "config.yaml")
    s = study.sft_settings(cfg, "xs")
    assert s["lr"] == cfg["models"]["sizes"]["xs"]["sft"]["lr"]          # per size
    assert s["epochs"] == cfg["training"]["epochs"]                        # study
    assert s["max_grad_norm"] == 1.0                                      # paper default


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["grid"].update(model_sizes=["xs", "xl"]), "grid.model_sizes[1]: 'xl' is not defined"),
    (lambda c: c["grid"]["data_sizes"].update(curated=[10, 15]), "grid.data_sizes.curated[1]: 15 is not a multiple"),
    (lambda c: c["models"]["sizes"]["xs"].pop("arch"), "models.sizes.xs: give either 'path'"),
    (lambda c: c["evaluation"].update(select_after_epoch=9), "evaluation.select_after_epoch: 9 leaves no epoch"),
    (lambda c: c["training"].update(micro_batch_size=64), "micro_batch_size 64 is larger than batch_size"),
    # Found when the study is planned, not by the worker after its queue wait and model load.
    (lambda c: c["models"]["sizes"]["xs"].update(resources={"train": {"gpus": 3}}),
     "models.sizes.xs.sft.micro_batch_size: batch_size 8 is not a multiple of micro_batch_size 8 x 3 training "
     "processes .models.sizes.xs.resources.train.gpus"),
    (lambda c: c["models"]["sizes"]["xs"].update(resources={"train": {"processes": 3}}),
     "x 3 training processes .models.sizes.xs.resources.train.processes"),
    (lambda c: c["models"]["sizes"]["xs"].setdefault("resources", {}).update(evaluate={"gpus": 2}),
     "models.sizes.xs.resources.evaluate.gpus: 2 GPUs, but an evaluation runs its model on one GPU"),
])
def test_cross_key_errors_name_the_key(edit, message):
    cfg = copy.deepcopy(load(ROOT / "config" / "config.yaml"))
    edit(cfg)
    with pytest.raises(study.ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        study.check_study(cfg)


def test_schema_rejects_unknown_keys_and_types():
    cfg = load(ROOT / "config" / "config.yaml")
    bad = copy.deepcopy(cfg)
    bad["training"]["learning_rate"] = 1e-5
    with pytest.raises(Exception, match="learning_rate"):
        validate(bad, SCHEMA)
    bad = copy.deepcopy(cfg)
    bad["data"]["abilities"] = ["biology", "astrology"]
    with pytest.raises(Exception, match="astrology"):
        validate(bad, SCHEMA)


# ------------------------------------------------------------------ recipes, single-ability and base cells
DOIT_PAPER = ROOT / "config" / "studies" / "doit-paper.yaml"


def test_recipe_single_ability_and_base_cells():
    cfg = load(ROOT / ".test" / "config.yaml")
    cfg["grid"].update(recipes=["curated-20", "mine"], recipe_definitions={"mine": {"math": 2, "synthetic": 3}},
                       single_ability={"sizes": [1, 2], "abilities": ["math", "code"]}, evaluate_base=True,
                       model_sizes_by_source={"recipe": ["xs"]})
    study.check_study(cfg)
    cells = study.training_cells(cfg)
    names = {(c.model_size, c.name) for c in cells}
    assert ("xs", "recipe-curated-20-seed0") in names and ("xs", "recipe-mine-seed0") in names
    assert ("s", "recipe-mine-seed0") not in names                      # recipes on xs only
    assert ("s", "only-math-2-seed0") in names and ("xs", "only-code-1-seed0") in names
    # 2 sizes x (2 curated + 1 synthetic) + 2 recipes on xs + 2 sizes x 2 abilities x 2 sizes
    assert len(cells) == 6 + 2 + 8 == len(set(cells))
    only = next(c for c in cells if c.name == "only-math-2-seed0")
    assert (only.data_source, only.data_size, only.recipe) == ("single_ability", 2, "only-math-2")
    assert study.recipe_definition(cfg, "only-math-2") == {"name": "only-math-2", "counts": {"math": 2}, "pool": "1000"}
    assert study.recipe_definition(cfg, "mine") == {"name": "mine", "counts": {"math": 2}, "synthetic": 3}
    assert [c.name for c in study.base_cells(cfg)] == ["base", "base"]
    evals = study.evaluations(cfg)
    assert len(evals) == len(cells) * 2 + 2 and (study.Cell("xs", "base", 0, 0), 0) in evals
    # every training cell's name matches the {cell} wildcard; "base" never does
    import re
    assert all(re.fullmatch(study.CELL_PATTERN, c.name) for c in cells)
    assert not re.fullmatch(study.CELL_PATTERN, "base")
    # plain cells keep their names (and so every finished study its files)
    assert ("xs", "curated-10-seed0") in names and ("s", "synthetic-20-seed0") in names


def test_recipe_subset_specs_and_twins():
    cfg = load(ROOT / ".test" / "config.yaml")
    cfg["grid"].update(recipes=["curated-10", "baseline", "reconstruct"])
    cfg["data"]["cap_to_pool"] = True
    index = study.cell_index(cfg)
    plain = index[("xs", "curated-10-seed0")]
    recipe = index[("xs", "recipe-curated-10-seed0")]
    assert study.subset_spec(cfg, plain) == {"abilities": cfg["data"]["abilities"], "cap": True, "data_size": 10,
                                             "seed": 0, "source": "curated"}
    assert study.subset_spec(cfg, recipe)["recipe"] == "curated-10"
    assert study.equivalent_plain_cell(cfg, recipe) == plain
    assert study.equivalent_plain_cell(cfg, index[("xs", "recipe-baseline-seed0")]) is None  # no curated-10000 cell
    assert study.equivalent_plain_cell(cfg, index[("xs", "recipe-reconstruct-seed0")]) is None


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["grid"].update(recipes=["everything"]), "grid.recipes[0]: recipe 'everything': unknown recipe"),
    (lambda c: c["grid"].update(recipes=["baseline"]),
     "grid.recipes[0]: recipe 'baseline': biology: asked for 1000 items but the curated/1000 pool has 4"),
    (lambda c: c["grid"].update(recipes=["only-math-2"]), "grid.recipes[0]: 'only-math-2': names starting with"),
    (lambda c: c["grid"].update(recipes=["mine"], recipe_definitions={"mine": {"math": 9}}),
     "grid.recipe_definitions.mine: recipe 'mine': math: asked for 9 items but the curated/full pool has 4"),
    (lambda c: c["grid"].update(recipe_definitions={"mine": {"math": 1}}),
     "grid.recipe_definitions.mine: defined but not listed in grid.recipes"),
    (lambda c: c["grid"].update(recipes=["mine"], recipe_definitions={"mine": {"math": 1}}) or
     c["data"].update(abilities=["code"]) or c["grid"].update(data_sizes={}),
     "grid.recipe_definitions.mine: recipe 'mine': counts.math: not an ability of this study"),
    (lambda c: c["grid"].update(single_ability={"sizes": [9]}), "grid.single_ability.sizes[0]: 9 items"),
    (lambda c: c["grid"].update(single_ability={"sizes": [1], "abilities": ["astrology"]}),
     "grid.single_ability.abilities[0]: 'astrology' is not one of data.abilities"),
    (lambda c: c["grid"].update(model_sizes_by_source={"synthetic": ["xl"]}),
     "grid.model_sizes_by_source.synthetic[0]: 'xl' is not defined"),
    (lambda c: c["evaluation"].update(benchmarks={"cmmlu": {"dir": "x"}, "model_sizes": ["m"]}),
     "evaluation.benchmarks.model_sizes[0]: 'm' is not a model size of the grid"),
    (lambda c: c["grid"].update(data_sizes={}), "grid: no training cells"),
])
def test_grid_errors_name_the_key(edit, message):
    cfg = copy.deepcopy(load(ROOT / ".test" / "config.yaml"))
    edit(cfg)
    with pytest.raises(study.ConfigError, match=re.escape(message)):
        study.check_study(cfg)


def test_schema_defaults_for_new_keys():
    cfg = load(ROOT / ".test" / "config.yaml")
    assert cfg["data"]["leakage"] == "error"
    assert cfg["grid"]["recipes"] == [] and cfg["grid"]["evaluate_base"] is False
    ev = cfg["evaluation"]
    assert (ev["ood"], ev["scoring"], ev["loglikelihood_strategy"], ev["max_batch_tokens"]) == \
        (True, "careful", "auto", None)
    bad = copy.deepcopy(cfg)
    bad["evaluation"]["batch_size"] = "big"
    with pytest.raises(Exception, match="big"):
        validate(bad, SCHEMA)
    bad = copy.deepcopy(cfg)
    bad["data"]["leakage"] = "maybe"
    with pytest.raises(Exception, match="maybe"):
        validate(bad, SCHEMA)


def test_eval_defaults_match_the_evaluation_code():
    from growthpace.evaluate.agieval import CHINESE_MC_TASKS
    from growthpace.evaluate.run import DEFAULT_CHUNK_SIZE

    assert study.EVAL_DEFAULTS["chunk_size"] == DEFAULT_CHUNK_SIZE
    schema = yaml.safe_load(Path(SCHEMA).read_text())["properties"]["evaluation"]["properties"]
    for key, default in study.EVAL_DEFAULTS.items():
        assert schema[key]["default"] == default, key
    assert tuple(schema["benchmarks"]["properties"]["agieval"]["properties"]["tasks"]["default"]) == CHINESE_MC_TASKS


def test_eval_spec_options_ood_and_benchmark_scope():
    smoke = load(ROOT / ".test" / "config.yaml")  # n_ood: 0
    base = study.eval_spec(smoke)
    # a study that sets none of the new options keeps the spec (and so its predictions' keys)
    assert set(base) == {"abilities", "splits", "batch_size", "dtype", "max_new_tokens"}
    demo = load(ROOT / "config" / "config.yaml")  # n_ood: 40
    assert study.eval_spec(demo)["ood"] is True
    demo["evaluation"].update(ood=False)
    assert "ood" not in study.eval_spec(demo)
    demo["evaluation"].update(ood=True, splits=["valid"])
    assert "ood" not in study.eval_spec(demo)  # out-of-domain sets exist only with the test split

    smoke["evaluation"].update(scoring="authors")  # grades stored rows: the predictions keep their keys
    assert study.eval_spec(smoke) == base
    smoke["evaluation"].update(batch_size="auto", chunk_size=64, max_batch_tokens=4096,
                               loglikelihood_strategy="flat")
    spec = study.eval_spec(smoke)
    assert {k: spec[k] for k in ("batch_size", "chunk_size", "max_batch_tokens", "loglikelihood_strategy")} == \
        {"batch_size": "auto", "chunk_size": 64, "max_batch_tokens": 4096, "loglikelihood_strategy": "flat"}

    paper = load(DOIT_PAPER)
    paper["evaluation"]["benchmarks"]["epochs"] = [5, 10, 15]  # fixed epochs, as the paper (the study: selected)
    index = study.cell_index(paper)
    maximum, curated = index[("7b", "recipe-maximum-seed0")], index[("7b", "curated-10000-seed0")]
    bench = study.eval_spec(paper, maximum, 10)["benchmarks"]
    assert set(bench) == {"cmmlu", "agieval", "max_tokens", "prompt_version"} and bench["cmmlu"]["shots"] == [0, 5]
    assert "benchmarks" not in study.eval_spec(paper, maximum, 11)          # epochs 5, 10, 15 only
    assert "benchmarks" not in study.eval_spec(paper, curated, 10)          # recipe cells only
    assert "benchmarks" not in study.eval_spec(paper, study.Cell("7b", "base", 0, 0), 0)
    assert study.eval_spec(paper, curated, 10)["ood"] is True


# ------------------------------------------------------------------------------------- doit-paper
def test_doit_paper_grid():
    cfg = load(DOIT_PAPER)
    study.check_study(cfg)
    cells = study.training_cells(cfg)
    by_source = {}
    for c in cells:
        by_source.setdefault(c.data_source, set()).add(c.model_size)
    assert by_source == {"curated": {"7b", "13b", "33b"}, "synthetic": {"7b", "13b"}, "recipe": {"7b"}}
    assert len(cells) == 6 * 3 + 7 * 2 + 5
    assert {study.sft_settings(cfg, ms)["zero_stage"] for ms in ("7b", "13b")} == {2}
    assert study.sft_settings(cfg, "33b")["zero_stage"] == 3
    assert study.job_resources(cfg, "7b", "train")["gpus"] == 8
    # baseline is curated-10000 on 7b: it trains after that cell and reuses its model
    baseline = study.cell_index(cfg)[("7b", "recipe-baseline-seed0")]
    assert study.equivalent_plain_cell(cfg, baseline) == study.Cell("7b", "curated", 10000, 0)


def test_missing_inputs_lists_every_path(tmp_path):
    import shutil

    cfg = load(DOIT_PAPER)
    missing = study.missing_inputs(cfg)
    assert missing == [
        "data.source_dir: /data/DoIT (no such directory)",
        "models.sizes.7b.path: /models/chinese-llama-plus-7b (no such directory)",
        "models.sizes.13b.path: /models/chinese-llama-plus-13b (no such directory)",
        "models.sizes.33b.path: /models/chinese-llama-plus-33b (no such directory)",
        "evaluation.benchmarks.cmmlu.dir: /data/cmmlu (no such directory)",
        "evaluation.benchmarks.agieval.dir: /data/AGIEval/data/v1 (no such directory)",
    ]
    with pytest.raises(study.MissingInputs, match="6 input path"):
        study.check_inputs(cfg)
    # the fixture trees in the real layouts: only what is really missing is listed
    doit = tmp_path / "doit"
    shutil.copytree(ROOT / "tests" / "fixtures" / "doit", doit)
    (doit / "curated" / "full" / "math_full.json").unlink()
    model = tmp_path / "m7"
    model.mkdir()
    cfg["data"]["source_dir"] = str(doit)
    for ms in ("7b", "13b", "33b"):
        cfg["models"]["sizes"][ms]["path"] = str(model)
    cfg["evaluation"]["benchmarks"]["cmmlu"]["dir"] = str(ROOT / "tests" / "fixtures" / "cmmlu")
    cfg["evaluation"]["benchmarks"]["agieval"]["dir"] = str(ROOT / "tests" / "fixtures" / "agieval" / "data" / "v1")
    missing = study.missing_inputs(cfg)
    assert missing[0] == f"data.source_dir: {doit}/curated/full/math_full.json (no such file)"
    assert f"models.sizes.7b.path: {model}/config.json (not a model directory)" in missing
    # the AGIEval fixture has 2 of the 10 tasks
    agieval = [m for m in missing if m.startswith("evaluation.benchmarks.agieval.dir")]
    assert len(agieval) == 8 and "gaokao-physics.jsonl" in agieval[-1]
    assert not [m for m in missing if "cmmlu" in m]
    assert len(missing) == 1 + 3 + 8
    # a tiny model size is pretrained here, on the suite's corpus, which a DoIT release does not have
    (doit / "pretrain" / "corpus.txt").unlink()
    assert study.missing_inputs(cfg) == missing
    cfg["models"]["sizes"]["13b"] = {"arch": {"hidden_size": 32}, "pretrain": {"steps": 1}}
    corpus = [m for m in study.missing_inputs(cfg) if "corpus" in m]
    assert corpus == [f"data.source_dir: {doit}/pretrain/corpus.txt (no pretraining corpus: model size '13b' is a "
                      "tiny model pretrained here on it; give it a path to a model, or add the corpus)"]


def test_settings_of_models_from_a_path_and_keys_of_tiny_ones():
    """Models from a path train with gradient checkpointing and precision auto unless a study says
    otherwise; tiny models keep the settings (and so the artifact keys) they had before those existed."""
    paper, demo = load(DOIT_PAPER), load(ROOT / "config" / "config.yaml")
    for ms in ("7b", "13b", "33b"):
        s = study.sft_settings(paper, ms)
        assert s["gradient_checkpointing"] is True and s["precision"] == "bf16"  # doit-paper sets bf16
        assert study.sft_spec(paper, ms, 0)["settings"]["gradient_checkpointing"] is True
    del paper["training"]["precision"]
    assert study.sft_settings(paper, "7b")["precision"] == "auto"
    paper["models"]["sizes"]["7b"]["sft"]["gradient_checkpointing"] = False
    assert "gradient_checkpointing" not in study.sft_spec(paper, "7b", 0)["settings"]
    for ms in ("xs", "s", "m"):
        spec = study.sft_spec(demo, ms, 0)["settings"]
        assert "gradient_checkpointing" not in spec and spec["precision"] == "fp32"
        assert set(spec) == {"lr", "end_lr", "adam_beta1", "adam_beta2", "weight_decay", "batch_size",
                             "micro_batch_size", "epochs", "min_steps", "max_len", "seed", "max_grad_norm",
                             "engine", "zero_stage", "precision"}


def test_base_models_are_prompted_in_plain_text_unless_chat_is_asked_for():
    demo, paper = load(ROOT / "config" / "config.yaml"), load(DOIT_PAPER)
    base, cell = study.Cell("m", study.BASE, 0, 0), study.Cell("m", "curated", 640, 0)
    # the demo prompts in its corpus's layout, without examples (benchmarks/base_prompts.py)
    assert study.eval_spec(demo, base, 0)["plain_prompt"] == {"seed": 0, "shots": 0, "question": "问", "answer": "答"}
    assert study.eval_spec(paper, study.Cell("7b", study.BASE, 0, 0), 0)["plain_prompt"] == \
        {"seed": 0, "shots": 3, "question": "问：", "answer": "答："}
    assert "plain_prompt" not in study.eval_spec(demo, cell, 1)  # tuned models: the chat format
    demo["evaluation"]["base_prompt"]["format"] = "chat"
    assert "plain_prompt" not in study.eval_spec(demo, base, 0)


def test_retries_grow_memory_and_runtime_up_to_the_profiles_ceiling():
    """13b's 640 GB training job doubles on its retry to the ceiling, not to 1.28 TB; the SLURM profile
    sets the ceilings its comment documents."""
    assert study.on_attempt("mem_mb", 640_000, 1, 1_000_000) == 640_000
    assert study.on_attempt("mem_mb", 640_000, 2, 1_000_000) == 1_000_000
    assert study.on_attempt("mem_mb", 200_000, 2, 1_000_000) == 400_000
    assert study.on_attempt("mem_mb", 200_000, 3, None) == 800_000  # no ceiling given: doubles
    assert study.on_attempt("mem_mb", 2_000_000, 2, 1_000_000) == 2_000_000  # asked above it: as asked
    assert study.on_attempt("runtime", 1440, 3, 2880) == 2880
    assert study.on_attempt("gpus", 8, 3, 1) == 8  # only memory and runtime grow
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    ceilings = {k: v for k, v in profile["default-resources"].items() if k.endswith("_max")}
    assert ceilings == {"mem_mb_max": 1_000_000, "runtime_max": 2880}
    paper = load(ROOT / "config" / "studies" / "doit-paper.yaml")
    biggest = max(s["resources"]["train"]["mem_mb"] for s in paper["models"]["sizes"].values())
    assert biggest <= ceilings["mem_mb_max"] < 2 * biggest
