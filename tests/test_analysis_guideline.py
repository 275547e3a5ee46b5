"""The guideline's allocation rules, the recipe it writes, and recipe cells against the baseline."""

import numpy as np
import pandas as pd
import pytest
import yaml

from growthpace.analysis import bootstrap as bs
from growthpace.analysis import guideline
from growthpace.analysis.sensitivity import SENSITIVITY_COLUMNS
from growthpace.data.recipes import parse_recipe
from tests.analysis_data import covers, items_for, tables_for


def sensitivity_rows(rows):
    """Sensitivity rows from (ability, group, data_gain, stop_point) on a grid of 10..10000, ten abilities."""
    out = []
    for ability, group, gain, stop in rows:
        row = dict.fromkeys(SENSITIVITY_COLUMNS, np.nan)
        row.update(ability=ability, group=group, data_gain=gain, stop_point=stop, min_size=10.0, n_abilities=10,
                   stop_per_ability=stop / 10 if np.isfinite(stop) else np.nan)
        out.append(row)
    return pd.DataFrame(out, columns=SENSITIVITY_COLUMNS)


PAPER_LIKE = sensitivity_rows([
    ("biology", "data+model", 0.04, np.inf),
    ("code", "data+model", 0.02, np.inf),
    ("understanding", "data", 0.02, np.inf),
    ("creative_writing", "saturating", 0.06, 640.0),
    ("ethics", "neither", 0.001, 10.0),
    ("role_play", "neither", 0.0, np.inf),
    ("chinese", "model", 0.003, 160.0),
])


def test_allocation_keeps_the_total_and_follows_the_rules():
    alloc = guideline.allocate(PAPER_LIKE, 10000)
    assert sum(alloc.values()) == 10000 and all(isinstance(v, int) for v in alloc.values())
    assert alloc["creative_writing"] == 64      # frozen at its saturation size (640 / 10 abilities)
    assert alloc["ethics"] == 1                 # cut to where it stopped (the smallest size)
    assert alloc["role_play"] == 1              # never stopped: the grid's smallest size
    assert alloc["chinese"] == 16               # responds to model size only: cut too
    rest = 10000 - 64 - 1 - 1 - 16
    # Shared in proportion to the data gains 0.04 : 0.02 : 0.02.
    assert alloc["biology"] == pytest.approx(rest / 2, abs=1)
    assert alloc["code"] == pytest.approx(rest / 4, abs=1)
    assert abs(alloc["code"] - alloc["understanding"]) <= 1


def test_uniform_weighting_shares_evenly():
    alloc = guideline.allocate(PAPER_LIKE, 10000, weighting="uniform")
    shared = [alloc[a] for a in ("biology", "code", "understanding")]
    assert max(shared) - min(shared) <= 1 and sum(alloc.values()) == 10000
    with pytest.raises(ValueError, match="weighting"):
        guideline.allocate(PAPER_LIKE, 10000, weighting="magic")


def test_without_responders_everyone_shares_the_rest_evenly():
    s = sensitivity_rows([("ethics", "neither", 0.0, 10.0), ("role_play", "neither", 0.0, 10.0),
                          ("creative_writing", "saturating", 0.05, 640.0)])
    alloc = guideline.allocate(s, 1000)
    assert sum(alloc.values()) == 1000
    assert alloc["creative_writing"] - alloc["ethics"] == pytest.approx(63, abs=1)
    assert abs(alloc["ethics"] - alloc["role_play"]) <= 1


def test_fixed_sizes_larger_than_the_budget_are_scaled_down():
    s = sensitivity_rows([("a", "saturating", 0.05, 6400.0), ("b", "saturating", 0.05, 3200.0),
                          ("c", "data", 0.05, np.inf)])
    alloc = guideline.allocate(s, 300)
    assert alloc == {"a": 200, "b": 100, "c": 0}


def test_pools_cap_the_counts_and_the_total_is_still_kept():
    alloc = guideline.allocate(PAPER_LIKE, 10000, pool_sizes={"biology": 1200, "code": 5000, "understanding": 5000})
    assert alloc["biology"] == 1200 and sum(alloc.values()) == 10000
    assert abs(alloc["code"] - alloc["understanding"]) <= 1
    tight = guideline.allocate(PAPER_LIKE, 3000, pool_sizes=dict.fromkeys(PAPER_LIKE["ability"], 500))
    assert sum(tight.values()) == 3000 and max(tight.values()) <= 500
    with pytest.raises(ValueError, match="pools"):
        guideline.allocate(PAPER_LIKE, 10000, pool_sizes=dict.fromkeys(PAPER_LIKE["ability"], 100))


@pytest.mark.parametrize("quotas,total", [({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 1),
                                          ({"a": 2.5, "b": 2.5, "c": 5.0}, 10),
                                          ({"a": 0.9, "b": 0.05, "c": 0.05}, 1)])
def test_largest_remainder_sums_to_the_total_and_stays_within_one(quotas, total):
    out = guideline.largest_remainder(quotas, total)
    assert sum(out.values()) == total
    assert all(abs(out[a] - q) < 1 for a, q in quotas.items())


def test_recipe_is_a_valid_recipe_definition(tmp_path):
    alloc = guideline.allocate(PAPER_LIKE, 10000)
    path = tmp_path / "recipe.yaml"
    other = {a: 10000 // len(alloc) for a in alloc}
    guideline.write_recipe(path, {"derived-10000": alloc, "derived-10000-optimize": other, "none": {}},
                           comment="derived\nfrom numbers")
    text = path.read_text()
    assert text.startswith("# derived\n# from numbers\n")
    recipes = yaml.safe_load(text)
    assert list(recipes) == ["derived-10000", "derived-10000-optimize"]  # an empty allocation is left out
    entry = recipes["derived-10000"]
    assert entry.pop("pool") == "full" and entry == alloc
    # What a study does with grid.recipe_definitions: counts plus options.
    recipe = parse_recipe({"name": "derived-10000", "counts": entry, "pool": "full"}, list(alloc))
    assert recipe.kind == "custom" and dict(recipe.counts) == alloc


def test_allocation_table_sits_beside_the_uniform_split():
    alloc = guideline.allocate(PAPER_LIKE, 10000)
    t = guideline.allocation_table(PAPER_LIKE, alloc)
    assert list(t.columns) == guideline.ALLOCATION_COLUMNS and set(t["method"]) == {"paper"}
    t = t.set_index("ability")
    assert t["uniform"].sum() == 10000 and t["count"].sum() == 10000
    assert t.loc["creative_writing", "rule"] == "freeze" and t.loc["ethics", "rule"] == "cut"
    assert t.loc["biology", "rule"] == "share"


# ------------------------------------------------------------------------------ recipe vs baseline
def recipe_study(baseline_cell):
    truth = {}
    effect = {"biology": 0.08, "math": 0.0, "ethics": -0.05}
    for a, e in effect.items():
        base = {"biology": 0.4, "math": 0.2, "ethics": 0.6}[a]
        truth[("7b", "recipe", 10000, 0, "derived-10000", a)] = base + e
        truth[baseline_cell + (a,)] = base
    return truth, effect


@pytest.mark.parametrize("baseline_cell,label", [(("7b", "recipe", 10000, 0, "baseline"), "baseline"),
                                                 (("7b", "curated", 10000, 0, ""), "curated-10000")])
def test_recipe_against_the_uniform_baseline_recovers_the_known_effect(baseline_cell, label):
    truth, effect = recipe_study(baseline_cell)
    predictions, scores = tables_for(items_for(truth, 3000, coupling=0.8))
    items = bs.selected_items(predictions, scores)
    b = bs.bootstrap(items, n_boot=1000)
    c = guideline.compare_recipes(b, list(effect))
    assert list(c.columns) == guideline.COMPARISON_COLUMNS
    assert set(c["baseline"]) == {label} and set(c["recipe"]) == {"derived-10000"}
    c = c.set_index("ability")
    for a, e in effect.items():
        assert covers(c.loc[a, "ci_low"], c.loc[a, "ci_high"], e)
    assert c.loc["mean", "diff"] == pytest.approx(np.mean([c.loc[a, "diff"] for a in effect]))
    assert covers(c.loc["mean", "ci_low"], c.loc["mean", "ci_high"], np.mean(list(effect.values())))
    # The interval is paired: close to the normal approximation of per-item differences.
    bio = items[items["ability"] == "biology"].pivot(index="item_hash", columns="recipe", values="score")
    d = (bio["derived-10000"] - bio[baseline_cell[4]]).to_numpy()
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    assert (c.loc["biology", "ci_high"] - c.loc["biology", "ci_low"]) / 2 == pytest.approx(half, rel=0.15)


def test_no_recipe_cells_means_no_comparison():
    truth = {("7b", "curated", 10000, 0, "", "math"): 0.3}
    predictions, scores = tables_for(items_for(truth, 50))
    b = bs.bootstrap(bs.selected_items(predictions, scores), n_boot=50)
    assert guideline.compare_recipes(b, ["math"]).empty
