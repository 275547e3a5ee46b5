"""The analysis in the workflow: report captions, the guideline's config, cells and checks, and the closed
loop run for real on .test/guideline.yaml (derive a recipe from the grid, train it, compare it with the
uniform curated-40 cell at the same budget), from an empty directory."""

import copy
import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from growthpace import artifacts, study
from growthpace.analysis import plots, report
from growthpace.data.loaders import load_jsonl
from growthpace.data.schema import ABILITIES
from growthpace.cell_status import cell_states
from growthpace.store import Store

from .analysis_data import grid_truth, items_for, tables_for
from .conftest import ROOT, snakemake

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
CONFIG = ROOT / ".test" / "guideline.yaml"
SMOKE = ROOT / ".test" / "config.yaml"
DOIT = ROOT / "tests" / "fixtures" / "doit"


def load(path) -> dict:
    cfg = yaml.safe_load(path.read_text())
    validate(cfg, SCHEMA)
    return cfg


# ------------------------------------------------------------------------------------- no snakemake
def test_committed_captions_are_the_report_modules(tmp_path):
    written = report.write_captions(tmp_path)
    assert set(written) == set(plots.PLOTS)
    for name, path in written.items():
        assert (ROOT / "workflow" / "report" / f"{name}.rst").read_text() == path.read_text(), name


def test_guideline_cells_stay_out_of_the_grid():
    cfg = load(CONFIG)
    study.check_study(cfg)
    cells = study.guideline_cells(cfg)
    # one cell per method: the paper's rules keep the name they had, the optimiser's adds its method
    assert [(c.model_size, c.name) for c in cells] == [("xs", "recipe-guideline-seed0"),
                                                       ("xs", "recipe-guideline-optimize-seed0")]
    assert not set(cells) & set(study.training_cells(cfg))
    assert not {c for c, _ in study.evaluations(cfg)} & set(cells)
    assert study.cell_index(cfg)[("xs", "recipe-guideline-seed0")] == cells[0]
    assert [e for _, e in study.guideline_evaluations(cfg)] == [1, 2, 1, 2]
    assert all(study.is_guideline(c) for c in cells)
    assert all(re.fullmatch(study.CELL_PATTERN, c.name) for c in cells)
    # the subset spec only says "the derived recipe": the counts are read when the subset is built
    assert study.subset_spec(cfg, cells[0]) == {"abilities": cfg["data"]["abilities"], "cap": False,
                                                "derived_recipe": "guideline", "seed": 0}
    assert study.subset_spec(cfg, cells[1])["derived_recipe"] == "guideline-optimize"
    spec = study.analysis_spec(cfg)
    assert (spec["budget"], spec["recipe_name"], spec["n_boot"], spec["strict_pools"]) == (40, "guideline", 200, True)
    assert spec["methods"] == ["paper", "optimize"] and spec["optimize"]["objective"] == "mean"
    # how often a cell of the guideline's model size sees each item (the optimiser's support)
    assert spec["training"] == {"xs": {"batch_size": 8, "epochs": 2, "min_steps": 4}}


def test_guideline_defaults():
    cfg = load(SMOKE)
    assert cfg["analysis"]["n_boot"] == 1000 and cfg["analysis"]["guideline"]["enabled"] is False
    assert study.guideline_cells(cfg) == [] and study.analysis_spec(cfg)["recipe_name"] is None
    assert study.guideline_settings(cfg)["methods"] == ["paper"] and "optimize" not in study.analysis_spec(cfg)
    cfg["analysis"]["guideline"]["enabled"] = True
    study.check_study(cfg)
    # budget: the largest curated size; model sizes: every one with curated cells
    assert study.guideline_settings(cfg)["budget"] == 40
    assert [c.model_size for c in study.guideline_cells(cfg)] == ["s", "xs"]
    bad = copy.deepcopy(cfg)
    bad["analysis"]["guideline"]["weighting"] = "even"
    with pytest.raises(Exception, match="even"):
        validate(bad, SCHEMA)


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["analysis"]["guideline"].update(budget=20),
     "analysis.guideline.budget: 20 is not a curated data size of the grid (grid.data_sizes.curated: [10, 40])"),
    (lambda c: c["grid"]["data_sizes"].update(curated=[10, 100]) or c["analysis"]["guideline"].update(budget=100),
     "analysis.guideline.budget: 100 items, but the demo suite's pools hold 80 (data.demo.n_train = 8"),
    (lambda c: c["analysis"]["guideline"].update(model_sizes=["m"]),
     "analysis.guideline.model_sizes[0]: 'm' has no curated cells"),
    (lambda c: c["grid"]["data_sizes"].update(curated=[40]),
     "analysis.guideline.enabled: the recipe is derived from how each ability grows with curated data"),
    (lambda c: c["grid"].update(recipes=["guideline"], recipe_definitions={"guideline": {"math": 1}}),
     "grid.recipes[0]: 'guideline' names the derived recipe's cells"),
    (lambda c: c["grid"].update(recipes=["guideline-optimize"], recipe_definitions={"guideline-optimize": {"math": 1}}),
     "grid.recipes[0]: 'guideline-optimize' names the derived recipe's cells"),
    (lambda c: c["analysis"]["guideline"].update(optimize={"transfer": True}),
     "analysis.guideline.optimize.transfer: the transfer matrix comes from single-ability cells"),
])
def test_guideline_errors_name_the_key(edit, message):
    cfg = copy.deepcopy(load(CONFIG))
    edit(cfg)
    with pytest.raises(study.ConfigError, match=re.escape(message)):
        study.check_study(cfg)


def test_derived_recipe_spec_reads_the_counts(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("# derived\nguideline:\n  math: 30\n  code: 10\n  pool: full\n")
    spec = {"derived_recipe": "guideline", "abilities": ["math", "code"], "seed": 0, "cap": False}
    assert artifacts.derived_recipe_spec(spec, path) == {
        "abilities": ["math", "code"], "seed": 0, "cap": False,
        "recipe": {"name": "guideline", "counts": {"math": 30, "code": 10}, "pool": "full"}}
    path.write_text("# no sensitivities\n{}\n")
    with pytest.raises(ValueError, match="no recipe 'guideline'"):
        artifacts.derived_recipe_spec(spec, path)


def _counts(recipe: dict) -> dict:
    return {a: n for a, n in recipe.items() if a not in study.RECIPE_OPTIONS}


def test_stages_derive_a_recipe_within_the_pools_and_train_on_it(tmp_path):
    """The loop without Snakemake, on the DoIT fixture (unequal pools of 3 to 5 items, 43 in all): two
    abilities respond strongly to data and would take most of a 40-item budget; the pools cap them,
    and the guideline cell's subset has exactly the derived counts."""
    store = Store(tmp_path / "store")
    suite = artifacts.build_suite(store, {"source_dir": str(DOIT)})
    pools = artifacts.pool_sizes(suite, list(ABILITIES))
    assert sum(pools.values()) == 43 and min(pools.values()) == 3
    L = np.log2(10)
    curves = {a: (lambda x: 0.2 + 0.15 * (x - L)) if a in ("math", "code") else (lambda x: 0.3) for a in ABILITIES}
    predictions, scores = tables_for(items_for(grid_truth(curves, model_sizes=("s", "m"), sizes=(10, 40, 160)), 200))
    paths = [tmp_path / "predictions.parquet", tmp_path / "scores.parquet"]
    predictions.to_parquet(paths[0])
    scores.to_parquet(paths[1])
    cfg = load(CONFIG)
    spec = {**study.analysis_spec(cfg), "model_sizes": ["s", "m"]}
    tables = artifacts.analyze_study(suite, [paths[1]], [paths[0]], tmp_path / "derived", spec)
    groups = tables["sensitivity"].set_index("ability")["group"]
    assert set(groups[groups.isin(["data", "data+model"])].index) == {"math", "code"}
    counts = _counts(yaml.safe_load((tmp_path / "derived" / "recipe.yaml").read_text())["guideline"])
    assert sum(counts.values()) == 40 and all(counts[a] <= pools[a] for a in ABILITIES)
    assert counts["math"] == pools["math"] and counts["code"] == pools["code"]  # capped by their pools
    optimized = _counts(yaml.safe_load((tmp_path / "derived" / "recipe.yaml").read_text())["guideline-optimize"])
    assert sum(optimized.values()) == 40 and all(optimized[a] <= pools[a] for a in ABILITIES)
    assert optimized["math"] == pools["math"] and optimized["code"] == pools["code"]
    cell = study.guideline_cells(cfg)[0]
    subset = artifacts.build_subset(store, suite, study.subset_spec(cfg, cell), recipe_file=tmp_path / "derived" / "recipe.yaml")
    assert Counter(r["type"] for r in load_jsonl(subset.path / "train.jsonl")) == {a: n for a, n in counts.items() if n}
    # pools that cannot hold the budget: an error with the guideline on, ignored (with a warning) without it
    with pytest.raises(ValueError, match=re.escape("analysis.guideline.budget: 160 items, but the suite's "
                                                   "curated/full pools hold 43")):
        artifacts.analyze_study(suite, [paths[1]], [paths[0]], tmp_path / "strict", {**spec, "budget": 160})
    loose = artifacts.analyze_study(suite, [paths[1]], [paths[0]], tmp_path / "loose",
                                 {**spec, "budget": 160, "strict_pools": False})
    per = loose["allocation"][loose["allocation"]["ability"] != "mean"]
    assert per.groupby("method")["count"].sum().to_dict() == {"optimize": 160, "paper": 160}


# ------------------------------------------------------------------------------- the closed loop
@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("guideline")
    snakemake(workdir, configfile=CONFIG)
    return workdir


def _selected_test_means(predictions: pd.DataFrame, select_after: int) -> pd.DataFrame:
    """Per (cell, ability): the test mean at the epoch with the best valid mean over abilities after
    ``select_after`` (earliest on ties), computed here from the per-item rows."""
    cell = ["model_size", "data_source", "data_size", "seed", "recipe"]
    p = predictions.assign(split=predictions["eval_set"].str.rsplit("_", n=1).str[1])
    valid = (p[p["split"] == "valid"].groupby(cell + ["epoch", "ability"])["score"].mean()
             .groupby(cell + ["epoch"]).mean().reset_index())
    valid = valid[valid["epoch"] > select_after].sort_values(cell + ["score", "epoch"],
                                                              ascending=[True] * len(cell) + [False, True])
    best = valid.groupby(cell).head(1)[cell + ["epoch"]]
    test = p[p["split"] == "test"].merge(best, on=cell + ["epoch"])
    return test.groupby(cell + ["ability"])["score"].mean().reset_index()


@pytest.mark.workflow
def test_recipes_table_is_the_guideline_against_curated_at_the_budget(loop_run):
    out = loop_run / "results" / "guideline"
    rec = pd.read_parquet(out / "analysis" / "recipes.parquet")
    assert set(rec["recipe"]) == {"guideline", "guideline-optimize"} and set(rec["baseline"]) == {"curated-40"}
    # beside each: the gain the curves predicted for its counts, and what the test sets resolve
    means = rec[rec["ability"] == "mean"].set_index("recipe")
    # (a recipe equal to the uniform split shares its model: a difference of exactly 0, half-width 0)
    assert means["predicted"].notna().all() and (means["half_width"] >= 0).all() and (means["n_items"] == 60).all()
    alloc = pd.read_parquet(out / "analysis" / "allocation.parquet").query("ability == 'mean'").set_index("method")
    assert means.loc["guideline", "predicted"] == alloc.loc["paper", "predicted"]
    assert means.loc["guideline-optimize", "predicted"] == alloc.loc["optimize", "predicted"]
    rec = rec[rec["recipe"] == "guideline"]
    assert set(rec["model_size"]) == {"xs"} and set(rec["data_size"]) == {40}
    select_after = load(CONFIG)["evaluation"]["select_after_epoch"]
    ours = _selected_test_means(pd.read_parquet(out / "tables" / "guideline" / "predictions.parquet"), select_after)
    ours = ours[ours["recipe"] == "guideline"]
    grid = _selected_test_means(pd.read_parquet(out / "tables" / "predictions.parquet"), select_after)
    base = grid[(grid["data_source"] == "curated") & (grid["data_size"] == 40) & (grid["model_size"] == "xs")]
    expected = ours.set_index("ability")["score"].rename("recipe").to_frame().join(
        base.set_index("ability")["score"].rename("baseline"))
    assert len(expected) == 10 and expected.notna().all().all()
    per = rec[rec["ability"] != "mean"].set_index("ability").loc[expected.index]
    assert (per["recipe_score"] - expected["recipe"]).abs().max() < 1e-12
    assert (per["baseline_score"] - expected["baseline"]).abs().max() < 1e-12
    assert (per["diff"] - (expected["recipe"] - expected["baseline"])).abs().max() < 1e-12
    mean = rec[rec["ability"] == "mean"].iloc[0]
    assert abs(mean["diff"] - (expected["recipe"] - expected["baseline"]).mean()) < 1e-12
    assert mean["ci_low"] <= mean["diff"] <= mean["ci_high"]


@pytest.mark.workflow
def test_report_names_the_guideline_recipe_with_numbers(loop_run):
    out = loop_run / "results" / "guideline"
    text = (out / "report.md").read_text()
    recipes = pd.read_parquet(out / "analysis" / "recipes.parquet")
    mean = recipes.query("ability == 'mean' and recipe == 'guideline'").iloc[0]
    line = next(x for x in text.splitlines() if x.startswith("- guideline (model xs, 40 items) against curated-40"))
    assert f"mean over abilities {mean['diff']:+.3f} [{mean['ci_low']:+.3f}, {mean['ci_high']:+.3f}]" in line
    assert "`analysis/recipe.yaml`" in text and "(`guideline`, `guideline-optimize`)" in text
    assert any(x.startswith("- guideline-optimize (model xs, 40 items) against curated-40") and "(predicted " in x
               for x in text.splitlines())
    for name in plots.PLOTS:
        assert f"`plots/{name}.png`" in text
        assert (out / "plots" / f"{name}.png").stat().st_size > 5_000


@pytest.mark.workflow
def test_derived_subset_trains_the_recipe(loop_run):
    out = loop_run / "results" / "guideline"
    derived = (out / "analysis" / "derived" / "recipe.yaml").read_text()
    counts = _counts(yaml.safe_load(derived)["guideline"])
    assert sum(counts.values()) == 40 and max(counts.values()) <= 8  # the budget, within the 8-item pools
    receipt = json.loads((out / "receipts" / "subset" / "recipe-guideline-seed0.json").read_text())
    train = loop_run / receipt["path"] / "train.jsonl"
    assert Counter(json.loads(line)["type"] for line in train.open()) == {a: n for a, n in counts.items() if n}
    # built from the recipe read from that file (a recipe subset records its resolved counts)
    manifest = json.loads((loop_run / receipt["path"] / "manifest.json").read_text())
    assert manifest["counts"] == counts and manifest["pool_split"] == "full"
    optimized = _counts(yaml.safe_load(derived)["guideline-optimize"])
    receipt = json.loads((out / "receipts" / "subset" / "recipe-guideline-optimize-seed0.json").read_text())
    train = loop_run / receipt["path"] / "train.jsonl"
    assert Counter(json.loads(line)["type"] for line in train.open()) == {a: n for a, n in optimized.items() if n}
    assert sum(optimized.values()) == 40 and max(optimized.values()) <= 8
    cells = pd.read_parquet(out / "tables" / "guideline" / "cells.parquet")
    assert cells[["model_size", "data_source", "data_size", "recipe", "n_items"]].to_dict("records") == [
        {"model_size": "xs", "data_source": "recipe", "data_size": 40, "recipe": r, "n_items": 40}
        for r in ("guideline", "guideline-optimize")]
    # the guideline cell is not in the grid's tables, which derived it
    assert (pd.read_parquet(out / "tables" / "cells.parquet")["recipe"] == "").all()
    # analysing grid + guideline cells gives the recipe derived from the grid alone
    assert (out / "analysis" / "recipe.yaml").read_text() == derived
    pd.testing.assert_frame_equal(pd.read_parquet(out / "analysis" / "allocation.parquet"),
                                  pd.read_parquet(out / "analysis" / "derived" / "allocation.parquet"))


@pytest.mark.workflow
def test_training_jobs_evaluated_their_epochs(loop_run):
    """evaluation.in_training_job: each training job built its epochs' predictions (in one process); each
    evaluate job found them in the store, and their rows are the tables' rows of that checkpoint."""
    logs = loop_run / "results" / "guideline" / "logs"
    train_logs = sorted((logs / "train").rglob("*.log"))
    assert len(train_logs) == 4  # curated-20, curated-40 and the two guideline cells
    preds = pd.concat([pd.read_parquet(p) for p in (loop_run / "results" / "guideline" / "predictions").rglob("epoch*.parquet")])
    for log in train_logs:
        built = re.findall(r"predictions (\w+): building", log.read_text())
        assert len(built) == 2, log
        evaluations = sorted((logs / "evaluate" / log.parent.name / log.stem).glob("epoch*.log"))
        assert len(evaluations) == 2
        for key, evaluation in zip(built, evaluations):
            assert f"predictions {key}: found in store" in evaluation.read_text()
            assert "building" not in evaluation.read_text()
            assert (preds["predictions_key"] == key).sum() > 0


@pytest.mark.workflow
def test_status_lists_the_guideline_cell(loop_run):
    states = cell_states(load(CONFIG), loop_run)
    assert [(s["recipe"], s["state"]) for s in states] == [("", "done"), ("", "done"), ("guideline", "done"),
                                                          ("guideline-optimize", "done")]


@pytest.mark.workflow
def test_snakemake_report(loop_run, tmp_path):
    html = tmp_path / "report.html"
    snakemake(loop_run, "--report", str(html), configfile=CONFIG)
    text = html.read_text(errors="replace")
    assert "Analysis" in text and "recipes.png" in text and "growth.png" in text


@pytest.mark.workflow
def test_second_run_has_nothing_to_do(loop_run):
    proc = snakemake(loop_run, "-n", configfile=CONFIG)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_the_demo_derives_a_recipe_for_its_untrained_size():
    """config/config.yaml asks for l (predicted only): the analysis rule gets its parameter count and the
    study's SFT settings; derive_recipe, whose recipe the guideline cells train, does not."""
    cfg = load(ROOT / "config" / "config.yaml")
    study.check_study(cfg)
    assert study.guideline_settings(cfg)["untrained_model_sizes"] == ["l"]
    assert study.untrained_spec(cfg) == {"model_sizes": {"l": 3824896.0},
                                         "training": {"batch_size": 8, "epochs": 2, "min_steps": 160}}
    without = copy.deepcopy(cfg)
    without["analysis"]["guideline"]["untrained_model_sizes"] = []
    assert study.analysis_spec(cfg) == study.analysis_spec(without)  # derive_recipe's params are unchanged
    assert study.guideline_cells(cfg) == study.guideline_cells(without)
    assert study.untrained_spec(load(SMOKE)) == {"model_sizes": {}, "training": {"batch_size": 8, "epochs": 2,
                                                                                 "min_steps": 4}}


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["analysis"]["guideline"].update(untrained_model_sizes=["xl"]),
     "analysis.guideline.untrained_model_sizes[0]: 'xl' has no parameter count; give it under "
     "analysis.extrapolate.model_sizes (name -> parameters; given: l)"),
    (lambda c: c["analysis"]["guideline"].update(untrained_model_sizes=["m"]),
     "analysis.guideline.untrained_model_sizes[0]: 'm' is a model size the grid trains"),
    (lambda c: c["grid"].update(model_sizes=["m"]),
     "the growth model over data size and parameter count, which needs curated cells of two or more model sizes"),
    (lambda c: c["analysis"]["guideline"].update(model_sizes=["l"]),
     "analysis.guideline.model_sizes[0]: 'l' has no curated cells to compare the derived recipe with (curated model "
     "sizes: xs, s, m); to derive, not train, a recipe for a model size that is not trained"),
])
def test_untrained_size_errors_name_the_key(edit, message):
    cfg = copy.deepcopy(load(ROOT / "config" / "config.yaml"))
    edit(cfg)
    with pytest.raises(study.ConfigError, match=re.escape(message)):
        study.check_study(cfg)
    bad = copy.deepcopy(cfg)
    bad["analysis"]["guideline"]["untrained_model_sizes"] = "l"
    with pytest.raises(Exception, match="is not of type 'array'"):
        validate(bad, SCHEMA)
