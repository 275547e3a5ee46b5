"""One call from a study's tables to its analysis tables (``analyze``), and back (``load_tables``).

Inputs are ``scores.parquet`` and ``predictions.parquet`` as ``bootstrap`` describes them. Outputs,
one parquet file each under ``out_dir`` (every file is written, empty with its columns when the study
has nothing to put in it, so that a workflow can declare them all):

    curves          curves.CURVE_COLUMNS: score with interval per plain-grid and base-model unit
    overall         the same for the mean over the in-domain abilities (ability ``mean``)
    curve_fits      curves.FIT_COLUMNS: fitted shape, slope, saturation point, stop point per curve
                    (ability ``mean``: the overall curves)
    sensitivity     sensitivity.SENSITIVITY_COLUMNS: data and model-size gains and the group per ability
    sources         sources.GAP_COLUMNS: curated minus synthetic per ability and data size
    ceilings        sources.CEILING_COLUMNS: where each source's curve stops rising
    transfer        transfer.MATRIX_COLUMNS: single-ability cells against the base model
    transference    transfer.TRANSFERENCE_COLUMNS: self, incoming and outgoing transfer per ability
    complexity      per-ability complexity proxies and transference (complexity.complexity_table)
    predictiveness  complexity.PREDICTIVENESS_COLUMNS: Spearman of features against sensitivities
    allocation      guideline.ALLOCATION_COLUMNS: each method's derived recipe beside the uniform split,
                    with its predicted gain; and the optimiser's recipe for each model size that was not
                    trained (``extrapolated``), from the growth model over data size and parameter count
    recipes         guideline.COMPARISON_COLUMNS: recipe cells against the uniform baseline, with the gain
                    the curves predicted and what the test sets can resolve
    extrapolation   extrapolation.EXTRAPOLATION_COLUMNS: the joint growth model over data size and
                    parameter count: held-out predictions of the largest model size, fitted curves,
                    and predictions for model sizes not trained
    extrapolation_validation  extrapolation.VALIDATION_COLUMNS: held-out figures per ability and form
    grading         grading.GRADING_COLUMNS: per ability, the share of ambiguous outputs, how the careful
                    answers were found and how many verdicts the authors' scorer gives otherwise
    benchmarks      benchmarks.BENCHMARK_COLUMNS: CMMLU and AGIEval accuracies of every benchmarked cell and
                    epoch, the base model's included

plus ``recipe.yaml`` (the derived recipes, one per method and one per untrained model size, for
``grid.recipe_definitions``) and ``settings.json`` (``untrained``: per untrained model size, its recipe's
name, how far it lies beyond the largest trained size in parameters, and what the growth model predicts
there for the recipes of the trained sizes).
"""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.schema import ABILITIES
from ..files import write_json_atomic, write_parquet_atomic
from . import allocation, benchmarks, complexity, curves, extrapolation, grading, guideline, sources, transfer
from .bootstrap import PLAIN_SOURCES, REPORT_SPLIT, bootstrap, decision_items, order_model_sizes, selected_items
from .outputs import TABLES
from .sensitivity import TAU_DATA, TAU_MODEL, sensitivity

log = logging.getLogger(__name__)



def in_domain_abilities(present) -> list[str]:
    """DoIT's abilities that are present, in the paper's order (all present ones if none is DoIT's)."""
    present = list(dict.fromkeys(present))
    known = [a for a in ABILITIES if a in present]
    return known or sorted(present)


def analyze(scores: pd.DataFrame, predictions: pd.DataFrame, out_dir: str | Path, *, abilities=None,
            model_sizes=None, records=None, tokenizer=None, proxies: pd.DataFrame | None = None,
            budget: int | None = None, pool_sizes: dict | None = None, weighting: str = "gain",
            guideline_model_sizes=None, ability_needs: dict | None = None, methods=("paper",),
            optimize: dict | None = None, training: dict | None = None,
            recipe_name: str | None = None, params: dict | None = None, extrapolate_sizes: dict | None = None,
            extrapolate_form: str = "auto", recipe_counts: dict | None = None, untrained_sizes=None,
            untrained_training: dict | None = None, n_boot: int = 1000, seed: int = 0,
            level: float = 0.95,
            tau_data: float = TAU_DATA, tau_model: float = TAU_MODEL, study: str = "", decide_on: str = "valid",
            min_effect: float | None = None) -> dict[str, pd.DataFrame]:
    """Every analysis table of a study, written under ``out_dir`` and returned by name.

    ``abilities``: the in-domain abilities (default: DoIT's that are present); ``model_sizes``: their
    order from small to large (default: ``bootstrap.order_model_sizes``); ``records``: eval records for
    the complexity proxies (optional, e.g. the test split); ``proxies``: any further per-ability
    complexity table; ``budget``: the derived recipe's total (default: the largest curated size);
    ``guideline_model_sizes``: the model sizes whose curated curves the recipe is derived from (those it
    is trained on; default: all), since a group measured over all sizes can hide what the trained size
    does (an ability flat on small models may still respond on the large one); ``ability_needs``: what
    each ability needs by construction (a generated suite), which the report sets beside its group.
    ``methods``: the guideline's methods (``guideline.METHODS``), ``optimize`` the optimiser's settings,
    ``training``: {model size: SFT settings (epochs, min_steps, batch_size)} of the guideline's model sizes;
    ``recipe_name``: the paper's recipe's name (another method's adds ``-{method}``).
    ``params``: parameters per model size (from the base models' configs) for the growth model over data
    and model size (``extrapolation``); ``extrapolate_sizes``: model sizes to predict only (name ->
    parameters); ``extrapolate_form``: ``auto`` (the better validated) or one of
    ``extrapolation.FORMS``; ``recipe_counts``: per-ability items of recipe cells (recipe -> ability ->
    count), so that held-out validation also orders recipes. ``untrained_sizes``: sizes of
    ``extrapolate_sizes`` to derive the optimiser's recipe for (an extrapolation, not validated:
    ``guideline.untrained_recipe_name``), on the growth model fitted on every trained size, with
    ``untrained_training`` (epochs, min_steps, batch_size) as the SFT settings such a size would train with.

    ``decide_on``: the split every choice is made on (``analysis.decide_on``): the groups and stop points
    the paper's rules use, both methods' counts, the extrapolation form (with ``auto``) and the growth
    model an untrained size's recipe is derived on; every table reports test, so a recipe's predicted gain
    comes from test curves that did not choose its counts. A study without that split decides on test
    (``settings.json``: ``decided_on``; the ``decided_on`` columns of ``allocation``, ``recipes`` and
    ``extrapolation_validation``). ``min_effect``: the smallest gain worth detecting, for the recipes'
    ``items_per_ability_needed`` (``guideline.compare_recipes``).
    """
    out_dir = Path(out_dir)
    items = selected_items(predictions, scores)
    boot = bootstrap(items, n_boot=n_boot, seed=seed, level=level)
    abilities = list(abilities) if abilities else in_domain_abilities(items["ability"].unique())
    sizes = order_model_sizes(items["model_size"].unique(), model_sizes)

    # Decisions on their own split (module doc of analysis.bootstrap: the same seed, other items).
    ditems, decided_on = decision_items(predictions, scores, decide_on)
    shared = decided_on == REPORT_SPLIT
    dboot = boot if shared else bootstrap(ditems, n_boot=n_boot, seed=seed, level=level)

    mean = boot.mean_over(abilities)
    t: dict[str, pd.DataFrame] = {}
    t["curves"] = curves.growth_curves(boot)
    t["overall"] = curves.growth_curves(mean)
    t["curve_fits"] = pd.concat([curves.fit_curves(boot), curves.fit_curves(mean)], ignore_index=True)
    t["sensitivity"] = sensitivity(boot, abilities, "curated", sizes, len(abilities), tau_data, tau_model)
    t["sources"] = sources.source_gaps(boot, abilities)
    t["ceilings"] = sources.ceilings(boot, abilities, PLAIN_SOURCES)
    t["transfer"] = transfer.transfer_matrix(boot, abilities, sizes)
    t["transference"] = transfer.transference(boot, abilities, sizes)
    found = [complexity.base_gold_nll(items)]
    if records is not None:
        found.insert(0, complexity.proxies_from_records(records, tokenizer))
    if proxies is not None:
        found.append(proxies)
    t["complexity"] = complexity.complexity_table(found, t["transference"], abilities)
    t["predictiveness"] = complexity.predictiveness(t["complexity"], t["sensitivity"])

    curated = items.loc[(items["data_source"] == "curated") & (items["recipe"] == ""), "data_size"]
    budget = budget or (int(curated.max()) if len(curated) else None)
    guide_sizes = [m for m in sizes if m in set(map(str, guideline_model_sizes or sizes))] or sizes
    # the groups and stop points the recipes are derived from: measured on the decision split
    guide = t["sensitivity"] if guide_sizes == sizes and shared else sensitivity(
        dboot, abilities, "curated", guide_sizes, len(abilities), tau_data, tau_model)
    dtransfer = t["transfer"] if shared else transfer.transfer_matrix(dboot, abilities, sizes)
    # the same seed draws the same items: the loss replicates are paired with the score's
    loss = bootstrap(extrapolation.items_with_loss(items), n_boot=n_boot, seed=seed, level=level) if params else None
    dloss = loss if shared or not params else bootstrap(
        extrapolation.items_with_loss(ditems), n_boot=n_boot, seed=seed, level=level)
    form = extrapolate_form if shared else _decided_form(dboot, dloss, params, extrapolate_form, abilities,
                                                         recipe_counts)
    # The fourth value is the fitted model itself (extrapolation's API): it allocates for a model size
    # the study did not train.
    t["extrapolation"], t["extrapolation_validation"], extrap, joint = extrapolation.extrapolate(
        boot, loss, params, extrapolate_sizes, form=form, abilities=abilities,
        recipe_counts=recipe_counts, n_abilities=len(abilities))
    t["extrapolation_validation"] = t["extrapolation_validation"].assign(decided_on=decided_on)
    extrap["form_decided_on"] = decided_on if extrapolate_form == "auto" else None
    djoint = joint if shared else _decision_joint(dboot, dloss, params, extrap.get("form"), abilities)
    methods = list(methods or ["paper"])
    recipe_name = recipe_name or (f"derived-{budget}" if budget else "derived")
    names = guideline.recipe_names(recipe_name, methods)
    counts, t["allocation"] = {}, pd.DataFrame(columns=guideline.ALLOCATION_COLUMNS)
    if budget:
        trainings = [training[m] for m in guide_sizes if m in (training or {})]
        counts, t["allocation"] = guideline.derive(
            dboot, guide, abilities, guide_sizes, budget, methods, weighting=weighting, pool_sizes=pool_sizes,
            optimize=optimize, transfer=dtransfer, training=trainings, predict_on=boot)
    untrained = {}
    for size in (untrained_sizes if budget else None) or []:
        c, table, untrained[size] = _derive_untrained(
            dboot, guide, abilities, str(size), budget, djoint, extrapolate_sizes, extrap, base=recipe_name,
            pool_sizes=pool_sizes, optimize=optimize, transfer=dtransfer, training=untrained_training,
            trained={names[m]: counts[m] for m in methods if counts.get(m)}, report=(boot, joint))
        if c:
            counts[untrained[size]["recipe"]] = c
            t["allocation"] = pd.concat([t["allocation"], table], ignore_index=True)
    t["allocation"] = t["allocation"].assign(decided_on=decided_on)
    t["recipes"] = guideline.compare_recipes(boot, abilities, model_sizes=sizes, predictions=_predictions(
        boot, abilities, {m: counts[m] for m in methods if m in counts}, names, budget), min_effect=min_effect)
    # recipes derived here had their counts chosen on the decision split; others were given
    derived = set(names.values()) | {u["recipe"] for u in untrained.values()}
    t["recipes"]["decided_on"] = [decided_on if r in derived else None for r in t["recipes"]["recipe"]]
    t["grading"] = grading.grading_table(predictions, scores)
    t["benchmarks"] = benchmarks.benchmark_table(predictions, scores)
    for name in TABLES:
        write_parquet_atomic(t[name], out_dir / f"{name}.parquet")
    how = {"paper": "cut what does not respond to data, freeze what saturates, share the rest among the\n"
                    "responsive abilities by their data gain",
           "optimize": "the counts that maximise the mean score over the abilities that the growth curves\n"
                       "predict (growthpace.analysis.allocation)"}
    extrapolated = {u["recipe"]: counts[u["recipe"]] for u in untrained.values() if u["recipe"] in counts}
    guideline.write_recipe(out_dir / "recipe.yaml", {**{names[m]: counts[m] for m in methods if m in counts},
                                                      **extrapolated}, comment=(
        f"Derived by growthpace.analysis.guideline from study {study!r}:\n"
        + "\n".join(f"{names[m]}: {how[m]}." for m in methods)
        + "".join(f"\n{_untrained_how(size, u)}" for size, u in untrained.items()
                  if u["recipe"] in counts)
        + "\nPaste under grid.recipe_definitions and list the name in grid.recipes to train and validate it."))
    write_json_atomic(out_dir / "settings.json", {
        "study": study, "abilities": abilities, "model_sizes": sizes, "n_boot": n_boot, "seed": seed,
        "level": level, "tau_data": tau_data, "tau_model": tau_model, "budget": budget, "weighting": weighting,
        "guideline_model_sizes": guide_sizes, "methods": methods, "recipe_names": names,
        "optimize": {**allocation.SETTINGS, **(optimize or {})} if "optimize" in methods else None,
        "recipe_name": recipe_name, "n_seeds": int(items["seed"].nunique()),
        "has_base": bool((items["data_source"] == "base").any()),
        "has_single_ability": bool((items["data_source"] == transfer.SINGLE).any()),
        "has_records": records is not None, "params": params or {}, "extrapolation": extrap, "untrained": untrained,
        "ability_needs": ability_needs or {},
        "scoring": ",".join(sorted(scores["scoring"].unique())) if "scoring" in scores else None,
        "n_items": {a: int(n) for a, n in items.groupby("ability")["item_hash"].nunique().items()},
        "decide_on": decide_on, "decided_on": decided_on, "min_effect": min_effect,
        "n_decision_items": {} if shared else {
            a: int(n) for a, n in ditems.groupby("ability")["item_hash"].nunique().items()}})
    return t


def _decided_form(dboot, dloss, params, form: str, abilities, recipe_counts) -> str:
    """The extrapolation form: ``form``, or with ``auto`` the one that validates better on the decision split."""
    if form != "auto" or not params:
        return form
    p = {str(k): float(v) for k, v in params.items()}
    try:
        _, validation, _ = extrapolation.validate(dboot, dloss, p, abilities=abilities, recipe_counts=recipe_counts,
                                                  n_abilities=len(abilities))
    except extrapolation.TooFewModelSizes:
        validation = pd.DataFrame(columns=extrapolation.VALIDATION_COLUMNS)
    has_loss = dloss is not None and len(dloss.units) > 0 and np.isfinite(dloss.point).any()
    return extrapolation.choose_form(validation, "auto", has_loss)


def _decision_joint(dboot, dloss, params, form: str | None, abilities):
    """The growth model of the chosen form on the decision split (an untrained size's recipe is derived on it)."""
    if not params or not form:
        return None
    try:
        return extrapolation.fit_growth(dboot, dloss, {str(k): float(v) for k, v in params.items()}, form=form,
                                        abilities=abilities)
    except (extrapolation.TooFewModelSizes, ValueError) as e:
        log.warning("no growth model on the decision split: %s", e)
        return None


def _derive_untrained(boot, sensitivity, abilities, size: str, budget: int, joint, targets: dict | None,
                      extrap: dict, *, base: str, pool_sizes, optimize, transfer, training,
                      trained: dict, report: tuple | None = None) -> tuple[dict, pd.DataFrame, dict]:
    """The optimiser's recipe for ``size``, a model size that was not trained, on the growth model ``joint``
    over data size and parameter count: (counts, allocation rows, info). The info says how far ``size`` lies
    beyond the largest trained size (doublings of parameters), how long a step the held-out validation
    checked, and what the growth model predicts at ``size`` for the recipes of the trained sizes
    (``trained``: name -> counts); ``error`` says why there is no recipe (then no counts). ``boot`` and
    ``joint`` decide the counts; ``report`` (boot, joint; default the same) predicts their gains."""
    report_boot, report_joint = report or (boot, joint)
    name = guideline.untrained_recipe_name(base, size)
    targets = {str(k): float(v) for k, v in (targets or {}).items()}
    info = {"recipe": name, "params": None, "largest": None, "largest_params": None, "doublings": None,
            "validated": None, "form": extrap.get("form"), "fit_sizes": extrap.get("fit_sizes") or [],
            "trained_recipes": {}, "error": None}
    empty = ({}, pd.DataFrame(columns=guideline.ALLOCATION_COLUMNS), info)
    if size not in targets:
        info["error"] = f"{size!r} has no parameter count (analysis.extrapolate.model_sizes)"
    elif joint is None:
        info["error"] = f"no growth model over data size and parameter count ({extrap.get('error') or 'not fitted'})"
    elif missing := [a for a in abilities if a not in joint.fits]:
        info["error"] = f"the growth model has no fit for {', '.join(missing)} ({'; '.join(joint.notes)})"
    if info["error"]:
        log.warning("no recipe for untrained model size %s: %s", size, info["error"])
        return empty
    fitted = dict(joint.params)
    largest = max(fitted, key=fitted.get)
    info.update(params=float(targets[size]), largest=largest, largest_params=fitted[largest],
                doublings=float(np.log2(targets[size] / fitted[largest])))
    held = extrap.get("held_out")
    below = [m for m in fitted if m != held and fitted[m] < fitted.get(held, 0)]
    if held in fitted and below:
        last = max(below, key=fitted.get)
        info["validated"] = {"from": last, "to": held, "doublings": float(np.log2(fitted[held] / fitted[last]))}
    parameters = {size: targets[size]}
    try:
        counts, table = guideline.derive(boot, sensitivity, abilities, [size], budget, ["optimize"],
                                         pool_sizes=pool_sizes, optimize=optimize, transfer=transfer,
                                         training=[training] if training else None, joint=joint, parameters=parameters,
                                         predict_on=report_boot, predict_joint=report_joint)
    except ValueError as e:  # the budget outside what the support and the pools allow
        info["error"] = str(e)
        log.warning("no recipe for untrained model size %s: %s", size, e)
        return empty
    try:
        model = allocation.score_model(report_boot, abilities, [size], len(abilities), report_joint, parameters)
    except ValueError as e:  # no growth model on the reported split
        log.warning("no prediction at untrained model size %s: %s", size, e)
        return counts.get("optimize", {}), table, info
    for recipe, c in trained.items():
        mean = allocation.predicted_gains(model, c, budget, boot.level).set_index("ability").loc["mean"]
        info["trained_recipes"][recipe] = {k: float(mean[k]) for k in ("predicted", "predicted_low", "predicted_high")}
    return counts.get("optimize", {}), table, info


def _untrained_how(size: str, u: dict) -> str:
    return "\n".join(textwrap.wrap(
        f"{u['recipe']}: the counts that maximise the mean score that the growth model over data size and "
        f"parameter count predicts for model size {size} ({u['params']:,.0f} parameters, {guideline.untrained_distance(u)}), "
        "which the study did not train: an extrapolation, derived only and not validated in the closed loop.", 100))



def _predictions(boot, abilities, counts: dict, names: dict, budget) -> dict:
    """{(recipe, model size): the gains the curves of that size predict} for each derived recipe."""
    out = {}
    sizes = boot.units.loc[boot.units["data_source"] == "curated", "model_size"].unique()
    for ms in sizes:
        try:
            model = allocation.CurveScores.from_boot(boot, abilities, [ms], len(abilities))
        except ValueError:  # no curve at this size
            continue
        for method, c in counts.items():
            if c:
                out[(names[method], ms)] = allocation.predicted_gains(model, c, budget, boot.level)
    return out


def load_tables(out_dir: str | Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """The tables and settings that ``analyze`` wrote."""
    out_dir = Path(out_dir)
    tables = {name: pd.read_parquet(out_dir / f"{name}.parquet") for name in TABLES}
    return tables, json.loads((out_dir / "settings.json").read_text())
