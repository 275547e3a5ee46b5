"""Sensitivities, groups and the curated/synthetic comparison on constructed studies with known answers."""

import numpy as np
import pytest

from growthpace.analysis import bootstrap as bs
from growthpace.analysis import sensitivity as sens
from growthpace.analysis import sources
from tests.analysis_data import covers, grid_truth, items_for, tables_for

SIZES = (10, 40, 160, 640, 2560, 10000)
MODELS = ("7b", "13b", "33b")
L10 = np.log2(10)
# ability: (curve in log2 size, gain per model-size step, expected group)
STUDY = {
    "biology": (lambda x: 0.2 + 0.04 * (x - L10), 0.06, "data+model"),
    "understanding": (lambda x: 0.2 + 0.04 * (x - L10), 0.0, "data"),
    "chinese": (lambda x: 0.4, 0.08, "model"),
    "ethics": (lambda x: 0.5, 0.0, "neither"),
    "creative_writing": (lambda x: 0.3 + 0.1 * (min(x, np.log2(640)) - L10), 0.0, "saturating"),
}


def boot_for(truth, n_items, n_boot=400, seed=0):
    predictions, scores = tables_for(items_for(truth, n_items, seed=seed))
    return bs.bootstrap(bs.selected_items(predictions, scores), n_boot=n_boot, seed=seed)


@pytest.fixture(scope="module")
def study():
    truth = {}
    for a, (f, step, _) in STUDY.items():
        truth.update(grid_truth({a: f}, model_sizes=MODELS, sizes=SIZES, model_step={a: step}))
    return boot_for(truth, 1500)


def test_groups_follow_from_the_numbers(study):
    s = sens.sensitivity(study, list(STUDY), model_sizes=list(MODELS)).set_index("ability")
    assert {a: s.loc[a, "group"] for a in STUDY} == {a: g for a, (_, _, g) in STUDY.items()}
    assert s.loc["creative_writing", "stop_point"] == 640
    assert s.loc["creative_writing", "stop_per_ability"] == 640 / len(STUDY)
    assert covers(s.loc["biology", "data_gain_low"], s.loc["biology", "data_gain_high"], 0.04)
    assert covers(s.loc["biology", "model_gain_low"], s.loc["biology", "model_gain_high"], 0.06)
    assert covers(s.loc["chinese", "model_gain_low"], s.loc["chinese", "model_gain_high"], 0.08)
    assert s.loc["chinese", "data_gain"] == pytest.approx(0, abs=0.01)


def test_gains_equal_least_squares_slopes_computed_directly(study):
    s = sens.sensitivity(study, ["biology"], model_sizes=list(MODELS)).iloc[0]
    sizes, point, _ = sens.grid_values(study, "biology", "curated", list(MODELS))
    assert s["data_gain"] == pytest.approx(np.polyfit(np.log2(sizes), point.mean(axis=0), 1)[0])
    assert s["model_gain"] == pytest.approx(np.polyfit([0, 1, 2], point.mean(axis=1), 1)[0])
    assert s["total_gain"] == pytest.approx(point.mean(axis=0)[-1] - point.mean(axis=0)[0])


def base_row(**kw):
    row = {"min_size": 10.0, "stop_point": np.inf, "early_gain_low": np.nan, "flattening_low": np.nan,
           "data_gain_low": 0.0, "model_gain_low": 0.0}
    return {**row, **kw}


@pytest.mark.parametrize("row,group", [
    (base_row(data_gain_low=0.02, model_gain_low=0.02), "data+model"),
    (base_row(data_gain_low=0.02, model_gain_low=0.005), "data"),
    (base_row(data_gain_low=0.01, model_gain_low=0.02), "model"),   # on the threshold is not above it
    (base_row(data_gain_low=np.nan, model_gain_low=np.nan), "neither"),
    (base_row(stop_point=640.0, early_gain_low=0.05, flattening_low=0.01, data_gain_low=0.02), "saturating"),
    (base_row(stop_point=640.0, early_gain_low=0.05, flattening_low=-0.01, data_gain_low=0.02), "data"),
    (base_row(stop_point=10.0, early_gain_low=0.05, flattening_low=0.01), "neither"),
])
def test_grouping_rule(row, group):
    assert sens.group_of(row) == group


def test_thresholds_change_the_groups(study):
    strict = sens.sensitivity(study, ["biology"], model_sizes=list(MODELS), tau_data=0.2, tau_model=0.2)
    assert strict["group"].iloc[0] == "neither"


def test_one_model_size_has_no_model_gain():
    truth = grid_truth({"math": lambda x: 0.5 + 0.0 * x}, sizes=SIZES)
    s = sens.sensitivity(boot_for(truth, 300), ["math"]).iloc[0]
    assert np.isnan(s["model_gain"]) and s["group"] == "neither" and s["n_model_sizes"] == 1


# ----------------------------------------------------------------------------- curated vs synthetic
@pytest.fixture(scope="module")
def sources_study():
    ceiling = 2560
    truth = {}
    for a, gap in (("biology", 0.15), ("history", 0.05)):
        cur = lambda x: 0.3 + 0.03 * (x - L10)  # noqa: E731
        syn = lambda x, gap=gap: 0.3 - gap + 0.03 * (min(x, np.log2(ceiling)) - L10)  # noqa: E731
        truth.update(grid_truth({a: cur}, model_sizes=("13b",), sizes=SIZES))
        truth.update(grid_truth({a: syn}, model_sizes=("13b",), sizes=SIZES + (40960,), source="synthetic"))
    return boot_for(truth, 2500)


def test_known_gap_is_recovered_per_ability_and_size(sources_study):
    g = sources.source_gaps(sources_study, ["biology", "history"])
    assert list(g.columns) == sources.GAP_COLUMNS
    small = g[g["data_size"] <= 2560]
    for a, gap in (("biology", 0.15), ("history", 0.05), ("mean", 0.10)):
        rows = small[small["ability"] == a]
        assert len(rows) == 5
        assert all(covers(lo, hi, gap) for lo, hi in zip(rows["ci_low"], rows["ci_high"]))
        assert rows["gap"].mean() == pytest.approx(gap, abs=0.02)
    big = g[(g["data_size"] == 10000) & (g["ability"] == "mean")].iloc[0]
    assert big["gap"] == pytest.approx(0.10 + 0.03 * 2, abs=0.03)  # the synthetic curve stopped


def test_synthetic_ceiling_is_found_with_an_interval_that_covers_it(sources_study):
    c = sources.ceilings(sources_study, ["biology", "history"]).set_index(["ability", "data_source"])
    syn = c.loc[("mean", "synthetic")]
    assert syn["ceiling"] == 2560
    assert syn["ceiling_low"] <= 2560 <= syn["ceiling_high"]
    assert covers(syn["gain_after_low"], syn["gain_after_high"], 0.0)
    assert np.isinf(c.loc[("mean", "curated"), "ceiling"])  # curated keeps rising
