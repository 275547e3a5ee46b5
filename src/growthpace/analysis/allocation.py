"""Allocation of a data budget by predicted marginal gain (``analysis.guideline.method: optimize``).

The problem. K abilities, a budget of B training items, integer counts n_i with sum B and
lo_i <= n_i <= hi_i (the pools and the support below). Maximise the predicted mean score over the
abilities at the target model size,

    S(n) = 1/K sum_i f_i(m_i(n)),    m_i(n) = n_i without transfer (see Transfer),

where f_i is ability i's predicted test score when the recipe gives it n_i items. With concave
f_i = a_i log n_i the optimum equalises marginal gains a_i / n_i (n_i proportional to a_i); with pools it
is water-filling (capped abilities at their pool, the rest proportional to a_i). Diminishing returns
are what the curves say: their shapes are linear or linear-plateau in log2(data size).

Score models. The optimiser takes any object with ``predict(ability, counts) -> (point (k,),
replicates (B, k))`` (the predicted score at per-ability item counts, with paired bootstrap
replicates, the same draws for every ability) and ``support(ability) -> (lo, hi)`` (the per-ability
item counts it was measured on), so a model over data size *and* parameter count can stand in for
the per-size curves:

- ``CurveScores``: the study's own growth curves at a trained model size (``curves``): the shape that
  the AIC chose for the curve of (ability, model size, curated), refitted on every bootstrap replicate,
  with the choice made again on every replicate, so that the replicates carry the uncertainty of the
  choice as well as of the parameters (a curve chosen flat on the point estimate is flat in only
  ``p_chosen`` of the replicates; fixing the shape would make its gain look certain). A curve of two
  sizes, where no shape is chosen, is the straight line through its points. A grid cell of total N
  trains N / K items per ability, so f_i(n) is the curve at N = K n. Several model sizes: the mean of
  their curves (the recipe is one recipe for all of them).
- ``JointModelScores``: for a model size that was not trained, a joint growth model fitted over data
  size and parameter count whose ``predict(ability, data_sizes, parameters)`` returns (point,
  replicates) on the curated axis (total items of a uniform cell): ``extrapolation.GrowthModel``, which
  ``pipeline.analyze`` fits on every trained size and passes here for
  ``analysis.guideline.untrained_model_sizes``. Its support is the data sizes the study measured (at any
  model size); how far the size lies beyond the trained ones in parameters is the report's to say, since
  no support rule can bound it. ``score_model`` picks the curves where a target size has them and says
  what is missing when it has neither curves nor a joint model.

Support (why counts have bounds beyond the pools). A shape linear in log n has an unbounded marginal
gain a / n as n -> 0, so an optimiser left free would never give an ability 0 items and would trust the
curve far below the smallest size it saw; above the largest size, a straight line in log n is a guess.
Counts are therefore kept within ``extrapolate`` doublings (default 1) of the per-ability sizes the
curve was measured on. The same holds for how often each item is seen: a recipe trains with the
optimiser steps of its budget B, so ability i sees n_i * passes(B) examples, where passes(N) =
epochs * repeats(N) (``train.settings.plan_repeats``: small cells repeat their data to reach
``min_steps``). On the grid, ability i saw (N / K) * passes(N) at size N. In a study whose small cells
repeat their data (the demo), every grid size up to the budget gave each ability the same number of
examples, so a recipe that cuts an ability below the uniform share gives it fewer examples than any
grid cell did: the curve (measured on unique items at constant exposure) does not cover it. With
``training`` settings given, counts are also kept within ``extrapolate`` doublings of the grid's range of
examples per ability.

Uncertainty. Allocating on point estimates over-fits the noise: the ability whose gain is largest by
chance gets the most data (the winner's curse), and the predicted gain of the winner is biased up.
Two defences, both on by default:

- shrinkage (``shrink``): the abilities' gains over the allocation range are shrunk towards their common
  mean by an empirical-Bayes factor lambda_i = tau^2 / (tau^2 + sigma_i^2), where sigma_i^2 is the
  bootstrap variance of ability i's gain and tau^2 = max(0, variance of the gains between abilities -
  mean sigma^2) the part of their spread that is not noise (method of moments, as in James-Stein and
  DerSimonian-Laird). Curves are shrunk as a whole: f~_i(n) = f_i(u) + g(n) + lambda_i (f_i(n) - f_i(u) -
  g(n)), where u = B / K is the uniform share and g(n) the mean over abilities of f_j(n) - f_j(u). When
  the abilities' gains differ by no more than their noise, every curve becomes the common one and the
  allocation tends to the uniform split; a clearly separated ability keeps its own curve.
- the objective averages over bootstrap replicates (``objective: mean``: the expected gain, which also
  smooths the kink of a linear-plateau fit whose saturation point is uncertain), or maximises their lower
  ``quantile`` (``objective: quantile``: the gain that holds in all but that share of replicates, a
  robust allocation that prefers a certain gain to a larger uncertain one).

Tolerance. ``tolerance: t`` keeps every ability's predicted score within t of its score under the uniform
split, judged on the lower ``quantile`` over replicates: f~_i(n_i) - f~_i(u) >= -t in all but that share.
On a curve that rises with data this is a lower bound on n_i; it is enforced as one (the smallest count
from which the condition holds for every larger count). t = 0 asks for no predicted loss at all.

Transfer (``transfer``). Where the study has single-ability cells (``transfer``), data of ability j counts
for ability i as "effective data" (Hernandez et al. 2021, Scaling Laws for Transfer): one item of j is
worth rho_ij items of i, rho_ij = T[j, i] / T[i, i] clipped to [0, 1] (T: the transfer matrix, what n items
of one ability alone do to each ability against the base model), only where i's own data measurably helps
it (the interval of T[i, i] above 0). Ability i's curve is then evaluated at the weighted mean
m_i = (n_i + sum_j rho_ij n_j) / (1 + sum_j rho_ij), which equals n_i at the uniform split, where the curve
was measured. The matrix measures single-ability training against the untuned model, so it also holds
what any fine-tuning does (format); clipping at 0 ignores negative transfer, which a fixed budget cannot
avoid anyway.

Search. Greedy from the lower bounds (the best gain per item, in chunks), then exchanges of delta items
between two abilities, delta halving down to 1, while one improves the objective. For a separable concave
objective (no transfer, objective mean, concave curves) a count vector that no single-item exchange
improves is the integer optimum, so the result is exact there (tests check closed forms); elsewhere it
is a local optimum. Curves are tabulated on a grid of counts (all integers, or 1024 log-spaced points on a
wide range) and interpolated linearly in log2 n, which is exact for shapes linear in log n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..train.settings import SFTSettings, plan_repeats
from . import curves
from .bootstrap import Boot, interval

OBJECTIVES = ("mean", "quantile")
SETTINGS = {"objective": "mean", "quantile": 0.1, "tolerance": None, "shrink": True, "transfer": False,
            "extrapolate": 1.0}
GRID_POINTS = 1024
SHAPES = list(curves.SHAPES)
TABLE_COLUMNS = ["ability", "count", "uniform", "lower", "upper", "bound", "shrinkage", "predicted",
                 "predicted_low", "predicted_high"]
EPS = 1e-12


# ------------------------------------------------------------------------------------- score models
@dataclass
class CurveScores:
    """Predicted scores from the per-size growth curves of a study (see the module doc)."""

    abilities: list[str]
    n_abilities: int
    shapes: dict = field(repr=False)     # ability -> [fit_shape(...) of each model size]
    totals: dict = field(repr=False)     # ability -> (smallest, largest) measured total size
    n_boot: int = 0

    @classmethod
    def from_boot(cls, boot: Boot, abilities, model_sizes, n_abilities: int | None = None,
                  source: str = "curated") -> CurveScores:
        abilities = list(abilities)
        n_abilities = n_abilities or len(abilities)
        shapes, totals = {}, {}
        for a in abilities:
            shapes[a], lo, hi = [], [], []
            for ms in model_sizes:
                sizes, point, reps = curves.curve(boot, a, ms, source)
                if len(sizes) < 2:
                    raise ValueError(f"ability {a!r}, model size {ms!r}: {len(sizes)} {source} data size(s); "
                                     "a growth curve needs two or more")
                shapes[a].append(fit_shape(sizes, point, reps))
                lo.append(sizes.min())
                hi.append(sizes.max())
            totals[a] = (max(lo), min(hi))
        return cls(abilities, n_abilities, shapes, totals, boot.n_boot)

    def predict(self, ability: str, counts) -> tuple[np.ndarray, np.ndarray]:
        x = np.log2(np.maximum(np.atleast_1d(np.asarray(counts, dtype=float)), 1e-9) * self.n_abilities)
        values = np.mean([shape_values(choice, p, x) for choice, p in self.shapes[ability]], axis=0)
        return values[0], values[1:]

    def support(self, ability: str) -> tuple[float, float]:
        lo, hi = self.totals[ability]
        return lo / self.n_abilities, hi / self.n_abilities


def fit_shape(sizes, point: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, dict]:
    """The AIC-chosen shape of one curve (``curves.fit_shapes``) on the point (row 0) and on every
    replicate, each row with its own choice, and the parameters of every shape on every row. A row
    without a choice (two sizes) takes the straight line; one whose linear-plateau fit does not rise
    takes the flat level there."""
    x = np.log2(np.asarray(sizes, dtype=float))
    Y = np.vstack([point[None, :], reps])
    se = np.nanstd(reps, axis=0, ddof=1) if reps.shape[0] > 1 else np.zeros(len(x))
    fits, _, chosen = curves.fit_shapes(x, Y, se)
    flat, sat = fits["flat"]["level"], fits["saturating"]
    ok = np.isfinite(sat["slope"])
    params = {"flat": {"level": flat},
              "linear": {"intercept": fits["linear"]["intercept"], "slope": fits["linear"]["slope"]},
              "saturating": {"intercept": np.where(ok, sat["intercept"], flat),
                             "slope": np.where(ok, sat["slope"], 0.0), "xs": np.where(ok, sat["xs"], x[-1])}}
    return np.array([SHAPES.index(c or "linear") for c in chosen]), params


def shape_values(choice: np.ndarray, params: dict, x: np.ndarray) -> np.ndarray:
    """(rows, len(x)) values of each row's chosen shape (``fit_shape``)."""
    values = np.stack([curves.shape_values(s, params[s], x) for s in SHAPES])   # (3, rows, k)
    return np.take_along_axis(values, choice[None, :, None].repeat(len(x), axis=2), axis=0)[0]


@dataclass
class JointModelScores:
    """For a model size that was not trained: predicted scores from a joint growth model over data size
    and parameter count. ``model.predict(ability, data_sizes, parameters)`` must return (point (k,),
    replicates (B, k)) for uniform cells of total ``data_sizes`` at ``parameters``; ``totals`` gives the
    (smallest, largest) total data size the model was fitted on, per ability."""

    model: object
    parameters: float
    abilities: list[str]
    n_abilities: int
    totals: dict

    def predict(self, ability: str, counts) -> tuple[np.ndarray, np.ndarray]:
        sizes = np.atleast_1d(np.asarray(counts, dtype=float)) * self.n_abilities
        point, reps = self.model.predict(ability, sizes, self.parameters)
        return np.asarray(point, dtype=float), np.asarray(reps, dtype=float)

    def support(self, ability: str) -> tuple[float, float]:
        lo, hi = self.totals[ability]
        return lo / self.n_abilities, hi / self.n_abilities


def score_model(boot: Boot, abilities, model_sizes, n_abilities: int | None = None, joint=None,
                parameters: dict | None = None, source: str = "curated"):
    """The score model for allocating at ``model_sizes``: their own growth curves where the study has
    them (``CurveScores``); for one model size without curves, the joint growth model ``joint`` at its
    ``parameters[size]`` (``JointModelScores``), on the data sizes the study measured."""
    abilities, model_sizes = list(abilities), [str(m) for m in model_sizes]
    u = boot.units
    plain = u[(u["data_source"] == source) & (u["recipe"] == "") & (u["data_size"] > 0)]
    missing = [m for m in model_sizes if m not in set(plain["model_size"])]
    if not missing:
        return CurveScores.from_boot(boot, abilities, model_sizes, n_abilities, source)
    if joint is None or not parameters or len(model_sizes) > 1 or missing[0] not in parameters:
        raise ValueError(f"model size(s) {', '.join(missing)}: no {source} growth curves; allocating for a model "
                         "size that was not trained needs the joint growth model over data size and parameter "
                         "count, with that size's parameter count (JointModelScores)")
    totals = {a: (float(plain.loc[plain["ability"] == a, "data_size"].min()),
                  float(plain.loc[plain["ability"] == a, "data_size"].max())) for a in abilities}
    return JointModelScores(joint, float(parameters[missing[0]]), abilities, n_abilities or len(abilities), totals)


@dataclass
class ShrunkScores:
    """Empirical-Bayes shrinkage of the abilities' curves towards their common curve (module doc)."""

    base: object
    anchor: float                        # the uniform share u = B / K
    factors: dict                        # ability -> lambda
    # the common gain at the counts last asked (counts' bytes, point, replicates): Tables.of asks every
    # ability in turn at the same grid, and the common gain is the same for each
    _common: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def around(cls, base, abilities, anchor: float, lo: float, hi: float) -> ShrunkScores:
        """Factors from each ability's gain between ``lo`` and ``hi`` items (the allocation's range)."""
        point, reps = [], []
        for a in abilities:
            p, r = base.predict(a, [lo, hi])
            point.append(p[1] - p[0])
            reps.append(r[:, 1] - r[:, 0])
        return cls(base, anchor, dict(zip(abilities, shrinkage_factors(np.array(point), np.stack(reps, axis=1)))))

    @property
    def abilities(self):
        return list(self.factors)

    def predict(self, ability: str, counts) -> tuple[np.ndarray, np.ndarray]:
        counts = np.atleast_1d(np.asarray(counts, dtype=float))
        at = np.append(counts, self.anchor)

        def gain(a):
            p, r = self.base.predict(a, at)
            return p[:-1] - p[-1], r[:, :-1] - r[:, -1:], p[-1], r[:, -1:]
        if self._common is None or self._common[0] != at.tobytes():
            common = [gain(a)[:2] for a in self.factors]
            self._common = (at.tobytes(), np.mean([c[0] for c in common], axis=0),
                            np.mean([c[1] for c in common], axis=0))
        _, mean_p, mean_r = self._common
        g_p, g_r, u_p, u_r = gain(ability)
        lam = self.factors[ability]
        return u_p + mean_p + lam * (g_p - mean_p), u_r + mean_r + lam * (g_r - mean_r)

    def support(self, ability: str) -> tuple[float, float]:
        return self.base.support(ability)


def shrinkage_factors(gain: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """lambda_i = tau^2 / (tau^2 + sigma_i^2) for gains ``gain`` (K,) with replicates ``reps`` (B, K)."""
    gain = np.asarray(gain, dtype=float)
    if len(gain) < 2:
        return np.ones_like(gain)
    sigma2 = np.nanvar(reps, axis=0, ddof=1) if reps.shape[0] > 1 else np.zeros_like(gain)
    tau2 = max(0.0, float(np.var(gain, ddof=1) - sigma2.mean()))
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = np.where(tau2 + sigma2 > 0, tau2 / (tau2 + sigma2), 1.0)
    return lam


# ------------------------------------------------------------------------------------------ transfer
def transfer_weights(transfer: pd.DataFrame, abilities, model_size: str | None = None) -> np.ndarray:
    """(K, K) row-stochastic weights: row i gives ability i's effective data as a weighted mean of the
    counts (1 on its own, rho_ij on j's; module doc). The transfer matrix of ``model_size`` (else the mean
    over model sizes, ``all``) at its largest single-ability size; the identity without one."""
    abilities = list(abilities)
    K = len(abilities)
    W = np.eye(K)
    if transfer is None or transfer.empty:
        return W
    t = transfer[transfer["model_size"].astype(str) == str(model_size)]
    if t.empty:
        t = transfer[transfer["model_size"] == "all"]
    if t.empty:
        t = transfer[transfer["model_size"] == transfer["model_size"].iloc[0]]
    t = t[t["n"] == t["n"].max()].set_index(["trained", "evaluated"])
    for i, a in enumerate(abilities):
        if (a, a) not in t.index or not t.loc[(a, a), "ci_low"] > 0:
            continue  # no measured help from its own data: nothing to scale the others' by
        own = float(t.loc[(a, a), "delta"])
        for j, b in enumerate(abilities):
            if j != i and (b, a) in t.index:
                W[i, j] = float(np.clip(t.loc[(b, a), "delta"] / own, 0.0, 1.0))
    return W / W.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------------------- bounds
def passes(total: int, training: dict) -> int:
    """How many times a cell of ``total`` items sees each item: epochs x repeats (``plan_repeats``)."""
    settings = SFTSettings(**{k: training[k] for k in ("epochs", "min_steps", "batch_size")})
    return settings.epochs * plan_repeats(int(total), settings)


def grid_examples(model, ability: str, training: dict, per_cell: int) -> tuple[float, float]:
    """The fewest and the most examples seen per ability (items x passes) over the grid sizes of the
    model's support, a cell training ``per_cell`` abilities; more items never mean fewer examples."""
    s_lo, s_hi = model.support(ability)
    return (s_lo * passes(round(s_lo * per_cell), training), s_hi * passes(round(s_hi * per_cell), training))


def count_bounds(model, abilities, budget: int, pools: dict | None = None, extrapolate: float = 1.0,
                 training: list[dict] | dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integer (lo, hi) per ability: the support widened by ``extrapolate`` doublings, in items and (with
    ``training``: epochs, min_steps, batch_size of each target model size) in examples seen; and the pools."""
    K = len(abilities)
    per_cell = getattr(model, "n_abilities", K)  # abilities that a grid cell trains together
    widen = 2.0 ** float(extrapolate)
    lo, hi = np.zeros(K), np.zeros(K)
    trainings = [training] if isinstance(training, dict) else list(training or [])
    for i, a in enumerate(abilities):
        s_lo, s_hi = model.support(a)
        lo[i], hi[i] = s_lo / widen, min(s_hi * widen, budget)
        for t in trainings:
            seen_lo, seen_hi = grid_examples(model, a, t, per_cell)
            per_item = passes(budget, t)
            lo[i] = max(lo[i], seen_lo / widen / per_item)
            hi[i] = min(hi[i], seen_hi * widen / per_item)
        if pools and a in pools:
            hi[i] = min(hi[i], pools[a])
    lo, hi = np.ceil(lo - 1e-9).astype(int), np.floor(hi + 1e-9).astype(int)
    lo = np.maximum(lo, 1)
    hi = np.maximum(hi, 0)
    if (lo > hi).any():
        bad = [f"{a} ({lo[i]} > {hi[i]})" for i, a in enumerate(abilities) if lo[i] > hi[i]]
        raise ValueError(f"no count is both within the measured support and within the pool: {', '.join(bad)}")
    if lo.sum() > budget:
        raise ValueError(f"the budget {budget} is smaller than the smallest counts the curves support "
                         f"({lo.sum()} in all: {', '.join(f'{a} {n}' for a, n in zip(abilities, lo))}); "
                         "raise analysis.guideline.optimize.extrapolate or the budget")
    if hi.sum() < budget:
        raise ValueError(f"the budget {budget} is larger than the counts the pools and the curves' support "
                         f"allow ({hi.sum()} in all: {', '.join(f'{a} {n}' for a, n in zip(abilities, hi))}); "
                         "raise analysis.guideline.optimize.extrapolate or lower the budget")
    return lo, hi


# ------------------------------------------------------------------------------------------- tables
@dataclass
class Tables:
    """Every ability's predicted score on a common grid of counts, interpolated linearly in log2 n."""

    grid: np.ndarray                     # (G,) counts, ascending
    point: np.ndarray                    # (K, G)
    reps: np.ndarray                     # (K, B, G)

    @classmethod
    def of(cls, model, abilities, lo: int, hi: int) -> Tables:
        lo, hi = max(int(lo), 1), max(int(hi), int(lo) + 1)
        if hi - lo + 1 <= GRID_POINTS:
            grid = np.arange(lo, hi + 1, dtype=float)
        else:
            grid = np.unique(np.concatenate([np.round(np.geomspace(lo, hi, GRID_POINTS)), [lo, hi]]))
        pts, reps = zip(*(model.predict(a, grid) for a in abilities))
        return cls(grid, np.stack(pts), np.stack(reps))

    def at(self, i: int, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ability ``i``'s (point (c,), replicates (B, c)) at ``counts`` (c,)."""
        lx, gx = np.log2(np.clip(counts, self.grid[0], self.grid[-1])), np.log2(self.grid)
        j = np.clip(np.searchsorted(gx, lx, side="right") - 1, 0, len(gx) - 2)
        w = (lx - gx[j]) / (gx[j + 1] - gx[j])
        p = self.point[i, j] * (1 - w) + self.point[i, j + 1] * w
        r = self.reps[i][:, j] * (1 - w) + self.reps[i][:, j + 1] * w
        return p, r


# ------------------------------------------------------------------------------------------- search
@dataclass
class Objective:
    """The predicted mean score over abilities of count vectors, against the uniform split."""

    tables: Tables
    weights: np.ndarray                  # (K, K) transfer weights
    uniform: np.ndarray                  # (K,)
    kind: str = "mean"
    quantile: float = 0.1

    def __post_init__(self):
        self.base_point, self.base_reps = self.scores(self.uniform[None, :])

    def scores(self, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean over abilities of the predicted score: (point (c,), replicates (B, c)) of each row of ``C``."""
        M = np.atleast_2d(C).astype(float) @ self.weights.T
        K = M.shape[1]
        pts, reps = zip(*(self.tables.at(i, M[:, i]) for i in range(K)))
        return np.mean(pts, axis=0), np.mean(reps, axis=0)

    def gains(self, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, r = self.scores(C)
        return p - self.base_point, r - self.base_reps

    def value(self, C: np.ndarray) -> np.ndarray:
        _, r = self.gains(C)
        if self.kind == "quantile":
            return np.nanquantile(r, self.quantile, axis=0)
        return np.nanmean(r, axis=0)


def maximise(objective: Objective, lo: np.ndarray, hi: np.ndarray, budget: int) -> np.ndarray:
    """Integer counts within [lo, hi] summing to ``budget`` that maximise ``objective`` (module doc)."""
    n = lo.astype(int).copy()
    K = len(n)
    left = int(budget - n.sum())
    chunk = max(1, math.ceil(left / 128))
    current = objective.value(n[None, :])[0]
    while left > 0:
        step = np.minimum(min(chunk, left), hi - n)
        movable = np.flatnonzero(step > 0)
        cand = np.repeat(n[None, :], len(movable), axis=0)
        cand[np.arange(len(movable)), movable] += step[movable]
        per_item = (objective.value(cand) - current) / step[movable]
        best = int(np.argmax(per_item))
        n, left = cand[best], left - int(step[movable[best]])
        current = objective.value(n[None, :])[0]
    pairs = [(j, k) for j in range(K) for k in range(K) if j != k]
    delta = 2 ** int(math.floor(math.log2(chunk)))
    while delta >= 1:
        for _ in range(100_000):
            ok = [(j, k) for j, k in pairs if n[j] - delta >= lo[j] and n[k] + delta <= hi[k]]
            if not ok:
                break
            cand = np.repeat(n[None, :], len(ok), axis=0)
            rows = np.arange(len(ok))
            cand[rows, [j for j, _ in ok]] -= delta
            cand[rows, [k for _, k in ok]] += delta
            values = objective.value(cand)
            best = int(np.argmax(values))
            if not values[best] > current + EPS * max(1.0, abs(current)):
                break
            n, current = cand[best], values[best]
        delta //= 2
    return n


def tolerance_bounds(tables: Tables, lo: np.ndarray, hi: np.ndarray, uniform: np.ndarray, tolerance: float,
                     quantile: float) -> np.ndarray:
    """Raised lower bounds: the smallest count from which every count keeps the ability's predicted score
    within ``tolerance`` of its uniform-split score, on the lower ``quantile`` over replicates (checked on
    the tables' grid, then count by count between the last grid point that fails and the next)."""
    out = lo.copy()
    for i in range(len(lo)):
        _, u = tables.at(i, np.array([float(uniform[i])]))

        def ok(counts):
            _, r = tables.at(i, counts)
            return np.nanquantile(r - u, quantile, axis=0) >= -tolerance - EPS
        grid = np.unique(np.concatenate([[lo[i], hi[i]], tables.grid[(tables.grid > lo[i]) & (tables.grid < hi[i])]]))
        bad = np.flatnonzero(~ok(grid))
        if len(bad) == 0:
            continue
        k = bad[-1]
        if k == len(grid) - 1:
            out[i] = hi[i]
            continue
        # grid[k + 1] holds: the first count after the last one that fails in between
        between = np.arange(grid[k] + 1, grid[k + 1] + 1, dtype=float)
        fails = np.flatnonzero(~ok(between))
        out[i] = int(between[fails[-1] + 1]) if len(fails) else int(between[0])
    return out


# ------------------------------------------------------------------------------------------ results
@dataclass
class Result:
    counts: dict[str, int]
    table: pd.DataFrame                  # TABLE_COLUMNS, one row per ability
    predicted: dict                      # mean over abilities: value, ci_low, ci_high (the model optimised)
    settings: dict


def uniform_split(abilities, budget: int) -> np.ndarray:
    K = len(abilities)
    base, extra = divmod(int(budget), K)
    return np.array([base + (i < extra) for i in range(K)])


def optimise(model, abilities, budget: int, pools: dict | None = None, *, objective: str = "mean",
             quantile: float = 0.1, tolerance: float | None = None, shrink: bool = True,
             transfer: np.ndarray | None = None, extrapolate: float = 1.0, training=None,
             level: float = 0.95) -> Result:
    """The allocation of ``budget`` items that maximises the predicted mean score (module doc).

    ``model``: a score model (``CurveScores``, ``JointModelScores``); ``pools``: items per ability;
    ``transfer``: (K, K) weights from ``transfer_weights`` (None: no transfer); ``training``: the target
    model sizes' SFT settings (epochs, min_steps, batch_size), for the support in examples seen."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must lie strictly between 0 and 1, got {quantile}")
    abilities = list(abilities)
    K = len(abilities)
    lo, hi = count_bounds(model, abilities, budget, pools, extrapolate, training)
    uniform = uniform_split(abilities, budget)
    scored = ShrunkScores.around(model, abilities, budget / K, lo.min(), hi.max()) if shrink and K > 1 else model
    tables = Tables.of(scored, abilities, lo.min(), hi.max())
    W = np.eye(K) if transfer is None else np.asarray(transfer, dtype=float)
    floor = lo.copy()
    if tolerance is not None:
        lo = np.maximum(lo, tolerance_bounds(tables, lo, hi, np.clip(uniform, lo, hi), float(tolerance), quantile))
        if lo.sum() > budget:
            raise ValueError(f"tolerance {tolerance}: the abilities' smallest counts within it add up to "
                             f"{lo.sum()}, more than the budget {budget}")
    obj = Objective(tables, W, uniform.astype(float), objective, quantile)
    n = maximise(obj, lo, hi, budget)
    gp, gr = obj.gains(n[None, :])
    lo_ci, hi_ci = interval(gr[:, 0], level)
    M = n[None, :].astype(float) @ W.T
    Mu = uniform[None, :].astype(float) @ W.T
    rows = []
    factors = getattr(scored, "factors", {})
    for i, a in enumerate(abilities):
        p, r = tables.at(i, M[:, i])
        pu, ru = tables.at(i, Mu[:, i])
        plo, phi = interval(r[:, 0] - ru[:, 0], level)
        bound = ("pool" if pools and a in pools and n[i] >= pools[a] else "upper" if n[i] >= hi[i]
                 else "tolerance" if n[i] <= lo[i] and lo[i] > floor[i] else "lower" if n[i] <= lo[i] else "")
        rows.append({"ability": a, "count": int(n[i]), "uniform": int(uniform[i]), "lower": int(lo[i]),
                     "upper": int(hi[i]), "bound": bound, "shrinkage": float(factors.get(a, 1.0)),
                     "predicted": float(p[0] - pu[0]), "predicted_low": float(plo), "predicted_high": float(phi)})
    settings = {"objective": objective, "quantile": quantile, "tolerance": tolerance, "shrink": shrink,
                "transfer": transfer is not None, "extrapolate": extrapolate}
    return Result({a: int(c) for a, c in zip(abilities, n)}, pd.DataFrame(rows, columns=TABLE_COLUMNS),
                  {"value": float(gp[0]), "ci_low": float(lo_ci), "ci_high": float(hi_ci),
                   "objective": float(obj.value(n[None, :])[0])}, settings)


def predicted_gains(model, counts: dict, budget: int | None = None, level: float = 0.95) -> pd.DataFrame:
    """What ``model`` predicts a recipe (``counts`` per ability) gains over the uniform split of its total:
    one row per ability and one for the mean (``ability``, ``predicted``, ``predicted_low``,
    ``predicted_high``), paired over the model's replicates. Counts outside the model's support are
    predicted as its curves continue."""
    abilities = list(counts)
    budget = budget or int(sum(counts.values()))
    uniform = dict(zip(abilities, uniform_split(abilities, budget)))
    rows, total = [], 0
    for a in abilities:
        p, r = model.predict(a, [max(counts[a], 1), uniform[a]])
        d = r[:, 0] - r[:, 1]
        total = total + d
        lo, hi = interval(d, level)
        rows.append({"ability": a, "predicted": float(p[0] - p[1]), "predicted_low": float(lo),
                     "predicted_high": float(hi)})
    lo, hi = interval(total / len(rows), level) if rows else (np.nan, np.nan)
    rows.append({"ability": "mean", "predicted": float(np.mean([r["predicted"] for r in rows])) if rows else np.nan,
                 "predicted_low": float(lo), "predicted_high": float(hi)})
    return pd.DataFrame(rows, columns=["ability", "predicted", "predicted_low", "predicted_high"])
