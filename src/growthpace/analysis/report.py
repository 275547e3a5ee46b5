"""The study's markdown texts: ``summary.md`` (what was run, scores per cell) and ``report.md`` (what the
analysis found, in sentences with numbers), plus captions for Snakemake's ``--report``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluate import authors
from ..files import write_text_atomic
from . import benchmarks
from .bootstrap import BASE, selected_test_scores
from .guideline import untrained_distance
from .sensitivity import GROUP_TEXT

SCORING_TEXT = {
    "careful": "careful (the verdicts a careful grader gives; `evaluation.scoring: authors` gives the DoIT "
               "authors' verdicts from the same stored predictions)",
    "authors": "authors (the verdicts of the DoIT authors' evaluation code, its parsing bugs included, for "
               "comparison with the paper; `evaluation.scoring: careful` gives a careful grader's)",
}


def scoring_sentence(mode: str | None) -> str:
    return f"Scoring: {SCORING_TEXT.get(mode or 'careful', mode)}."


def write_summary(study: str, scores: pd.DataFrame, cells: pd.DataFrame, plot_path: str | Path,
                  out: str | Path) -> str:
    test = selected_test_scores(scores)
    overall = (test.groupby(["model_size", "data_source", "data_size"])[["score", "expected"]].mean()
               .reset_index().sort_values(["data_source", "model_size", "data_size"]))
    per_ability = test.pivot_table(index="ability", columns=["model_size", "data_source", "data_size"],
                                   values="score").round(3)
    lines = [
        f"# Study `{study}`",
        "",
        f"{len(cells)} training cells ({cells['model_size'].nunique()} model sizes, "
        f"{cells['data_source'].nunique()} data sources, data sizes "
        f"{', '.join(map(str, sorted(cells['data_size'].unique())))}), "
        f"{test['ability'].nunique()} evaluated sets (abilities and any out-of-domain sets), "
        f"{int(test.groupby('ability')['n'].first().sum())} test items per cell.",
        "",
        scoring_sentence(_mode(scores)),
        "",
        "## Overall test score (mean over evaluated sets, at the selected epoch; `report.md` averages the "
        "in-domain abilities only)",
        "",
        overall.to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    for source, g in overall.groupby("data_source"):
        for ms, h in g.groupby("model_size"):
            h = h.sort_values("data_size")
            first, last = h.iloc[0], h.iloc[-1]
            if len(h) == 1:
                lines.append(f"- {source}, model {ms}: {last['score']:.3f} at {int(last['data_size'])} items "
                             f"(random guess {last['expected']:.3f}).")
                continue
            lines.append(f"- {source}, model {ms}: {first['score']:.3f} at {int(first['data_size'])} items "
                         f"to {last['score']:.3f} at {int(last['data_size'])} items "
                         f"({last['score'] - first['score']:+.3f}; random guess {last['expected']:.3f}).")
    lines += ["", "## Test score per ability", "", per_ability.to_markdown(), ""]
    if "prompts_cut" in scores:
        cut = int(scores["prompts_cut"].sum())
        lines += [f"Prompts cut from the left to fit the model's window less the generation budget: {cut} of "
                  f"{int(scores['n'].sum())} evaluated items (every cell, epoch and split; rows with "
                  "`prompt_tokens_cut` > 0 in `tables/predictions.parquet`).", ""]
    if _mode(scores) == "authors":
        lines += _authors_numbers(test)
    lines += [f"Plot: `{plot_path}`", "",
              "Tables: `tables/scores.parquet` (per cell, epoch, split, ability), "
              "`tables/predictions.parquet` (per instance), `tables/cells.parquet` (training).", ""]
    text = "\n".join(lines)
    write_text_atomic(out, text)
    return text


def _mode(scores: pd.DataFrame) -> str | None:
    return str(scores["scoring"].iloc[0]) if "scoring" in scores and len(scores) else None


def _authors_numbers(test: pd.DataFrame) -> list[str]:
    """The numbers the authors' ``scorer.py`` prints for the selected checkpoints: per-file sums (C-Eval
    items weigh 100/40) and an average over files divided by twice the number of files."""
    keys = ["model_size", "data_source", "data_size", "seed", "recipe", "epoch"]
    _, per = authors.file_scores(test, keys)
    per = per.drop(columns=["seed", "recipe"] if test["seed"].nunique() == 1 and (test["recipe"] == "").all()
                   else []).round(3)
    return ["## As the authors' scorer reports them", "",
            "Their `scorer.py` writes each test file's sum of item scores (C-Eval items weigh 100/40, so a "
            "40-item file reads as a percentage) and divides the sum over files by twice the number of files "
            "(its results hold a score and an expected key per file), so its `average` is half the mean file "
            "score. The tables above are per-item means; these are the authors' numbers:", "",
            per.to_markdown(index=False), ""]


# ---------------------------------------------------------------------------------- analysis report
MIN_ITEMS = 30  # below this the percentile bootstrap is known to under-cover
MARK = "†"      # a figure measured on the same items as the choice it reports on (no decision split)


def _decided_on_test(df: pd.DataFrame) -> pd.Series:
    """Rows whose choice was made on the test items they report (``decided_on`` == test)."""
    return df["decided_on"].eq("test") if "decided_on" in df else pd.Series(False, index=df.index)


def decision_lines(settings: dict) -> list[str]:
    """The report's first statement about its choices: on which split they were made (``analysis.decide_on``)."""
    split, asked = settings.get("decided_on"), settings.get("decide_on")
    if split is None:  # tables written before there was a decision split
        return []
    if split == "test":
        why = ("`analysis.decide_on` is test" if asked == "test" else
               f"the study has no {asked} split (`evaluation.splits`)")
        return [f"**Decisions and figures share items.** Every choice below (each cell's epoch, the groups and stop "
                "points the recipes are derived from, the recipes' counts, the extrapolation form) was made on the "
                f"test items the figures are measured on, since {why}: those figures, marked {MARK}, are biased "
                "towards the choice and their intervals claim more than they hold.", ""]
    n = settings.get("n_decision_items") or {}
    counts = [n[a] for a in settings.get("abilities", []) if a in n]
    return [f"Every choice below (each cell's epoch, the groups and stop points the recipes are derived from, the "
            f"recipes' counts, the extrapolation form) was made on the {split} split"
            + (f" ({_range(counts)} items per ability)" if counts else "")
            + "; every figure is measured on test, items that took no part in those choices.", ""]
CAPTIONS = {
    "overall": (
        "Mean test score over the in-domain abilities against the number of training items (log scale), at\n"
        "each cell's selected checkpoint. Solid lines: human-curated data; dashed: synthetic. Bands are 95%\n"
        "percentile bootstrap intervals over test items (and seeds, when the study has several). Dash-dot\n"
        "horizontal lines: the untuned base model of each size; grey line: the random-guess expectation.\n"),
    "abilities": (
        "Growth curve of each ability: test score against training items (log scale), one colour per model\n"
        "size, curated solid and synthetic dashed, with 95% bootstrap bands. The thin dotted line is the shape\n"
        "chosen by AIC (flat, linear or saturating in log2 of the data size); the bracket under each title is\n"
        "the ability's group by the stated rule (see report.md).\n"),
    "sources": (
        "Left: curated minus synthetic mean test score at equal numbers of training items, with 95% paired\n"
        "bootstrap intervals. Right: the two mean curves; the dash-dot line marks the synthetic ceiling (the\n"
        "smallest size from which more synthetic data no longer raises the score significantly) and the shaded\n"
        "span its 95% bootstrap interval.\n"),
    "transfer": (
        "Transfer matrix: test score on each evaluated ability (columns) of a model tuned only on items of one\n"
        "ability (rows), minus the untuned base model's score. A star marks a 95% paired bootstrap interval that\n"
        "excludes 0 (not corrected for multiple comparisons).\n"),
    "recipes": (
        "Left: the per-ability allocation of each guideline method (paper: cut what does not respond, freeze\n"
        "what saturates, share the rest by data gain; optimize: the counts that maximise the mean score the\n"
        "growth curves predict) beside the uniform split of the same budget; \"extrapolated\": the optimiser's\n"
        "recipe for a model size that was not trained, on the growth model over data and model size (derived\n"
        "only, never trained). Right, when recipe cells were trained: each recipe minus the uniform baseline\n"
        "at the same budget, per ability and on average, with 95% paired bootstrap intervals; a cross marks\n"
        "the gain the growth curves predicted.\n"),
    "extrapolation": (
        "Growth over data and model size, per ability: measured test scores (points, 95% bootstrap bars) of every\n"
        "trained model size with the joint model fitted on all of them (lines, 95% bands). The largest trained\n"
        "size is also predicted from the smaller ones alone (dashed line, hatched 95% prediction interval)\n"
        "against its measured points (black-edged stars): the held-out validation. Dotted lines: model sizes\n"
        "that were not trained, extrapolated (95% prediction interval).\n"),
}


def write_captions(directory: str | Path) -> dict[str, Path]:
    """The captions as ``{name}.rst`` files for Snakemake's ``report()`` outputs."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in CAPTIONS.items():
        paths[name] = directory / f"{name}.rst"
        write_text_atomic(paths[name], text)
    return paths


def _num(v, digits: int = 3, sign: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def _ci(v, lo, hi, digits: int = 3, sign: bool = False) -> str:
    return f"{_num(v, digits, sign)} [{_num(lo, digits, sign)}, {_num(hi, digits, sign)}]"


def _ci_of(row, name: str, sign: bool = True) -> str:
    """``name`` with its interval from a row holding ``name``, ``name_low`` and ``name_high``."""
    return _ci(row[name], row[f"{name}_low"], row[f"{name}_high"], sign=sign)


def _size(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if math.isinf(v):
        return "not reached"
    return f"{v:,.0f}"


def _span(lo, hi) -> str:
    return f"{_size(lo)} to {_size(hi)}"


def _range(values) -> str:
    if not values:
        return "no"
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}–{max(values)}"


def _names(values) -> str:
    values = list(values)
    return ", ".join(values) if values else "none"


def _ordered(df: pd.DataFrame, settings: dict, by=("ability", "model_size")) -> pd.DataFrame:
    """Rows in the study's ability order (then ``mean`` and others) and model-size order."""
    ranks = {"ability": {a: k for k, a in enumerate(settings.get("abilities") or [])},
             "model_size": {m: k for k, m in enumerate(settings.get("model_sizes") or [])}}
    keys = [c for c in by if c in df]
    if df.empty or not keys:
        return df
    rank = {c: ranks.get(c, {}) for c in keys}
    tmp = df.assign(**{f"_{c}": df[c].map(lambda v, c=c: rank[c].get(v, len(rank[c]))) for c in keys})
    sort = [x for c in keys for x in (f"_{c}", c)]
    return tmp.sort_values(sort, kind="stable").drop(columns=[f"_{c}" for c in keys])


def _overall_section(t: dict, settings: dict) -> list[str]:
    fits = t["curve_fits"][t["curve_fits"]["ability"] == "mean"]
    lines = ["## Overall growth", ""]
    if fits.empty:
        return lines + ["The study has no plain-grid curve (two or more data sizes of one source and model size).", ""]
    order = settings.get("model_sizes") or sorted(fits["model_size"].unique())
    for source in ("curated", "synthetic"):
        for ms in order:
            f = fits[(fits["data_source"] == source) & (fits["model_size"] == ms)]
            if f.empty:
                continue
            f = f.iloc[0]
            c = t["overall"]
            c = c[(c["data_source"] == source) & (c["model_size"] == ms)].sort_values("data_size")
            first, last = c.iloc[0], c.iloc[-1]
            lines.append(
                f"- {source}, model {ms}: mean score {_ci(first['score'], first['ci_low'], first['ci_high'])} at "
                f"{_size(first['data_size'])} items, {_ci(last['score'], last['ci_low'], last['ci_high'])} at "
                f"{_size(last['data_size'])} (change {_ci(f['gain'], f['gain_low'], f['gain_high'], sign=True)}; "
                f"{_ci(f['slope'], f['slope_low'], f['slope_high'], sign=True)} per doubling; "
                f"fitted shape: {f['model'] or 'none (too few sizes)'}).")
    base = _ordered(t["overall"][t["overall"]["data_source"] == "base"], settings)
    for r in base.itertuples(index=False):
        lines.append(f"- The untuned base model {r.model_size} scores {_ci(r.score, r.ci_low, r.ci_high)} "
                     f"(random guess {_num(r.expected)}).")
    return lines + [""]


def _curves_section(t: dict, settings: dict) -> list[str]:
    fits = t["curve_fits"]
    fits = _ordered(fits[(fits["ability"] != "mean") & (fits["data_source"] == "curated")], settings)
    lines = ["## Growth per ability (curated data)", ""]
    if fits.empty:
        return lines + ["No curated curve with two or more data sizes.", ""]
    counts = fits["model"].replace("", "none").value_counts()
    lines += [
        "Each curve (ability, model size) is fitted in log2 of the data size with three shapes: flat, linear, "
        "and saturating (linear up to a saturation point, flat after it); the shape with the smallest AIC "
        "(chi-square of the residuals against each point's bootstrap standard error, plus twice the "
        "parameters) is chosen, with a shape taking part only with enough sizes (linear 3, saturating 4). "
        f"This study has {int(fits['n_sizes'].max())} curated sizes; the chosen shapes are "
        + ", ".join(f"{k} for {v}" for k, v in counts.items()) + f" of {len(fits)} curves. "
        "`p_chosen` is the share of bootstrap replicates that pick the same shape; the stop point is the "
        "smallest size from which the curve no longer rises significantly (one-sided 95%).", ""]
    table = pd.DataFrame({
        "ability": fits["ability"], "model": fits["model_size"], "shape": fits["model"],
        "p_chosen": fits["p_chosen"].round(2),
        "gain / doubling": [_ci(r.slope, r.slope_low, r.slope_high, sign=True) for r in fits.itertuples()],
        "saturation point": [f"{_size(r.sat_point)} [{_span(r.sat_point_low, r.sat_point_high)}]"
                             if r.model == "saturating" else "" for r in fits.itertuples()],
        "stop point": [f"{_size(r.stop_point)} [{_span(r.stop_low, r.stop_high)}]" for r in fits.itertuples()],
    })
    return lines + [table.to_markdown(index=False), ""]


def _sensitivity_section(t: dict, settings: dict) -> list[str]:
    s = t["sensitivity"]
    lines = ["## Sensitivity to data volume and model size", ""]
    if s.empty:
        return lines + ["No curated curve with two or more data sizes: no sensitivity.", ""]
    tau_d, tau_m = settings.get("tau_data", 0.01), settings.get("tau_model", 0.01)
    lines += [
        f"Per ability, on the curated curve averaged over model sizes: the data gain is the least-squares slope "
        f"per doubling of the data; the model gain is the slope per step up in model size "
        f"({' < '.join(settings.get('model_sizes') or [])}), averaged over data sizes. Rule, first match wins: "
        f"*saturating* when the curve stops rising inside the grid after rising (gain before the stop point has "
        f"its lower bound above {tau_d}) and flattens (gain before minus gain after has its lower bound above 0); "
        f"*data+model* when both gains have lower bounds above their thresholds ({tau_d} per doubling, {tau_m} per "
        f"model step); *data* or *model* when only one does; *neither* otherwise. An ability whose gain interval "
        f"reaches below the threshold is not called responsive.", ""]
    for group in ("saturating", "data+model", "data", "model", "neither"):
        g = s[s["group"] == group]
        if g.empty:
            continue
        parts = []
        for r in g.itertuples(index=False):
            part = f"{r.ability} (data {_ci(r.data_gain, r.data_gain_low, r.data_gain_high, sign=True)}"
            if not math.isnan(r.model_gain):
                part += f", model {_ci(r.model_gain, r.model_gain_low, r.model_gain_high, sign=True)}"
            if group == "saturating":
                part += f", stops at {_size(r.stop_point)} items, {_size(r.stop_per_ability)} per ability"
            parts.append(part + ")")
        lines.append(f"- {GROUP_TEXT[group].capitalize()}: " + "; ".join(parts) + ".")
    paper = s[s["paper_group"] != ""]
    if len(paper):
        agree = paper[paper["group"] == paper["paper_group"]]
        differ = paper[paper["group"] != paper["paper_group"]]
        lines += ["", f"The paper grouped {len(paper)} of these abilities by eye; the measured group agrees for "
                      f"{len(agree)} ({_names(agree['ability'])})"
                      + (f" and differs for {len(differ)} (" + "; ".join(
                          f"{r.ability}: measured {r.group}, paper {r.paper_group}" for r in differ.itertuples())
                         + ")." if len(differ) else ".")]
    if s["n_model_sizes"].max() < 2:
        lines += ["", "The study has one model size, so no ability can be called responsive to model size."]
    needs = settings.get("ability_needs") or {}
    if needs:
        by_need: dict[str, list[str]] = {}
        for r in s.itertuples():
            if r.ability in needs:
                by_need.setdefault(needs[r.ability], []).append(f"{r.ability} {r.group}")
        lines += ["", "The generated suite builds each ability to need one thing; beside it, the measured group: "
                  + "; ".join(f"{need}: {', '.join(v)}" for need, v in by_need.items()) + "."]
    table = s[["ability", "group", "paper_group"]].assign(
        data_gain=[_ci(r.data_gain, r.data_gain_low, r.data_gain_high, sign=True) for r in s.itertuples()],
        model_gain=[_ci(r.model_gain, r.model_gain_low, r.model_gain_high, sign=True) for r in s.itertuples()],
        total_gain=[_ci(r.total_gain, r.total_gain_low, r.total_gain_high, sign=True) for r in s.itertuples()],
        stop_point=[f"{_size(r.stop_point)} [{_span(r.stop_low, r.stop_high)}]" for r in s.itertuples()])
    if needs:
        table.insert(1, "needs (by construction)", s["ability"].map(needs).fillna(""))
    return lines + ["", table.to_markdown(index=False), ""]


def _sources_section(t: dict, settings: dict) -> list[str]:
    gaps, ceil = t["sources"], t["ceilings"]
    lines = ["## Human-curated against synthetic data", ""]
    mean = gaps[gaps["ability"] == "mean"]
    if mean.empty:
        return lines + ["The study has no data size with both curated and synthetic cells of one model size, "
                        "so the sources are not compared.", ""]
    for ms in settings.get("model_sizes") or sorted(mean["model_size"].unique()):
        g = mean[mean["model_size"] == ms].sort_values("data_size")
        if g.empty:
            continue
        first, last = g.iloc[0], g.iloc[-1]
        above = int((g["ci_low"] > 0).sum())
        lines.append(f"- Model {ms}: curated minus synthetic (mean over abilities) is "
                     f"{_ci(first['gap'], first['ci_low'], first['ci_high'], sign=True)} at "
                     f"{_size(first['data_size'])} "
                     f"items and {_ci(last['gap'], last['ci_low'], last['ci_high'], sign=True)} at "
                     f"{_size(last['data_size'])}; curated is ahead (interval above 0) at {above} of {len(g)} sizes.")
    per = gaps[gaps["ability"] != "mean"]
    if len(per):
        behind = per[per["ci_high"] < 0]
        lines.append(f"- Per ability and size, curated is ahead in {int((per['ci_low'] > 0).sum())} of {len(per)} "
                     f"comparisons and behind in {len(behind)}"
                     + (f" ({_names(sorted(set(behind['ability'])))})." if len(behind) else "."))
    lines.append("")
    c = ceil[ceil["ability"] == "mean"]
    for r in _ordered(c, settings, ("data_source", "model_size")).itertuples(index=False):
        if math.isinf(r.ceiling):
            lines.append(f"- The {r.data_source} curve of model {r.model_size} is still rising at its largest size "
                         f"({_size(r.max_size)}); it stops within the grid in {r.stop_share:.0%} of replicates.")
        else:
            lines.append(f"- The {r.data_source} curve of model {r.model_size} stops rising at {_size(r.ceiling)} "
                         f"items (95% interval {_span(r.ceiling_low, r.ceiling_high)}; stops within the grid in "
                         f"{r.stop_share:.0%} of replicates); from there to {_size(r.max_size)} the score changes "
                         f"by {_ci(r.gain_after, r.gain_after_low, r.gain_after_high, sign=True)}.")
    syn = _ordered(ceil[(ceil["ability"] != "mean") & (ceil["data_source"] == "synthetic")], settings)
    if len(syn):
        table = syn.assign(ceiling=[f"{_size(r.ceiling)} [{_span(r.ceiling_low, r.ceiling_high)}]"
                                    for r in syn.itertuples()])[["ability", "model_size", "ceiling", "stop_share"]]
        lines += ["", "Synthetic ceiling per ability (95% interval):", "", table.to_markdown(index=False)]
    return lines + [""]


def _transfer_section(t: dict, settings: dict) -> list[str]:
    m, tr = t["transfer"], t["transference"]
    lines = ["## Transfer between abilities", ""]
    if m.empty:
        missing = []
        if not settings.get("has_single_ability"):
            missing.append("no single-ability cells (`grid.single_ability`)")
        if not settings.get("has_base"):
            missing.append("no base-model evaluation (`grid.evaluate_base`)")
        return lines + [f"This study has {' and '.join(missing) or 'no matching single-ability and base cells'}, "
                        "so there is no transfer matrix.", ""]
    n = m["n"].max()
    ms = "all" if (m["model_size"] == "all").any() else m["model_size"].iloc[0]
    m = m[(m["n"] == n) & (m["model_size"] == ms)]
    diag, off = m[m["trained"] == m["evaluated"]], m[m["trained"] != m["evaluated"]]
    who = "the mean over model sizes" if ms == "all" else f"model {ms}"
    lines.append(f"Training only on {n} items of one ability ({who}) changes that ability by "
                 f"{_num(diag['delta'].mean(), sign=True)} on average against the base model (range "
                 f"{_num(diag['delta'].min(), sign=True)} to {_num(diag['delta'].max(), sign=True)}; "
                 f"{int((diag['ci_low'] > 0).sum())} of {len(diag)} intervals above 0). Off the diagonal the mean "
                 f"change is {_num(off['delta'].mean(), sign=True)}: {int((off['ci_low'] > 0).sum())} of {len(off)} "
                 f"pairs have intervals above 0 and {int((off['ci_high'] < 0).sum())} below 0 (95% intervals, not "
                 "corrected for multiple comparisons).")
    s = tr[(tr["n"] == n) & (tr["model_size"] == ms)].dropna(subset=["transfer_in"])
    if len(s):
        lines.append(_transference_sentence(s, "transfer_in", "Incoming transference (the mean change of an "
                                            "ability from the other abilities' data)", "gain", "lose"))
        out = s.dropna(subset=["transfer_out"])
        if len(out):  # none when the single-ability cells train one ability only
            lines.append(_transference_sentence(out, "transfer_out", "Outgoing transference (the mean change an "
                                                "ability's data causes in the others)", "help the others",
                                                "hurt the others"))
        rows = s.to_dict("records")
        table = pd.DataFrame({"ability": s["ability"].to_list(),
                              **{c: [_ci_of(r, c) for r in rows] for c in ("self", "transfer_in", "transfer_out")}})
        lines += ["", table.to_markdown(index=False)]
    return lines + [""]


def _cell_name(row) -> str:
    if row["data_source"] == BASE:
        return "base model"
    if row["data_source"] == "recipe":  # a recipe may share its name with a plain cell (curated-10)
        return f"recipe {row['recipe']}"
    return str(row["recipe"]) or f"{row['data_source']}-{row['data_size']}"


def _benchmarks_section(t: dict, settings: dict) -> list[str]:
    lines = ["## Benchmarks", ""]
    wide = benchmarks.headline(t.get("benchmarks", pd.DataFrame()))
    if wide.empty:
        return lines + ["This study runs no benchmark (`evaluation.benchmarks`: CMMLU, AGIEval).", ""]
    cols = [c for c in wide.columns if c.startswith(("CMMLU", "AGIEval"))]
    lines.append("Accuracy on CMMLU (the mean over subjects) and AGIEval (the mean over tasks), as the authors' "
                 "scripts average them, at each cell's selected epoch (or its last benchmarked one). The untuned "
                 "base model is prompted in plain text (`evaluation.base_prompt`), the tuned cells in their chat "
                 "format.")
    for size, g in wide.groupby("model_size", sort=False):
        base, tuned = g[g["data_source"] == BASE], g[g["data_source"] != BASE]
        if base.empty or tuned.empty:
            continue
        parts = []
        for c in cols:
            b, v = base[c].iloc[0], tuned[c].dropna()
            if pd.notna(b) and len(v):
                parts.append(f"{c} {_num(v.min() - b, sign=True)} to {_num(v.max() - b, sign=True)}")
        if parts:
            lines.append(f"On model {size}, the tuned cells differ from the base model by " + "; ".join(parts) + ".")
    table = pd.DataFrame({"model size": wide["model_size"], "cell": [_cell_name(r) for r in wide.to_dict("records")],
                          "seed": wide["seed"], "epoch": wide["epoch"],
                          **{c: [_num(v) for v in wide[c]] for c in cols}})
    return lines + ["", table.to_markdown(index=False), ""]


def _transference_sentence(s: pd.DataFrame, col: str, what: str, up: str, down: str) -> str:
    """How many abilities' intervals lie above and below 0, and the largest value, worded by its sign."""
    above, below = s[s[f"{col}_low"] > 0], s[s[f"{col}_high"] < 0]
    top = s.sort_values(col).iloc[-1]
    def listed(rows):
        return f" ({_names(rows['ability'])})" if len(rows) else ""
    text = (f"{what}: {len(above)} of {len(s)} abilities {up}{listed(above)} and {len(below)} {down}"
            f"{listed(below)} (95% interval above or below 0). ")
    if top[col] > 0:
        return text + f"The largest is {top['ability']}'s ({_ci_of(top, col)})."
    return text + f"None is positive; the closest to 0 is {top['ability']}'s ({_ci_of(top, col)})."


def _complexity_section(t: dict, settings: dict) -> list[str]:
    c, p = t["complexity"], t["predictiveness"]
    lines = ["## Do complexity and transference predict the sensitivities?", ""]
    features = [col for col in c.columns if col != "ability"]
    if not features or p.empty:
        return lines + ["No complexity proxy or transference was available (no eval records given, no perplexity-"
                        "ranked base-model predictions, no single-ability cells), so this is not tested.", ""]
    ok = p.dropna(subset=["p"])
    constant = [f for f in features if f not in set(ok["feature"]) and c[f].dropna().nunique() <= 1]
    lines.append(f"Features per ability: {', '.join(features)}. Each is rank-correlated (Spearman) with the data "
                 "gain and the model gain across abilities; p-values are two-sided and not corrected for the "
                 f"{len(ok)} tests."
                 + (f" {_names(constant)} {'is' if len(constant) == 1 else 'are'} the same for every ability here, "
                    "so cannot predict anything." if constant else ""))
    sig = ok[ok["p"] < 0.05]
    if ok.empty:
        lines.append("No correlation could be computed (fewer than 3 abilities with both values, or constant values).")
    elif sig.empty:
        best = ok.loc[ok["p"].idxmin()]
        lines.append(f"None is significant at 5% (n = {int(ok['n'].max())} abilities); the strongest is "
                     f"{best['feature']} against {best['target']} (rho = {_num(best['rho'], 2, True)}, "
                     f"p = {_num(best['p'], 3)}). On these data, complexity and transference do not measurably "
                     "predict the sensitivities.")
    else:
        lines.append("Significant at 5%: " + "; ".join(
            f"{r.feature} against {r.target} (rho = {_num(r.rho, 2, True)}, p = {_num(r.p, 3)}, n = {r.n})"
            for r in sig.itertuples()) + f". The other {len(ok) - len(sig)} correlations are not.")
    table = p.assign(rho=p["rho"].round(2), p=p["p"].round(3))
    lines += ["", table.to_markdown(index=False)]
    if len(c):
        lines += ["", c.round(3).to_markdown(index=False)]
    return lines + [""]


def _paper_rules_text(a: pd.DataFrame, settings: dict) -> str:
    budget = int(a["count"].sum())
    cut, freeze, share = (a[a["rule"] == k] for k in ("cut", "freeze", "share"))
    guide_sizes = settings.get("guideline_model_sizes") or settings.get("model_sizes") or []
    measured = ("the groups measured on the curated curves of model "
                f"{_names(guide_sizes)} (the size it is trained on)"
                if guide_sizes and len(guide_sizes) < len(settings.get("model_sizes") or []) else "the measured groups")
    return (
        f"With a budget of {budget:,} items (the uniform split gives each ability about {budget // len(a):,}), "
        f"the paper's rules applied to {measured} give: cut "
        f"{_names(f'{x.ability} to {x.count}' for x in cut.itertuples())} "
        f"(no response to data: the size from which more stopped helping, or the grid's smallest); freeze "
        f"{_names(f'{x.ability} at {x.count}' for x in freeze.itertuples())} (saturation size); share the "
        f"remaining {int(share['count'].sum()):,} among {_names(share['ability'])} in proportion to their data "
        f"gain{'' if len(share) else ' (none responds, so every ability shares it evenly)'}. The total is kept "
        f"at {budget:,}, as in the paper, because data that does not help its own ability still helps others.")


def _optimize_text(a: pd.DataFrame, mean: pd.Series | None, settings: dict) -> str:
    o = settings.get("optimize") or {}
    sizes = _names(settings.get("guideline_model_sizes") or settings.get("model_sizes") or [])
    objective = ("the expected gain over the bootstrap replicates" if o.get("objective", "mean") == "mean" else
                 f"the {o.get('quantile', 0.1):.0%} lower quantile of the gain over the bootstrap replicates")
    text = (f"The optimiser (method `optimize`) maximises the mean score over the abilities that the curated growth "
            f"curves of model {sizes} predict, {objective}, with counts between {a['lower'].min():.0f} and "
            f"{a['upper'].max():.0f} per ability (within {o.get('extrapolate', 1):g} "
            f"doubling{'' if o.get('extrapolate', 1) == 1 else 's'} of the items and "
            "of the examples seen per ability that the grid measured, and within the pools)")
    if o.get("shrink", True):
        text += (f"; each ability's gain is shrunk towards the abilities' mean by an empirical-Bayes factor "
                 f"({a['shrinkage'].min():.2f}–{a['shrinkage'].max():.2f}: 1 keeps the ability's own curve)")
    if o.get("tolerance") is not None:
        text += f"; no ability is predicted to lose more than {o['tolerance']:g} against the uniform split"
    if o.get("transfer"):
        text += "; other abilities' data counts as effective data by the transfer matrix"
    moved = a[a["count"] != a["uniform"]]
    text += (". It gives " + _names(f"{x.ability} {x.count}" for x in moved.itertuples()) +
             " (the others keep the uniform share)" * (len(moved) < len(a)) + ".")
    if mean is not None:
        split = mean.get("decided_on")
        text += (f" Predicted gain of the mean over the uniform split: {_ci_of(mean, 'predicted')}"
                 + (f"{MARK} by the curves" if split == "test" else
                    " by the test curves (which did not choose the counts)" if isinstance(split, str) else " by the curves")
                 + f", {_ci_of(mean, 'expected')} by the shrunk model it maximised"
                 + (f" on the {split} curves." if isinstance(split, str) and split != "test" else "."))
    return text


def _items(n: float) -> str:
    return "more than a million" if n > 1e6 else f"about {n:,.0f}"


def _resolution_text(m: pd.Series) -> str:
    """What the mean's interval resolves: its half-width and, by design, the test items per ability that
    detect the smallest gain of interest (``min_effect``); tables without it: the observed-power figures."""
    effect, per = m.get("min_effect", np.nan), m.get("items_per_ability_needed", np.nan)
    if np.isfinite(effect) and np.isfinite(per):
        return (f" The interval's half-width is {m['half_width']:.3f} on {int(m['n_items']):,} test items; detecting "
                f"a gain of {effect:g} (`analysis.guideline.min_effect`) with 80% power takes {_items(per)} test items "
                "per ability (the stratified mean's variance, each ability's paired spread).")
    needed = []
    if np.isfinite(m["items_needed"]):
        needed.append(f"{_items(m['items_needed'])} test items in all to exclude 0 with 80% power if the true "
                      f"difference is the measured {_num(m['diff'], 3, True)}")
    if np.isfinite(m.get("items_needed_predicted", np.nan)):
        needed.append(f"{_items(m['items_needed_predicted'])} if it is the predicted {_num(m['predicted'], 3, True)}")
    return (f" The interval's half-width is {m['half_width']:.3f} on {int(m['n_items']):,} test items"
            + (f"; it would take {' and '.join(needed)}." if needed else "."))


def _examples_text(per: pd.DataFrame, settings: dict) -> list[str]:
    """Which counts show an ability fewer examples than any grid cell did (where the curves are blind)."""
    if "examples" not in per or per["examples"].isna().all():
        return []
    below = {m: g[g["examples"] < g["grid_examples"]] for m, g in per.groupby("method", sort=False)}
    low, high = per["grid_examples"].min(), per["grid_examples"].max()
    text = (f"Examples seen: every grid cell of the curves showed each ability at least {_range([int(low), int(high)])} "
            "examples (small cells repeat their data to reach the minimum of optimiser steps), so the growth curves "
            "measure nothing below that, while a recipe shows an ability its items times the passes of the budget. ")
    text += "; ".join(f"{m} gives fewer to " + (_names(f"{x.ability} ({x.count} items, {x.examples:.0f} examples)"
                                                        for x in b.itertuples()) if len(b) else "none")
                      for m, b in below.items()) + "."
    return [text, ""]


def _untrained_text(rows: pd.DataFrame, trained: pd.DataFrame, settings: dict) -> list[str]:
    """The optimiser's recipe for a model size that was not trained, marked as the extrapolation it is."""
    size = str(rows["model_size"].iloc[0])
    u = (settings.get("untrained") or {}).get(size) or {}
    per, mean = rows[rows["ability"] != "mean"], rows[rows["ability"] == "mean"]
    o = settings.get("optimize") or {}
    ext = o.get("extrapolate", 1)
    where = (f"{size} has {u['params']:,.0f} parameters, {untrained_distance(u)}"
             if u.get("doublings") is not None else f"{size} was not trained")
    v = u.get("validated")
    checked = (f"; the held-out validation above checked one step of {v['doublings']:.2f} doublings ({v['from']} to "
               f"{v['to']}), so this step is {'longer' if abs(u['doublings']) > v['doublings'] else 'no longer'} "
               "than the one validated" if v and u.get("doublings") is not None else
               "; no held-out validation checked a step along the model-size axis")
    moved = per[per["count"] != per["uniform"]]
    text = (f"**A recipe for a model size that was not trained: an extrapolation.** {where}{checked}. With no {size} "
            f"cells there are no curves to allocate on, so the optimiser maximises the mean score that the growth "
            f"model over data size and parameter count ({u.get('form') or 'its'} form, fitted on "
            f"{_names(u.get('fit_sizes') or [])}) predicts at {size}, with the same settings and support: counts "
            f"between {per['lower'].min():.0f} and {per['upper'].max():.0f} per ability (within {ext:g} "
            f"doubling{'' if ext == 1 else 's'} of the items and examples seen per ability that the grid measured, "
            "and within the pools). It gives " + (_names(f"{x.ability} {x.count}" for x in moved.itertuples()) or
                                                  "the uniform split")
            + " (the others keep the uniform share)" * (0 < len(moved) < len(per)) + ".")
    if len(mean):
        m = mean.iloc[0]
        text += (f" Predicted gain of the mean over the uniform split at {size}: {_ci_of(m, 'predicted')} by the "
                 f"growth model, {_ci_of(m, 'expected')} by the shrunk model it maximised.")
    others = u.get("trained_recipes") or {}
    if others:
        text += (" The growth model predicts the recipes derived for the trained sizes to change the mean at "
                 f"{size} by " + _names(f"{name} {_ci_of(g, 'predicted')}" for name, g in others.items()) + ".")
    text += (f" This is an extrapolation: no {size} cell was trained, so the recipe `{u.get('recipe', '')}` is derived "
             f"only and cannot be validated against the uniform split in the closed loop; its intervals hold the "
             "fitted points' noise, not the error of the growth model's form beyond the largest trained size.")
    table = pd.DataFrame({"ability": per["ability"].to_numpy(), "uniform": per["uniform"].to_numpy()})
    for method, g in trained.groupby("method", sort=False):
        table[f"{method}: count"] = table["ability"].map(g.set_index("ability")["count"])
    table[f"{size}: rule"] = per["rule"].to_numpy()
    table[f"{size}: count"] = per["count"].to_numpy()
    table[f"{size}: predicted gain"] = [_ci_of(x, "predicted") for _, x in per.iterrows()]
    return [text, "", table.to_markdown(index=False), ""]


def _guideline_section(t: dict, settings: dict, recipe_path: str) -> list[str]:
    alloc, r = t["allocation"], t["recipes"]
    lines = ["## Guideline: a recipe from the measurements", ""]
    if "method" not in alloc:  # tables written before there was a choice of method
        alloc = alloc.assign(method="paper")
    # the optimiser's recipes for model sizes that were not trained, told apart as extrapolations
    extrapolated = alloc["extrapolated"].fillna(False).astype(bool) if "extrapolated" in alloc else \
        pd.Series(False, index=alloc.index)
    untrained, alloc = alloc[extrapolated], alloc[~extrapolated]
    per = alloc[alloc["ability"] != "mean"]
    means = alloc[alloc["ability"] == "mean"].set_index("method")
    names = settings.get("recipe_names") or {"paper": settings.get("recipe_name")}
    if per.empty:
        lines.append("No sensitivities, so no recipe was derived.")
    else:
        paper, opt = per[per["method"] == "paper"], per[per["method"] == "optimize"]
        if len(paper):
            lines.append(_paper_rules_text(paper, settings))
        if len(opt):
            lines += ["", _optimize_text(opt, means.loc["optimize"] if "optimize" in means.index else None, settings)]
        mark = MARK if _decided_on_test(per).any() else ""
        if len(paper) and "paper" in means.index and np.isfinite(means.loc["paper", "predicted"]):
            lines += ["", f"The curves predict the paper's recipe to change the mean by "
                          f"{_ci_of(means.loc['paper'], 'predicted')}{mark} against the uniform split"
                          + (" (test curves; the counts were chosen on the "
                             f"{per['decided_on'].dropna().iloc[0]} split)." if not mark and "decided_on" in per
                             and per["decided_on"].notna().any() else ".")]
        wide = per.pivot(index="ability", columns="method", values="count")
        wide = wide.reindex([a for a in per["ability"].unique()])
        table = pd.DataFrame({"ability": wide.index, "group": per.drop_duplicates("ability").set_index("ability")
                              .loc[wide.index, "group"].to_numpy(),
                              "uniform": per.drop_duplicates("ability").set_index("ability").loc[wide.index, "uniform"]
                              .to_numpy()})
        for method, g in per.groupby("method", sort=False):
            g = g.set_index("ability").loc[wide.index]
            table[f"{method}: rule"] = g["rule"].to_numpy()
            table[f"{method}: count"] = g["count"].to_numpy()
            if g["predicted"].notna().any():
                table[f"{method}: predicted gain"] = [_ci_of(x, "predicted") + mark for _, x in g.iterrows()]
        lines += ["", table.to_markdown(index=False), ""]
        lines += _examples_text(per, settings)
        for _, rows in untrained.groupby("model_size", sort=False):
            lines += _untrained_text(rows, per, settings)
        for size, u in (settings.get("untrained") or {}).items():
            if u.get("error"):
                lines += [f"No recipe for model size {size}, which was not trained: {u['error'].rstrip('.')}.", ""]
        written = [names[m] for m in per["method"].unique() if m in names]
        written += [u["recipe"] for u in (settings.get("untrained") or {}).values()
                    if u.get("recipe") and not u.get("error")]
        lines += [f"The recipes are written to `{recipe_path}` as `grid.recipe_definitions` entries "
                  f"({', '.join(f'`{n}`' for n in written)})."]
    lines.append("")
    if r.empty:
        lines.append("No recipe cells were trained in this study, so no recipe is compared with the uniform baseline "
                     "yet: add the recipe to `grid.recipe_definitions` and `grid.recipes` and re-run.")
        return lines + [""]
    for (recipe, ms, size), g in r.groupby(["recipe", "model_size", "data_size"], sort=False):
        mean = g[g["ability"] == "mean"]
        per_set = g[g["ability"] != "mean"]
        head = (f"- {recipe} (model {ms}, {size:,} items) against {g['baseline'].iloc[0]}: ")
        if len(mean):
            m = mean.iloc[0]
            head += (f"mean over abilities {_ci(m['diff'], m['ci_low'], m['ci_high'], sign=True)}"
                     + (MARK if _decided_on_test(mean).any() else ""))
            head += (f" (predicted {_ci_of(m, 'predicted')}); " if "predicted" in m and np.isfinite(m["predicted"])
                     else "; ")
        better, worse = per_set[per_set["ci_low"] > 0], per_set[per_set["ci_high"] < 0]
        line = head + (f"better on {len(better)} ({_names(better['ability'])}) and worse on {len(worse)} "
                       f"({_names(worse['ability'])}) of {len(per_set)} evaluated sets (95% paired intervals).")
        if len(mean) and "half_width" in mean:
            line += _resolution_text(mean.iloc[0])
        lines.append(line)
    has_pred = bool("predicted" in r and r["predicted"].notna().any())
    marks = _decided_on_test(r).map({True: MARK, False: ""})
    table = r.assign(diff=[_ci(x.diff, x.ci_low, x.ci_high, sign=True) + k for x, k in zip(r.itertuples(), marks)],
                     recipe_score=r["recipe_score"].round(3), baseline_score=r["baseline_score"].round(3))
    if has_pred:
        table["predicted"] = [_ci_of(x, "predicted") if np.isfinite(x["predicted"]) else "" for _, x in r.iterrows()]
    keep = ["recipe", "model_size", "data_size", "baseline", "ability", "recipe_score", "baseline_score", "diff"]
    keep += ["predicted"] * has_pred + ["half_width"] * ("half_width" in r)
    if "items_per_ability_needed" in r and r["items_per_ability_needed"].notna().any():
        table["items per ability for min_effect"] = r["items_per_ability_needed"].map(
            lambda x: "" if not np.isfinite(x) else f"{x:,.0f}")
        keep.append("items per ability for min_effect")
    lines += ["", table[keep].round({"half_width": 3}).to_markdown(index=False)]
    if marks.eq(MARK).any():
        lines += ["", f"{MARK}: the recipe's counts were chosen on the same test items that measure it."]
    if has_pred:
        lines += ["", "`predicted`: the gain over the uniform split that the curated growth curves of the "
                      "recipe's model size predict from its counts (paired bootstrap interval of the curves). "
                      "The growth curves are measured on uniform cells, where an ability's own data and the "
                      "others' grow together, and, where small cells repeat their data to reach the minimum "
                      "of optimiser steps, at a constant number of examples seen per ability; a recipe moves "
                      "one ability's items, and its examples seen with them, at a fixed number of steps."]
    return lines + [""]


def _why_failed(v, held: pd.DataFrame, goals: dict) -> str:
    """What a held-out ability misses, with the numbers that say why."""
    reasons = []
    plain = held[held["recipe"] == ""].sort_values("data_size")
    bias = float((plain["predicted"] - plain["measured"]).mean()) if len(plain) else float("nan")
    spread = float(plain["measured"].max() - plain["measured"].min()) if len(plain) else float("nan")
    if not v.mae < v.half_width:
        reasons.append(f"error {_num(v.mae)} above the half-width {_num(v.half_width)}: it "
                       f"{'over' if bias > 0 else 'under'}-predicts by {_num(abs(bias))} on average, so the step "
                       f"to {v.held_out} {'adds less than' if bias > 0 else 'adds more than'} the smaller sizes' "
                       "slope in log parameters says")
    if v.coverage < goals["coverage"]:
        out = held[(held["measured"] < held["pi_low"]) | (held["measured"] > held["pi_high"])]
        where = [f"recipe {r.recipe}" if r.recipe else f"{_size(r.data_size)} items" for r in out.itertuples()]
        reasons.append(f"{len(out)} of {len(held)} measured points outside the prediction interval"
                       + (f" ({', '.join(where)})" if where else ""))
    if v.n_pairs and v.decision_accuracy < goals["decision_accuracy"]:
        reasons.append(f"orders {v.decision_accuracy:.0%} of {int(v.n_pairs)} pairs as measured; the measured "
                       f"curve spans {_num(spread)} over its data sizes, "
                       + ("within its own noise (half-width " + _num(v.half_width) + "), so its order is "
                          "mostly noise" if spread < 2 * v.half_width else "so the prediction's slope in data is off"))
    return "; ".join(reasons)


def _extrapolation_section(t: dict, settings: dict) -> list[str]:
    from .extrapolation import GOALS

    rows, val = t.get("extrapolation", pd.DataFrame()), t.get("extrapolation_validation", pd.DataFrame())
    info = settings.get("extrapolation") or {}
    params = settings.get("params") or {}
    lines = ["## Predicting a larger model: growth over data and model size", ""]
    if rows is None or rows.empty:
        why = info.get("error") or "; ".join(info.get("notes") or []) or "no parameter counts were given"
        return lines + [f"No growth model over model size was fitted: {why.rstrip('.')}.", ""]
    form = info.get("form")
    sizes = sorted(params, key=params.get)
    lines.append(
        "Each ability's curated curve is modelled jointly over x = log2(training items) and z = log2(parameters), "
        "the parameter count of each base model's config (" + ", ".join(f"{m} {params[m]:,.0f}" for m in sizes)
        + "), between a floor (the random-guess expectation, or the lowest fitted score where that is lower: a "
        "model that has not learnt the answer format scores below chance) and a fitted ceiling. Two forms are "
        "fitted: *direct*, a logistic in x, z and x z; *ladder*, the model ladders' two steps (x, z to the gold "
        "answer's loss per token, a power law with an interaction; the loss to the score through a sigmoid), both "
        "by maximum likelihood on the items. Intervals refit each form on every paired bootstrap replicate; the "
        "prediction interval (PI) adds one cell's noise, "
        + (f"measured by the residuals of the direct fit (dispersion {_num(info.get('phi'), 2)} times the binomial "
           "variance)." if info.get("df") is not None else
           "taken as binomial (the direct fit leaves no residual degrees of freedom to measure it)."))
    lines.append("")
    if val is None or val.empty:
        lines += ["No held-out validation: it needs three model sizes (fit on two, predict the third), and this "
                  f"study has {len(sizes)}. Predictions use the {form} form (without a held-out check: the ladder when "
                  "the items carry the gold answer's log-likelihood, else the direct form).", ""]
    else:
        held, fitted = val["held_out"].iloc[0], val["fit_sizes"].iloc[0]
        total = val[val["ability"] == "all"].set_index("form")
        per = _ordered(val[val["ability"] != "all"], settings)
        lines.append(f"**Held-out validation.** Fitted on {fitted.replace(',', ', ')} only, each form predicts "
                     f"{held}'s curve ({int(total['n_points'].max())} measured points"
                     + (", and recipe cells" if (rows["role"].eq("held_out") & rows["recipe"].ne("")).any() else "")
                     + "):")
        lines.append("")
        for f, r in total.iterrows():
            n_ab = int((per["form"] == f).sum())
            lines.append(f"- {f}: mean absolute error {_num(r['mae'])} (test-set bootstrap half-width "
                         f"{_num(r['half_width'])}), error below the half-width for {int(r['mae_below_half_width'])} "
                         f"of {n_ab} abilities, {r['coverage']:.0%} of measured points inside the 95% PI, "
                         f"{r['decision_accuracy']:.0%} of {int(r['n_pairs'])} pairs ordered as measured.")
        decided = info.get("form_decided_on")
        if len(total) > 1 and form in total.index and decided and decided != "test":
            other = [f for f in total.index if f != form][0]
            lines.append(f"- Kept: **{form}**, the form with the lower held-out error on the {decided} split; on test "
                         f"its error is {_num(total.loc[form, 'mae'])} against {_num(total.loc[other, 'mae'])} for "
                         f"{other}.")
        elif len(total) > 1 and form in total.index:
            other = [f for f in total.index if f != form][0]
            lines.append(f"- Kept: **{form}**, whose error is {_num(total.loc[other, 'mae'] - total.loc[form, 'mae'])} "
                         f"lower than {other}'s ({_num(total.loc[form, 'mae'])} against {_num(total.loc[other, 'mae'])})"
                         + (f"{MARK}: chosen on the items it is reported on." if decided == "test" else "."))
        elif form:
            lines.append(f"- Kept: **{form}** (the only form validated).")
        chosen = total.loc[form] if form in total.index else total.iloc[0]
        n_ab = int((per["form"] == form).sum())
        goals = [("coverage", chosen["coverage"] >= GOALS["coverage"], f"coverage >= {GOALS['coverage']:.0%}"),
                 ("decision", chosen["decision_accuracy"] >= GOALS["decision_accuracy"],
                  f"decision accuracy >= {GOALS['decision_accuracy']:.0%}"),
                 ("mae", chosen["mae_below_half_width"] >= GOALS["abilities_mae_below_half_width"] * n_ab / 10,
                  f"error below the half-width for >= {GOALS['abilities_mae_below_half_width']} of 10 abilities")]
        met = [text for _, ok, text in goals if ok]
        missed = [text for _, ok, text in goals if not ok]
        lines.append(f"- Goals for {form}: met {_names(met)}; missed {_names(missed)}.")
        fails = []
        for v in per[per["form"] == form].itertuples(index=False):
            why = _why_failed(v, rows[(rows["role"] == "held_out") & (rows["form"] == form) & (rows["ability"] == v.ability)],
                              GOALS)
            if why:
                fails.append(f"  - {v.ability}: {why}.")
        if fails:
            lines += ["", "Abilities that miss a goal, and why:", ""] + fails
        wide = per.pivot_table(index="ability", columns="form", values=["mae", "coverage", "decision_accuracy"],
                               aggfunc="first", sort=False)
        table = pd.DataFrame({"ability": per[per["form"] == form]["ability"].to_list()})
        for f in [form] + [x for x in total.index if x != form]:
            if ("mae", f) not in wide:
                continue
            table[f"MAE {f}"] = table["ability"].map(wide[("mae", f)]).round(3)
            table[f"coverage {f}"] = table["ability"].map(wide[("coverage", f)]).map(lambda x: f"{x:.0%}")
            table[f"decisions {f}"] = table["ability"].map(wide[("decision_accuracy", f)]).map(
                lambda x: "n/a" if pd.isna(x) else f"{x:.0%}")
        table["half-width"] = table["ability"].map(per.drop_duplicates("ability").set_index("ability")["half_width"]).round(3)
        lines += ["", table.to_markdown(index=False), ""]
        lines.append(f"What this can show: with {len(sizes)} model sizes the validation fits {len(sizes) - 1}, so the "
                     "size axis is a straight line through "
                     + ("two points" if len(sizes) == 3 else f"{len(sizes) - 1} points")
                     + " on each form's scale; curvature in log parameters is invisible to it, every held-out figure "
                     "rests on one extrapolation step per ability, and per-ability coverage moves in steps of "
                     f"1/{int(per['n_points'].max())}. Intervals hold the fitted points' noise and one cell's noise, "
                     "not the error of the form itself, which only this held-out size measures.")
    extra = rows[rows["role"] == "extrapolation"]
    if len(extra):
        lines += ["", f"**Model sizes not trained (extrapolations, {form} form fitted on "
                      f"{', '.join(info.get('fit_sizes') or [])}).** Predicted score with its 95% prediction interval:", ""]
        e = _ordered(extra, settings, ("ability",))
        e = e.assign(cell=[f"{r.predicted:.3f} [{r.pi_low:.3f}, {r.pi_high:.3f}]" for r in e.itertuples()])
        for ms, g in e.groupby("model_size", sort=False):
            wide = g.pivot_table(index="ability", columns="data_size", values="cell", aggfunc="first", sort=False)
            wide.columns = [f"{int(c):,} items" for c in wide.columns]
            lines += [f"- {ms} ({g['params'].iloc[0]:,.0f} parameters, extrapolated):", "",
                      wide.reset_index().to_markdown(index=False), ""]
    return lines + [""]


def _grading_section(t: dict, settings: dict) -> list[str]:
    g = t.get("grading")
    lines = ["## How much the grading choice moves the scores", ""]
    if g is None or g.empty:
        return lines + ["The prediction rows do not keep the evidence both scorers read, so the careful and the "
                        "authors' verdicts are not compared.", ""]
    table = g.assign(ambiguous=[f"{v:.1%}" for v in g["ambiguous_share"]],
                     careful_score=g["careful_score"].round(3), authors_score=g["authors_score"].round(3))
    table = table[["ability", "n", "ambiguous", "correction", "logit_fallback", "none", "verdicts_differ",
                   "careful_score", "authors_score"]]
    differ = int(g["verdicts_differ"].sum())
    lines.append(f"Over the test items at the selected checkpoints, the careful and the authors' scorers give "
                 f"different verdicts on {differ} of {int(g['n'].sum())} items; {_num(g['ambiguous_share'].max(), 3)} "
                 "is the largest share of ambiguous outputs (several answers and none committed to, graded 0) of "
                 "any ability. `correction`: answers taken after the output corrected itself; `logit_fallback`: "
                 "answers read from the letter logits; `none`: no answer.")
    return lines + ["", table.to_markdown(index=False), ""]


def write_report(study: str, tables: dict[str, pd.DataFrame], settings: dict, out: str | Path,
                 plots: dict[str, str | Path] | None = None, recipe_path: str = "analysis/recipe.yaml") -> str:
    """``report.md``: the analysis's findings in sentences with numbers; a section says so when its data
    is missing. ``tables``/``settings``: from ``pipeline.analyze`` (or ``pipeline.load_tables``)."""
    n_items = settings.get("n_items") or {}
    in_domain = [n_items[a] for a in settings.get("abilities", []) if a in n_items]
    seeds = settings.get("n_seeds", 1)
    lines = [
        f"# Analysis of study `{study}`", "",
        *decision_lines(settings),
        scoring_sentence(settings.get("scoring")), "",
        f"Scores are test-split means at each training cell's selected checkpoint, over "
        f"{len(settings.get('abilities', []))} in-domain abilities ({_range(in_domain)} test items each). "
        f"Intervals are {settings.get('level', 0.95):.0%} percentile bootstrap intervals "
        f"({settings.get('n_boot')} replicates) over test items, drawn once per replicate for all cells so that "
        "differences between cells are paired"
        + (f", and over the {seeds} seeds." if seeds > 1 else
           "; the study has one seed, so the intervals do not include training-seed variance."), "",
    ]
    if in_domain and min(in_domain) < MIN_ITEMS:
        lines += [f"With fewer than {MIN_ITEMS} test items per ability, bootstrap intervals are too narrow to trust "
                  "and the groups below can be noise.", ""]
    lines += _overall_section(tables, settings)
    lines += _curves_section(tables, settings)
    lines += _sensitivity_section(tables, settings)
    lines += _sources_section(tables, settings)
    lines += _transfer_section(tables, settings)
    lines += _complexity_section(tables, settings)
    lines += _guideline_section(tables, settings, recipe_path)
    lines += _extrapolation_section(tables, settings)
    lines += _grading_section(tables, settings)
    lines += _benchmarks_section(tables, settings)
    if plots:
        lines += ["## Plots", ""]
        for name, path in plots.items():
            caption = " ".join(CAPTIONS.get(name, "").split())
            lines.append(f"- `{path}`: {caption}")
        lines.append("")
    text = "\n".join(lines)
    write_text_atomic(out, text)
    return text
