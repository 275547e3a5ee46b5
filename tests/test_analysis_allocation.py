"""The optimised allocation (analysis.allocation) on constructed curves whose optimum is known in closed
form: concave a_i log n curves (n_i proportional to a_i), water-filling under pools, integer counts,
the support's bounds, the lower-quantile objective, the tolerance, transfer as effective data, the
shrinkage factors; and the score model built from a study's own growth curves."""

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from growthpace.analysis import allocation as al
from growthpace.analysis import bootstrap as bs
from growthpace.analysis import guideline
from growthpace.analysis.transfer import MATRIX_COLUMNS
from growthpace.train.settings import SFTSettings, plan_repeats
from tests.analysis_data import grid_truth, items_for, tables_for


@dataclass
class LogScores:
    """f_i(n) = a_i log2 n, with replicates a_i^b log2 n (``slope_reps`` (B, K)), supported on [lo, hi]."""

    abilities: list
    slopes: np.ndarray
    slope_reps: np.ndarray
    lo: float = 1.0
    hi: float = 1e6

    def predict(self, ability, counts):
        i = self.abilities.index(ability)
        x = np.log2(np.atleast_1d(np.asarray(counts, dtype=float)))
        return self.slopes[i] * x, self.slope_reps[:, i][:, None] * x[None, :]

    def support(self, ability):
        return self.lo, self.hi


def log_scores(slopes, n_boot=4, spread=0.0, **kw):
    """Replicates spread symmetrically about the slopes (their mean is the point)."""
    slopes = np.asarray(slopes, dtype=float)
    signs = np.resize([1.0, -1.0], n_boot)
    reps = slopes[None, :] * (1 + spread * signs[:, None])
    return LogScores([f"a{i}" for i in range(len(slopes))], slopes, reps, **kw)


def objective_value(slopes, n):
    return float(np.sum(np.asarray(slopes) * np.log2(np.asarray(n, dtype=float))))


def brute_force(slopes, budget, lo, hi):
    """The integer optimum of sum a_i log2 n_i by enumeration (small problems only)."""
    best, arg = -np.inf, None
    K = len(slopes)
    for head in itertools.product(*[range(lo[i], hi[i] + 1) for i in range(K - 1)]):
        last = budget - sum(head)
        if lo[-1] <= last <= hi[-1]:
            v = objective_value(slopes, list(head) + [last])
            if v > best + 1e-12:
                best, arg = v, list(head) + [last]
    return best, arg


def test_concave_log_curves_get_counts_proportional_to_their_slopes():
    slopes = [0.06, 0.03, 0.01, 0.02]
    model = log_scores(slopes)
    r = al.optimise(model, model.abilities, 1200, shrink=False, extrapolate=0)
    n = np.array(list(r.counts.values()))
    assert n.sum() == 1200 and all(isinstance(v, int) for v in r.counts.values())
    # Lagrangian: a_i / n_i equal, so n_i = B a_i / sum a: 600, 300, 100, 200 exactly.
    assert list(n) == [600, 300, 100, 200]
    assert set(r.table["bound"]) == {""}
    # the predicted gain over the uniform split (300 each) is the closed form, in the mean over abilities
    expected = np.mean([a * np.log2(k / 300) for a, k in zip(slopes, n)])
    assert r.predicted["value"] == pytest.approx(expected, abs=1e-9)


def test_integer_counts_are_the_integer_optimum():
    slopes = [0.05, 0.031, 0.017]
    model = log_scores(slopes)
    r = al.optimise(model, model.abilities, 41, shrink=False, extrapolate=0)
    best, arg = brute_force(slopes, 41, [1, 1, 1], [41, 41, 41])
    assert list(r.counts.values()) == arg
    assert objective_value(slopes, list(r.counts.values())) == pytest.approx(best)


def test_pools_water_fill():
    # Unconstrained: 600, 300, 100 of 1000. A pool of 400 caps the first; the rest flows to the others in
    # proportion to their slopes: 600 * 3/4 = 450 and 600 * 1/4 = 150.
    model = log_scores([0.06, 0.03, 0.01])
    r = al.optimise(model, model.abilities, 1000, {"a0": 400}, shrink=False, extrapolate=0)
    assert r.counts == {"a0": 400, "a1": 450, "a2": 150}
    assert r.table.set_index("ability").loc["a0", "bound"] == "pool"
    # pools that together hold less than the budget cannot be met
    with pytest.raises(ValueError, match="larger than the counts the pools"):
        al.optimise(model, model.abilities, 1000, {"a0": 300, "a1": 300, "a2": 300}, shrink=False)


def test_integer_optimum_under_pools_and_support_by_enumeration():
    slopes = [0.08, 0.05, 0.02, 0.001]
    model = log_scores(slopes, lo=4, hi=16)
    pools = {"a0": 12}
    r = al.optimise(model, model.abilities, 40, pools, shrink=False, extrapolate=0)
    lo, hi = [4, 4, 4, 4], [12, 16, 16, 16]
    best, arg = brute_force(slopes, 40, lo, hi)
    assert objective_value(slopes, list(r.counts.values())) == pytest.approx(best)
    assert r.table["lower"].tolist() == lo and r.table["upper"].tolist() == hi


def test_the_support_bounds_the_counts_by_items_and_by_examples_seen():
    model = log_scores(np.linspace(0.01, 0.05, 10), lo=4, hi=256)  # ten abilities, 4..256 items measured
    # one doubling beyond the measured 4..256 items per ability
    lo, hi = al.count_bounds(model, model.abilities, 640, extrapolate=1)
    assert set(lo) == {2} and set(hi) == {512}
    # The demo's training: small cells repeat their data to 160 optimiser steps, so every grid size up to
    # 640 in all showed each ability 128 examples; a recipe of 640 sees each item twice: 128 / 2 examples,
    # halved by the one doubling allowed, is 32 items at least. Above: 256 items x 2 passes at 2560 = 512
    # examples, doubled, over 2 passes per item = 512 items.
    demo = {"epochs": 2, "min_steps": 160, "batch_size": 8}
    settings = SFTSettings(epochs=2, min_steps=160, batch_size=8)
    for total in (40, 160, 640):
        assert total // 10 * 2 * plan_repeats(total, settings) == 128  # examples seen per ability
    assert al.passes(640, demo) == 2 and al.passes(40, demo) == 32
    lo, hi = al.count_bounds(model, model.abilities, 640, extrapolate=1, training=[demo])
    assert set(lo) == {32} and set(hi) == {512}
    lo, hi = al.count_bounds(model, model.abilities, 640, extrapolate=0, training=[demo], pools={"a0": 200})
    assert set(lo) == {64} and hi[0] == 200 and set(hi[1:]) == {256}
    # the optimum sits within them: the steepest abilities get the most, the flattest are held at 32
    r = al.optimise(model, model.abilities, 640, extrapolate=1, training=[demo], shrink=False)
    assert r.counts["a0"] == 32 and r.counts["a9"] > 64 and sum(r.counts.values()) == 640
    with pytest.raises(ValueError, match="smaller than the smallest counts the curves support"):
        al.count_bounds(model, model.abilities, 39, extrapolate=0, training=[demo])  # 4 items each at least


def test_the_quantile_objective_prefers_a_certain_gain():
    # a0's slope is 0.02 in half the replicates and 0 in the other half (mean 0.01), a1's is 0.009 in all,
    # a2 gains nothing from data (a free donor down to its lower bound, 10). The mean objective shares what
    # a2 gives by the mean slopes (10 : 9). The 10% lower quantile is the half of the replicates where a0
    # gains nothing as long as a0 keeps at least its uniform 100 (below it, the other half loses more), so
    # it keeps a0 at 100 and gives the rest, 190, to a1.
    reps = np.array([[0.02, 0.009, 0.0], [0.0, 0.009, 0.0]] * 50)
    model = LogScores(["a0", "a1", "a2"], reps.mean(axis=0), reps, lo=10)
    mean = al.optimise(model, model.abilities, 300, shrink=False, extrapolate=0)
    _, arg = brute_force([0.01, 0.009, 0.0], 300, [10, 10, 10], [280, 280, 280])
    assert list(mean.counts.values()) == arg and arg[2] == 10 and arg[0] > 150
    robust = al.optimise(model, model.abilities, 300, objective="quantile", quantile=0.1, shrink=False,
                         extrapolate=0)
    assert robust.counts == {"a0": 100, "a1": 190, "a2": 10}
    assert robust.predicted["objective"] == pytest.approx(0.009 * np.log2(1.9) / 3)
    with pytest.raises(ValueError, match="objective must be one of"):
        al.optimise(model, model.abilities, 300, objective="median")


def test_tolerance_keeps_every_ability_within_it_of_the_uniform_split():
    # Unconstrained, a1 (slope 0.01) would get 100 of 1000 against a uniform 500. With tolerance t, its
    # loss a log2(500 / n) <= t gives n >= 500 * 2^(-t / a): 0.01 -> 250.
    model = log_scores([0.09, 0.01])
    free = al.optimise(model, model.abilities, 1000, shrink=False, extrapolate=0)
    assert free.counts == {"a0": 900, "a1": 100}
    r = al.optimise(model, model.abilities, 1000, tolerance=0.01, shrink=False, extrapolate=0)
    assert r.counts == {"a0": 750, "a1": 250}
    row = r.table.set_index("ability").loc["a1"]
    assert row["bound"] == "tolerance" and row["predicted"] == pytest.approx(-0.01, abs=1e-4)
    # judged on the lower quantile of the replicates: a spread slope makes the bound stricter
    spread = log_scores([0.09, 0.01], n_boot=100, spread=0.5)
    strict = al.optimise(spread, spread.abilities, 1000, tolerance=0.01, quantile=0.1, shrink=False, extrapolate=0)
    assert strict.counts["a1"] == int(np.ceil(500 * 2 ** (-0.01 / 0.015) - 1e-9))
    # no loss at all: nothing can move from a1
    assert al.optimise(model, model.abilities, 1000, tolerance=0, shrink=False, extrapolate=0).counts["a1"] == 500


def test_transfer_as_effective_data_has_its_closed_form():
    # f_1 = a1 log m_1 with m_1 = (n_1 + rho n_2) / (1 + rho), f_2 = a2 log n_2. The Lagrangian gives
    # n_2 = a2 B / ((a1 + a2)(1 - rho)): with a1 = a2 and rho = 1/4, n_2 = 2B/3.
    model = log_scores([0.05, 0.05])
    W = np.array([[1.0, 0.25], [0.0, 1.0]])
    W = W / W.sum(axis=1, keepdims=True)
    r = al.optimise(model, model.abilities, 300, transfer=W, shrink=False, extrapolate=0)
    assert r.counts == {"a0": 100, "a1": 200}
    assert al.optimise(model, model.abilities, 300, shrink=False, extrapolate=0).counts == {"a0": 150, "a1": 150}


def test_transfer_weights_from_the_transfer_matrix():
    rows = []
    delta = {("x", "x"): 0.2, ("y", "x"): 0.05, ("x", "y"): 0.3, ("y", "y"): 0.1, ("z", "x"): -0.1,
             ("z", "z"): 0.0, ("x", "z"): 0.05}
    for (trained, evaluated), d in delta.items():
        low = d - 0.05
        rows.append({"model_size": "m", "n": 64, "trained": trained, "evaluated": evaluated, "score": np.nan,
                     "base_score": np.nan, "delta": d, "ci_low": low, "ci_high": d + 0.05})
    W = al.transfer_weights(pd.DataFrame(rows, columns=MATRIX_COLUMNS), ["x", "y", "z"], "m")
    # x: y's data worth 0.05/0.2 of its own, z's negative transfer clipped to 0; y: x's worth 0.3/0.1,
    # clipped to 1; z: its own data does not measurably help it (interval not above 0), so no weights.
    assert W[0].tolist() == pytest.approx(np.array([1, 0.25, 0]) / 1.25)
    assert W[1].tolist() == pytest.approx([0.5, 0.5, 0])
    assert W[2].tolist() == [0, 0, 1]
    assert (al.transfer_weights(pd.DataFrame(columns=MATRIX_COLUMNS), ["x", "y"]) == np.eye(2)).all()


def test_shrinkage_factors_are_the_empirical_bayes_ones():
    rng = np.random.default_rng(0)
    gains = np.array([0.1, 0.3, 0.2, 0.0])
    sigma = np.array([0.05, 0.1, 0.02, 0.05])
    reps = gains + sigma * rng.standard_normal((20000, 4))
    lam = al.shrinkage_factors(gains, reps)
    tau2 = np.var(gains, ddof=1) - np.mean(sigma ** 2)
    assert lam == pytest.approx(tau2 / (tau2 + sigma ** 2), rel=0.03)
    # gains that differ by less than their noise: everything shrinks to the common curve
    assert al.shrinkage_factors(np.array([0.1, 0.11]), 0.1 * rng.standard_normal((1000, 2))).tolist() == [0, 0]


def test_shrinkage_pulls_noisy_slopes_together_and_the_allocation_towards_uniform():
    # Two slopes 0.06 and 0.02 measured with noise sd 0.02: tau^2 = var(0.06, 0.02) - 0.02^2 = 0.0004,
    # lambda = 1/2, so the shrunk slopes are 0.05 and 0.03: counts 625 and 375 of 1000 instead of 750, 250.
    rng = np.random.default_rng(1)
    z = rng.standard_normal((1000, 2))
    z = (z - z.mean(axis=0)) / z.std(axis=0, ddof=1)  # exactly unit variance
    model = LogScores(["a0", "a1"], np.array([0.06, 0.02]), np.array([0.06, 0.02]) + 0.02 * z)
    assert al.optimise(model, model.abilities, 1000, shrink=False, extrapolate=0).counts == {"a0": 750, "a1": 250}
    r = al.optimise(model, model.abilities, 1000, extrapolate=0)
    assert r.table["shrinkage"].tolist() == pytest.approx([0.5, 0.5], abs=1e-9)
    assert r.counts == {"a0": 625, "a1": 375}


def test_predicted_gains_are_paired_and_in_closed_form():
    model = log_scores([0.04, 0.02], n_boot=10, spread=0.5)
    g = al.predicted_gains(model, {"a0": 150, "a1": 50}).set_index("ability")
    assert g.loc["a0", "predicted"] == pytest.approx(0.04 * np.log2(150 / 100))
    assert g.loc["a1", "predicted"] == pytest.approx(0.02 * np.log2(50 / 100))
    assert g.loc["mean", "predicted"] == pytest.approx((g.loc["a0", "predicted"] + g.loc["a1", "predicted"]) / 2)
    factor = 1 + 0.5 * np.resize([1, -1], 10)
    reps = (0.04 * np.log2(1.5) * factor + 0.02 * np.log2(0.5) * factor) / 2
    lo, hi = bs.interval(reps, 0.95)
    assert (g.loc["mean", "predicted_low"], g.loc["mean", "predicted_high"]) == pytest.approx((lo, hi))


def test_items_needed_is_the_normal_power_calculation():
    # (z_0.975 + z_0.8)^2 (sd / d)^2 = 2.8016^2 * 100 = 784.9 -> 785
    assert guideline.items_needed(1.0, 0.1, 0.95) == 785
    assert guideline.items_needed(1.0, -0.1, 0.95) == 785
    assert np.isnan(guideline.items_needed(1.0, 0.0, 0.95))


# ------------------------------------------------------------------ the study's own curves
SIZES = (40, 160, 640, 2560)
L = np.log2(40)
TRUE = {"steep": lambda x: 0.2 + 0.08 * (x - L), "shallow": lambda x: 0.3 + 0.02 * (x - L),
        "flat": lambda x: 0.5, "saturating": lambda x: 0.2 + 0.1 * (min(x, np.log2(640)) - L)}


@pytest.fixture(scope="module")
def curve_boot():
    truth = grid_truth(TRUE, model_sizes=("m",), sizes=SIZES)
    predictions, scores = tables_for(items_for(truth, 3000, coupling=0.9))
    return bs.bootstrap(bs.selected_items(predictions, scores), n_boot=200)


def test_curve_scores_follow_the_measured_curves(curve_boot):
    model = al.CurveScores.from_boot(curve_boot, list(TRUE), ["m"], n_abilities=4)
    assert model.support("steep") == (10.0, 640.0)  # per-ability items: 40 / 4 .. 2560 / 4
    for a, f in TRUE.items():
        point, reps = model.predict(a, [10, 40, 160, 640])
        truth = [f(np.log2(4 * n)) for n in (10, 40, 160, 640)]
        assert point == pytest.approx(truth, abs=0.03)
        assert reps.shape == (200, 4)
    # Allocation of 4 x 160 items on these curves: the flat and the saturated (beyond 160 per ability) give
    # way, the steep gains most; it keeps within the measured items (extrapolate 0) and the total.
    r = al.optimise(model, list(TRUE), 640, extrapolate=0)
    c = r.counts
    assert sum(c.values()) == 640 and c["flat"] == 10 and c["steep"] > c["shallow"] > 10
    assert c["saturating"] <= 180 and r.predicted["value"] > 0


def test_derive_runs_both_methods_and_names_their_recipes(curve_boot, tmp_path):
    from growthpace.analysis.sensitivity import sensitivity

    sens = sensitivity(curve_boot, list(TRUE), "curated", ["m"], 4)
    demo = {"epochs": 2, "min_steps": 160, "batch_size": 8}
    counts, table = guideline.derive(curve_boot, sens, list(TRUE), ["m"], 640, ["paper", "optimize"],
                                     training=[demo])
    assert set(counts) == {"paper", "optimize"} and all(sum(c.values()) == 640 for c in counts.values())
    assert list(table.columns) == guideline.ALLOCATION_COLUMNS
    means = table[table["ability"] == "mean"].set_index("method")
    assert means["count"].tolist() == [640, 640] and means["predicted"].notna().all()
    assert np.isnan(means.loc["paper", "expected"]) and np.isfinite(means.loc["optimize", "expected"])
    # examples seen: 640 items are seen twice each; the grid's 40-item cells (10 per ability) 32 times
    per = table[table["ability"] != "mean"]
    assert (per["examples"] == 2 * per["count"]).all() and set(per["grid_examples"]) == {320}
    # within one doubling of the support in examples: no ability gets fewer than 320 / 2 passes / 2
    opt = per.query("method == 'optimize'").set_index("ability")
    assert opt["count"].min() >= 80 and opt.loc["flat", "count"] == 80 and means.loc["optimize", "predicted"] > 0
    names = guideline.recipe_names("guideline", ["paper", "optimize"])
    assert names == {"paper": "guideline", "optimize": "guideline-optimize"}
    with pytest.raises(ValueError, match="unknown guideline method"):
        guideline.derive(curve_boot, sens, list(TRUE), ["m"], 640, ["rules"])


class SizeAndDataLaw:
    """A joint growth model in closed form: score = a_i log2(data size) + 0.01 log2(parameters), the
    interface the optimiser's hook takes (``predict(ability, data_sizes, parameters)``)."""

    slopes = {"steep": 0.06, "shallow": 0.02}

    def predict(self, ability, data_sizes, parameters):
        point = self.slopes[ability] * np.log2(data_sizes) + 0.01 * np.log2(parameters)
        return point, np.repeat(point[None, :], 3, axis=0)


def test_a_model_size_that_was_not_trained_needs_the_joint_model(curve_boot):
    with pytest.raises(ValueError, match="model size.* xl: no curated growth curves; allocating for a model size "
                                         "that was not trained needs the joint growth model"):
        al.score_model(curve_boot, ["steep", "shallow"], ["xl"], 4)
    model = al.score_model(curve_boot, ["steep", "shallow"], ["xl"], 4, joint=SizeAndDataLaw(),
                           parameters={"xl": 7e9})
    assert isinstance(model, al.JointModelScores) and model.support("steep") == (10.0, 640.0)
    point, reps = model.predict("steep", [10, 40])
    assert point == pytest.approx(0.06 * np.log2([40, 160]) + 0.01 * np.log2(7e9)) and reps.shape == (3, 2)
    # the optimiser takes it like the curves: counts proportional to the data slopes (3 : 1 of 400)
    r = al.optimise(model, ["steep", "shallow"], 400, shrink=False, extrapolate=0)
    assert r.counts == {"steep": 300, "shallow": 100}
    assert isinstance(al.score_model(curve_boot, ["steep"], ["m"], 4), al.CurveScores)
