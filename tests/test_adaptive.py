"""Adaptive studies (growthpace.analysis.adaptive) on constructed studies with known growth laws."""

import copy
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from growthpace import study
from growthpace.analysis import adaptive
from growthpace.analysis.adaptive import GridCell
from growthpace.analysis.bootstrap import UNIT_KEYS, Boot

from .analysis_data import grid_truth, items_for, tables_for
from .conftest import ROOT

SIZES = (40, 160, 640, 2560)
MODEL_SIZES = ("xs", "s", "m")
# Known laws in log2(data size) x (5.3 at 40 items, 11.3 at 2560): flat; rising throughout (and with model
# size); rising up to 640 items, then flat; flat in data, rising with model size.
LAWS = {
    "flat": lambda x: 0.5,
    "data": lambda x: 0.2 + 0.06 * (x - 5),
    "sat": lambda x: 0.2 + 0.12 * min(x - 5, 4),
    "model": lambda x: 0.3,
}
STEPS = {"model": 0.15, "data": 0.05}


def spec(**settings):
    return adaptive.Spec(abilities=list(LAWS), model_sizes=list(MODEL_SIZES), guideline_model_sizes=["m"], budget=640,
                         settings={"n_boot": 200, "n_draws": 50, **settings})


@pytest.fixture(scope="module")
def known_study():
    """The full grid of the known laws, curated on three model sizes and synthetic on two (400 test items)."""
    truth = grid_truth(LAWS, model_sizes=MODEL_SIZES, sizes=SIZES, model_step=STEPS)
    truth.update(grid_truth(LAWS, model_sizes=MODEL_SIZES[:2], sizes=SIZES[:3], source="synthetic"))
    return tables_for(items_for(truth, 400, seed=1))


def one_ability_boot(gain: float, sd: float, n_boot: int = 400, seed: int = 0) -> Boot:
    """One ability, one model size, two sizes (10 and 40: two doublings apart), with known replicates."""
    rng = np.random.default_rng(seed)
    units = pd.DataFrame([{"ability": "a", "model_size": "s", "data_source": "curated", "data_size": n, "recipe": "",
                           "expected": 0.25, "n_items": 100, "n_seeds": 1} for n in (10, 40)])[
        UNIT_KEYS + ["expected", "n_items", "n_seeds"]]
    point = np.array([0.3, 0.3 + 2 * gain])  # two doublings: slope = gain per doubling
    reps = point + rng.normal(0, sd, (n_boot, 2))
    return Boot(units, point, reps)


@pytest.mark.parametrize("gain", [0.0, 0.05, 0.2])
def test_group_instability_is_the_share_of_replicates_that_cross_the_threshold(gain):
    """Independent computation: the group is ``data`` when the data gain's lower bound exceeds 0.01; a
    replicate b moves that bound by (gain_b - gain)."""
    boot = one_ability_boot(gain, 0.05)
    s = adaptive.Spec(abilities=["a"], model_sizes=["s"], guideline_model_sizes=["s"], budget=40,
                      settings={"n_draws": 400, "max_gap": None})
    slopes = (boot.reps[:, 1] - boot.reps[:, 0]) / 2
    low = np.quantile(slopes, 0.025)
    base = low > 0.01
    expected = np.mean(((low + slopes - gain) > 0.01) != base)
    got = adaptive.instability(boot, s)
    assert got["group"]["a"] == pytest.approx(expected, abs=1e-9)
    assert got["recipe"] == pytest.approx(expected, abs=1e-9)  # one ability: its rule is cut or share with it
    if gain == 0.2:
        assert expected == 0  # far above the threshold: every replicate agrees


def test_seed_design_is_the_extremes_of_each_curated_curve():
    cands = [GridCell(m, "curated", n) for m in MODEL_SIZES for n in SIZES] + [GridCell("xs", "synthetic", 40)]
    assert adaptive.seed_design(cands) == sorted(GridCell(m, "curated", n) for m in MODEL_SIZES for n in (40, 2560))


def test_picks_follow_the_unstable_conclusion():
    measured = set(adaptive.seed_design([GridCell(m, "curated", n) for m in MODEL_SIZES for n in SIZES]))
    cands = [GridCell(m, src, n) for m in MODEL_SIZES for n in SIZES for src in ("curated", "synthetic")]
    s = spec()
    recipe_only = {"mean_group": 0.0, "mean_stop": 0.0, "recipe": 0.5}
    # only the recipe is unstable: it is derived on m, so the picks are m's, halving its widest gap first
    assert adaptive.pick(cands, measured, recipe_only, s, 2) == [GridCell("m", "curated", 160),
                                                                  GridCell("m", "curated", 640)]
    # only the groups are unstable: read on the sizes every model size has, so a started column is completed
    groups_only = {"mean_group": 0.5, "mean_stop": 0.0, "recipe": 0.0}
    chosen = adaptive.pick(cands, measured, groups_only, s, 3)
    assert {c.data_size for c in chosen} == {160} and {c.model_size for c in chosen} == set(MODEL_SIZES)
    # nothing unstable: nothing to pick, and synthetic cells inform no conclusion
    assert adaptive.pick(cands, measured, {"mean_group": 0, "mean_stop": 0, "recipe": 0}, s, 3) == []
    assert all(c.data_source == "curated" for c in adaptive.pick(cands, measured, groups_only, s, 20))


def test_stopping_rule_stops_when_stable_and_at_the_budget(known_study):
    predictions, scores = known_study
    from growthpace.analysis.bootstrap import selected_items

    items = selected_items(predictions, scores)
    # a wide tolerance: the seed design's conclusions are stable enough, nothing more is trained
    records = adaptive.run(items, spec(tolerance=1.0))
    assert [r["stop"] for r in records] == [None, "stable"] and records[-1]["chosen"] == []
    # a budget of 7 cells: one more cell than the seed design, then the budget stops it
    records = adaptive.run(items, spec(budget=7, batch=3))
    assert len([k for r in records for k in r["chosen"]]) == 7 and records[-1]["stop"] == "budget"
    # a fraction of the grid: 0.4 of 18 candidates = 7 cells
    assert adaptive.budget_cells(spec(budget=0.4), 18) == 7


def test_replay_reaches_the_full_grids_conclusions(known_study):
    """Two sizes cannot show saturation: the seed design calls 'sat' data-responsive. The stop point of a
    rising curve stays unresolved across a gap wider than max_gap, so the rounds fill in the columns, and the
    study ends with the full grid's groups and recipe (the laws' groups), without a synthetic cell."""
    predictions, scores = known_study
    out = adaptive.replay(predictions, scores, spec(batch=3))
    assert {a: c["group"] for a, c in out["full"].items()} == {
        "flat": "neither", "data": "data+model", "sat": "saturating", "model": "model"}
    seed_round = out["records"][1]["conclusions"]
    assert seed_round["sat"]["group"] == "data"
    assert out["agreement"]["same_group"] == 4 and out["agreement"]["same_recipe"]
    assert not any("synthetic" in k for k in out["cells"]) and out["n_candidates"] == 18
    assert out["n_cells"] == 12  # every curated cell: three sizes shared by all model sizes are not enough here
    table = adaptive.rounds_table(out["records"])
    assert list(table.loc[table["ability"] == "", "round"]) == list(range(len(out["records"])))
    assert table.loc[table["ability"] == "", "n_cells"].iloc[-1] == out["n_cells"]


def test_cell_hours_measured_and_interpolated():
    cells = pd.DataFrame({"model_size": ["s", "s"], "data_source": "curated", "data_size": [40, 2560],
                          "wall_seconds": [100.0, 3700.0]})
    cands = [GridCell("s", "curated", n) for n in (40, 640, 2560)]
    hours = adaptive.cell_hours(cells, cands, [cands[0], cands[2]]).set_index("cell")["hours"]
    assert hours["s/curated-640-seed0"] == pytest.approx((100 + 3600 * 600 / 2520) / 3600)
    assert hours["s/curated-2560-seed0"] == pytest.approx(3700 / 3600)


def test_adaptive_config_is_checked():
    cfg = yaml.safe_load((ROOT / "config" / "studies" / "demo-adaptive.yaml").read_text())
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    base["grid"].update(cfg["grid"])
    validate(base, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    study.check_study(base)
    assert study.adaptive_settings(base)["budget"] == cfg["grid"]["adaptive"]["budget"]
    bad = copy.deepcopy(base)
    bad["grid"]["single_ability"] = {"sizes": [4], "model_sizes": ["xs"]}
    with pytest.raises(study.ConfigError, match=re.escape("grid.adaptive: an adaptive study chooses")):
        study.check_study(bad)
    bad = copy.deepcopy(base)
    bad["grid"]["adaptive"]["validate_against"] = "/nonexistent/results/demo"
    with pytest.raises(study.ConfigError, match=re.escape("/nonexistent/results/demo/tables/scores.parquet")):
        study.check_study(bad)


def test_replay_held_to_40_percent_cannot_see_the_saturation(known_study):
    """At 7 of 18 cells the shared data sizes are still 40 and 2560: the saturating ability reads as
    data-responsive, and its recipe rule is share instead of freeze (what README.md reports)."""
    predictions, scores = known_study
    out = adaptive.replay(predictions, scores, spec(budget=0.4))
    assert out["n_cells"] == 7 and out["records"][-1]["stop"] == "budget"
    assert out["agreement"]["different_group"] == {"sat": ["data", "saturating"]}
    assert out["agreement"]["different_rule"] == {"sat": ["share", "freeze"]}
