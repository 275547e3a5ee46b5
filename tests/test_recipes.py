"""Named data recipes: the paper's settings give the paper's counts; selections are nested and seeded."""

import random

import pytest

from growthpace.data.loaders import load_synthetic, load_train_pools
from growthpace.data.recipes import (
    RecipeError,
    paper_recipes,
    parse_recipe,
    resolve_recipe,
    select_records,
    share_evenly,
)
from growthpace.data.sampling import nested_subset
from growthpace.data.schema import ABILITIES, record_hash

from .conftest import ROOT

DOIT = ROOT / "tests" / "fixtures" / "doit"
# DoIT's full training pools (paper.md 1.2: total minus 200 valid/test; biology inferred as 1,041)
DOIT_FULL = {"biology": 1041, "history": 1893, "code": 4968, "creative_writing": 1000, "chinese": 1450,
             "understanding": 4885, "role_play": 1000, "reasoning": 12751, "math": 11501, "ethics": 1000}
# the fixture tree's curated/full sizes, counted by hand
FIXTURE_FULL = {"biology": 4, "history": 5, "code": 5, "creative_writing": 3, "chinese": 5, "understanding": 5,
                "role_play": 3, "reasoning": 5, "math": 5, "ethics": 3}


def test_reconstruct_matches_the_paper_table():
    plan = resolve_recipe("reconstruct", DOIT_FULL)
    assert plan.counts == {"biology": 1041, "history": 1305, "code": 1305, "creative_writing": 1000,
                           "chinese": 1306, "understanding": 1305, "role_play": 64, "reasoning": 1305,
                           "math": 1305, "ethics": 64}
    assert plan.total == 10000 and plan.synthetic == 0 and plan.pool_split == "full" and not plan.capped


def test_maximum_and_mix():
    plan = resolve_recipe("maximum", DOIT_FULL)
    assert plan.total == 64 + 64 + 1000 + 1041 + 1893 + 4968 + 1450 + 4885 + 12751 + 11501  # 39,617
    assert resolve_recipe("mix-0", DOIT_FULL).counts == plan.counts
    mix = resolve_recipe("mix-2560", DOIT_FULL, synthetic_size=41_000)
    assert mix.counts == plan.counts and mix.synthetic == 2560 and mix.total == 39_617 + 2560


def test_curated_synthetic_and_baseline():
    pools = {a: 1000 for a in ABILITIES}
    for n in (10, 40, 160, 640, 2560, 10000):
        plan = resolve_recipe(f"curated-{n}", pools)
        assert plan.counts == {a: n // 10 for a in ABILITIES} and plan.pool_split == "1000"
    assert resolve_recipe("baseline", pools).counts == resolve_recipe("curated-10000", pools).counts
    assert resolve_recipe("baseline", pools).spec() == resolve_recipe("curated-10000", pools).spec()
    syn = resolve_recipe("synthetic-640", pools, synthetic_size=1000)
    assert syn.synthetic == 640 and syn.total == 640
    # three abilities: curated-N splits over those
    assert resolve_recipe("curated-12", {"math": 9, "code": 9, "ethics": 9}, ["math", "code", "ethics"]).counts == \
        {"math": 4, "code": 4, "ethics": 4}


def test_share_evenly_by_hand():
    # budget 20 over 4 pools: share 5 -> a (2) and c (3) whole; 15 left for b, d: 7 each, 1 over -> b
    assert share_evenly(20, {"a": 2, "b": 10, "c": 3, "d": 9}) == {"a": 2, "c": 3, "b": 8, "d": 7}
    # cascade: share 4 -> a (1), b (4) whole; 7 left for c, whose pool of 6 is then taken whole too
    assert share_evenly(12, {"a": 1, "b": 4, "c": 6}) == {"a": 1, "b": 4, "c": 6}
    # remainder goes in alphabetical order, whatever the dict order
    assert share_evenly(11, {"z": 9, "y": 9, "x": 9}) == {"x": 4, "y": 4, "z": 3}


def test_reconstruct_small_pools_by_hand():
    # 4 abilities incl. the fixed ones: ethics 64, creative_writing 1000 -> 8936 left for math and code
    pools = {"math": 9000, "code": 2000, "ethics": 64, "creative_writing": 1000}
    plan = resolve_recipe("reconstruct", pools, ["math", "code", "ethics", "creative_writing"])
    # share 4468: code (2000) whole, math the remaining 6936
    assert plan.counts == {"math": 6936, "code": 2000, "ethics": 64, "creative_writing": 1000}
    assert plan.total == 10000


def test_too_large_requests_stop_unless_capped():
    with pytest.raises(RecipeError, match=r"^recipe 'curated-10000': biology: asked for 1000 items but the "
                                          r"curated/1000 pool has 3; history: .*; ethics: asked for 1000 items but "
                                          r"the curated/1000 pool has 3; set cap: true"):
        resolve_recipe("curated-10000", {a: 3 for a in ABILITIES})
    with pytest.raises(RecipeError, match=r"^recipe 'curated-10000': math: asked for 1000 items but the "
                                          r"curated/1000 pool has 999; set cap: true"):
        resolve_recipe("curated-10000", {**{a: 1000 for a in ABILITIES}, "math": 999})
    plan = resolve_recipe("curated-10000", {a: 3 for a in ABILITIES}, cap=True)
    assert plan.counts == {a: 3 for a in ABILITIES} and plan.capped["math"] == (1000, 3)

    with pytest.raises(RecipeError, match=r"recipe 'maximum': creative_writing: asked for 1000 items but the "
                                          r"curated/full pool has 3; role_play: asked for 64 .* pool has 3; "
                                          r"ethics: asked for 64"):
        resolve_recipe("maximum", FIXTURE_FULL)
    plan = resolve_recipe({"name": "maximum", "cap": True}, FIXTURE_FULL)  # the recipe's own cap
    assert plan.counts == FIXTURE_FULL and plan.total == 43

    with pytest.raises(RecipeError, match=r"recipe 'reconstruct': creative_writing: asked for 1000"):
        resolve_recipe("reconstruct", FIXTURE_FULL)
    plan = resolve_recipe("reconstruct", FIXTURE_FULL, cap=True)
    assert plan.counts == FIXTURE_FULL
    assert plan.capped["total"] == (10000, 43) and plan.capped["ethics"] == (64, 3)
    # enough for the fixed abilities, too little in the others' pools: named as a shortfall of the shared budget
    short = {**{a: 2 for a in ABILITIES}, "ethics": 64, "role_play": 64, "creative_writing": 1000}
    with pytest.raises(RecipeError, match=r"recipe 'reconstruct': biology, history, code, chinese, understanding, "
                                          r"reasoning, math: asked for 8872 items in all but their curated/full "
                                          r"pools have 14"):
        resolve_recipe("reconstruct", short)

    with pytest.raises(RecipeError, match=r"recipe 'mix-2560': synthetic: asked for 2560 items but the synthetic "
                                          r"pool has 5"):
        resolve_recipe("mix-2560", DOIT_FULL, synthetic_size=5)
    assert resolve_recipe("mix-2560", DOIT_FULL, synthetic_size=5, cap=True).synthetic == 5


def test_user_defined_counts():
    spec = {"name": "my-recipe", "counts": {"biology": 100, "math": 300}, "synthetic": 20}
    plan = resolve_recipe(spec, DOIT_FULL, synthetic_size=100)
    assert plan.counts == {a: {"biology": 100, "math": 300}.get(a, 0) for a in ABILITIES}
    assert plan.synthetic == 20 and plan.total == 420 and plan.pool_split == "full" and plan.name == "my-recipe"
    assert list(plan.counts) == list(ABILITIES)
    # the same mixture under another name is the same training set
    same = resolve_recipe({"name": "b", "counts": {a: 1000 for a in ABILITIES}, "pool": "1000"},
                          {a: 1000 for a in ABILITIES})
    assert same.spec() == resolve_recipe("baseline", {a: 1000 for a in ABILITIES}).spec()
    # ... and so is the same mixture in a study with fewer abilities
    fewer = resolve_recipe({"name": "c", "counts": {"biology": 100, "math": 300}, "synthetic": 20},
                           DOIT_FULL, ["math", "biology"])
    assert fewer.spec() == plan.spec() and list(fewer.counts) == ["math", "biology"]
    # every shortfall is named in one message
    with pytest.raises(RecipeError, match=r"^recipe 'my-recipe': biology: asked for 100 items but the curated/full "
                                          r"pool has 4; math: asked for 300 items but the curated/full pool has 5; "
                                          r"synthetic: asked for 20 items but the synthetic pool has 5; set cap"):
        resolve_recipe(spec, FIXTURE_FULL, synthetic_size=5)


def test_which_pools_a_recipe_needs():
    needs = {name: (parse_recipe(name).needs_curated, parse_recipe(name).needs_synthetic)
             for name in ("curated-40", "synthetic-40", "baseline", "reconstruct", "maximum", "mix-0", "mix-2560")}
    assert needs == {"curated-40": (True, False), "synthetic-40": (False, True), "baseline": (True, False),
                     "reconstruct": (True, False), "maximum": (True, False), "mix-0": (True, False),
                     "mix-2560": (True, True)}
    only_synth = parse_recipe({"name": "s", "counts": {"math": 0}, "synthetic": 3})
    assert (only_synth.needs_curated, only_synth.needs_synthetic) == (False, True)


@pytest.mark.parametrize("spec,abilities,problem", [
    ("curated-15", ABILITIES, "15 is not a positive multiple of the 10 abilities"),
    ("curated-0", ABILITIES, "not a positive multiple"),
    ("synthetic-0", ABILITIES, "synthetic-N needs N >= 1"),
    ("everything", ABILITIES, "recipe 'everything': unknown recipe"),
    ({"name": "r", "counts": {"physics": 3}}, ABILITIES, "counts.physics: unknown ability"),
    ({"name": "r", "counts": {"math": 3}}, ["code"], "counts.math: not an ability of this study"),
    ({"name": "r", "counts": {"math": -1}}, ABILITIES, "counts.math: must be a whole number >= 0"),
    ({"name": "r", "counts": {"math": True}}, ABILITIES, "counts.math: must be a whole number"),
    ({"name": "r", "counts": {"math": 1}, "synthetic": 1.5}, ABILITIES, "synthetic: must be a whole number"),
    ({"name": "r", "counts": {"math": 1}, "pool": "test"}, ABILITIES, "pool: must be one of 1000, full"),
    ({"name": "r", "counts": {"math": 1}, "seed": 3}, ABILITIES, "unknown key(s) seed"),
    ({"name": "r", "counts": [1, 2]}, ABILITIES, "counts: must map abilities"),
    ({"name": "baseline", "counts": {"math": 1}}, ABILITIES, "this name is a built-in recipe"),
    ({"name": "reconstruct", "synthetic": 5}, ABILITIES, "need 'counts'"),
    ({"name": "a b", "counts": {}}, ABILITIES, "'name' must be"),
    ({"name": "r", "counts": {}, "cap": "yes"}, ABILITIES, "cap: must be true or false"),
    (3, ABILITIES, "a recipe is a name or a mapping"),
])
def test_bad_recipes_are_named(spec, abilities, problem):
    with pytest.raises(RecipeError) as err:
        parse_recipe(spec, abilities)
    assert problem in str(err.value)


def test_every_paper_setting_resolves_on_doit_sizes():
    names = paper_recipes()
    assert len(names) == 6 + 7 + 3 + 3
    for name in names:
        split = parse_recipe(name).pool_split
        sizes = DOIT_FULL if split == "full" else {a: 1000 for a in ABILITIES}
        resolve_recipe(name, sizes, synthetic_size=41_000)


# ------------------------------------------------------------------------------------ selection
def _hashes(records):
    return [r["_hash"] for r in records]


def test_selection_uses_nested_seeded_subsets():
    pools = load_train_pools(DOIT, "full")
    synth = load_synthetic(DOIT)
    spec = {"name": "small", "counts": {"biology": 3, "math": 4, "code": 1}, "synthetic": 2}
    plan = resolve_recipe(spec, {a: len(p) for a, p in pools.items()}, synthetic_size=len(synth))
    chosen = select_records(plan, pools, synth, seed=0)
    assert [r["type"] for r in chosen] == ["biology"] * 3 + ["code"] + ["math"] * 4 + ["general"] * 2
    # exactly the pools' seeded permutations, not the first k of the files
    assert _hashes(chosen[:3]) == _hashes(nested_subset(pools["biology"], 3, 0, "curated", "biology"))
    assert _hashes(chosen[-2:]) == _hashes(nested_subset(synth, 2, 0, "synthetic", "synthetic"))
    # nested: a smaller recipe's items are a prefix per ability
    smaller = resolve_recipe({"name": "smaller", "counts": {"biology": 1, "math": 2}, "synthetic": 1},
                             {a: len(p) for a, p in pools.items()})
    small = select_records(smaller, pools, synth, seed=0)
    assert _hashes(small[:1]) == _hashes(chosen[:1])
    assert _hashes(small[1:3]) == _hashes(chosen[4:6])
    assert _hashes(small[3:]) == _hashes(chosen[-2:-1])
    # independent of file order; a different seed changes the draw
    shuffled = {a: random.Random(3).sample(p, len(p)) for a, p in pools.items()}
    assert _hashes(select_records(plan, shuffled, synth[::-1], seed=0)) == _hashes(chosen)
    assert _hashes(select_records(plan, pools, synth, seed=1)) != _hashes(chosen)


def test_rank_is_shared_between_1000_and_full_pools():
    """A record's rank does not depend on which pool it is drawn from: the 1000-pool order is the
    full-pool order restricted to the 1000 pool's records."""
    small, full = load_train_pools(DOIT, "1000"), load_train_pools(DOIT, "full")
    for a in ABILITIES:
        order_small = _hashes(nested_subset(small[a], len(small[a]), 0, "curated", a))
        members = set(order_small)
        order_full = [h for h in _hashes(nested_subset(full[a], len(full[a]), 0, "curated", a)) if h in members]
        assert order_small == order_full


def test_selection_needs_a_synthetic_pool():
    plan = resolve_recipe("synthetic-10", {a: 0 for a in ABILITIES})
    with pytest.raises(RecipeError, match="needs 10 synthetic items but no synthetic pool"):
        select_records(plan, {}, None, seed=0)


def test_curated_n_selects_like_the_existing_subset_path():
    pools = load_train_pools(DOIT, "1000")
    plan = resolve_recipe("curated-20", {a: len(p) for a, p in pools.items()})
    chosen = select_records(plan, pools, None, seed=5)
    expected = [r for a in sorted(pools) for r in nested_subset(pools[a], 2, 5, "curated", a)]
    assert _hashes(chosen) == _hashes(expected)
    assert all(r["_hash"] == record_hash(r) for r in chosen)
