"""Named data recipes: the paper's data settings (paper v1 section 3.3) and user-defined mixtures.

A recipe says how many training items to take from each ability's pool and from the synthetic pool:

    curated-N     N / n_abilities per ability from ``curated/1000`` (N in 10, 40, 160, 640, 2560, 10000)
    synthetic-N   N synthetic items (N in 10 ... 10000, 40960)
    baseline      1000 per ability from ``curated/1000`` (= curated-10000 with DoIT's ten abilities)
    reconstruct   ethics 64, role_play 64, creative_writing 1000; the other abilities share what is left
                  of a 10,000 total as evenly as their ``curated/full`` pools allow
    maximum       ethics 64, role_play 64, creative_writing 1000, every other ability its whole full pool
    mix-N         maximum plus N synthetic items (mix-0 = maximum)
    user-defined  {name: my-recipe, counts: {biology: 100, math: 300}, synthetic: 0, pool: full, cap: false}

``reconstruct`` is derived from the pool sizes, not hard-coded: an ability whose pool is smaller than
an even share takes its whole pool, and the others split the rest; a remainder of the division goes one
item each to the remaining abilities in alphabetical order. With DoIT's pools this gives the paper's
table exactly (biology all 1,041, chinese 1,306, the other five 1,305 each).

Selection differs from the authors' on purpose: they took ``random.sample`` (curated-N) or the first k
items of each file (reconstruct, maximum); here every selection is ``sampling.nested_subset``, a seeded
permutation per (source, ability) whose first k items are taken. Subsets are nested across sizes, do not
depend on the order of records in the files, and a record has the same rank in ``curated/1000`` and
``curated/full``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .sampling import nested_subset
from .schema import ABILITIES

CURATED_SIZES = (10, 40, 160, 640, 2560, 10000)
SYNTHETIC_SIZES = (10, 40, 160, 640, 2560, 10000, 40960)
MIX_SIZES = (0, 2560, 40960)
# Abilities the paper down- or up-weights in reconstruct / maximum (make_data.py).
PAPER_FIXED = {"ethics": 64, "role_play": 64, "creative_writing": 1000}
RECONSTRUCT_TOTAL = 10000
BASELINE_PER_ABILITY = 1000
POOL_SPLITS = ("1000", "full")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SIZED = re.compile(r"^(curated|synthetic|mix)-(\d+)$")
SPEC_KEYS = ("name", "counts", "synthetic", "pool", "cap")


class RecipeError(ValueError):
    """A recipe that cannot be resolved; the message starts with the recipe's name."""


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe, before pool sizes are known."""

    name: str
    kind: str                      # curated | synthetic | baseline | reconstruct | maximum | mix | custom
    abilities: tuple[str, ...]
    n: int = 0                     # N of curated-N / synthetic-N / mix-N
    counts: Mapping[str, int] = field(default_factory=dict)  # custom only
    synthetic: int = 0             # custom only
    pool_split: str = "1000"
    cap: bool | None = None        # None: use the caller's default

    @property
    def needs_curated(self) -> bool:
        """Whether any curated pool is drawn from (so that a caller can skip loading them)."""
        return self.kind != "synthetic" and not (self.kind == "custom" and not any(self.counts.values()))

    @property
    def needs_synthetic(self) -> bool:
        return (self.n > 0 and self.kind in ("synthetic", "mix")) or self.synthetic > 0

    def resolve(self, pool_sizes: Mapping[str, int], synthetic_size: int | None = None,
                cap: bool = False) -> RecipePlan:
        return _resolve(self, pool_sizes, synthetic_size, cap if self.cap is None else self.cap)


@dataclass(frozen=True)
class RecipePlan:
    """How many items to take from each ability's pool and from the synthetic pool."""

    name: str
    counts: dict[str, int]         # every ability of the study, in the study's order (0 = none)
    synthetic: int
    pool_split: str                # "1000" or "full": the curated/ directory the counts draw from
    # what a cap reduced: ability, "synthetic" or "total" (reconstruct) -> (asked, taken)
    capped: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.synthetic

    def spec(self) -> dict:
        """What determines the materialised training set (with a seed): the name and zero counts are left
        out, so recipes (and studies) that ask for the same mixture share one artifact."""
        return {"counts": {a: n for a, n in sorted(self.counts.items()) if n}, "synthetic": self.synthetic,
                "pool_split": self.pool_split}


def parse_recipe(name_or_spec: str | Mapping, abilities: Sequence[str] = ABILITIES) -> Recipe:
    """A recipe from its name (``baseline``, ``curated-640``, ...) or a user spec (a mapping)."""
    abilities = tuple(abilities)
    if not abilities:
        raise RecipeError("a recipe needs at least one ability")
    if isinstance(name_or_spec, str):
        return _named(name_or_spec, abilities, cap=None)
    if not isinstance(name_or_spec, Mapping):
        raise RecipeError(f"a recipe is a name or a mapping with 'name' and 'counts', got {name_or_spec!r}")
    spec = dict(name_or_spec)
    name = spec.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise RecipeError(f"recipe {name!r}: 'name' must be a string of letters, digits, '_', '.', '-'")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise RecipeError(f"recipe {name!r}: unknown key(s) {', '.join(unknown)}; expected {', '.join(SPEC_KEYS)}")
    cap = spec.get("cap")
    if cap is not None and not isinstance(cap, bool):
        raise RecipeError(f"recipe {name!r}: cap: must be true or false, got {cap!r}")
    if "counts" not in spec:  # a named recipe with options, e.g. {name: reconstruct, cap: true}
        if set(spec) - {"name", "cap"}:
            raise RecipeError(f"recipe {name!r}: 'synthetic' and 'pool' need 'counts' (a user-defined recipe)")
        return _named(name, abilities, cap)
    if _is_builtin(name):
        raise RecipeError(f"recipe {name!r}: this name is a built-in recipe; give the user-defined one another name")
    counts = spec["counts"]
    if not isinstance(counts, Mapping):
        raise RecipeError(f"recipe {name!r}: counts: must map abilities to item counts, got {counts!r}")
    for ability, n in counts.items():
        if ability not in abilities:
            where = "not an ability of this study" if ability in ABILITIES else "unknown ability"
            raise RecipeError(f"recipe {name!r}: counts.{ability}: {where} (abilities: {', '.join(abilities)})")
        _check_count(name, f"counts.{ability}", n)
    synthetic = spec.get("synthetic", 0)
    _check_count(name, "synthetic", synthetic)
    pool = str(spec.get("pool", "full"))
    if pool not in POOL_SPLITS:
        raise RecipeError(f"recipe {name!r}: pool: must be one of {', '.join(POOL_SPLITS)}, got {spec.get('pool')!r}")
    return Recipe(name, "custom", abilities, counts={a: int(n) for a, n in counts.items()},
                  synthetic=int(synthetic), pool_split=pool, cap=cap)


def resolve_recipe(name_or_spec: str | Mapping, pool_sizes: Mapping[str, int],
                   abilities: Sequence[str] = ABILITIES, synthetic_size: int | None = None,
                   cap: bool = False) -> RecipePlan:
    """Per-ability counts of a recipe for pools of the given sizes.

    ``pool_sizes`` are the sizes of the pools the recipe draws from (``parse_recipe(...).pool_split``
    says which: ``curated/1000`` or ``curated/full``); ``synthetic_size`` is the synthetic pool's size
    (None: not checked). A request larger than a pool raises ``RecipeError`` naming the recipe, the
    ability, the count asked and the count available, unless ``cap`` (or the recipe's own ``cap``).
    """
    return parse_recipe(name_or_spec, abilities).resolve(pool_sizes, synthetic_size, cap)


def select_records(plan: RecipePlan, pools: Mapping[str, list[dict]], synthetic_pool: list[dict] | None,
                   seed: int) -> list[dict]:
    """The training records of a plan: the first k of each pool's seeded permutation (nested subsets),
    abilities in alphabetical order, then the synthetic items."""
    chosen: list[dict] = []
    for ability in sorted(plan.counts):
        if plan.counts[ability]:
            chosen += nested_subset(pools[ability], plan.counts[ability], seed, "curated", ability)
    if plan.synthetic:
        if synthetic_pool is None:
            raise RecipeError(f"recipe {plan.name!r}: needs {plan.synthetic} synthetic items but no synthetic pool")
        chosen += nested_subset(synthetic_pool, plan.synthetic, seed, "synthetic", "synthetic")
    return chosen


def paper_recipes() -> list[str]:
    """Every data setting of the paper, by name."""
    return ([f"curated-{n}" for n in CURATED_SIZES] + [f"synthetic-{n}" for n in SYNTHETIC_SIZES]
            + ["baseline", "reconstruct", "maximum"] + [f"mix-{n}" for n in MIX_SIZES])


# ------------------------------------------------------------------------------------- internals
def _is_builtin(name: str) -> bool:
    return name in ("baseline", "reconstruct", "maximum") or bool(_SIZED.match(name))


def _check_count(name: str, key: str, n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise RecipeError(f"recipe {name!r}: {key}: must be a whole number >= 0, got {n!r}")


def _named(name: str, abilities: tuple[str, ...], cap: bool | None) -> Recipe:
    if name in ("baseline", "reconstruct", "maximum"):
        pool = "1000" if name == "baseline" else "full"
        return Recipe(name, name, abilities, pool_split=pool, cap=cap)
    m = _SIZED.match(name)
    if not m:
        raise RecipeError(f"recipe {name!r}: unknown recipe; expected curated-N, synthetic-N, baseline, "
                          "reconstruct, maximum, mix-N, or a mapping {name, counts, synthetic}")
    kind, n = m.group(1), int(m.group(2))
    if kind == "curated":
        if n == 0 or n % len(abilities):
            raise RecipeError(f"recipe {name!r}: {n} is not a positive multiple of the {len(abilities)} abilities "
                              "(curated-N takes N / n_abilities items per ability)")
    elif kind == "synthetic" and n == 0:
        raise RecipeError(f"recipe {name!r}: synthetic-N needs N >= 1")
    return Recipe(name, kind, abilities, n=n, pool_split="full" if kind == "mix" else "1000", cap=cap)


def share_evenly(budget: int, sizes: Mapping[str, int]) -> dict[str, int]:
    """Split ``budget`` as evenly as the pool sizes allow: small pools are taken whole, the rest share
    what is left; the remainder goes one item each in alphabetical order."""
    left, counts = dict(sizes), {}
    while left:
        share = budget // len(left)
        small = {a: n for a, n in left.items() if n <= share}
        if not small:
            break
        for a, n in small.items():
            counts[a] = n
            budget -= n
            del left[a]
    if left:
        share, extra = divmod(budget, len(left))
        for i, a in enumerate(sorted(left)):
            counts[a] = share + (i < extra)
    return counts


def _resolve(recipe: Recipe, pool_sizes: Mapping[str, int], synthetic_size: int | None, cap: bool) -> RecipePlan:
    name, abilities = recipe.name, recipe.abilities
    where = f"curated/{recipe.pool_split}"
    hint = "set cap: true in the recipe (or data.cap_to_pool: true) to take the whole pool instead"
    capped: dict[str, tuple[int, int]] = {}
    short: list[str] = []

    def size(a: str) -> int:
        if a not in pool_sizes:
            raise RecipeError(f"recipe {name!r}: {a}: no {where} pool for this ability")
        return int(pool_sizes[a])

    def take(a: str, asked: int) -> int:
        if asked <= 0:
            return 0
        available = size(a)
        if asked > available:
            if not cap:
                short.append(f"{a}: asked for {asked} items but the {where} pool has {available}")
            capped[a] = (asked, available)
            return available
        return asked

    def plan(counts: dict[str, int], synthetic: int) -> RecipePlan:
        if short:  # every shortfall at once, so that one run shows all there is to fix
            raise RecipeError(f"recipe {name!r}: " + "; ".join(short) + f"; {hint}")
        return RecipePlan(name, counts, synthetic, recipe.pool_split, capped)

    kind, synthetic = recipe.kind, 0
    if kind == "curated":
        asked = {a: recipe.n // len(abilities) for a in abilities}
    elif kind == "baseline":
        asked = {a: BASELINE_PER_ABILITY for a in abilities}
    elif kind == "synthetic":
        asked, synthetic = {a: 0 for a in abilities}, recipe.n
    elif kind == "custom":
        asked, synthetic = {a: recipe.counts.get(a, 0) for a in abilities}, recipe.synthetic
    elif kind in ("maximum", "mix"):
        asked = {a: PAPER_FIXED[a] if a in PAPER_FIXED else size(a) for a in abilities}
        synthetic = recipe.n
    elif kind == "reconstruct":
        fixed = {a: take(a, PAPER_FIXED[a]) for a in abilities if a in PAPER_FIXED}
        rest = [a for a in abilities if a not in PAPER_FIXED]
        # the others share what the recipe leaves them; a capped fixed ability does not shift their counts
        budget = RECONSTRUCT_TOTAL - sum(PAPER_FIXED[a] for a in fixed)
        shared = share_evenly(budget, {a: size(a) for a in rest})
        if sum(shared.values()) < budget:
            if not cap:
                short.append(f"{', '.join(rest)}: asked for {budget} items in all but their {where} pools have "
                             f"{sum(shared.values())}")
            capped["total"] = (RECONSTRUCT_TOTAL, sum(fixed.values()) + sum(shared.values()))
        return plan({a: fixed.get(a, shared.get(a, 0)) for a in abilities}, 0)
    else:  # pragma: no cover - parse_recipe only makes the kinds above
        raise AssertionError(kind)

    counts = {a: take(a, asked[a]) for a in abilities}
    if synthetic and synthetic_size is not None and synthetic > synthetic_size:
        if not cap:
            short.append(f"synthetic: asked for {synthetic} items but the synthetic pool has {synthetic_size}")
        capped["synthetic"] = (synthetic, synthetic_size)
        synthetic = synthetic_size
    return plan(counts, synthetic)
