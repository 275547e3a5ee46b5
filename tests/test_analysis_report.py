"""The analysis end to end on a constructed study: tables, recipe, plots (with a CJK font) and report."""

import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

import growthpace.analysis as analysis
from growthpace.analysis import complexity, curves, guideline, pipeline, plots, report, sources, transfer
from growthpace.analysis.sensitivity import SENSITIVITY_COLUMNS
from tests.analysis_data import grid_truth, items_for, tables_for

ABILITIES = ["biology", "creative_writing", "understanding", "ethics"]
MODELS = ["7b", "13b"]
SIZES = (40, 160, 640, 2560, 10000)
L = np.log2(40)
CURVES = {
    "biology": lambda x: 0.2 + 0.05 * (x - L),
    "creative_writing": lambda x: 0.3 + 0.12 * (min(x, np.log2(640)) - L),
    "understanding": lambda x: 0.2 + 0.05 * (x - L),
    "ethics": lambda x: 0.5,
}
PNG = b"\x89PNG\r\n\x1a\n"


def study_truth(single=True, recipes=True):
    truth = grid_truth(CURVES, model_sizes=MODELS, sizes=SIZES, model_step={"biology": 0.08})
    syn = {a: (lambda f: lambda x: 0.8 * f(min(x, np.log2(640))))(f) for a, f in CURVES.items()}
    truth.update(grid_truth(syn, model_sizes=MODELS, sizes=SIZES, source="synthetic"))
    for ms in MODELS:
        for a in ABILITIES:
            truth[(ms, "base", 0, 0, "", a)] = 0.2
            if single:
                for b in ABILITIES:
                    truth[(ms, "single_ability", 64, 0, f"only-{a}-64", b)] = 0.2 + (0.2 if a == b else 0.02)
            if recipes:
                truth[(ms, "recipe", 10000, 0, "derived-10000", a)] = CURVES[a](np.log2(10000)) + 0.03
    return truth


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis")
    predictions, scores = tables_for(items_for(study_truth(), 400))
    records = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x" * (k + 1)}],
                "type": a} for k, a in enumerate(ABILITIES)]
    tables = analysis.analyze(scores, predictions, out, model_sizes=MODELS, records=records, n_boot=300,
                              study="constructed")
    return out, tables, scores


def test_every_table_is_written_with_its_columns(analysed):
    out, tables, _ = analysed
    assert set(tables) == set(pipeline.TABLES)
    loaded, settings = pipeline.load_tables(out)
    columns = {"curves": curves.CURVE_COLUMNS, "overall": curves.CURVE_COLUMNS, "curve_fits": curves.FIT_COLUMNS,
               "sensitivity": SENSITIVITY_COLUMNS, "sources": sources.GAP_COLUMNS,
               "ceilings": sources.CEILING_COLUMNS, "transfer": transfer.MATRIX_COLUMNS,
               "transference": transfer.TRANSFERENCE_COLUMNS, "predictiveness": complexity.PREDICTIVENESS_COLUMNS,
               "allocation": guideline.ALLOCATION_COLUMNS, "recipes": guideline.COMPARISON_COLUMNS}
    for name, cols in columns.items():
        assert list(loaded[name].columns) == cols, name
        assert len(loaded[name]) > 0, name
    assert settings["abilities"] == ABILITIES and settings["model_sizes"] == MODELS
    assert settings["budget"] == 10000 and settings["has_base"] and settings["has_single_ability"]
    assert set(loaded["overall"]["ability"]) == {"mean"}
    assert "mean" in set(loaded["curve_fits"]["ability"])
    assert {"answer_chars", "transfer_in", "transfer_out"} <= set(loaded["complexity"].columns)
    groups = loaded["sensitivity"].set_index("ability")["group"]
    assert groups.to_dict() == {"biology": "data+model", "creative_writing": "saturating",
                                "understanding": "data", "ethics": "neither"}


def test_the_derived_recipe_follows_the_groups(analysed):
    out, tables, _ = analysed
    entry = yaml.safe_load((out / "recipe.yaml").read_text())["derived-10000"]
    assert entry.pop("pool") == "full"
    assert sum(entry.values()) == 10000
    assert entry["creative_writing"] == 640 // len(ABILITIES)  # frozen at its saturation size
    assert entry["ethics"] == 40 // len(ABILITIES)              # cut to the grid's smallest size
    assert entry["biology"] > 2500 and entry["understanding"] > 2500


def test_report_states_findings_with_the_tables_numbers(analysed, tmp_path):
    out, tables, _ = analysed
    loaded, settings = pipeline.load_tables(out)
    text = report.write_report("constructed", loaded, settings, tmp_path / "report.md",
                               plots={"overall": "plots/overall.png"})
    assert (tmp_path / "report.md").read_text() == text
    for heading in ("## Overall growth", "## Growth per ability", "## Sensitivity", "## Human-curated",
                    "## Transfer between abilities", "## Do complexity", "## Guideline", "## Plots"):
        assert heading in text
    bio = loaded["sensitivity"].set_index("ability").loc["biology"]
    assert f"biology (data {bio['data_gain']:+.3f} [{bio['data_gain_low']:+.3f}, {bio['data_gain_high']:+.3f}]" in text
    assert "Responsive to data up to a point, then saturating: creative_writing" in text
    mean = loaded["recipes"].query("ability == 'mean' and model_size == '7b'").iloc[0]
    assert f"mean over abilities {mean['diff']:+.3f} [{mean['ci_low']:+.3f}, {mean['ci_high']:+.3f}]" in text
    syn = loaded["ceilings"].query("ability == 'mean' and data_source == 'synthetic' and model_size == '7b'").iloc[0]
    assert f"The synthetic curve of model 7b stops rising at {syn['ceiling']:,.0f} items" in text
    assert "one seed, so the intervals do not include training-seed variance" in text
    assert "`plots/overall.png`: Mean test score" in text


def test_report_sets_what_each_ability_needs_beside_its_group(analysed, tmp_path):
    """A generated suite's construction notes go beside the measured group, in the text and the table;
    a feature that is the same for every ability is named as such, not counted as a test."""
    out, _, _ = analysed
    loaded, settings = pipeline.load_tables(out)
    needs = {"biology": "a stored fact", "creative_writing": "style", "understanding": "reading", "ethics": "a stored fact"}
    settings = {**settings, "ability_needs": needs}
    loaded["complexity"] = loaded["complexity"].assign(answer_lines=1.0)
    feats = loaded["complexity"].drop(columns="ability")
    loaded["predictiveness"] = complexity.predictiveness(loaded["complexity"], loaded["sensitivity"])
    text = report.write_report("constructed", loaded, settings, tmp_path / "report.md")
    groups = loaded["sensitivity"].set_index("ability")["group"]
    assert (f"a stored fact: biology {groups['biology']}, ethics {groups['ethics']}; style: creative_writing "
            f"{groups['creative_writing']}; reading: understanding {groups['understanding']}.") in text
    row = next(line for line in text.splitlines() if line.startswith("| understanding ") and "| reading " in line)
    assert f"| {groups['understanding']} " in row
    constant = [f for f in feats if feats[f].nunique() <= 1]
    assert "answer_lines" in constant
    assert f"{', '.join(constant)} {'is' if len(constant) == 1 else 'are'} the same for every ability here" in text
    computed = loaded["predictiveness"]["p"].notna().sum()
    assert computed == 2 * (len(feats.columns) - len(constant))
    assert f"not corrected for the {computed} tests" in text


def test_transference_is_worded_by_its_sign(analysed, tmp_path):
    """All outgoing transfer negative: no ability is said to help the others."""
    out, _, _ = analysed
    loaded, settings = pipeline.load_tables(out)
    tr = loaded["transference"]
    top = tr[tr["n"] == tr["n"].max()].iloc[:0]
    rows = []
    for k, a in enumerate(ABILITIES):  # transfer_in: +0.1 (above 0), 0, -0.1, -0.2; transfer_out all below 0
        v_in, v_out = 0.1 - 0.1 * k, -0.05 - 0.01 * k
        rows.append({"model_size": "7b", "n": 64, "ability": a, "self": 0.2, "self_low": 0.1, "self_high": 0.3,
                     "transfer_in": v_in, "transfer_in_low": v_in - 0.05, "transfer_in_high": v_in + 0.05,
                     "transfer_out": v_out, "transfer_out_low": v_out - 0.03, "transfer_out_high": v_out + 0.03})
    loaded["transference"] = pd.concat([top, pd.DataFrame(rows)], ignore_index=True)
    loaded["transfer"] = loaded["transfer"][loaded["transfer"]["model_size"] == "7b"].assign(n=64)
    text = report.write_report("constructed", loaded, settings, tmp_path / "report.md")
    assert ("Incoming transference (the mean change of an ability from the other abilities' data): 1 of 4 abilities "
            "gain (biology) and 2 lose (understanding, ethics) (95% interval above or below 0). The largest is "
            "biology's (+0.100 [+0.050, +0.150]).") in text
    assert ("0 of 4 abilities help the others and 4 hurt the others (biology, creative_writing, understanding, "
            "ethics)") in text
    assert "None is positive; the closest to 0 is biology's (-0.050 [-0.080, -0.020])." in text


def test_report_says_what_is_missing(tmp_path):
    predictions, scores = tables_for(items_for(study_truth(single=False, recipes=False), 40))
    tables = pipeline.analyze(scores, predictions, tmp_path, model_sizes=MODELS, n_boot=50)
    loaded, settings = pipeline.load_tables(tmp_path)
    text = report.write_report("plain", loaded, settings, tmp_path / "report.md")
    assert tables["transfer"].empty and tables["recipes"].empty
    assert "no single-ability cells (`grid.single_ability`), so there is no transfer matrix" in text
    assert "No recipe cells were trained in this study" in text
    assert "## Plots" not in text


@pytest.mark.skipif(not any(os.path.exists(p) for p in plots.CJK_FONTS), reason="no CJK font installed")
def test_plots_render_with_the_cjk_font(analysed, tmp_path):
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    out, tables, _ = analysed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = plots.analysis_plots(tables, tmp_path, abilities=ABILITIES, model_sizes=MODELS)
    missing = [w for w in caught if re.search(r"Glyph \d+ .*missing", str(w.message))]
    assert not missing, missing[0].message
    name = plt.rcParams["font.sans-serif"][0]
    assert "wqy" in font_manager.findfont(font_manager.FontProperties(family=name)).lower()
    for name in plots.PLOTS:
        data = paths[name].read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name
    height, width = plt.imread(paths["abilities"]).shape[:2]
    assert width > 2 * height  # one row of four facets
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically


def test_plots_without_data_still_write_a_png(tmp_path):
    empty = {name: pd.DataFrame() for name in pipeline.TABLES}
    empty["transfer"] = pd.DataFrame(columns=transfer.MATRIX_COLUMNS)
    plots.transfer_heatmap(empty["transfer"], tmp_path / "transfer.png")
    plots.recipe_plot(pd.DataFrame(columns=guideline.ALLOCATION_COLUMNS),
                      pd.DataFrame(columns=guideline.COMPARISON_COLUMNS), tmp_path / "recipes.png")
    for name in ("transfer", "recipes"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG)


def test_growth_plot_still_draws_the_scores_table(analysed, tmp_path):
    _, _, scores = analysed
    plots.growth_plot(scores, tmp_path / "growth.png")
    assert (tmp_path / "growth.png").read_bytes().startswith(PNG)


def test_captions_are_written_as_rst(tmp_path):
    paths = report.write_captions(tmp_path)
    assert set(paths) == set(plots.PLOTS)
    assert "synthetic ceiling" in paths["sources"].read_text()


def test_the_recipe_is_derived_from_the_curves_of_the_model_size_it_is_trained_on(tmp_path):
    """understanding rises on 13b and falls on 7b: averaged over sizes it does not respond to data (cut),
    on 13b alone it does (share). The recipe for 13b follows 13b's group."""
    curves_by_size = {"7b": lambda x: 0.5 - 0.05 * (x - L), "13b": lambda x: 0.2 + 0.05 * (x - L)}
    truth = {}
    for ms, f in curves_by_size.items():
        truth.update(grid_truth({"understanding": f, "ethics": lambda x: 0.5}, model_sizes=(ms,), sizes=SIZES))
    predictions, scores = tables_for(items_for(truth, 400))
    both = pipeline.analyze(scores, predictions, tmp_path / "all", model_sizes=MODELS, n_boot=200)
    large = pipeline.analyze(scores, predictions, tmp_path / "13b", model_sizes=MODELS, n_boot=200,
                             guideline_model_sizes=["13b"], methods=["paper", "optimize"])
    paper = lambda t: t["allocation"].query("method == 'paper' and ability != 'mean'")  # noqa: E731
    rule = lambda t: dict(zip(paper(t)["ability"], paper(t)["rule"]))  # noqa: E731
    assert rule(both)["understanding"] == "cut"
    assert rule(large)["understanding"] == "share"
    assert (large["sensitivity"]["group"] == both["sensitivity"]["group"]).all()  # the study's groups stay
    assert set(paper(large)["group"]) <= {"data", "neither", "saturating"}  # one size: no model gain
    # The optimiser, on 13b's curves too, gives understanding (rising) more than ethics (flat), within one
    # doubling of the measured per-ability sizes, and writes its recipe beside the paper's.
    opt = large["allocation"].query("method == 'optimize'").set_index("ability")
    assert opt.loc["understanding", "count"] > 10 * opt.loc["ethics", "count"] and opt.loc["ethics", "lower"] == 10
    assert opt.loc["mean", "count"] == 10000 and opt.loc["mean", "predicted"] > 0
    recipes = yaml.safe_load((tmp_path / "13b" / "recipe.yaml").read_text())
    assert set(recipes) == {"derived-10000", "derived-10000-optimize"}
