"""A joint growth model per ability over data size and parameter count: predict a model size that was
not swept from the ones that were, with intervals, and check it on the largest size held out.

Axes. ``x = log2(data size)`` (total training items of a plain cell, as in ``curves``) and
``z = log2(parameters)``, each base model's parameter count (``artifacts.model_parameters``: the count
its pretraining recorded, else counted from its config by ``models.size.parameter_count``), not the order
of the size labels. Both are standardised over the
units a model is fitted to (centred, divided by their standard deviation).

Forms (``FORMS``), each fitted per ability to the plain units of one data source (curated by default)
at every model size it is given:

    direct   score = f + (c - f) * sigmoid(b0 + b1 x + b2 z + b3 x z)
    ladder   the model ladders' two steps (Bhagia et al. 2024): (1) the task loss, the gold answer's
             negative log-likelihood per token averaged over the test items, as a power law in data
             and parameters with an interaction,
                 log loss = a0 + a1 x + a2 z + a3 x z                 (least squares on the unit means)
             and (2) the loss to the score through a sigmoid, fitted on the same units,
                 score = f + (c - f) * sigmoid(k0 + k1 loss)          (loss standardised likewise)

The floor ``f`` is the random-guess expectation (the items' ``expected``), or the lowest score of a
fitted unit where that is lower: a fine-tuned model that has not yet learnt the answer format scores
below chance (on the demo, ethics scores 0.03 to 0.12 against a random guess of 0.22), and a floor
above the points would flatten every prediction onto it. The ceiling ``c = f + (1 - f) sigmoid(kappa)``
is fitted, with a weak normal prior on kappa (``CEILING_PRIOR``: centred at 95% of the way from f to
1, sd 2), so a ceiling the points cannot see stays high instead of drifting, while a curve that does
flatten pulls it down. The slopes get the weakly informative normal prior of sd 2.5 per standard
deviation of their input (``SLOPE_PRIOR_SD``; Gelman et al. 2008), which keeps them finite where a
curve sits on its floor (math at 0 on xs) and leaves them free elsewhere. Every score step is fitted by
maximum likelihood on the item-level outcomes: with a predictor that is constant within a unit, the
items' Bernoulli (fractional: quasi-binomial) log-likelihood is the binomial one of the unit means
weighted by their item counts, so the fit uses the unit means and counts (Fisher scoring with
Levenberg damping, all bootstrap replicates at once).

Which form is kept, and why. Both forms assume the same along the size axis (linear in log parameters
on their scale, with an interaction with log data); with two or three model sizes nothing else is
identifiable, so each is a one-step extrapolation of the slope between the fitted sizes. They differ
in where that line is drawn. A score near its floor says nothing about how far below the threshold a
model is, so the direct form's logit slope between a small model at chance and a larger one above it
is set by noise (and by the prior); the gold answer's loss keeps falling smoothly with data and
parameters whether or not the answer is picked, and it is measured on every item. Both are validated
on the largest size held out and reported side by side (``extrapolation_validation``); ``auto``, the
default, keeps the one with the smaller mean absolute error over all held-out points and uses it for
every prediction. On the demo the ladder validates better (``DEMO_FINDING``), so it is also what
``auto`` uses when a study has too few sizes to validate (``DEFAULT_FORM``; the direct form when the
predictions have no gold log-likelihood). The ladder's second step is fitted on the curve's own units
only: base models (prompted without the format that fine-tuning teaches) and cells tuned on synthetic
data (answers worded otherwise) have gold losses 3 to 10 times higher at the same scores.

Intervals. Every fit is repeated on every replicate of the paired item bootstrap (``bootstrap``: the
test items of an ability drawn once per replicate for every cell, seeds too when the study has several),
so a prediction's replicates carry the fitted points' sampling error, correlated as the cells are. The
loss replicates come from the same draws (``bootstrap`` on the per-item loss with the same seed), so
the ladder's two steps are paired too, and so is the floor. ``ci_*``: percentile interval of the
predicted mean score (the curve). ``pi_*``: a prediction interval for one new cell measured on the
study's test set: each replicate plus one cell's noise, ``sqrt(phi * p (1 - p) / n) * t_df``, where
``phi`` is the dispersion of the fitted units around the direct form's point fit (squared residuals over
binomial variances, summed over abilities and divided by the residual degrees of freedom, units minus 5
parameters per ability) and t has those degrees of freedom. That term holds what an item bootstrap of a
single seed cannot: the training noise of one cell and the item outcomes it does not share with the
others. It is a property of the cells, not of the form, hence measured once, on the fit to the score
itself. The interval is conservative where cells share most item outcomes (the shared part is counted
in both terms): in simulated studies that follow the direct form, 97% of held-out points fall inside the
95% interval at 70% shared items and 99% at 95%, while the curve's interval covers the true score 95%
of the time. Neither holds the error of the form itself far from the fitted sizes, which only held-out
validation measures.

Held-out validation (``validate``): fit on every model size but the largest, predict the largest size's
units, and report per ability the mean absolute error over its plain data sizes; the test-set bootstrap
half-width of those measured points (mean of (ci_high - ci_low) / 2); the share of measured points,
recipe cells included, inside the 95% prediction interval (coverage); and decision accuracy, the share
of pairs ordered as measured: pairs of data sizes, and each recipe against the other recipes and the
uniform plain cell of its total (measured ties are left out, a flat prediction counts half). ``GOALS``
states the targets. Recipe cells enter with ``recipe_counts`` (their per-ability items): a recipe that
gives an ability n items is placed on the curated axis at n times the number of abilities, the plain
cell whose per-ability share it equals (transfer from the recipe's other abilities is not modelled).

API for other analyses (fit once, predict anywhere)::

    model = fit_items(items, params, n_boot=1000, seed=0)         # params: model size -> parameters
    model = fit_growth(boot, loss_boot, params, form="ladder")    # the same from bootstraps at hand
    point, reps = model.predict("math", [640, 2560], 7e9)         # (k,), (n_boot, k)
    lo, hi = model.interval("math", [640, 2560], 7e9)             # 95% interval of the curve
    lo, hi = model.interval("math", [640, 2560], 7e9, kind="prediction")   # of one measured cell
    reps = model.prediction_replicates("math", [640, 2560], 7e9)  # (n_boot, k), noise included

with ``items = bootstrap.selected_items(predictions, scores)``, ``boot = bootstrap(items, n_boot, seed)``
and ``loss_boot = bootstrap(items_with_loss(items), n_boot, seed)`` with the same seed (None: direct
form only). A data size is in the curated curve's unit, the total of a uniform cell: an ability given
n items of its own sits at n times the number of abilities. Replicate b of every prediction comes from
the same item draw, for every ability, data size and parameter count, so differences and sums across
them (an allocation over abilities) keep their pairing. ``extrapolate`` does it all for
``pipeline.analyze``: the two tables (``EXTRAPOLATION_COLUMNS``, ``VALIDATION_COLUMNS``), what it chose,
and the model fitted on every size with the chosen form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from .bootstrap import Boot, bootstrap, interval

FORMS = ("direct", "ladder")
DEFAULT_FORM = "ladder"  # the better validated on the demo (DEMO_FINDING); direct without gold losses
CEILING_PRIOR = (float(special.logit(0.95)), 2.0)  # kappa ~ N(mean, sd): c = g + (1 - g) sigmoid(kappa)
SLOPE_PRIOR_SD = 2.5   # normal prior on every slope of a standardised input (Gelman et al. 2008)
RIDGE = 1e-6           # the loss's least squares: only numerical
P_FLOOR = 1e-6         # predicted scores are kept inside (P_FLOOR, 1 - P_FLOOR)
PI_SEED = 12345        # the draws of the single-cell noise in prediction intervals
GOALS = {"coverage": 0.90, "decision_accuracy": 0.80, "abilities_mae_below_half_width": 7}
# make demo; fit on xs and s (140,224 and 643,200 parameters), predict m (1,771,584). The floor, the priors
# and step 2's units were settled while looking at this demo, m included, so these figures are not a
# clean out-of-sample test; the simulated studies of tests/test_analysis_extrapolation.py are.
DEMO_FINDING = (
    "ladder: mean absolute error 0.071 over 40 held-out points (direct 0.116), 96% of 50 points inside the "
    "95% prediction interval (direct 90%), 84% of 66 pairs ordered as measured (direct 78%), error below "
    "the test-set half-width for 8 of 10 abilities (direct 8)")
ROLES = ("fit", "held_out", "extrapolation")
LADDER_NEEDS = ("the ladder form needs the gold answer's log-likelihood per item (gold_logprob and gold_tokens "
                "in predictions.parquet)")
EXTRAPOLATION_COLUMNS = [
    "ability", "data_source", "role", "form", "model_size", "params", "data_size", "recipe", "axis_size", "fit_sizes",
    "measured", "measured_low", "measured_high", "predicted", "ci_low", "ci_high", "pi_low", "pi_high"]
VALIDATION_COLUMNS = [
    "ability", "data_source", "form", "chosen", "held_out", "fit_sizes", "n_points", "mae", "half_width",
    "mae_below_half_width", "coverage", "n_pairs", "decision_accuracy", "decided_on"]
# ``decided_on``: the split on which ``auto`` chose the form (``chosen``; the pipeline's ``analysis.decide_on``),
# whereas every figure of the table is measured on the boot it is given (test).


class TooFewModelSizes(ValueError):
    """Fewer model sizes than a fit (2) or a held-out validation (3) needs."""


# ----------------------------------------------------------------------------------------- inputs
def items_with_loss(items: pd.DataFrame) -> pd.DataFrame:
    """Per-item rows with ``score`` replaced by the gold answer's negative log-likelihood per token
    (NaN where the evaluation did not record it), for ``bootstrap``: the ladder's task loss."""
    if not {"gold_logprob", "gold_tokens"} <= set(items):
        return items.iloc[:0].assign(score=np.nan)
    tokens = items["gold_tokens"].astype(float)
    nll = -items["gold_logprob"].astype(float) / tokens.where(tokens > 0)
    return items.assign(score=nll)


@dataclass
class Points:
    """One ability's units on one data source: axes, scores with replicates, losses with replicates."""

    model_size: np.ndarray
    data_size: np.ndarray
    params: np.ndarray
    score: np.ndarray   # (m,)
    reps: np.ndarray    # (B, m)
    n: np.ndarray       # items (times seeds) behind each mean
    low: np.ndarray
    high: np.ndarray
    loss: np.ndarray | None = None       # (m,)
    loss_reps: np.ndarray | None = None  # (B, m)

    def __len__(self):
        return len(self.score)


def _points(boot: Boot, loss: Boot | None, rows: pd.DataFrame, params: dict) -> Points:
    idx = rows.index.to_numpy()
    point, reps = boot.values(idx)
    lo, hi = interval(reps, boot.level)
    out = Points(rows["model_size"].to_numpy(), rows["data_size"].to_numpy(dtype=float),
                 rows["model_size"].map(params).to_numpy(dtype=float), point, reps,
                 (rows["n_items"] * rows["n_seeds"]).to_numpy(dtype=float), lo, hi)
    if loss is not None and loss.n_boot == boot.n_boot:
        where = [loss.pos(*key) for key in rows[["ability", "model_size", "data_source", "data_size", "recipe"]]
                 .itertuples(index=False, name=None)]
        if all(w is not None for w in where):
            lp, lr = loss.values(where)
            if np.all(np.isfinite(lp)) and np.all(lp > 0):
                out.loss, out.loss_reps = lp, lr
    return out


def curve_units(boot: Boot, ability: str, source: str, model_sizes) -> pd.DataFrame:
    """Plain units of ``ability`` on ``source`` at ``model_sizes`` (data size > 0)."""
    u = boot.units
    m = ((u["ability"] == ability) & (u["data_source"] == source) & (u["recipe"] == "") & (u["data_size"] > 0)
         & u["model_size"].isin(list(model_sizes)))
    return u[m].sort_values(["model_size", "data_size"])


# ------------------------------------------------------------------------------------------- fits
def _design(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    x, z = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(z, dtype=float))
    return np.stack([np.ones_like(x), x, z, x * z], axis=-1)


def _ceiling_terms(X: np.ndarray, theta: np.ndarray, g: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(floor (R, 1), sigmoid(X b) (R, m), sigmoid(kappa) (R, 1)): X (m, k) or (R, m, k), theta (R, k + 1) = (b, kappa)."""
    b, kappa = theta[:, :-1], theta[:, -1]
    g = np.broadcast_to(np.asarray(g, dtype=float), (theta.shape[0],))[:, None]
    eta = np.einsum("rmk,rk->rm", X, b) if X.ndim == 3 else b @ X.T
    return g, special.expit(eta), special.expit(kappa)[:, None]


def _ceiling_score(X: np.ndarray, theta: np.ndarray, g: float) -> np.ndarray:
    """The score of ``_ceiling_p`` without its Jacobian (objectives and predictions need no Jacobian, and
    it costs more than the score)."""
    g, s, c = _ceiling_terms(X, theta, g)
    return g + (1 - g) * c * s


def _ceiling_p(X: np.ndarray, theta: np.ndarray, g: float) -> tuple[np.ndarray, np.ndarray]:
    """Score and its Jacobian: X (m, k) or (R, m, k), theta (R, k + 1) = (b, kappa)."""
    g, s, c = _ceiling_terms(X, theta, g)
    p = g + (1 - g) * c * s
    dp_deta = (1 - g) * c * s * (1 - s)
    Xr = X if X.ndim == 3 else np.broadcast_to(X, (theta.shape[0],) + X.shape)
    jac = np.concatenate([dp_deta[..., None] * Xr, ((1 - g) * c * (1 - c) * s)[..., None]], axis=-1)
    return p, jac


def fit_ceiling_logistic(X: np.ndarray, Y: np.ndarray, n: np.ndarray, g: float, theta0: np.ndarray | None = None,
                         prior=CEILING_PRIOR, slope_sd: float = SLOPE_PRIOR_SD, iters: int = 200) -> np.ndarray:
    """``theta = (b, kappa)`` of ``g + (1 - g) sigmoid(kappa) sigmoid(X b)`` for every row of ``Y`` (R, m)
    (fractional scores; ``n``: items behind each mean; ``g``: the floor, one per row or shared): the
    binomial likelihood's maximum under the ceiling prior and normal priors of sd ``slope_sd`` on the
    slopes (every column of X but the first, the intercept's); X (m, k) shared by the rows, or
    (R, m, k) one per row."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    R, m = Y.shape
    k = X.shape[-1]
    g = np.broadcast_to(np.asarray(g, dtype=float), (R,))
    valid = np.isfinite(Y)
    Yc = np.where(valid, np.clip(Y, 0, 1), 0.0)
    nw = np.where(valid, np.broadcast_to(np.asarray(n, dtype=float), (R, m)), 0.0)
    pen = np.zeros(k + 1)
    pen[1:k] = 1 / slope_sd ** 2
    mu_k, sd_k = prior
    pen[-1] = 1 / sd_k ** 2
    centre = np.zeros(k + 1)
    centre[-1] = mu_k
    if theta0 is None:
        theta = np.zeros((R, k + 1))
        top = g + (1 - g) * special.expit(mu_k)
        mean = (nw * Yc).sum(axis=1) / np.maximum(nw.sum(axis=1), 1e-12)
        theta[:, 0] = special.logit(np.clip((mean - g) / np.maximum(top - g, 1e-6), 0.02, 0.98))
        theta[:, -1] = mu_k
    else:
        theta = np.array(np.broadcast_to(theta0, (R, k + 1)), dtype=float)

    def rows(a, idx):
        return a[idx] if a.ndim == 3 else a

    def objective(t, idx):
        p = np.clip(_ceiling_score(rows(X, idx), t, g[idx]), P_FLOOR, 1 - P_FLOOR)
        ll = (nw[idx] * (Yc[idx] * np.log(p) + (1 - Yc[idx]) * np.log1p(-p))).sum(axis=1)
        return -ll + 0.5 * (pen * (t - centre) ** 2).sum(axis=1)

    f = objective(theta, np.arange(R))
    damp = np.full(R, 1e-3)
    idx = np.arange(R)
    eye = np.eye(k + 1)
    for _ in range(iters):
        if not len(idx):
            break
        t = theta[idx]
        p, J = _ceiling_p(rows(X, idx), t, g[idx])
        p = np.clip(p, P_FLOOR, 1 - P_FLOOR)
        w = nw[idx] / (p * (1 - p))
        grad = np.einsum("rmk,rm->rk", J, w * (p - Yc[idx])) + pen * (t - centre)
        H = np.einsum("rmk,rm,rml->rkl", J, w, J) + np.diag(pen)
        scale = np.einsum("rkk->rk", H) + 1e-9
        step = np.linalg.solve(H + damp[idx, None, None] * scale[:, :, None] * eye, -grad[..., None])[..., 0]
        new = t + step
        f_new = objective(new, idx)
        better = f_new <= f[idx]
        small = (np.abs(f[idx] - f_new) <= 1e-10 * (1 + np.abs(f_new))) | (np.abs(step).max(axis=1) < 1e-8)
        theta[idx[better]] = new[better]
        f[idx[better]] = f_new[better]
        damp[idx[better]] = np.maximum(damp[idx[better]] / 4, 1e-10)
        damp[idx[~better]] *= 4
        done = (better & small) | (damp[idx] > 1e10)
        idx = idx[~done]
    return theta


def _ols(X: np.ndarray, Y: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Least-squares coefficients of every row of Y (R, m) on X (m, k), slopes lightly ridged."""
    pen = np.full(X.shape[1], ridge)
    pen[0] = 0.0
    A = X.T @ X + np.diag(pen)
    return np.linalg.solve(A, X.T @ np.atleast_2d(Y).T).T


@dataclass
class AbilityFit:
    """One ability's fitted form: coefficients for the point estimate (row 0) and every replicate."""

    form: str
    floor: np.ndarray                  # (1 + B,) the floor of the point estimate and of every replicate
    centre: tuple      # (x0, sx, z0, sz): the axes are standardised, (x - x0) / sx, (z - z0) / sz
    theta: np.ndarray                  # (1 + B, 5): direct coefficients, or the ladder's step 2
    gamma: np.ndarray | None = None    # (1 + B, 4): the ladder's step 1 (log loss)
    loss_scale: tuple = (0.0, 1.0)     # (centre, sd) of the loss in step 2
    n_items: float = 0.0               # items (times seeds) of one unit, for the prediction noise
    fitted: np.ndarray | None = None   # (m,) fitted scores at the units fitted to
    points: Points | None = None
    n_params: int = 5

    def scores(self, data_size, params) -> np.ndarray:
        """(1 + B, k) predicted scores at ``data_size`` (k sizes) and one parameter count."""
        data_size = np.atleast_1d(np.asarray(data_size, dtype=float))
        return self.scores_at(data_size, np.full(data_size.shape, float(params)))

    def scores_at(self, data_size, params) -> np.ndarray:
        """(1 + B, k) predicted scores at k (data size, parameters) pairs."""
        data_size = np.atleast_1d(np.asarray(data_size, dtype=float))
        x0, sx, z0, sz = self.centre
        X = _design((np.log2(data_size) - x0) / sx, (np.log2(np.asarray(params, dtype=float)) - z0) / sz)
        if self.form == "direct":
            return _ceiling_score(X, self.theta, self.floor)
        loss = np.exp(self.gamma @ X.T)                                       # (1 + B, k)
        X2 = np.stack([np.ones_like(loss), (loss - self.loss_scale[0]) / self.loss_scale[1]], axis=-1)
        return _ceiling_score(X2, self.theta, self.floor)


def fit_ability(points: Points, form: str, floor: np.ndarray) -> AbilityFit:
    """Fit ``form`` to one ability's units; ``floor`` (1 + B,): the floor of the point estimate and of
    every replicate."""
    x, z = np.log2(points.data_size), np.log2(points.params)
    centre = (float(x.mean()), float(x.std()) or 1.0, float(z.mean()), float(z.std()) or 1.0)
    X = _design((x - centre[0]) / centre[1], (z - centre[2]) / centre[3])
    Y = np.vstack([points.score[None, :], points.reps])
    if form == "direct":
        theta = fit_ceiling_logistic(X, Y[:1], points.n, floor[:1])
        theta = np.vstack([theta, fit_ceiling_logistic(X, Y[1:], points.n, floor[1:], theta0=theta[0])])
        f = AbilityFit(form, floor, centre, theta, n_items=float(np.median(points.n)), points=points)
        f.fitted = _ceiling_score(X, theta[:1], floor[:1])[0]
        return f
    if form != "ladder":
        raise ValueError(f"unknown extrapolation form {form!r}; expected one of {', '.join(FORMS)}")
    if points.loss is None:
        raise ValueError(LADDER_NEEDS)
    gamma = _ols(X, np.log(np.vstack([points.loss[None, :], points.loss_reps])))
    # Step 2 on the same units: the loss-to-score map holds for models taught the same answer format
    # (measured on the demo: synthetic cells and base models have gold losses 3 to 10 times higher at
    # the same scores, since their answers are worded otherwise).
    L = np.vstack([points.loss[None, :], points.loss_reps])                                   # (1 + B, m)
    scale = (float(L[0].mean()), float(L[0].std()) or 1.0)
    X2 = np.stack([np.ones_like(L), (L - scale[0]) / scale[1]], axis=-1)                     # (1 + B, m, 2)
    theta0 = fit_ceiling_logistic(X2[:1], Y[:1], points.n, floor[:1])
    theta = np.vstack([theta0, fit_ceiling_logistic(X2[1:], Y[1:], points.n, floor[1:], theta0=theta0[0])])
    f = AbilityFit(form, floor, centre, theta, gamma, scale, float(np.median(points.n)), points=points, n_params=7)
    f.fitted = f.scores_at(points.data_size, points.params)[0]
    return f


# ------------------------------------------------------------------------------------------ model
@dataclass
class GrowthModel:
    """Every ability's fitted form on one data source, from the model sizes in ``params``."""

    form: str
    source: str
    params: dict            # fitted model size -> parameters
    fits: dict              # ability -> AbilityFit
    phi: float              # residual dispersion of one cell, in binomial variances
    df: float               # its degrees of freedom (inf: none left, phi = 1 assumed)
    level: float = 0.95
    notes: list = field(default_factory=list)

    @property
    def abilities(self) -> list[str]:
        return list(self.fits)

    def fit_of(self, ability: str) -> AbilityFit:
        if ability not in self.fits:
            raise KeyError(f"no {self.form} fit for ability {ability!r} on {self.source} data "
                           f"(fitted: {', '.join(self.fits) or 'none'})")
        return self.fits[ability]

    def predict(self, ability: str, data_size, params: float) -> tuple[np.ndarray, np.ndarray]:
        """Predicted mean score at ``data_size`` (one or more) for a model of ``params`` parameters:
        (point (k,), bootstrap replicates (B, k))."""
        s = self.fit_of(ability).scores(data_size, params)
        return s[0], s[1:]

    def prediction_replicates(self, ability: str, data_size, params: float, n_items: float | None = None) -> np.ndarray:
        """Replicates of one new cell's measured score: the curve's replicates plus a single cell's noise
        (see the module doc); ``n_items``: its test items (default: those of the fitted units)."""
        fit = self.fit_of(ability)
        _, reps = self.predict(ability, data_size, params)
        n = float(n_items or fit.n_items)
        var = self.phi * np.clip(reps * (1 - reps), 1 / n, None) / n
        rng = np.random.default_rng([PI_SEED, sum(map(ord, ability)), len(np.atleast_1d(data_size))])
        t = rng.standard_t(self.df, size=reps.shape) if np.isfinite(self.df) else rng.standard_normal(reps.shape)
        return np.clip(reps + np.sqrt(var) * t, 0.0, 1.0)

    def interval(self, ability: str, data_size, params: float, kind: str = "curve",
                 level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval of the predicted curve (``kind="curve"``) or of one new cell's measured
        score (``kind="prediction"``)."""
        if kind == "curve":
            reps = self.predict(ability, data_size, params)[1]
        elif kind == "prediction":
            reps = self.prediction_replicates(ability, data_size, params)
        else:
            raise ValueError(f"interval kind {kind!r}: expected curve or prediction")
        return interval(reps, level or self.level)


def model_sizes_with(boot: Boot, source: str, params: dict) -> list[str]:
    """Model sizes that have plain ``source`` units and a parameter count, smallest first."""
    u = boot.units
    have = set(u.loc[(u["data_source"] == source) & (u["recipe"] == "") & (u["data_size"] > 0), "model_size"])
    return sorted((m for m in params if m in have), key=lambda m: (params[m], m))


def _check_sizes(sizes: list[str], need: int, what: str, source: str, params: dict) -> None:
    if len(sizes) < need:
        found = ", ".join(f"{m} ({params[m]:,.0f} parameters)" for m in sizes) or "none"
        raise TooFewModelSizes(
            f"{what} needs at least {need} model sizes with {source} cells and a parameter count; "
            f"found {len(sizes)}: {found}. Add model sizes to grid.model_sizes (with {source} data sizes).")


def fit_items(items: pd.DataFrame, params: dict, *, form: str = "auto", n_boot: int = 1000, seed: int = 0,
              level: float = 0.95, source: str = "curated", abilities=None) -> GrowthModel:
    """``fit_growth`` from per-item rows (``bootstrap.selected_items``): the score and loss bootstraps drawn
    with one seed; ``auto``: the ladder when the items carry gold log-likelihoods, else the direct form."""
    boot = bootstrap(items, n_boot=n_boot, seed=seed, level=level)
    loss = bootstrap(items_with_loss(items), n_boot=n_boot, seed=seed, level=level)
    has_loss = len(loss.units) > 0 and bool(np.isfinite(loss.point).any())
    form = choose_form(pd.DataFrame(columns=VALIDATION_COLUMNS), form, has_loss)
    return fit_growth(boot, loss if has_loss else None, params, source=source, form=form, abilities=abilities)


def floor_of(points: Points, expected: float) -> np.ndarray:
    """The floor (1 + B,): the random-guess expectation, or the lowest fitted score where one is lower (a
    model that has not learnt the answer format scores below chance), for the estimate and each replicate."""
    return np.minimum(expected, np.nanmin(np.vstack([points.score[None, :], points.reps]), axis=1))


def fit_growth(boot: Boot, loss: Boot | None, params: dict, *, model_sizes=None, source: str = "curated",
               form: str = DEFAULT_FORM, abilities=None) -> GrowthModel:
    """Fit ``form`` per ability to the plain ``source`` units of ``model_sizes`` (default: every size
    with a parameter count in ``params``); raises ``TooFewModelSizes`` with fewer than 2."""
    if form not in FORMS:
        raise ValueError(f"unknown extrapolation form {form!r}; expected one of {', '.join(FORMS)}")
    params = {str(k): float(v) for k, v in params.items()}
    sizes = model_sizes_with(boot, source, params)
    if model_sizes is not None:
        sizes = [m for m in sizes if m in set(map(str, model_sizes))]
    _check_sizes(sizes, 2, "a growth model over data and model size", source, params)
    if len({params[m] for m in sizes}) < 2:
        raise TooFewModelSizes(f"model sizes {', '.join(sizes)} all have {params[sizes[0]]:,.0f} parameters: "
                               "the model-size axis needs two different parameter counts")
    if form == "ladder" and (loss is None or not np.isfinite(loss.point).any()):
        raise ValueError(LADDER_NEEDS)
    u = boot.units
    abilities = list(abilities) if abilities is not None else sorted(u.loc[u["data_source"] == source, "ability"].unique())
    fits, notes, chi2, df = {}, [], 0.0, 0
    for ability in abilities:
        rows = curve_units(boot, ability, source, sizes)
        per_size = rows.groupby("model_size")["data_size"].nunique()
        if rows["model_size"].nunique() < 2 or per_size.max() < 2 or len(rows) < 4:
            notes.append(f"{ability}: too few {source} units to fit ({len(rows)} over "
                         f"{rows['model_size'].nunique()} model sizes)")
            continue
        points = _points(boot, loss, rows, params)
        if form == "ladder" and points.loss is None:
            notes.append(f"{ability}: no gold-answer log-likelihood, so no ladder fit")
            continue
        floor = floor_of(points, float(rows["expected"].mean()))
        fit = fit_ability(points, form, floor)
        fits[ability] = fit
        # One cell's noise is a property of the cells, not of the form: it is measured by the residuals
        # of the direct form, which fits the score itself (the ladder's composite residuals also hold
        # the loss fit's lack of fit at the fitted sizes).
        direct = fit if form == "direct" else fit_ability(
            Points(**{**points.__dict__, "reps": points.reps[:0]}), "direct", floor[:1])
        p = np.clip(direct.fitted, 1 / points.n, 1 - 1 / points.n)
        chi2 += float((((points.score - direct.fitted) ** 2) / (p * (1 - p) / points.n)).sum())
        df += len(points) - direct.n_params
    if not fits:
        raise TooFewModelSizes(f"no ability could be fitted on {source} data: " + "; ".join(notes))
    phi, dof = (chi2 / df, float(df)) if df > 0 else (1.0, float("inf"))
    return GrowthModel(form, source, {m: params[m] for m in sizes}, fits, phi, dof, boot.level, notes)


# ------------------------------------------------------------------------------------- validation
def _row(ability, source, role, form, model_size, params, data_size, recipe, fit_sizes, measured, pred, ci, pi,
         axis_size=None):
    return {"ability": ability, "data_source": source, "role": role, "form": form, "model_size": model_size,
            "params": float(params), "data_size": int(data_size), "recipe": recipe,
            "axis_size": float(data_size if axis_size is None else axis_size), "fit_sizes": fit_sizes,
            "measured": measured[0], "measured_low": measured[1], "measured_high": measured[2],
            "predicted": float(pred), "ci_low": float(ci[0]), "ci_high": float(ci[1]),
            "pi_low": float(pi[0]), "pi_high": float(pi[1])}


def held_out_units(boot: Boot, ability: str, source: str, model_size: str, recipe_counts: dict | None,
                   n_abilities: int) -> pd.DataFrame:
    """The units of ``model_size`` a validation predicts: the plain ``source`` curve, plus recipe cells
    whose per-ability count is known, placed at ``count * n_abilities`` (column ``axis_size``)."""
    u = boot.units
    plain = curve_units(boot, ability, source, [model_size]).assign(axis_size=lambda d: d["data_size"])
    if not recipe_counts or source != "curated":
        return plain
    rec = u[(u["ability"] == ability) & (u["model_size"] == model_size) & (u["data_source"] == "recipe")]
    rec = rec[rec["recipe"].map(lambda r: (recipe_counts.get(r) or {}).get(ability, 0) > 0)]
    rec = rec.assign(axis_size=rec["recipe"].map(lambda r: recipe_counts[r][ability] * n_abilities))
    return pd.concat([plain, rec])


def decision_pairs(measured: np.ndarray, predicted: np.ndarray) -> tuple[float, int]:
    """(pairs ordered as measured, pairs with a measured order): measured ties are left out, a predicted
    tie (a prediction flat at its floor or ceiling) counts half, as a coin flip would."""
    agree, total = 0.0, 0
    for i in range(len(measured)):
        for j in range(i + 1, len(measured)):
            dm, dp = measured[j] - measured[i], predicted[j] - predicted[i]
            if abs(dm) < 1e-12:
                continue
            total += 1
            agree += 0.5 if abs(dp) < 1e-9 else float(np.sign(dp) == np.sign(dm))
    return agree, total


def validate(boot: Boot, loss: Boot | None, params: dict, *, source: str = "curated", forms=FORMS,
             abilities=None, recipe_counts: dict | None = None,
             n_abilities: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Fit every form on all model sizes but the largest and predict the largest: (held-out rows,
    ``EXTRAPOLATION_COLUMNS``; one summary row per ability and form plus ability ``all``,
    ``VALIDATION_COLUMNS``; notes on what could not be fitted). Raises ``TooFewModelSizes`` with fewer
    than 3 model sizes, and when no form could be fitted."""
    params = {str(k): float(v) for k, v in params.items()}
    sizes = model_sizes_with(boot, source, params)
    _check_sizes(sizes, 3, "held-out validation (fit on all model sizes but the largest, predict it)", source, params)
    held, fit_sizes = sizes[-1], sizes[:-1]
    label = ",".join(fit_sizes)
    rows, summary, notes = [], [], []
    for form in forms:
        try:
            model = fit_growth(boot, loss, params, model_sizes=fit_sizes, source=source, form=form, abilities=abilities)
        except (TooFewModelSizes, ValueError) as e:
            notes.append(f"{form}: {e}")
            continue
        notes += [f"{form}: {n}" for n in model.notes]
        per_form = []
        for ability in model.abilities:
            units = held_out_units(boot, ability, source, held, recipe_counts, n_abilities)
            if units.empty:
                continue
            pts = _points(boot, None, units, params)
            pred, _ = model.predict(ability, units["axis_size"], params[held])
            ci = model.interval(ability, units["axis_size"], params[held])
            pi = model.interval(ability, units["axis_size"], params[held], kind="prediction")
            for k, r in enumerate(units.itertuples(index=False)):
                per_form.append(_row(ability, source, "held_out", form, held, params[held], r.data_size, r.recipe,
                                     label, (pts.score[k], pts.low[k], pts.high[k]), pred[k], (ci[0][k], ci[1][k]),
                                     (pi[0][k], pi[1][k]), r.axis_size))
        rows += per_form
        summary += summarise(pd.DataFrame(per_form, columns=EXTRAPOLATION_COLUMNS), source, form, held, label)
    if not summary:
        raise TooFewModelSizes(f"held-out validation of {held} from {', '.join(fit_sizes)}: no form could be "
                               "fitted (" + "; ".join(notes) + ")")
    return pd.DataFrame(rows, columns=EXTRAPOLATION_COLUMNS), pd.DataFrame(summary, columns=VALIDATION_COLUMNS), notes


def summarise(rows: pd.DataFrame, source: str, form: str, held: str, label: str) -> list[dict]:
    """Per-ability validation figures of one form's held-out rows, and their totals (ability ``all``)."""
    out = []
    plain = rows[rows["recipe"] == ""]
    for ability, g in rows.groupby("ability", sort=False):
        p = plain[plain["ability"] == ability]
        agree, total = decision_pairs(p["measured"].to_numpy(), p["predicted"].to_numpy())
        for size, recipes in g[g["recipe"] != ""].groupby("data_size"):  # recipes against each other and
            same = pd.concat([recipes, p[p["data_size"] == size]])       # the uniform cell of their total
            a, t = decision_pairs(same["measured"].to_numpy(), same["predicted"].to_numpy())
            agree, total = agree + a, total + t
        mae = float((p["predicted"] - p["measured"]).abs().mean())
        half = float(((p["measured_high"] - p["measured_low"]) / 2).mean())
        out.append({"ability": ability, "data_source": source, "form": form, "held_out": held, "fit_sizes": label,
                    "n_points": len(p), "mae": mae, "half_width": half, "mae_below_half_width": float(mae < half),
                    "coverage": float(((g["measured"] >= g["pi_low"]) & (g["measured"] <= g["pi_high"])).mean()),
                    "n_pairs": total, "decision_accuracy": agree / total if total else np.nan})
    if out:
        per = pd.DataFrame(out)
        pairs = per["n_pairs"].sum()
        out.append({"ability": "all", "data_source": source, "form": form, "held_out": held, "fit_sizes": label,
                    "n_points": int(per["n_points"].sum()), "mae": float((plain["predicted"] - plain["measured"]).abs().mean()),
                    "half_width": float(((plain["measured_high"] - plain["measured_low"]) / 2).mean()),
                    "mae_below_half_width": float(per["mae_below_half_width"].sum()),
                    "coverage": float(((rows["measured"] >= rows["pi_low"]) & (rows["measured"] <= rows["pi_high"])).mean()),
                    "n_pairs": int(pairs),
                    "decision_accuracy": float((per["decision_accuracy"] * per["n_pairs"]).sum() / pairs) if pairs else np.nan})
    return out


# --------------------------------------------------------------------------------- for the pipeline
def choose_form(validation: pd.DataFrame, form: str = "auto", has_loss: bool = True) -> str:
    """``form``, or with ``auto`` the validated form with the smaller mean absolute error over all
    held-out points; with nothing validated, ``DEFAULT_FORM`` (direct when there are no gold losses)."""
    if form != "auto":
        return form
    total = validation[(validation["ability"] == "all") & validation["mae"].notna()]
    if len(total):
        return str(total.sort_values("mae", kind="stable").iloc[0]["form"])
    return DEFAULT_FORM if has_loss else "direct"


def extrapolate(boot: Boot, loss: Boot | None, params: dict | None, targets: dict | None = None, *,
                source: str = "curated", form: str = "auto", abilities=None, recipe_counts: dict | None = None,
                n_abilities: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, dict, GrowthModel | None]:
    """The extrapolation tables of a study: (rows, ``EXTRAPOLATION_COLUMNS``; validation,
    ``VALIDATION_COLUMNS``; info: chosen form, fitted and held-out sizes, dispersion, notes; the model
    fitted on every size with the chosen form, None when there is none).

    Rows: ``held_out`` (every validated form), ``fit`` (the chosen form fitted on every model size, at its
    measured units) and ``extrapolation`` (``targets``: model size -> parameters, predict-only, at every
    data size of ``source``). A study with too few model sizes gets empty tables and a note saying why."""
    empty = (pd.DataFrame(columns=EXTRAPOLATION_COLUMNS), pd.DataFrame(columns=VALIDATION_COLUMNS))
    info = {"form": None, "source": source, "fit_sizes": [], "held_out": None, "phi": None, "notes": [], "error": None}
    if not params:
        info["error"] = "no parameter counts for the model sizes, so no growth model over model size"
        info["notes"].append(info["error"])
        return *empty, info, None
    params = {str(k): float(v) for k, v in params.items()}
    targets = {str(k): float(v) for k, v in (targets or {}).items()}
    rows = []
    validation = empty[1]
    try:
        held_rows, validation, notes = validate(boot, loss, params, source=source, abilities=abilities,
                                                recipe_counts=recipe_counts, n_abilities=n_abilities)
        rows.append(held_rows)
        info["held_out"] = str(validation["held_out"].iloc[0])
        info["notes"] += notes
    except TooFewModelSizes as e:
        info["notes"].append(str(e))
    has_loss = loss is not None and len(loss.units) > 0 and np.isfinite(loss.point).any()
    chosen = choose_form(validation, form, has_loss)
    validation = validation.assign(chosen=validation["form"] == chosen)
    try:
        model = fit_growth(boot, loss, params, source=source, form=chosen, abilities=abilities)
    except (TooFewModelSizes, ValueError) as e:
        info["notes"].append(str(e))
        info["error"] = str(e)
        return pd.concat(rows, ignore_index=True) if rows else empty[0], validation, info, None
    info.update(form=chosen, fit_sizes=list(model.params), phi=model.phi,
                df=model.df if np.isfinite(model.df) else None)  # None: no residual degrees of freedom
    info["notes"] += model.notes
    label = ",".join(model.params)
    fitted, extra = [], []
    grid = sorted(boot.units.loc[(boot.units["data_source"] == source) & (boot.units["recipe"] == "")
                                 & (boot.units["data_size"] > 0), "data_size"].unique())
    for ability, fit in model.fits.items():
        pts = fit.points
        for ms in model.params:
            at = pts.model_size == ms
            sizes = pts.data_size[at]
            pred, _ = model.predict(ability, sizes, params[ms])
            ci, pi = model.interval(ability, sizes, params[ms]), model.interval(ability, sizes, params[ms], "prediction")
            for k, d in enumerate(sizes):
                j = np.flatnonzero(at)[k]
                fitted.append(_row(ability, source, "fit", chosen, ms, params[ms], d, "", label,
                                   (pts.score[j], pts.low[j], pts.high[j]), pred[k], (ci[0][k], ci[1][k]),
                                   (pi[0][k], pi[1][k])))
        for ms, n in targets.items():
            pred, _ = model.predict(ability, grid, n)
            ci, pi = model.interval(ability, grid, n), model.interval(ability, grid, n, "prediction")
            for k, d in enumerate(grid):
                extra.append(_row(ability, source, "extrapolation", chosen, ms, n, d, "", label,
                                  (np.nan, np.nan, np.nan), pred[k], (ci[0][k], ci[1][k]), (pi[0][k], pi[1][k])))
    rows += [pd.DataFrame(fitted, columns=EXTRAPOLATION_COLUMNS), pd.DataFrame(extra, columns=EXTRAPOLATION_COLUMNS)]
    table = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) else empty[0]
    return table.reindex(columns=EXTRAPOLATION_COLUMNS), validation, info, model
