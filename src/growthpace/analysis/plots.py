"""Seaborn plots of a study. CJK-capable fonts are used when installed (the set-up installs one)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402

CJK_FONTS = ["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"]


def use_cjk_font() -> str | None:
    """Register the first installed CJK font and make it the default sans-serif; return its name."""
    for path in CJK_FONTS:
        if os.path.exists(path):
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
            plt.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
            plt.rcParams["axes.unicode_minus"] = False
            return name
    return None


def selected_test_scores(scores: pd.DataFrame) -> pd.DataFrame:
    split = "test" if (scores["split"] == "test").any() else "valid"
    return scores[(scores["split"] == split) & scores["selected"]]


def growth_plot(scores: pd.DataFrame, out: str | Path) -> None:
    """Score against data size (log x) per ability, one line per model size, source as line style."""
    use_cjk_font()
    df = selected_test_scores(scores)
    sns.set_theme(style="whitegrid", rc={"font.sans-serif": plt.rcParams["font.sans-serif"]})
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
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(out).with_name(f".{Path(out).name}.tmp.png")
    g.savefig(tmp, dpi=110)
    plt.close(g.figure)
    os.replace(tmp, out)
