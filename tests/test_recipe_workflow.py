"""Real snakemake on the recipe study (.test/recipes.yaml): recipe, single-ability and base-model cells
and the suite's out-of-domain sets, from an empty directory."""

import json
import re

import pandas as pd
import pytest
import yaml

from .conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow

CONFIG = ROOT / ".test" / "recipes.yaml"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    """The recipe study with CMMLU and AGIEval benchmarks (the test fixtures) at every epoch, the base
    model's included: an untuned base model is benchmarked in plain text."""
    workdir = tmp_path_factory.mktemp("recipes")
    config = yaml.safe_load(CONFIG.read_text())
    config["evaluation"]["benchmarks"] = {
        "cmmlu": {"dir": str(FIXTURES / "cmmlu")},
        "agieval": {"dir": str(FIXTURES / "agieval" / "data" / "v1"), "tasks": ["logiqa-zh", "jec-qa-kd"]}}
    (workdir / "recipes.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    snakemake(workdir, configfile=workdir / "recipes.yaml")
    return workdir


def test_recipe_cells(recipe_run):
    out = recipe_run / "results" / "recipes"
    cells = pd.read_parquet(out / "tables" / "cells.parquet").set_index("recipe")
    # data_size of recipe cells is the realised total: baseline capped to the 4-item pools
    assert cells["data_size"].to_dict() == {"": 10, "baseline": 40, "curated-10": 10, "tiny-mix": 6,
                                            "only-code-2": 2, "only-math-2": 2}
    assert cells["data_source"].to_dict() == {"": "curated", "baseline": "recipe", "curated-10": "recipe",
                                              "tiny-mix": "recipe", "only-code-2": "single_ability",
                                              "only-math-2": "single_ability"}
    assert (cells["n_items"] == cells["data_size"]).all()
    # curated-10 is the plain curated-10 cell's training set: one fine-tuned model for both
    assert cells.loc["curated-10", "sft_key"] == cells.loc["", "sft_key"]
    assert cells["sft_key"].nunique() == 5
    receipts = out / "receipts" / "subset"
    mix = json.loads((receipts / "recipe-tiny-mix-seed0.json").read_text())
    manifest = json.loads((recipe_run / mix["path"] / "manifest.json").read_text())
    assert manifest["per_type"] == {"code": 1, "math": 2, "general": 3}
    only = json.loads((receipts / "only-math-2-seed0.json").read_text())
    assert [json.loads(line)["type"] for line in (recipe_run / only["path"] / "train.jsonl").open()] == ["math"] * 2


def test_base_model_and_out_of_domain_scores(recipe_run):
    scores = pd.read_parquet(recipe_run / "results" / "recipes" / "tables" / "scores.parquet")
    base = scores[scores["data_source"] == "base"]
    assert set(base["epoch"]) == {0} and base["selected"].all() and (base["data_size"] == 0).all()
    ood = scores[scores["ability"].str.startswith("ceval_")]
    assert set(ood["ability"]) == {"ceval_physician_fshot", "ceval_teacher_qualification_fshot",
                                   "ceval_urban_and_rural_planner_fshot"}
    assert set(ood["split"]) == {"test"} and (ood["n"] == 2).all()
    # every cell (6 trained + the base model) has every eval set: 10 valid + 10 test + 3 OOD + 4 benchmarks
    assert scores.groupby(["data_source", "recipe"]).size().eq(27).all() and len(scores) == 7 * 27
    assert scores.groupby(["data_source", "recipe", "split", "ability"])["selected"].sum().eq(1).all()


def test_training_jobs_evaluated_benchmarks_and_out_of_domain_sets(recipe_run):
    """evaluation.in_training_job with the OOD sets and CMMLU and AGIEval in the spec: each cell that
    trained built its epoch's predictions, benchmarks included, in its training job; curated-10's recipe
    twin found its model in the store and trained nothing, and its evaluate job found the plain cell's."""
    out = recipe_run / "results" / "recipes"
    preds = pd.read_parquet(out / "tables" / "predictions.parquet")
    built = {log.stem: re.findall(r"predictions (\w+): building", log.read_text())
             for log in (out / "logs" / "train" / "xs").glob("*.log")}
    assert built.pop("recipe-curated-10-seed0") == []
    assert len(built) == 5 and all(len(keys) == 1 for keys in built.values())  # one epoch each
    for cell, (key,) in built.items():
        rows = preds[preds["predictions_key"] == key]
        assert rows["eval_set"].str.startswith("cmmlu_").any() and rows["eval_set"].str.startswith("agieval_").any()
        assert rows["ability"].str.startswith("ceval_").any(), cell
        evaluation = (out / "logs" / "evaluate" / "xs" / cell / "epoch1.log").read_text()
        assert f"predictions {key}: found in store" in evaluation and "building" not in evaluation
    # the twin's checkpoint is the plain cell's: its evaluate job found what that training job built
    twin = (out / "logs" / "evaluate" / "xs" / "recipe-curated-10-seed0" / "epoch1.log").read_text()
    assert f"predictions {built['curated-10-seed0'][0]}: found in store" in twin


def test_second_run_has_nothing_to_do(recipe_run):
    proc = snakemake(recipe_run, "-n", configfile=recipe_run / "recipes.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_base_model_benchmarks_beside_the_tuned_cells(recipe_run):
    """The base model is benchmarked in plain text (its tokenizer has no speaker tokens) and the report
    sets its CMMLU and AGIEval scores beside the tuned cells'."""
    out = recipe_run / "results" / "recipes"
    preds = pd.read_parquet(out / "predictions" / "xs" / "base" / "epoch0.parquet")
    bench = preds[preds["eval_set"].str.startswith(("cmmlu_", "agieval_"))]
    # CMMLU: 4 + 3 questions at 0 and 5 shots; AGIEval: 3 + 2 items zero- and few-shot
    assert len(bench) == 2 * 7 + 2 * 5 and set(bench["kind"]) == {"first_token"}
    table = pd.read_parquet(out / "analysis" / "benchmarks.parquet")
    base = table[(table["data_source"] == "base") & (table["benchmark"] == "cmmlu") & (table["level"] == "subject")]
    for (shots, subject), g in base.groupby(["setting", "name"]):
        k = int(shots.split("-")[0])
        want = bench.loc[bench["eval_set"] == f"cmmlu_{k}shot_{subject}_test", "score"].mean()
        assert g["accuracy"].iloc[0] == pytest.approx(want)
    assert set(table["data_source"]) == {"base", "curated", "recipe", "single_ability"}
    report = (out / "report.md").read_text()
    section = report[report.index("## Benchmarks"):]
    assert "| base model " in section and "the tuned cells differ from the base model by" in section
    for column in ("CMMLU 0-shot", "CMMLU 5-shot", "AGIEval zero-shot", "AGIEval few-shot"):
        assert column in section


def test_another_study_plans_the_base_model_evaluation_from_the_store(recipe_run, monkeypatch):
    """The base model's evaluation is in the store: another study with the same base model plans it as
    its local twin (reuse_evaluate_base), no evaluate_base job (a GPU job on a cluster), and the key it
    plans is the key the evaluation got."""
    from growthpace.reuse import Plan
    from growthpace.study import load_config

    from .test_orchestration import job_stats

    config = recipe_run / "recipes.yaml"  # the run's own study (its benchmarks included), renamed
    proc = snakemake(recipe_run, "-n", "--config", "study=recipes-again", configfile=config)
    jobs = job_stats(proc.stdout + proc.stderr)
    assert jobs.get("reuse_evaluate_base") == 1 and "evaluate_base" not in jobs, jobs
    monkeypatch.chdir(recipe_run)
    plan = Plan(load_config(config))
    preds = pd.read_parquet(recipe_run / "results" / "recipes" / "predictions" / "xs" / "base" / "epoch0.parquet")
    assert set(preds["predictions_key"]) == {plan.base_predictions("xs").key}
    assert plan.reusable("evaluate_base") == [{"model_size": "xs"}]
