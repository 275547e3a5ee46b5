"""Real snakemake on the recipe study (.test/recipes.yaml): recipe, single-ability and base-model cells
and the suite's out-of-domain sets, from an empty directory."""

import json

import pandas as pd
import pytest

from .conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow

CONFIG = ROOT / ".test" / "recipes.yaml"


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("recipes")
    snakemake(workdir, configfile=CONFIG)
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
    # every cell (6 trained + the base model) has every eval set: 10 valid + 10 test + 3 OOD
    assert scores.groupby(["data_source", "recipe"]).size().eq(23).all() and len(scores) == 7 * 23
    assert scores.groupby(["data_source", "recipe", "split", "ability"])["selected"].sum().eq(1).all()


def test_second_run_has_nothing_to_do(recipe_run):
    proc = snakemake(recipe_run, "-n", configfile=CONFIG)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_another_study_plans_the_base_model_evaluation_from_the_store(recipe_run, monkeypatch):
    """The base model's evaluation is in the store: another study with the same base model plans it as
    its local twin (reuse_evaluate_base), no evaluate_base job (a GPU job on a cluster), and the key it
    plans is the key the evaluation got."""
    from growthpace.reuse import Plan
    from growthpace.study import load_config

    from .test_orchestration import job_stats

    proc = snakemake(recipe_run, "-n", "--config", "study=recipes-again", configfile=CONFIG)
    jobs = job_stats(proc.stdout + proc.stderr)
    assert jobs.get("reuse_evaluate_base") == 1 and "evaluate_base" not in jobs, jobs
    monkeypatch.chdir(recipe_run)
    plan = Plan(load_config(CONFIG))
    preds = pd.read_parquet(recipe_run / "results" / "recipes" / "predictions" / "xs" / "base" / "epoch0.parquet")
    assert set(preds["predictions_key"]) == {plan.base_predictions("xs").key}
    assert plan.reusable("evaluate_base") == [{"model_size": "xs"}]
