"""The study's markdown summary: what was run and what it found, in sentences with numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .plots import selected_test_scores


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
        f"{test['ability'].nunique()} abilities, {int(test.groupby('ability')['n'].first().sum())} test items per cell.",
        "",
        "## Overall test score (mean over abilities, at the selected epoch)",
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
    lines += ["", "## Test score per ability", "", per_ability.to_markdown(), "",
              f"Plot: `{plot_path}`", "",
              "Tables: `tables/scores.parquet` (per cell, epoch, split, ability), "
              "`tables/predictions.parquet` (per instance), `tables/cells.parquet` (training).", ""]
    text = "\n".join(lines)
    tmp = Path(out).with_name(f".{Path(out).name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return text
