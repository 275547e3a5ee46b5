"""Decisions on the valid split, figures on test (``analysis.decide_on``), on constructed studies whose
two splits disagree on purpose: every choice must follow valid and every reported figure test."""

from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy import special

from growthpace.analysis import adaptive, allocation, guideline, pipeline, report, tables
from growthpace.analysis import bootstrap as bs
from growthpace.analysis import extrapolation as ex
from tests.analysis_data import grid_truth, items_for, ladder_items, tables_for

SIZES = (40, 160, 640, 2560)
MODEL_SIZES = ("s", "m")
BUDGET = 640
RECIPE = f"derived-{BUDGET}"


def rising(x):
    return 0.3 + 0.06 * (x - np.log2(40))


def flat(x):
    return 0.5 + 0 * x


# biology responds to data on valid and not on test; math the other way round; ethics the same on both.
VALID = {"biology": rising, "math": flat, "ethics": lambda x: 0.4 + 0.03 * (x - np.log2(40))}
TEST = {"biology": flat, "math": rising, "ethics": VALID["ethics"]}


def split_items(truth: dict, n_items: int, split: str, seed: int) -> pd.DataFrame:
    """``items_for`` rows renamed to ``split`` (other items: their own hashes)."""
    rows = items_for(truth, n_items, seed=seed)
    return rows.assign(eval_set=rows["ability"] + f"_{split}", item_hash=f"{split}-" + rows["item_hash"])


def study(curves: dict, recipe_gain: dict, n_items: int, split: str, seed: int) -> pd.DataFrame:
    truth = grid_truth(curves, MODEL_SIZES, SIZES)
    for a, g in recipe_gain.items():  # a trained recipe cell on m, beside curated-640
        truth[("m", "recipe", BUDGET, 0, RECIPE, a)] = truth[("m", "curated", BUDGET, 0, "", a)] + g
    return split_items(truth, n_items, split, seed)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The analysis of a study with both splits, and of the same study with its test split only."""
    valid = study(VALID, {"biology": 0.1, "math": 0.0, "ethics": 0.0}, 400, "valid", 1)
    test = study(TEST, {"biology": -0.05, "math": 0.05, "ethics": 0.02}, 400, "test", 2)
    out = {}
    for name, preds in (("valid", pd.concat([valid, test], ignore_index=True)), ("test", test)):
        predictions, scores = tables_for(preds)
        d = tmp_path_factory.mktemp(name)  # laid out as a study's results directory
        (d / "tables").mkdir()
        predictions.to_parquet(d / "tables" / "predictions.parquet")
        scores.to_parquet(d / "tables" / "scores.parquet")
        t = pipeline.analyze(scores, predictions, d / "analysis", model_sizes=list(MODEL_SIZES), budget=BUDGET,
                             guideline_model_sizes=["m"], methods=["paper", "optimize"], n_boot=200,
                             study="split", min_effect=0.02)
        _, settings = pipeline.load_tables(d / "analysis")
        out[name] = (predictions, scores, t, settings)
    out["dir"] = d.parent
    return out


def test_decision_figures_print_the_choices_and_the_noise_of_deciding_on_valid(both, tmp_path, capsys):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "decision_figures.py"
    module = importlib.util.spec_from_file_location("decision_figures", path)
    figures = importlib.util.module_from_spec(module)
    module.loader.exec_module(figures)
    results = next(p for p in both["dir"].iterdir() if p.name.startswith("valid"))
    assert figures.main(["--results", str(results), "--draws", "20", "--out", str(tmp_path / "f.md")]) == 0
    text = (tmp_path / "f.md").read_text()
    counts = both["valid"][2]["allocation"].query("method == 'paper' and ability != 'mean'")
    assert "counts chosen on valid): " + ", ".join(f"{r.ability} {r.count}" for r in counts.itertuples()) in text
    # valid and test disagree on every responsive ability here: no valid replicate gives test's recipe
    assert "| valid | " in text and "| 0% |" in text.split("| valid |")[1].split("\n")[0]
    assert "Verdict: deciding on 400 valid items per ability is **too noisy**" in text


def boot_on(predictions, scores, split):
    return bs.bootstrap(bs.selected_items(predictions, scores, split), n_boot=200)


def test_groups_and_counts_follow_valid_and_the_reported_groups_follow_test(both):
    _, _, t, settings = both["valid"]
    assert settings["decided_on"] == "valid" and settings["n_decision_items"] == dict.fromkeys(VALID, 400)
    alloc = t["allocation"][t["allocation"]["method"] == "paper"].set_index("ability")
    assert (t["allocation"]["decided_on"] == "valid").all()
    assert alloc.loc["biology", "group"] in guideline.RESPONSIVE and alloc.loc["math", "group"] == "neither"
    assert alloc.loc["biology", "count"] > alloc.loc["math", "count"]
    reported = t["sensitivity"].set_index("ability")["group"]
    assert reported["biology"] == "neither" and reported["math"] in guideline.RESPONSIVE
    # without a valid split the same study decides on test, and the counts turn round
    _, _, t0, s0 = both["test"]
    assert s0["decided_on"] == "test" and (t0["allocation"]["decided_on"] == "test").all()
    a0 = t0["allocation"][t0["allocation"]["method"] == "paper"].set_index("ability")
    assert a0.loc["math", "count"] > a0.loc["biology", "count"]


def test_predicted_gains_come_from_the_test_curves_at_the_counts_valid_chose(both):
    predictions, scores, t, _ = both["valid"]
    alloc = t["allocation"]
    for method in ("paper", "optimize"):
        rows = alloc[alloc["method"] == method].set_index("ability")
        counts = {a: int(rows.loc[a, "count"]) for a in VALID}
        on = {split: allocation.predicted_gains(allocation.CurveScores.from_boot(
            boot_on(predictions, scores, split), list(VALID), ["m"], 3), counts, BUDGET, 0.95).set_index("ability")
            for split in ("valid", "test")}
        for a in [*VALID, "mean"]:
            assert rows.loc[a, "predicted"] == pytest.approx(on["test"].loc[a, "predicted"])
            assert rows.loc[a, "predicted_low"] == pytest.approx(on["test"].loc[a, "predicted_low"])
        # and not the curves that chose the counts: those promise more for the ability the counts favour
        assert on["valid"].loc["biology", "predicted"] - on["test"].loc["biology", "predicted"] > 0.02


def test_recipe_comparison_is_measured_on_test_and_marked_with_its_decision_split(both):
    predictions, scores, t, _ = both["valid"]
    r = t["recipes"].set_index("ability")
    assert (r["decided_on"] == "valid").all()
    items = bs.selected_items(predictions, scores, "test")
    for a in VALID:
        g = items[(items["ability"] == a) & (items["model_size"] == "m") & (items["data_size"] == BUDGET)]
        diff = g[g["recipe"] == RECIPE]["score"].mean() - g[(g["recipe"] == "") & (g["data_source"] == "curated")][
            "score"].mean()
        assert r.loc[a, "diff"] == pytest.approx(diff)


def test_items_needed_by_design_use_the_stratified_variance_of_the_mean(both):
    predictions, scores, t, _ = both["valid"]
    r = t["recipes"].set_index("ability")
    items = bs.selected_items(predictions, scores, "test")
    m = items[(items["model_size"] == "m") & (items["data_size"] == BUDGET)]
    wide = m.pivot_table(index=["ability", "item_hash"], columns="recipe", values="score")
    sd = (wide[RECIPE] - wide[""]).groupby("ability").std(ddof=1)  # per-item spread of the paired difference
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    for a in VALID:
        assert r.loc[a, "min_effect"] == 0.02
        assert r.loc[a, "items_per_ability_needed"] == pytest.approx((z * sd[a] / 0.02) ** 2, rel=0.2)
    k = len(VALID)
    stratified = z ** 2 * (sd[list(VALID)] ** 2).sum() / k ** 2 / 0.02 ** 2
    assert r.loc["mean", "items_per_ability_needed"] == pytest.approx(stratified, rel=0.2)
    # all items pooled into one spread would call for K times as many per ability
    assert r.loc["mean", "items_per_ability_needed"] < r[["items_per_ability_needed"]].loc[list(VALID)].max().item()


def test_report_states_the_split_and_marks_figures_that_share_items(both, tmp_path):
    _, _, t, settings = both["valid"]
    text = report.write_report("split", t, settings, tmp_path / "valid.md")
    head = "\n".join(text.splitlines()[:4])
    assert "made on the valid split (400 items per ability)" in head and report.MARK not in text
    _, _, t0, s0 = both["test"]
    text = report.write_report("split", t0, s0, tmp_path / "test.md")
    head = "\n".join(text.splitlines()[:4])
    assert "Decisions and figures share items" in head and "no valid split" in head
    assert f"{report.MARK} |" in text  # the recipe table's figures carry the mark
    assert "items per ability" in text


def test_epochs_are_selected_on_valid_and_on_test_only_without_it():
    """Valid prefers epoch 1, test epoch 2."""
    rows = []
    for split, best in (("valid", 1), ("test", 2)):
        for epoch in (1, 2):
            p = 0.7 if epoch == best else 0.3
            r = split_items({("m", "curated", 40, 0, "", "math"): p}, 200, split, seed=epoch)
            rows.append(r.assign(epoch=epoch))
    predictions = pd.concat(rows, ignore_index=True)
    scores = tables.scores_table(predictions)
    sel = tables.select_epochs(scores, 0)
    assert sel["selected_epoch"].tolist() == [1] and sel["selected_on"].tolist() == ["valid"]
    sel = tables.select_epochs(scores[scores["split"] == "test"], 0)
    assert sel["selected_epoch"].tolist() == [2] and sel["selected_on"].tolist() == ["test"]


def test_adaptive_rounds_decide_on_valid_and_the_final_conclusions_read_test():
    valid = split_items(grid_truth(VALID, MODEL_SIZES, SIZES), 300, "valid", 1)
    test = split_items(grid_truth(TEST, MODEL_SIZES, SIZES), 300, "test", 2)
    predictions, scores = tables_for(pd.concat([valid, test], ignore_index=True))
    spec = adaptive.Spec(abilities=list(VALID), model_sizes=list(MODEL_SIZES), guideline_model_sizes=["m"],
                         budget=BUDGET, settings={"n_boot": 40, "n_draws": 20, "batch": 2, "max_rounds": 1})
    result = adaptive.replay(predictions, scores, spec)
    first = result["records"][1]
    assert first["decided_on"] == "valid"
    seeds = adaptive.cells_of(result["records"][0]["chosen"])
    on = {s: adaptive.conclusions(bs.bootstrap(adaptive.items_of(bs.selected_items(predictions, scores, s), seeds),
                                               n_boot=40), spec) for s in ("valid", "test")}
    assert first["conclusions"] == on["valid"] != on["test"]
    # the final conclusions: the measured cells read on test
    measured = adaptive.cells_of(result["cells"])
    final = {s: adaptive.final_conclusions(bs.selected_items(predictions, scores, s), measured, spec)
             for s in ("valid", "test")}
    assert result["adaptive"] == final["test"] != final["valid"]


def test_extrapolation_form_is_kept_by_valid_and_validated_on_test(tmp_path):
    """Valid has no gold log-likelihoods, so only the direct form validates there; test has them."""
    params = {"xs": 1.0e5, "s": 4.0e5, "m": 1.6e6}
    a = np.array([-0.3, -0.35, -0.25, 0.02])
    losses = {(m, "curated", d, ab): float(np.exp(a[0] + a[1] * (np.log2(d) - 8) + a[2] * (np.log2(n) - 18)) * k)
              for m, n in params.items() for d in SIZES for ab, k in (("biology", 1.0), ("ethics", 1.3))}
    test = ladder_items(losses, lambda _, lv: float(0.25 + 0.65 * special.expit(-1 - 2 * (lv - 1))), 150, seed=11)
    valid = test.drop(columns=["gold_logprob", "gold_tokens"]).assign(
        eval_set=lambda d: d["ability"] + "_valid", item_hash=lambda d: "valid-" + d["item_hash"])
    predictions, scores = tables_for(pd.concat([valid, test], ignore_index=True))
    t = pipeline.analyze(scores, predictions, tmp_path, model_sizes=list(params), params=params, n_boot=60,
                         study="split", budget=None)
    _, settings = pipeline.load_tables(tmp_path)
    val = t["extrapolation_validation"]
    assert settings["extrapolation"]["form"] == "direct" and settings["extrapolation"]["form_decided_on"] == "valid"
    assert set(val.loc[val["chosen"], "form"]) == {"direct"} and (val["decided_on"] == "valid").all()
    # the figures are test's: both forms validated on the test items, as an independent run finds them
    items = bs.selected_items(predictions, scores, "test")
    _, own, _ = ex.validate(bs.bootstrap(items, n_boot=60), bs.bootstrap(ex.items_with_loss(items), n_boot=60),
                            params, abilities=["biology", "ethics"], n_abilities=2)
    mine = val.set_index(["ability", "form"])["mae"]
    assert set(own["form"]) == {"direct", "ladder"} and ex.choose_form(own) == "ladder"  # test would keep the other
    for r in own.itertuples():
        assert mine[(r.ability, r.form)] == pytest.approx(r.mae)


# --------------------------------------------------------------------- benchmarks at the selected epoch
def test_paper_study_benchmarks_each_recipe_cell_once_at_its_selected_epoch():
    from growthpace import study

    config = study.load_config(Path(__file__).resolve().parents[1] / "config" / "studies" / "doit-paper.yaml")
    recipe = next(c for c in study.training_cells(config) if c.data_source == study.RECIPE and c.model_size == "7b")
    curated = next(c for c in study.training_cells(config) if c.data_source == "curated" and c.model_size == "7b")
    assert config["evaluation"]["benchmarks"]["epochs"] == study.SELECTED
    for epoch in study.epochs(config, "7b"):  # no per-epoch evaluation carries them
        assert "benchmarks" not in study.eval_spec(config, recipe, epoch)
    spec = study.selected_benchmark_spec(config, recipe)
    assert set(spec["benchmarks"]) >= {"cmmlu", "agieval"} and spec["abilities"] == [] and spec["splits"] == []
    assert "ood" not in spec and study.selected_benchmark_spec(config, curated) == {}  # cells: recipes


def test_sets_evaluated_at_one_epoch_only_do_not_choose_it(tmp_path):
    """Test only (no valid split): a benchmark scored at epoch 2 alone must not pull the selection there."""
    rows = []
    for epoch, p in ((1, 0.6), (2, 0.5)):
        rows.append(split_items({("m", "recipe", 40, 0, "r", "math"): p}, 200, "test", seed=epoch).assign(epoch=epoch))
    bench = split_items({("m", "recipe", 40, 0, "r", "cmmlu_0shot_x"): 1.0}, 200, "test", seed=3).assign(epoch=2)
    scores = tables.scores_table(pd.concat([*rows, bench], ignore_index=True))
    assert tables.select_epochs(scores, 0)["selected_epoch"].tolist() == [1]
    files = []
    for k, r in enumerate(rows):
        files.append(tmp_path / f"epoch{k + 1}.parquet")
        r.to_parquet(files[-1])
    assert tables.selected_epoch(files, 0, scoring=None) == 1
    assert tables.selected_epoch(files, 1, scoring=None) == 2  # select_after 1 leaves epoch 2
