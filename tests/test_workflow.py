"""Real snakemake on the smoke study (.test/config.yaml), from an empty results directory."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from growthpace.analysis import pipeline, plots
from growthpace.models.size import parameter_count
from growthpace.store import read_receipt

from .conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow


def test_smoke_study_produces_scores(smoke_run):
    out = smoke_run / "results" / "smoke"
    scores = pd.read_parquet(out / "tables" / "scores.parquet")
    preds = pd.read_parquet(out / "tables" / "predictions.parquet")
    cells = pd.read_parquet(out / "tables" / "cells.parquet")
    # 2 model sizes x (2 curated + 1 synthetic sizes) = 6 cells; 2 epochs; 2 splits; 10 abilities.
    assert len(cells) == 6
    assert set(scores.columns) >= {"ability", "data_size", "model_size", "data_source", "epoch", "score",
                                   "expected", "n", "selected"}
    assert len(scores) == 6 * 2 * 2 * 10
    assert (scores["recipe"] == "").all() and (cells["recipe"] == "").all()  # plain grid cells
    assert scores.groupby(["model_size", "data_source", "data_size", "split", "ability"])["selected"].sum().eq(1).all()
    # Every score is the mean of its items' scores (an independent recomputation from predictions.parquet).
    preds["split"] = preds["eval_set"].str.rsplit("_", n=1).str[1]
    recomputed = preds.groupby(["model_size", "data_source", "data_size", "seed", "epoch", "split", "ability"])
    merged = scores.merge(recomputed["score"].mean().rename("mean").reset_index()
                          .merge(recomputed.size().rename("count").reset_index()))
    assert len(merged) == len(scores)
    assert (merged["score"] - merged["mean"]).abs().max() < 1e-12
    assert (merged["n"] == merged["count"]).all()
    # The per-instance rows are unique per (cell, epoch, eval set, item).
    assert not preds.duplicated(["model_size", "data_source", "data_size", "seed", "epoch", "eval_set",
                                 "item_hash"]).any()
    assert (out / "plots" / "growth.png").stat().st_size > 10_000
    assert "## Overall test score" in (out / "summary.md").read_text()


def test_smoke_study_is_analysed(smoke_run):
    out = smoke_run / "results" / "smoke"
    tables, settings = pipeline.load_tables(out / "analysis")
    assert settings["study"] == "smoke" and settings["model_sizes"] == ["xs", "s"] and settings["budget"] == 40
    assert set(tables["sensitivity"]["ability"]) == set(settings["abilities"])  # two curated sizes per model size
    assert tables["recipes"].empty  # no recipe cells (analysis.guideline is off)
    recipe = yaml.safe_load((out / "analysis" / "recipe.yaml").read_text())
    assert sum(v for k, v in recipe["derived-40"].items() if k != "pool") == 40
    text = (out / "report.md").read_text()
    assert text.startswith("# Analysis of study `smoke`") and "## Guideline" in text
    # Two model sizes: the growth model over data and model size is fitted on the parameter counts of the
    # base models' configs, and no size is left to hold out.
    counts = {ms: parameter_count(read_receipt(out / "receipts" / "base" / f"{ms}.json").path) for ms in ("xs", "s")}
    assert settings["params"] == counts and counts["xs"] < counts["s"]
    rows = tables["extrapolation"]
    assert set(rows["role"]) == {"fit"} and set(rows["model_size"]) == {"xs", "s"}
    assert tables["extrapolation_validation"].empty
    assert "No held-out validation: it needs three model sizes (fit on two, predict the third), and this study has 2" in text
    assert "Predictions use the ladder form" in text and settings["extrapolation"]["form"] == "ladder"
    for name in plots.PLOTS:
        assert (out / "plots" / f"{name}.png").stat().st_size > 5_000
    # Per ability, how the careful answers were found: every selected test row of a generated ability once.
    grading, preds = tables["grading"], pd.read_parquet(out / "tables" / "predictions.parquet")
    assert set(grading["ability"]) == set(preds["ability"])
    counted = grading[["committed", "correction", "logit_fallback", "none"]].sum(axis=1)
    assert (counted == grading["n"]).all() and "## How much the grading choice moves the scores" in text


def test_second_run_has_nothing_to_do(smoke_run):
    proc = snakemake(smoke_run, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_training_cells_keep_only_weights(smoke_run):
    store = smoke_run / ".test" / "results" / "store" / "sft"
    runs = [d for d in store.iterdir() if d.is_dir() and not d.name.startswith(".")]
    assert len(runs) == 6
    for run in runs:
        epochs = sorted(p.name for p in (run / "epochs").iterdir())
        assert epochs == ["epoch-1", "epoch-2"]
        files = {p.name for p in run.rglob("*") if p.is_file()}
        assert "model.safetensors" in files
        assert not {f for f in files if f.startswith("optimizer") or f.endswith(".pt") or f.endswith(".bin")}
    assert not [d for d in store.iterdir() if d.name.startswith(".work-")]  # resume state removed when done


def test_bad_config_key_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / ".test" / "config.yaml").read_text().replace("model_sizes: [xs, s]",
                                                                         "model_sizes: [xs, xl]"))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(bad), "--cores", "1", "-n"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "grid.model_sizes[1]: 'xl' is not defined under models.sizes" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_scoring_authors_grades_the_stored_predictions_again(smoke_run, tmp_path):
    """evaluation.scoring: authors recomputes the tables and what follows from them, and nothing is
    evaluated or trained again; the tables, summary and report name the mode."""
    import shutil

    work = tmp_path / "smoke"
    shutil.copytree(smoke_run, work, symlinks=True)
    config = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())
    config["evaluation"]["scoring"] = "authors"
    (work / "authors.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(work, "-n", "--quiet", "rules", configfile=work / "authors.yaml").stdout
    assert "tables" in plan and "report_md" in plan
    for rule in ("evaluate_checkpoint", "train_cell", "base_model", "suite", "subset"):
        assert rule not in plan, plan
    out = work / "results" / "smoke"
    snakemake(work, "results/smoke/summary.md", "results/smoke/report.md", configfile=work / "authors.yaml")
    scores = pd.read_parquet(out / "tables" / "scores.parquet")
    preds = pd.read_parquet(out / "tables" / "predictions.parquet")
    careful = pd.read_parquet(smoke_run / "results" / "smoke" / "tables" / "predictions.parquet")
    assert (scores["scoring"] == "authors").all() and (preds["scoring"] == "authors").all()
    assert (careful["scoring"] == "careful").all()
    # the same rows (same outputs), other verdicts: the authors' single-choice fallback reads the last step
    keys = ["model_size", "data_source", "data_size", "seed", "epoch", "eval_set", "item_hash"]
    both = careful.merge(preds, on=keys, suffixes=("_careful", "_authors"))
    assert len(both) == len(careful) and (both["output_careful"].fillna("") == both["output_authors"].fillna("")).all()
    assert (both["score_careful"] != both["score_authors"]).any()
    assert "Scoring: authors" in (out / "summary.md").read_text()
    assert "As the authors' scorer reports them" in (out / "summary.md").read_text()
    assert "Scoring: authors" in (out / "report.md").read_text()


def test_demo_profile_accounts_for_every_job(smoke_run):
    """benchmarks/demo_profile.py reads the run's Snakemake log and the store: every job of the first
    run, each with the model work its artifact recorded (read here from the same files), less than
    the job took."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_profile", ROOT / "benchmarks" / "demo_profile.py")
    profile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(profile)
    first = min((smoke_run / ".snakemake" / "log").glob("*.snakemake.log"))  # the full run, not the re-runs
    jobs, wall = profile.parse_log(first)
    results = smoke_run / "results" / "smoke"
    counts = pd.Series([j["rule"] for j in jobs]).value_counts()
    assert counts["train_cell"] == 6 and counts["evaluate_checkpoint"] == 12 and counts["base_model"] == 2
    assert all(0 <= j["seconds"] <= wall for j in jobs)
    for job in jobs:
        work = profile.model_work(job, results)
        w = job["wildcards"]
        if job["rule"] == "train_cell":
            sft = read_receipt(results / "receipts" / "sft" / w["model_size"] / f"{w['cell']}.json").path
            loop = json.loads((sft / "train_metrics.json").read_text())["phase_seconds"]["loop"]
            assert work == loop and 0 < work <= job["seconds"] + 1  # the log's stamps are whole seconds
        elif job["rule"] == "evaluate_checkpoint":
            preds = pd.read_parquet(results / "predictions" / w["model_size"] / w["cell"] / f"epoch{w['epoch']}.parquet")
            store = read_receipt(results / "receipts" / "suite.json").path.parents[1]
            manifest = store / "predictions" / preds["predictions_key"].iloc[0] / "manifest.json"
            phases = json.loads(manifest.read_text())["phase_seconds"]
            assert work == phases["evaluate"] and 0 < work <= job["seconds"] + 1
        elif job["rule"] in ("suite", "subset", "tables"):
            assert work is None
