"""Growth curves, fits and the bootstrap they share, on constructed data with known answers."""

import numpy as np
import pandas as pd
import pytest

from growthpace.analysis import bootstrap as bs
from growthpace.analysis import curves
from tests.analysis_data import covers, grid_truth, items_for, tables_for

SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)


def boot_for(truth, n_items, n_boot=400, seed=0, coupling=0.7):
    predictions, scores = tables_for(items_for(truth, n_items, seed=seed, coupling=coupling))
    return bs.bootstrap(bs.selected_items(predictions, scores), n_boot=n_boot, seed=seed)


# ------------------------------------------------------------------------------------------ inputs
def test_selected_items_keeps_the_selected_epoch_of_the_test_split_and_reads_a_missing_recipe_as_plain():
    rows = []
    for epoch, p in ((1, 0.0), (2, 1.0)):
        for split in ("valid", "test"):
            rows.append(pd.DataFrame({"model_size": "s", "data_source": "curated", "data_size": 40, "seed": 0,
                                      "epoch": epoch, "eval_set": f"math_{split}", "ability": "math",
                                      "item_hash": [f"h{i}" for i in range(5)], "score": p, "expected": 0.0}))
    predictions = pd.concat(rows, ignore_index=True)  # no recipe column
    scores = pd.DataFrame({"model_size": ["s", "s"], "data_source": "curated", "data_size": 40, "seed": 0,
                           "recipe": np.nan, "epoch": [1, 2], "split": "valid", "ability": "math",
                           "selected": [False, True]})
    items = bs.selected_items(predictions, scores)
    assert set(items["epoch"]) == {2} and set(items["eval_set"]) == {"math_test"}
    assert len(items) == 5 and (items["recipe"] == "").all() and (items["score"] == 1.0).all()


@pytest.mark.parametrize("sizes,given,expected", [
    (["33b", "7b", "13b"], None, ["7b", "13b", "33b"]),
    (["m", "xs", "s"], None, ["xs", "s", "m"]),
    (["350m", "1.5b"], None, ["350m", "1.5b"]),
    (["big", "tiny"], ["tiny", "big"], ["tiny", "big"]),
    (["b", "a"], None, ["a", "b"]),
])
def test_model_sizes_are_ordered_small_to_large(sizes, given, expected):
    assert bs.order_model_sizes(sizes, given) == expected


# --------------------------------------------------------------------------------------- bootstrap
def test_item_bootstrap_interval_matches_the_normal_approximation_on_many_items():
    truth = {("s", "curated", 40, 0, "", "math"): 0.3}
    b = boot_for(truth, n_items=4000, n_boot=2000)
    p = b.point[0]
    half = 1.96 * np.sqrt(p * (1 - p) / 4000)
    lo, hi = bs.interval(b.reps[:, 0], 0.95)
    assert abs(p - 0.3) < 4 * np.sqrt(0.21 / 4000)
    assert lo == pytest.approx(p - half, abs=0.15 * half)
    assert hi == pytest.approx(p + half, abs=0.15 * half)


def test_paired_difference_interval_matches_the_normal_approximation_of_item_differences():
    truth = {("s", "curated", 40, 0, "", "math"): 0.4, ("s", "curated", 160, 0, "", "math"): 0.5}
    predictions, scores = tables_for(items_for(truth, 3000, coupling=0.8))
    items = bs.selected_items(predictions, scores)
    b = bs.bootstrap(items, n_boot=2000)
    i, j = b.pos("math", "s", "curated", 160), b.pos("math", "s", "curated", 40)
    wide = items.pivot(index="item_hash", columns="data_size", values="score")
    d = (wide[160] - wide[40]).to_numpy()
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    lo, hi = bs.interval(b.reps[:, i] - b.reps[:, j], 0.95)
    assert b.point[i] - b.point[j] == pytest.approx(d.mean())
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    # Unpaired, the interval would be wider: pairing is what makes differences precise.
    unpaired = 1.96 * np.sqrt(wide[160].var(ddof=1) / len(d) + wide[40].var(ddof=1) / len(d))
    assert (hi - lo) / 2 < 0.8 * unpaired


def test_seeds_are_averaged_and_their_spread_widens_the_interval():
    one = {("s", "curated", 40, 0, "", "math"): 0.5}
    many = {("s", "curated", 40, s, "", "math"): p for s, p in enumerate([0.3, 0.5, 0.7])}
    b1, b3 = boot_for(one, 500), boot_for(many, 500)
    assert b3.units["n_seeds"].iloc[0] == 3
    assert b3.point[0] == pytest.approx(np.mean([0.3, 0.5, 0.7]), abs=0.05)
    w1 = np.subtract(*bs.interval(b1.reps[:, 0], 0.95)[::-1])
    w3 = np.subtract(*bs.interval(b3.reps[:, 0], 0.95)[::-1])
    assert w3 > 3 * w1


def test_mean_over_abilities_averages_units_and_replicates():
    truth = {("s", "curated", 40, 0, "", a): p for a, p in (("math", 0.2), ("code", 0.6))}
    b = boot_for(truth, 300)
    m = b.mean_over(["math", "code"])
    assert list(m.units["ability"]) == ["mean"]
    assert m.point[0] == pytest.approx(b.point.mean())
    assert np.allclose(m.reps[:, 0], b.reps.mean(axis=1))


# -------------------------------------------------------------------------------------------- fits
def test_known_slope_is_recovered_and_equals_polyfit():
    slope = 0.04
    truth = grid_truth({"math": lambda x: 0.2 + slope * (x - 3)}, sizes=SIZES)
    b = boot_for(truth, 2000)
    fit = curves.fit_curves(b).iloc[0]
    sizes, point, _ = curves.curve(b, "math", "s", "curated")
    b_np, a_np = np.polyfit(np.log2(sizes), point, 1)
    assert fit["model"] == "linear"
    assert fit["slope"] == pytest.approx(b_np) and fit["intercept"] == pytest.approx(a_np)
    assert covers(fit["slope_low"], fit["slope_high"], slope)
    assert fit["slope"] == pytest.approx(slope, abs=0.005)
    assert np.isinf(fit["stop_point"])  # still rising at the largest size


def test_known_saturation_point_is_recovered_with_an_interval_that_covers_it():
    knee = 256
    truth = grid_truth({"math": lambda x: 0.2 + 0.08 * (min(x, np.log2(knee)) - 3)}, sizes=SIZES)
    b = boot_for(truth, 2000)
    fit = curves.fit_curves(b).iloc[0]
    assert fit["model"] == "saturating" and fit["p_chosen"] > 0.8
    assert fit["sat_point_low"] <= knee <= fit["sat_point_high"]
    assert fit["sat_point"] == pytest.approx(knee, rel=0.25)
    assert covers(fit["plateau_low"], fit["plateau_high"], 0.2 + 0.08 * 5)
    assert fit["stop_low"] <= knee <= fit["stop_high"]
    assert fit["stop_point"] == knee


def test_flat_curve_is_flat_and_stops_at_the_smallest_size():
    truth = grid_truth({"ethics": lambda x: 0.5}, sizes=SIZES)
    fit = curves.fit_curves(boot_for(truth, 1000)).iloc[0]
    assert fit["model"] == "flat"
    assert fit["slope_low"] <= 0 <= fit["slope_high"]
    assert fit["stop_point"] == SIZES[0]


def test_saturating_fit_is_exact_on_noiseless_points():
    x = np.log2(np.array(SIZES, dtype=float))
    y = 0.1 + 0.05 * np.minimum(x, 6.5)
    fit = curves.fit_saturating(x, y[None, :])
    assert fit["xs"][0] == pytest.approx(6.5, abs=curves.XS_STEP)
    assert fit["slope"][0] == pytest.approx(0.05, rel=0.01)
    assert fit["rss"][0] == pytest.approx(0, abs=1e-6)


def test_aic_is_chi2_with_known_errors_plus_twice_the_parameters():
    resid = np.array([[0.01, -0.02, 0.03, 0.0]])
    se = np.array([0.01, 0.02, 0.02, 0.04])
    expected = (0.01 / 0.01) ** 2 + (0.02 / 0.02) ** 2 + (0.03 / 0.02) ** 2 + 0 + 2 * 2
    assert curves.aic(resid, se, 2)[0] == pytest.approx(expected)
    assert np.isinf(curves.aic(resid[:, :3], se[:3], 3)[0])  # saturating needs 4 sizes
    assert np.isfinite(curves.aic(resid, se, 3)[0])


def test_a_slope_well_above_the_item_noise_is_linear_on_four_sizes():
    """The demo's case: 60 test items and four sizes; a slope whose interval lies above 0 is linear."""
    truth = grid_truth({"code": lambda x: 0.3 + 0.05 * (x - 5)}, sizes=(40, 160, 640, 2560))
    b = boot_for(truth, 60, n_boot=1000)
    fit = curves.fit_curves(b).iloc[0]
    assert fit["slope_low"] > 0.01
    assert fit["model"] == "linear"


def test_curves_with_few_sizes_get_no_shape_but_a_slope():
    truth = grid_truth({"math": lambda x: 0.2 + 0.05 * x}, sizes=(10, 40))
    fit = curves.fit_curves(boot_for(truth, 500)).iloc[0]
    assert fit["model"] == "" and np.isnan(fit["p_chosen"])
    assert fit["slope"] == pytest.approx(0.05, abs=0.03)


def test_stop_point_on_exact_curves():
    sizes = np.array([10, 40, 160, 640, 2560], dtype=float)
    x = np.log2(sizes)
    no_noise = np.zeros((50, 5))
    rising = 0.1 * x
    assert np.isinf(curves.stop_point(sizes, rising, rising + no_noise)[0])
    knee = 0.1 * np.minimum(x, np.log2(160))
    stop, reps = curves.stop_point(sizes, knee, knee + no_noise)
    assert stop == 160 and (reps == 160).all()
    assert curves.stop_point(sizes, np.ones(5), np.ones((50, 5)))[0] == 10


def test_predict_reproduces_the_fitted_points():
    truth = grid_truth({"math": lambda x: 0.2 + 0.08 * (min(x, 8) - 3)}, sizes=SIZES)
    b = boot_for(truth, 2000)
    fit = curves.fit_curves(b).iloc[0]
    _, point, _ = curves.curve(b, "math", "s", "curated")
    resid = point - curves.predict(fit, SIZES)
    assert np.sqrt(np.mean(resid ** 2)) < 0.02


def test_growth_curves_hold_plain_and_base_units_only():
    truth = grid_truth({"math": lambda x: 0.3}, sizes=(10, 40))
    truth[("s", "base", 0, 0, "", "math")] = 0.25
    truth[("s", "recipe", 40, 0, "baseline", "math")] = 0.3
    c = curves.growth_curves(boot_for(truth, 200))
    assert sorted(c["data_source"].unique()) == ["base", "curated"]
    assert list(c.columns) == curves.CURVE_COLUMNS
    assert (c["ci_low"] <= c["score"]).all() and (c["score"] <= c["ci_high"]).all()
