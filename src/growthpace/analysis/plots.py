"""Seaborn plots of a study, on the non-interactive Agg backend.

Labels carry the abilities' Chinese names, so a CJK-capable font is used when one is installed (the
set-up installs WenQuanYi Micro Hei); without one, plots still render with the default font.
Every plot is written atomically (a temporary file renamed into place), and a plot whose data the
study lacks is still written, saying what is missing, so that a workflow can declare it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from ..files import atomic_path  # noqa: E402
from .bootstrap import order_model_sizes, selected_test_scores  # noqa: E402
from .curves import predict  # noqa: E402
from .outputs import PLOTS  # noqa: E402

CJK_FONTS = ["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"]
CJK_FILE = re.compile(r"wqy|NotoSansCJK|NotoSerifCJK|SourceHan|DroidSansFallback", re.IGNORECASE)
ABILITY_ZH = {"biology": "生物", "history": "历史", "code": "代码生成", "creative_writing": "创意写作",
              "chinese": "中文", "understanding": "对话理解", "role_play": "角色扮演", "reasoning": "逻辑推理",
              "math": "数学推理", "ethics": "伦理", "mean": "平均"}
BASE_STYLE = (0, (6, 2, 1, 2))  # dash-dot: the untuned base model


def use_cjk_font() -> str | None:
    """Register the first installed CJK font and make it the default sans-serif; return its name."""
    candidates = [p for p in CJK_FONTS if os.path.exists(p)]
    if not candidates:
        candidates = sorted(p for p in font_manager.findSystemFonts() if CJK_FILE.search(os.path.basename(p)))
    for path in candidates:
        try:
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
        plt.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
        plt.rcParams["axes.unicode_minus"] = False
        return name
    return None


def _theme() -> str | None:
    name = use_cjk_font()
    sns.set_theme(style="whitegrid", font="sans-serif",
                  rc={"font.sans-serif": plt.rcParams["font.sans-serif"], "axes.unicode_minus": False})
    return name


def label(ability: str) -> str:
    zh = ABILITY_ZH.get(ability)
    return f"{ability} {zh}" if zh else ability


def _save(fig, out: str | Path) -> None:
    with atomic_path(out, suffix=".png") as tmp:  # the extension tells matplotlib the format
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _placeholder(out: str | Path, title: str, message: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 2.2))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10)
    _save(fig, out)


def _palette(model_sizes) -> dict:
    return dict(zip(model_sizes, sns.color_palette("viridis", max(len(model_sizes), 1))))


def growth_plot(scores: pd.DataFrame, out: str | Path) -> None:
    """Score against data size (log x) per ability, one line per model size, source as line style."""
    _theme()
    df = selected_test_scores(scores)
    df = df[df["data_source"].isin(["curated", "synthetic"])]
    g = sns.relplot(
        data=df, x="data_size", y="score", hue="model_size", style="data_source", col="ability",
        col_wrap=min(5, df["ability"].nunique()), kind="line", marker="o", height=2.6, aspect=1.1,
        facet_kws={"sharey": False}, errorbar=None,
    )
    for ability, ax in g.axes_dict.items():
        expected = df.loc[df["ability"] == ability, "expected"].mean()
        ax.axhline(expected, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
    g.set_axis_labels("training items (log scale)", "test score")
    g.set_titles("{col_name}")
    _save(g.figure, out)


# ----------------------------------------------------------------------------------- growth curves
def _draw_curves(ax, df: pd.DataFrame, colors: dict, fits: pd.DataFrame | None = None) -> None:
    """Lines with interval bands per (source, model size); base models as dotted horizontals."""
    order = list(colors) + sorted(set(df["model_size"]) - set(colors))
    for source, ms in [(s, m) for s in ("curated", "synthetic") for m in order]:
        h = df[(df["data_source"] == source) & (df["model_size"] == ms)].sort_values("data_size")
        if h.empty:
            continue
        style = "-" if source == "curated" else "--"
        color = colors.get(ms, "black")
        ax.plot(h["data_size"], h["score"], style, marker="o", markersize=3, color=color, linewidth=1.4,
                label=f"{source} {ms}")
        ax.fill_between(h["data_size"], h["ci_low"], h["ci_high"], color=color, alpha=0.12, linewidth=0)
        if fits is not None and not fits.empty:
            f = fits[(fits["model_size"] == ms) & (fits["data_source"] == source)]
            if len(f) and f.iloc[0]["model"]:
                xs = np.geomspace(h["data_size"].min(), h["data_size"].max(), 60)
                ax.plot(xs, predict(f.iloc[0], xs), ":", color=color, linewidth=1)
    for ms, h in df[df["data_source"] == "base"].groupby("model_size"):
        ax.axhline(h["score"].mean(), color=colors.get(ms, "black"), linestyle=BASE_STYLE, linewidth=1,
                   label=f"base model {ms}")
    if len(df):
        ax.axhline(df["expected"].mean(), color="grey", linestyle="-", linewidth=0.8, alpha=0.7, label="random guess")
    ax.set_xscale("log")


def overall_plot(overall: pd.DataFrame, out: str | Path, model_sizes=None) -> None:
    """Mean score over the in-domain abilities against data size, per model size and source."""
    _theme()
    if overall.empty or not (overall["data_source"] != "base").any():
        return _placeholder(out, "Overall growth", "No plain-grid cells to plot.")
    sizes = order_model_sizes(overall["model_size"].unique(), model_sizes)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _draw_curves(ax, overall, _palette(sizes))
    ax.set_xlabel("training items (total, log scale)")
    ax.set_ylabel("mean test score over abilities")
    ax.set_title("Overall growth 总体增长 (solid: curated, dashed: synthetic; bands: 95% CI)")
    ax.legend(fontsize=8, ncols=2)
    _save(fig, out)


def ability_facets(curves: pd.DataFrame, fits: pd.DataFrame, sensitivity: pd.DataFrame | None, out: str | Path,
                   abilities=None, model_sizes=None) -> None:
    """One facet per ability: curves with bands, the fitted shape dotted, base model and random guess."""
    _theme()
    df = curves[curves["ability"].isin(abilities)] if abilities is not None else curves
    if df.empty:
        return _placeholder(out, "Growth per ability", "No curves to plot.")
    order = [a for a in (abilities or sorted(df["ability"].unique())) if a in set(df["ability"])]
    sizes = order_model_sizes(df["model_size"].unique(), model_sizes)
    colors = _palette(sizes)
    groups = dict(zip(sensitivity["ability"], sensitivity["group"])) if sensitivity is not None else {}
    g = sns.FacetGrid(df, col="ability", col_order=order, col_wrap=min(5, len(order)), height=2.6, aspect=1.15,
                      sharey=False)
    for ability, ax in g.axes_dict.items():
        _draw_curves(ax, df[df["ability"] == ability], colors, fits[fits["ability"] == ability])
        ax.set_title(label(ability) + (f"\n[{groups[ability]}]" if ability in groups else ""), fontsize=9)
    g.set_axis_labels("training items (log scale)", "test score")
    handles = [plt.Line2D([], [], color=colors[m], label=m) for m in sizes] + [
        plt.Line2D([], [], color="black", linestyle="-", label="curated"),
        plt.Line2D([], [], color="black", linestyle="--", label="synthetic"),
        plt.Line2D([], [], color="black", linestyle=":", label="fitted shape"),
        plt.Line2D([], [], color="black", linestyle=BASE_STYLE, label="base model"),
        plt.Line2D([], [], color="grey", linewidth=0.8, label="random guess")]
    g.figure.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=8, bbox_to_anchor=(0.5, 1.0),
                    frameon=False)
    _save(g.figure, out)


# -------------------------------------------------------------------------------- curated/synthetic
def sources_plot(gaps: pd.DataFrame, overall: pd.DataFrame, ceilings: pd.DataFrame, out: str | Path,
                 model_sizes=None) -> None:
    """Left: curated minus synthetic (mean over abilities) per size; right: both mean curves with the
    synthetic ceiling and its interval."""
    _theme()
    mean_gaps = gaps[gaps["ability"] == "mean"] if not gaps.empty else gaps
    if mean_gaps.empty:
        return _placeholder(out, "Curated vs synthetic", "The study has no data size with both curated and "
                                                          "synthetic cells of one model size.")
    sizes = order_model_sizes(overall["model_size"].unique(), model_sizes)
    colors = _palette(sizes)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for ms in [m for m in sizes if m in set(mean_gaps["model_size"])]:
        h = mean_gaps[mean_gaps["model_size"] == ms].sort_values("data_size")
        left.errorbar(h["data_size"], h["gap"], yerr=[h["gap"] - h["ci_low"], h["ci_high"] - h["gap"]], marker="o",
                      capsize=3, color=colors.get(ms), label=ms)
    left.axhline(0, color="black", linewidth=0.8)
    left.set_xscale("log")
    left.set_xlabel("training items (total, log scale)")
    left.set_ylabel("curated − synthetic (mean score)")
    left.set_title("Gap 人工数据 − 合成数据 (95% CI)")
    left.legend(title="model", fontsize=8)
    _draw_curves(right, overall[overall["data_source"].isin(["curated", "synthetic"])], colors)
    syn = ceilings[(ceilings["ability"] == "mean") & (ceilings["data_source"] == "synthetic")]
    for r in syn.itertuples(index=False):
        if np.isfinite(r.ceiling):
            right.axvline(r.ceiling, color=colors.get(r.model_size), linestyle="-.", linewidth=1,
                          label=f"synthetic ceiling {r.model_size}")
            hi = r.ceiling_high if np.isfinite(r.ceiling_high) else r.max_size
            right.axvspan(r.ceiling_low, hi, color=colors.get(r.model_size), alpha=0.08)
    right.set_xlabel("training items (total, log scale)")
    right.set_ylabel("mean test score")
    right.set_title("Synthetic ceiling 合成数据上限 (dash-dot; shaded: 95% CI)")
    right.legend(fontsize=7, ncols=2)
    _save(fig, out)


# ------------------------------------------------------------------------------------------ transfer
def transfer_heatmap(matrix: pd.DataFrame, out: str | Path, abilities=None) -> None:
    """T[i, j] for the mean over model sizes (or the one model size) at the largest n; * = CI excludes 0."""
    _theme()
    if matrix.empty:
        return _placeholder(out, "Transfer", "No single-ability cells with a base model "
                                             "(grid.single_ability and grid.evaluate_base): no transfer matrix.")
    m = matrix[matrix["n"] == matrix["n"].max()]
    ms = "all" if (m["model_size"] == "all").any() else m["model_size"].iloc[0]
    m = m[m["model_size"] == ms]
    rows = [a for a in (abilities or sorted(m["trained"].unique())) if a in set(m["trained"])]
    cols = [a for a in (abilities or sorted(m["evaluated"].unique())) if a in set(m["evaluated"])]
    delta = m.pivot(index="trained", columns="evaluated", values="delta").reindex(index=rows, columns=cols)
    sig = m.assign(s=(m["ci_low"] > 0) | (m["ci_high"] < 0)).pivot(index="trained", columns="evaluated", values="s")
    sig = sig.reindex(index=rows, columns=cols).fillna(False).astype(bool)
    annot = delta.map(lambda v: "" if pd.isna(v) else f"{v:+.2f}") + sig.map(lambda s: "*" if s else "")
    lim = float(np.nanmax(np.abs(delta.to_numpy()))) if delta.notna().any().any() else 1.0
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(cols), 1.0 + 0.6 * len(rows)))
    sns.heatmap(delta, annot=annot, fmt="", cmap="RdBu_r", center=0, vmin=-lim, vmax=lim, ax=ax,
                annot_kws={"fontsize": 7}, cbar_kws={"label": "score − base model"})
    ax.set_xticklabels([label(c) for c in cols], rotation=45, ha="right")
    ax.set_yticklabels([label(r) for r in rows], rotation=0)
    ax.set_xlabel("evaluated ability 评测能力")
    ax.set_ylabel("trained only on 仅训练")
    ax.set_title(f"Transfer 迁移: {int(m['n'].iloc[0])} items of one ability, model {ms} (* 95% CI excludes 0)")
    _save(fig, out)


# ------------------------------------------------------------------------------------------- recipes
def recipe_plot(allocation: pd.DataFrame, comparison: pd.DataFrame, out: str | Path, abilities=None) -> None:
    """Left: the derived allocation beside the uniform split; right: recipe cells minus the uniform
    baseline per ability with 95% CIs (when the study has trained recipe cells)."""
    _theme()
    if allocation.empty and comparison.empty:
        return _placeholder(out, "Recipe", "No sensitivity to derive a recipe from and no recipe cells.")
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    allocation = allocation[allocation["ability"] != "mean"]
    if not allocation.empty:
        per = allocation.assign(method=allocation["method"] if "method" in allocation else "paper")
        uniform = per.drop_duplicates("ability").assign(split="uniform", items=lambda d: d["uniform"])
        split = per["method"]
        if "extrapolated" in per:  # the optimiser's recipe for a model size that was not trained
            untrained = per["extrapolated"].fillna(False).astype(bool)
            split = split.where(~untrained, per["method"] + " for " + per["model_size"].astype(str) + " (extrapolated)")
        a = pd.concat([per.assign(split=split, items=per["count"]), uniform], ignore_index=True)
        a["label"] = a["ability"].map(label)
        sns.barplot(data=a, y="label", x="items", hue="split", ax=left, orient="h")
        for bars in left.containers:
            left.bar_label(bars, fontsize=7, padding=2)
        left.set_ylabel("")
        left.set_xlabel("training items")
        budget = int(per.groupby(split)["count"].sum().iloc[0])  # every recipe spends the same budget
        left.set_title(f"Derived recipes 推导配方 vs uniform, budget {budget}")
    else:
        left.axis("off")
    if comparison.empty:
        right.axis("off")
        right.text(0.5, 0.5, "No recipe cells trained yet: add the derived recipe\n(analysis/recipe.yaml) to "
                   "grid.recipe_definitions and grid.recipes,\nthen re-run to compare it with the baseline.",
                   ha="center", va="center", fontsize=9)
    else:
        c = comparison.copy()
        order = [a for a in (abilities or []) if a in set(c["ability"])]
        order += sorted(set(c["ability"]) - set(order) - {"mean"}) + (["mean"] if "mean" in set(c["ability"]) else [])
        c["who"] = c["recipe"] + " " + c["model_size"].astype(str) + " vs " + c["baseline"]
        palette = dict(zip(c["who"].unique(), sns.color_palette("tab10", c["who"].nunique())))
        offsets = np.linspace(-0.25, 0.25, c["who"].nunique()) if c["who"].nunique() > 1 else [0.0]
        for off, (who, h) in zip(offsets, c.groupby("who", sort=False)):
            y = h["ability"].map(order.index) + off
            right.errorbar(h["diff"], y, xerr=[h["diff"] - h["ci_low"], h["ci_high"] - h["diff"]], fmt="o",
                           capsize=3, color=palette[who], label=who)
            if "predicted" in h and h["predicted"].notna().any():
                right.scatter(h["predicted"], y, marker="x", color=palette[who], zorder=3)
        right.set_yticks(range(len(order)), [label(a) for a in order])
        right.invert_yaxis()
        right.axvline(0, color="black", linewidth=0.8)
        right.set_xlabel("recipe − uniform baseline (test score, 95% CI)")
        right.set_title("Recipe vs baseline 配方对比")
        right.legend(fontsize=7)
    _save(fig, out)


# ------------------------------------------------------------------------------------- extrapolation
def extrapolation_plot(rows: pd.DataFrame, validation: pd.DataFrame, out: str | Path, abilities=None) -> None:
    """One facet per ability, score against data size: measured points of every trained size with the
    joint model's 95% bands (fitted on every size), the held-out size's measured points (black-edged
    stars) against its prediction from the smaller sizes (hatched band), and predict-only sizes (dashed)."""
    _theme()
    if rows.empty:
        return _placeholder(out, "Extrapolation", "No growth model over model size: it needs at least two "
                                                  "model sizes with parameter counts (see report.md).")
    order = [a for a in (abilities or sorted(rows["ability"].unique())) if a in set(rows["ability"])]
    sizes = (rows[["model_size", "params"]].drop_duplicates("model_size").sort_values("params")["model_size"].tolist())
    untrained = set(rows.loc[rows["role"] == "extrapolation", "model_size"])
    colors = _palette([m for m in sizes if m not in untrained])  # trained sizes as elsewhere, the rest in reds
    colors.update(zip([m for m in sizes if m in untrained], sns.color_palette("Reds_r", max(len(untrained), 1))))
    chosen = validation.loc[validation["chosen"].astype(bool), "form"] if len(validation) else pd.Series(dtype=str)
    form = chosen.iloc[0] if len(chosen) else rows.loc[rows["role"] == "fit", "form"].iloc[0]
    g = sns.FacetGrid(rows, col="ability", col_order=order, col_wrap=min(5, len(order)), height=2.6, aspect=1.15,
                      sharey=False)
    for ability, ax in g.axes_dict.items():
        a = rows[rows["ability"] == ability]
        for ms in sizes:
            color = colors[ms]
            fit = a[(a["role"] == "fit") & (a["model_size"] == ms)].sort_values("data_size")
            if len(fit):
                ax.plot(fit["data_size"], fit["predicted"], "-", color=color, linewidth=1.2)
                ax.fill_between(fit["data_size"], fit["ci_low"], fit["ci_high"], color=color, alpha=0.15, linewidth=0)
                ax.errorbar(fit["data_size"], fit["measured"], yerr=[fit["measured"] - fit["measured_low"],
                            fit["measured_high"] - fit["measured"]], fmt="o", markersize=3, color=color,
                            elinewidth=0.6, capsize=0)
            held = a[(a["role"] == "held_out") & (a["model_size"] == ms) & (a["form"] == form) & (a["recipe"] == "")]
            if len(held):
                held = held.sort_values("data_size")
                ax.fill_between(held["data_size"], held["pi_low"], held["pi_high"], facecolor="none",
                                edgecolor=color, hatch="////", linewidth=0.0)
                ax.plot(held["data_size"], held["predicted"], "--", color="black", linewidth=1.1)
                ax.plot(held["data_size"], held["measured"], "*", markersize=9, color=color,
                        markeredgecolor="black", markeredgewidth=0.7)
            extra = a[(a["role"] == "extrapolation") & (a["model_size"] == ms)].sort_values("data_size")
            if len(extra):
                ax.plot(extra["data_size"], extra["predicted"], ":", color=color, linewidth=1.8)
                ax.fill_between(extra["data_size"], extra["pi_low"], extra["pi_high"], color=color, alpha=0.10,
                                linewidth=0)
        ax.set_xscale("log")
        ax.set_title(label(ability), fontsize=9)
    g.set_axis_labels("training items (log scale)", "test score")
    held_sizes = sorted(set(rows.loc[rows["role"] == "held_out", "model_size"]))
    extra_sizes = [m for m in sizes if m in set(rows.loc[rows["role"] == "extrapolation", "model_size"])]
    handles = [plt.Line2D([], [], color=colors[m], label=f"{m} ({rows.loc[rows['model_size'] == m, 'params'].iloc[0]:,.0f})")
               for m in sizes]
    handles.append(plt.Line2D([], [], color="black", linestyle="-", label=f"{form} fit on all trained sizes (95% CI)"))
    if held_sizes:
        handles += [plt.Line2D([], [], color="black", linestyle="--", label=f"{', '.join(held_sizes)} predicted "
                               "from the smaller sizes (hatched: 95% PI)"),
                    plt.Line2D([], [], color="black", marker="*", linestyle="", markersize=9,
                               label=f"{', '.join(held_sizes)} measured (held out)")]
    if extra_sizes:
        handles.append(plt.Line2D([], [], color="black", linestyle=":", label=f"{', '.join(extra_sizes)} "
                                  "not trained: extrapolated (95% PI)"))
    g.figure.legend(handles=handles, loc="lower center", ncols=min(len(handles), 4), fontsize=8,
                    bbox_to_anchor=(0.5, 1.0), frameon=False)
    _save(g.figure, out)


def analysis_plots(tables: dict[str, pd.DataFrame], out_dir: str | Path, abilities=None,
                   model_sizes=None) -> dict[str, Path]:
    """Every plot of ``PLOTS`` from ``pipeline.analyze``'s tables, as ``out_dir/{name}.png``."""
    out_dir = Path(out_dir)
    paths = {name: out_dir / f"{name}.png" for name in PLOTS}
    overall_plot(tables["overall"], paths["overall"], model_sizes)
    ability_facets(tables["curves"], tables["curve_fits"], tables["sensitivity"], paths["abilities"], abilities,
                   model_sizes)
    sources_plot(tables["sources"], tables["overall"], tables["ceilings"], paths["sources"], model_sizes)
    transfer_heatmap(tables["transfer"], paths["transfer"], abilities)
    recipe_plot(tables["allocation"], tables["recipes"], paths["recipes"], abilities)
    extrapolation_plot(tables["extrapolation"], tables["extrapolation_validation"], paths["extrapolation"], abilities)
    return paths
