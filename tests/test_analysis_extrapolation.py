"""The growth model over data size and parameter count, on constructed studies that follow a known law:
the law's parameters come back, the intervals cover near their nominal level over repeated studies,
held-out figures agree with an independent computation, and too few model sizes get a clear message."""

import json
import re
import shutil

import numpy as np
import pytest
import yaml
from safetensors import safe_open
from scipy import special

from growthpace import study
from growthpace.analysis import bootstrap as bs
from growthpace.analysis import extrapolation as ex
from growthpace.analysis import pipeline, plots, report
from growthpace.models.size import parameter_count
from tests.analysis_data import items_for, ladder_items, tables_for

PARAMS = {"xs": 1.0e5, "s": 4.0e5, "m": 1.6e6}
SIZES = (40, 160, 640, 2560)
G, CEILING = 0.25, 0.9
# Direct laws in raw units (x = log2 items - 8, z = log2 parameters - 18): b0, b1, b2, b3.
LAWS = {"math": np.array([-0.5, 0.35, 0.5, 0.08]), "code": np.array([0.3, 0.2, 0.3, -0.05])}


def direct_law(ability, data_size, params):
    b = LAWS[ability]
    x, z = np.log2(data_size) - 8, np.log2(params) - 18
    return G + (CEILING - G) * special.expit(b[0] + b[1] * x + b[2] * z + b[3] * x * z)


def direct_truth(params=PARAMS, sizes=SIZES, laws=LAWS):
    return {(m, "curated", d, 0, "", a): float(direct_law(a, d, n))
            for m, n in params.items() for d in sizes for a in laws}


def boot_of(items, n_boot, seed=0):
    return bs.bootstrap(items, n_boot=n_boot, seed=seed), bs.bootstrap(ex.items_with_loss(items), n_boot=n_boot, seed=seed)


def standardised(b, fit):
    """The raw-unit coefficients ``b`` in the fit's standardised axes ((x - x0) / sx, (z - z0) / sz)."""
    x0, sx, z0, sz = fit.centre
    u0, v0 = x0 - 8, z0 - 18  # the fit's centre in the law's units
    b0 = b[0] + b[1] * u0 + b[2] * v0 + b[3] * u0 * v0
    return np.array([b0, (b[1] + b[3] * v0) * sx, (b[2] + b[3] * u0) * sz, b[3] * sx * sz])


# ------------------------------------------------------------------------------------ parameter count
def test_parameter_count_from_the_config_is_the_stored_weights_count(tiny_model_dir, tmp_path):
    """Counted on the meta device from config.json alone (the weights are not there to read), it equals
    the number of values stored in model.safetensors (tied embeddings stored, and counted, once)."""
    with safe_open(tiny_model_dir / "model.safetensors", framework="pt") as f:
        stored = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    shutil.copy(tiny_model_dir / "config.json", config_only / "config.json")
    assert parameter_count(config_only) == stored == parameter_count(tiny_model_dir)
    assert json.loads((tiny_model_dir / "config.json").read_text())["tie_word_embeddings"] is True
    with pytest.raises(FileNotFoundError, match="no config.json"):
        parameter_count(tmp_path)


def test_model_parameters_take_the_count_a_pretrained_base_model_recorded(tiny_model_dir, tmp_path):
    """A base model pretrained here has its count in its store manifest (models.tiny counts the model's
    distinct parameters, as parameter_count does from its config); a model used in place, or a manifest
    that is another artifact's, is counted from its config.json."""
    from growthpace.artifacts import model_parameters
    from growthpace.models.tiny import build_model
    from growthpace.store import Artifact, write_receipt

    config = json.loads((tiny_model_dir / "config.json").read_text())
    arch = {k: config[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                                   "intermediate_size")}
    model = build_model(arch, config["vocab_size"], config["pad_token_id"], config["eos_token_id"], seed=1)
    counted = parameter_count(tiny_model_dir)
    assert sum(p.numel() for p in model.parameters()) == counted  # what pretrain records
    receipts = {}
    for name, manifest in {"built": {"kind": "base_model", "key": "k1", "parameters": 7},
                           "other": {"kind": "base_model", "key": "another", "parameters": 7},
                           "in-place": None}.items():
        d = tmp_path / name
        d.mkdir()
        shutil.copy(tiny_model_dir / "config.json", d / "config.json")
        if manifest:
            (d / "manifest.json").write_text(json.dumps(manifest))
        write_receipt(tmp_path / f"{name}.json", Artifact("base_model", "k1", d))
        receipts[name] = tmp_path / f"{name}.json"
    assert model_parameters(receipts) == {"built": 7, "other": counted, "in-place": counted}


# ------------------------------------------------------------------------------------ known laws
def test_direct_fit_recovers_the_law():
    """Many items, three model sizes, five data sizes: the fitted coefficients and ceiling are the law's,
    and the bootstrap intervals hold them."""
    sizes = (40, 160, 640, 2560, 10240)
    items = items_for(direct_truth(sizes=sizes), 3000, seed=3)
    boot, loss = boot_of(items, 200)
    model = ex.fit_growth(boot, loss, PARAMS, form="direct")
    assert model.abilities == ["code", "math"] and list(model.params) == ["xs", "s", "m"]
    for ability, b in LAWS.items():
        fit = model.fits[ability]
        truth = np.append(standardised(b, fit), special.logit((CEILING - G) / (1 - G)))
        lo, hi = np.quantile(fit.theta[1:], [0.005, 0.995], axis=0)
        assert np.all((lo <= truth) & (truth <= hi)), (ability, fit.theta[0], truth)
        assert np.abs(fit.theta[0, :4] - truth[:4]).max() < 0.15
        ceiling = fit.floor[0] + (1 - fit.floor[0]) * special.expit(fit.theta[0, -1])
        assert ceiling == pytest.approx(CEILING, abs=0.05)
        assert fit.floor[0] == G  # every score is above the random guess: the floor is the random guess


def test_ladder_fit_recovers_both_steps():
    """A study whose gold-answer loss follows a power law in data and parameters and whose score is a
    sigmoid of that loss: step 1 returns the loss law, step 2 the sigmoid."""
    a = np.array([-0.3, -0.35, -0.25, 0.02])  # log loss in the law's raw units
    k0, k1, c = -1.0, -2.0, 0.92              # score = G + (c - G) sigmoid(k0 + k1 (loss - 1))

    def loss_law(d, n):
        x, z = np.log2(d) - 8, np.log2(n) - 18
        return float(np.exp(a[0] + a[1] * x + a[2] * z + a[3] * x * z))

    losses = {(m, "curated", d, "math"): loss_law(d, n) for m, n in PARAMS.items() for d in SIZES}
    items = ladder_items(losses, lambda _, lv: float(G + (c - G) * special.expit(k0 + k1 * (lv - 1))), 3000, seed=5)
    model = ex.fit_items(items, PARAMS, n_boot=200)
    assert model.form == "ladder"  # the items carry the gold answer's log-likelihood
    fit = model.fits["math"]
    gamma = standardised(a, fit)
    assert np.abs(fit.gamma[0] - gamma).max() < 0.03
    centre, sd = fit.loss_scale  # step 2 in standardised loss: k0 + k1 (loss - 1) = t0 + t1 (loss - centre) / sd
    step2 = np.array([k0 + k1 * (centre - 1), k1 * sd])
    lo, hi = np.quantile(fit.theta[1:, :2], [0.005, 0.995], axis=0)
    assert np.all((lo <= step2) & (step2 <= hi)), (fit.theta[0], step2)
    assert fit.floor[0] + (1 - fit.floor[0]) * special.expit(fit.theta[0, -1]) == pytest.approx(c, abs=0.08)
    # and the composed prediction at a size it never saw is the law's
    d = np.array(SIZES, dtype=float)
    truth = G + (c - G) * special.expit(k0 + k1 * (np.array([loss_law(x, 6.4e6) for x in d]) - 1))
    assert np.abs(fit.scores(d, 6.4e6)[0] - truth).max() < 0.03


def test_intervals_cover_near_nominal_over_simulated_studies():
    """30 small studies (100 test items, 70% of item outcomes shared between cells, one seed) that follow
    the direct law: fitted on xs and s, the curve's 95% interval holds m's true score near 95% of the
    time, and the prediction interval holds m's measured score at least as often (it is conservative:
    the shared part of the item noise is in both its terms) without being uselessly wide."""
    truth_cover, measured_cover, widths = [], [], []
    for s in range(30):
        boot = bs.bootstrap(items_for(direct_truth(), 100, seed=100 + s, coupling=0.7), n_boot=100, seed=s)
        rows, _, _ = ex.validate(boot, None, PARAMS, forms=("direct",))
        truth = np.array([direct_law(r.ability, r.data_size, PARAMS["m"]) for r in rows.itertuples()])
        truth_cover += list((rows["ci_low"] <= truth) & (truth <= rows["ci_high"]))
        measured_cover += list((rows["pi_low"] <= rows["measured"]) & (rows["measured"] <= rows["pi_high"]))
        widths += list((rows["pi_high"] - rows["pi_low"]) / (rows["measured_high"] - rows["measured_low"]))
    assert len(truth_cover) == 30 * 8
    assert 0.90 <= np.mean(truth_cover) <= 0.99
    assert 0.93 <= np.mean(measured_cover) <= 0.995
    assert np.median(widths) < 2.5  # a few times one point's own interval, not [0, 1]


def test_intervals_of_a_wrong_form_do_not_hold():
    """The check can fail: a law whose gain from model size stops after s (m scores as s) is extrapolated
    by a straight line in log parameters, and the intervals then miss m's measured points."""
    truth = direct_truth()
    for (m, source, d, seed, recipe, a), p in list(truth.items()):
        if m == "m":
            truth[(m, source, d, seed, recipe, a)] = float(direct_law(a, d, PARAMS["s"]))
    boot = bs.bootstrap(items_for(truth, 400, seed=9), n_boot=100, seed=0)
    rows, summary, _ = ex.validate(boot, None, PARAMS, forms=("direct",))
    total = summary.set_index("ability").loc["all"]
    assert total["coverage"] < 0.5 and total["mae"] > total["half_width"]


# --------------------------------------------------------------------------------- clear messages
def test_too_few_model_sizes_say_what_is_missing():
    one = bs.bootstrap(items_for(direct_truth(params={"s": 4e5}), 60), n_boot=20)
    with pytest.raises(ex.TooFewModelSizes, match=re.escape(
            "a growth model over data and model size needs at least 2 model sizes with curated cells and a "
            "parameter count; found 1: s (400,000 parameters). Add model sizes to grid.model_sizes")):
        ex.fit_growth(one, None, PARAMS)
    two = bs.bootstrap(items_for(direct_truth(params={"xs": 1e5, "s": 4e5}), 60), n_boot=20)
    ex.fit_growth(two, None, PARAMS, form="direct")  # two sizes fit
    with pytest.raises(ex.TooFewModelSizes, match=re.escape(
            "held-out validation (fit on all model sizes but the largest, predict it) needs at least 3 model "
            "sizes with curated cells and a parameter count; found 2: xs (100,000 parameters), s (400,000")):
        ex.validate(two, None, PARAMS)
    with pytest.raises(ex.TooFewModelSizes, match="all have 100,000 parameters"):
        ex.fit_growth(two, None, {"xs": 1e5, "s": 1e5})
    with pytest.raises(ValueError, match="the ladder form needs the gold answer's log-likelihood"):
        ex.fit_growth(two, None, PARAMS, form="ladder")
    # In the pipeline: no table rows, and the note says why.
    rows, validation, info, model = ex.extrapolate(one, None, PARAMS)
    assert rows.empty and validation.empty and model is None and "found 1: s" in info["error"]
    rows, validation, info, model = ex.extrapolate(two, None, None)
    assert rows.empty and model is None and info["notes"] == ["no parameter counts for the model sizes, so no growth model over "
                                            "model size"]


# ------------------------------------------------------------------------------ validation figures
def test_decision_pairs_leave_out_measured_ties_and_count_flat_predictions_half():
    assert ex.decision_pairs(np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.3, 0.2])) == (2.0, 3)
    assert ex.decision_pairs(np.array([0.1, 0.1, 0.3]), np.array([0.5, 0.5, 0.5])) == (1.0, 2)


def test_validation_figures_match_an_independent_computation():
    """MAE, half-width, coverage and decision accuracy recomputed from the held-out rows by hand; a recipe
    cell of m is placed at its per-ability count times the number of abilities and ordered against the
    uniform cell of its total."""
    truth = direct_truth()
    counts = {"math": 256, "code": 64}  # 2 abilities: math sits at 512 items, code at 128
    for a, n in counts.items():
        truth[("m", "recipe", 320, 0, "mix", a)] = float(direct_law(a, 2 * n, PARAMS["m"]))
    boot = bs.bootstrap(items_for(truth, 120, seed=4), n_boot=200, seed=1)
    rows, summary, _ = ex.validate(boot, None, PARAMS, forms=("direct",), recipe_counts={"mix": counts},
                                   n_abilities=2)
    recipe = rows[rows["recipe"] == "mix"].set_index("ability")
    assert recipe["axis_size"].to_dict() == {"math": 512.0, "code": 128.0}
    assert (recipe["data_size"] == 320).all()
    s = summary.set_index("ability")
    for ability in ("math", "code"):
        r = rows[rows["ability"] == ability]
        plain = r[r["recipe"] == ""].sort_values("data_size")
        assert s.loc[ability, "mae"] == pytest.approx(np.mean(np.abs(plain["predicted"] - plain["measured"])))
        assert s.loc[ability, "half_width"] == pytest.approx(np.mean(plain["measured_high"] - plain["measured_low"]) / 2)
        inside = [lo <= y <= hi for lo, y, hi in zip(r["pi_low"], r["measured"], r["pi_high"])]
        assert s.loc[ability, "coverage"] == pytest.approx(np.mean(inside))
        y, p = plain["measured"].to_numpy(), plain["predicted"].to_numpy()
        agree = [np.sign(y[j] - y[i]) == np.sign(p[j] - p[i]) for i in range(4) for j in range(i + 1, 4) if y[j] != y[i]]
        # the recipe (320 items in all) has no uniform cell of its total at m here: no recipe pair
        assert s.loc[ability, "n_pairs"] == len(agree)
        assert s.loc[ability, "decision_accuracy"] == pytest.approx(np.mean(agree))
    assert s.loc["all", "n_points"] == 8 and s.loc["all", "mae_below_half_width"] == s.loc[["math", "code"], "mae_below_half_width"].sum()


def test_predict_api_gives_paired_replicates_and_intervals():
    items = items_for(direct_truth(), 200, seed=2)
    model = ex.fit_items(items, PARAMS, n_boot=150)
    assert model.form == "direct"  # no gold log-likelihoods in these items
    boot = bs.bootstrap(items, n_boot=150, seed=0)
    same = ex.fit_growth(boot, None, PARAMS, form="direct")
    assert np.array_equal(same.fits["math"].theta, model.fits["math"].theta)
    point, reps = model.predict("math", [100, 1000], 6.4e6)
    assert point.shape == (2,) and reps.shape == (150, 2)
    assert np.all(np.diff(point) > 0)  # the law rises with data at 6.4e6 parameters
    lo, hi = model.interval("math", [100, 1000], 6.4e6)
    plo, phi = model.interval("math", [100, 1000], 6.4e6, kind="prediction")
    assert np.all((lo <= point) & (point <= hi)) and np.all((plo <= lo) & (hi <= phi))
    # the same draw for every ability: a sum over abilities keeps its pairing (replicate b with replicate b)
    code = model.predict("code", [100, 1000], 6.4e6)[1]
    assert np.corrcoef(reps[:, 0], code[:, 0])[0, 1] != 0
    with pytest.raises(KeyError, match="no direct fit for ability 'art'"):
        model.predict("art", [100], 1e6)
    with pytest.raises(ValueError, match="interval kind 'both'"):
        model.interval("math", [100], 1e6, kind="both")


# --------------------------------------------------------------------------- pipeline, plot, report
TRAINING = {"epochs": 2, "min_steps": 160, "batch_size": 8}  # the demo's
@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    out = tmp_path_factory.mktemp("extrapolation")
    a = np.array([-0.3, -0.35, -0.25, 0.02])
    losses = {(m, "curated", d, ab): float(np.exp(a[0] + a[1] * (np.log2(d) - 8) + a[2] * (np.log2(n) - 18)) * k)
              for m, n in PARAMS.items() for d in SIZES for ab, k in (("biology", 1.0), ("ethics", 1.3))}
    items = ladder_items(losses, lambda _, lv: float(G + 0.65 * special.expit(-1 - 2 * (lv - 1))), 150, seed=11)
    predictions, scores = tables_for(items)
    tables = pipeline.analyze(scores, predictions, out, model_sizes=list(PARAMS), params=PARAMS,
                              extrapolate_sizes={"l": 6.4e6}, n_boot=200, study="constructed",
                              methods=["paper", "optimize"], untrained_sizes=["l"], untrained_training=TRAINING)
    return out, tables


def test_pipeline_writes_the_extrapolation_tables(analysed):
    out, tables = analysed
    loaded, settings = pipeline.load_tables(out)
    rows, val = loaded["extrapolation"], loaded["extrapolation_validation"]
    assert list(rows.columns) == ex.EXTRAPOLATION_COLUMNS and list(val.columns) == ex.VALIDATION_COLUMNS
    info = settings["extrapolation"]
    assert settings["params"] == PARAMS and info["held_out"] == "m" and info["fit_sizes"] == ["xs", "s", "m"]
    best = val[val["ability"] == "all"].sort_values("mae").iloc[0]["form"]
    assert info["form"] == best and set(val.loc[val["chosen"], "form"]) == {best}
    counts = rows.groupby(["role", "form"]).size().to_dict()
    assert counts == {("held_out", "direct"): 8, ("held_out", "ladder"): 8, ("fit", best): 24,
                      ("extrapolation", best): 8}
    extra = rows[rows["role"] == "extrapolation"]
    assert (extra["model_size"] == "l").all() and extra["measured"].isna().all() and (extra["params"] == 6.4e6).all()


def test_report_and_plot_carry_the_held_out_figures(analysed, tmp_path):
    out, _ = analysed
    loaded, settings = pipeline.load_tables(out)
    text = report.write_report("constructed", loaded, settings, tmp_path / "report.md")
    section = text[text.index("## Predicting a larger model"):]
    val = loaded["extrapolation_validation"].set_index(["ability", "form"])
    for form in ("direct", "ladder"):
        r = val.loc[("all", form)]
        assert (f"- {form}: mean absolute error {r['mae']:.3f} (test-set bootstrap half-width {r['half_width']:.3f}), "
                f"error below the half-width for {int(r['mae_below_half_width'])} of 2 abilities, "
                f"{r['coverage']:.0%} of measured points inside the 95% PI") in section
    form = settings["extrapolation"]["form"]
    assert f"Kept: **{form}**" in section and "- l (6,400,000 parameters, extrapolated):" in section
    assert "xs 100,000, s 400,000, m 1,600,000" in section
    plots.extrapolation_plot(loaded["extrapolation"], loaded["extrapolation_validation"], tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes().startswith(b"\x89PNG") and (tmp_path / "e.png").stat().st_size > 10_000


def test_pipeline_derives_a_recipe_for_the_untrained_size_and_reports_it_as_an_extrapolation(analysed, tmp_path):
    out, _ = analysed
    loaded, settings = pipeline.load_tables(out)
    alloc = loaded["allocation"]
    rows = alloc[alloc["extrapolated"]]
    per, mean = rows[rows["ability"] != "mean"], rows[rows["ability"] == "mean"].iloc[0]
    assert set(rows["model_size"]) == {"l"} and set(rows["method"]) == {"optimize"} and len(per) == 2
    assert set(alloc.loc[~alloc["extrapolated"], "model_size"]) == {"xs,s,m"}
    # the recipe file holds it under a name that says what it is, with the counts of the table
    recipes = yaml.safe_load((out / "recipe.yaml").read_text())
    name = "derived-2560-optimize-l-extrapolated"
    assert list(recipes) == ["derived-2560", "derived-2560-optimize", name]
    assert recipes[name] == {**dict(zip(per["ability"], per["count"])), "pool": "full"} and per["count"].sum() == 2560
    assert "# derived-2560-optimize-l-extrapolated: the counts that maximise" in (out / "recipe.yaml").read_text()
    # the support: within one doubling of the examples seen per ability on the grid (a 40-item cell, 5 steps a
    # pass, repeats its data 16 times to reach 160 steps over 2 epochs, so each ability's 20 items are seen
    # 2 x 16 times: 640 examples); the budget's 2560 items are seen twice: 640 / 2 / 2 = 160 items
    assert per["lower"].min() == 160 and (per["examples"] == 2 * per["count"]).all()
    # predicted gains with their intervals, the mean's the mean of the abilities'
    assert per["predicted"].notna().all() and (per["predicted_low"] <= per["predicted"]).all()
    assert (per["predicted"] <= per["predicted_high"]).all()
    assert mean["predicted"] == pytest.approx(per["predicted"].mean()) and np.isfinite(mean["expected"])
    # how far the target is: 6.4e6 / 1.6e6 = 4 (2 doublings); the validation's step s -> m was 2 doublings too
    u = settings["untrained"]["l"]
    assert (u["recipe"], u["largest"], u["doublings"], u["error"]) == (name, "m", 2.0, None)
    assert u["validated"] == {"from": "s", "to": "m", "doublings": 2.0}
    assert set(u["trained_recipes"]) == {"derived-2560", "derived-2560-optimize"}
    text = report.write_report("constructed", loaded, settings, tmp_path / "report.md")
    assert ("**A recipe for a model size that was not trained: an extrapolation.** l has 6,400,000 parameters, "
            "2.00 doublings of parameters beyond m (1,600,000), the largest size trained; the held-out validation "
            "above checked one step of 2.00 doublings (s to m)") in text
    assert (f"Predicted gain of the mean over the uniform split at l: {mean['predicted']:+.3f} "
            f"[{mean['predicted_low']:+.3f}, {mean['predicted_high']:+.3f}] by the growth model") in text
    assert f"so the recipe `{name}` is derived only and cannot be validated against the uniform split" in text
    assert f"`derived-2560-optimize`, `{name}`)" in text


def test_report_says_why_there_is_no_extrapolation(tmp_path):
    predictions, scores = tables_for(items_for(direct_truth(params={"s": 4e5}), 40))
    pipeline.analyze(scores, predictions, tmp_path, params={"s": 4e5}, n_boot=20, extrapolate_sizes={"l": 1.6e6},
                     untrained_sizes=["l", "xl"])
    loaded, settings = pipeline.load_tables(tmp_path)
    text = report.write_report("one", loaded, settings, tmp_path / "report.md")
    assert "No growth model over model size was fitted: a growth model over data and model size needs at least 2" in text
    # nor a recipe for a model size that was not trained, and the report says why
    assert not loaded["allocation"]["extrapolated"].any()
    assert list(yaml.safe_load((tmp_path / "recipe.yaml").read_text())) == ["derived-2560"]
    assert ("No recipe for model size l, which was not trained: no growth model over data size and parameter count "
            "(a growth model over data and model size needs at least 2 model sizes") in text
    assert "No recipe for model size xl, which was not trained: 'xl' has no parameter count (analysis.extr" in text


def test_two_sizes_of_two_points_fit_with_binomial_noise(tmp_path):
    """The smallest grid that fits (2 model sizes x 2 data sizes) leaves no residual degrees of freedom:
    one cell's noise is taken as binomial, and the report says so and which form it used."""
    sizes = {"xs": 1e5, "s": 4e5}
    predictions, scores = tables_for(items_for(direct_truth(params=sizes, sizes=(40, 640)), 60))
    pipeline.analyze(scores, predictions, tmp_path, params=sizes, n_boot=30)
    loaded, settings = pipeline.load_tables(tmp_path)
    info = settings["extrapolation"]
    assert info["df"] is None and info["phi"] == 1.0 and info["form"] == "direct"  # no gold losses here
    assert set(loaded["extrapolation"]["role"]) == {"fit"} and len(loaded["extrapolation"]) == 8
    text = report.write_report("two", loaded, settings, tmp_path / "report.md")
    assert "taken as binomial (the direct fit leaves no residual degrees of freedom to measure it)" in text
    assert "Predictions use the direct form (without a held-out check: the ladder when the items carry" in text


# ------------------------------------------------------------------------------------------ config
def test_sizes_to_predict_only_are_checked():
    cfg = {"study": "x", "data": {"abilities": ["math"]}, "grid": {"model_sizes": ["s"], "data_sizes": {"curated": [1]}},
           "models": {"sizes": {"s": {"arch": {}, "pretrain": {}}}}, "evaluation": {"select_after_epoch": 0},
           "training": {"epochs": 1}, "analysis": {"extrapolate": {"model_sizes": {"13b": 1.3e10}}}}
    assert study.extrapolate_spec(cfg) == {"form": "auto", "model_sizes": {"13b": 1.3e10}}
    assert study.extrapolate_spec({}) == {"form": "auto", "model_sizes": {}}
    cfg["analysis"]["extrapolate"]["model_sizes"] = {"s": 1e6}
    with pytest.raises(study.ConfigError, match=re.escape("analysis.extrapolate.model_sizes.s: 's' is a model size "
                                                          "the grid trains")):
        study.check_study(cfg)
