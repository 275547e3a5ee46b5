"""``growthpace report``: the tables, plots and ``report.md`` of the cells complete now, while a study runs.

A cell is complete when its training receipt and the prediction file of every one of its epochs exist
(a base cell: its epoch-0 predictions). Every file the workflow writes appears whole under its final name
(``growthpace.files``), so a file that exists is complete, and reading it takes no lock: a running job
is never blocked or disturbed. From those cells the report runs the workflow's own steps, with the
workflow's own params (``study``): the tables (``analysis.tables``), the growth plot and summary, the
analysis (``artifacts.analyze_study``), its plots and ``report.md``, into ``results/{study}/partial/``
(the workflow's outputs are never touched, so Snakemake sees nothing changed). Intervals are computed on
the cells there are.

Until every cell is complete, the report's first line says so: how many cells of how many, which are
missing, and which conclusions are not possible yet (a growth curve that lacks a data size, a comparison
of model sizes at a data size not yet measured on every size, the derived recipe, which needs the whole
grid). Once the study is complete, ``report.md`` is the workflow's, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import study


@dataclass
class Progress:
    """Which cells of a study are complete now, and the files the report reads."""

    results: Path
    complete: list[study.Cell] = field(default_factory=list)
    missing: list[study.Cell] = field(default_factory=list)
    predictions: list[Path] = field(default_factory=list)
    sft: list[Path] = field(default_factory=list)
    guideline_predictions: list[Path] = field(default_factory=list)
    guideline_sft: list[Path] = field(default_factory=list)
    unchosen: list[study.Cell] = field(default_factory=list)  # an adaptive study's cells no round chose

    @property
    def done(self) -> bool:
        return not self.missing


def cell_label(cell: study.Cell) -> str:
    return f"{cell.model_size}/{cell.name}"


def progress(config: dict, results: Path) -> Progress:
    from .cell_status import adaptive_rounds

    p = Progress(results)
    chosen = adaptive_rounds(results)[0] if study.adaptive_settings(config) else None
    grid = study.training_cells(config)
    guideline = study.guideline_cells(config)
    for cell in grid + guideline + study.base_cells(config):
        epochs = study.epochs(config, cell.model_size) if cell.trains else [0]
        preds = [results / "predictions" / cell.model_size / cell.name / f"epoch{e}.parquet" for e in epochs]
        receipt = results / "receipts" / "sft" / cell.model_size / f"{cell.name}.json"
        if all(f.is_file() for f in preds) and (not cell.trains or receipt.is_file()):
            p.complete.append(cell)
            if cell in guideline:
                p.guideline_predictions += preds
                p.guideline_sft.append(receipt)
            else:
                p.predictions += preds
                p.sft += [receipt] if cell.trains else []
        elif chosen is not None and cell.trains and cell_label(cell) not in chosen:
            p.unchosen.append(cell)
        else:
            p.missing.append(cell)
    return p


def not_yet_possible(config: dict, p: Progress) -> list[str]:
    """The conclusions the complete cells cannot support yet."""
    done = set(p.complete)
    out = []
    for source in study.SOURCES:
        sizes = (config["grid"].get("data_sizes") or {}).get(source) or []
        model_sizes = study.model_sizes_for(config, source)
        cells = {(ms, n): c for c in study.training_cells(config) if c.data_source == source
                 for ms, n in [(c.model_size, c.data_size)]}
        for ms in model_sizes:
            have = [n for n in sizes if cells.get((ms, n)) in done]
            if len(have) < len(sizes):
                out.append(f"{source} growth curve of {ms} ({len(have)} of {len(sizes)} data sizes)")
        for n in sizes:
            lacking = [ms for ms in model_sizes if cells.get((ms, n)) not in done]
            if lacking and len(model_sizes) > 1:
                out.append(f"model sizes compared at {source}-{n} (not yet on {', '.join(lacking)})")
    recipes = [c for c in study.training_cells(config) if c.data_source == study.RECIPE and c not in done]
    if recipes:
        out.append("recipe comparisons (" + ", ".join(cell_label(c) for c in recipes) + ")")
    if study.guideline_settings(config)["enabled"] and any(c not in done for c in study.guideline_cells(config)):
        out.append("the derived recipe's validation (its cells train once the whole grid is done)")
    bases = [c for c in study.base_cells(config) if c not in done]
    if bases:
        out.append("gains over the base models of " + ", ".join(c.model_size for c in bases))
    return out


def header(config: dict, p: Progress) -> str:
    n = len(p.complete) + len(p.missing)
    missing = ", ".join(cell_label(c) for c in p.missing)
    blocked = "; ".join(not_yet_possible(config, p)) or "none"
    unchosen = f" ({len(p.unchosen)} more not chosen by the adaptive rounds so far)" if p.unchosen else ""
    return (f"**Partial report: {len(p.complete)} of {n} cells complete{unchosen}.** Missing: {missing}. "
            f"Not possible yet: {blocked}. Intervals are over the complete cells only.\n\n")


def build(config: dict, results: Path, out: Path) -> Progress:
    """Write ``out/{tables,plots,analysis}``, ``out/summary.md`` and ``out/report.md``."""
    import pandas as pd

    from . import artifacts
    from .analysis import pipeline, plots, report, tables
    from .files import write_text_atomic
    from .store import read_receipt

    p = progress(config, results)
    suite = results / "receipts" / "suite.json"
    if not p.sft or not suite.is_file():
        raise SystemExit(f"growthpace report: no training cell of study {config['study']!r} is complete yet "
                         f"under {results} (each needs its receipt and every epoch's predictions)")
    select_after, scoring = config["evaluation"]["select_after_epoch"], study.scoring_spec(config)["mode"]
    t = out / "tables"
    tables.write_tables(p.predictions, p.sft, select_after, t / "predictions.parquet", t / "scores.parquet",
                        t / "cells.parquet", scoring=scoring)
    score_files, prediction_files = [t / "scores.parquet"], [t / "predictions.parquet"]
    if p.guideline_sft:
        g = t / "guideline"
        tables.write_tables(p.guideline_predictions, p.guideline_sft, select_after, g / "predictions.parquet",
                            g / "scores.parquet", g / "cells.parquet", scoring=scoring)
        score_files.append(g / "scores.parquet")
        prediction_files.append(g / "predictions.parquet")
    scores = pd.read_parquet(t / "scores.parquet")
    plots.growth_plot(scores, out / "plots" / "growth.png")
    report.write_summary(study=config["study"], scores=scores, cells=pd.read_parquet(t / "cells.parquet"),
                         plot_path=out / "plots" / "growth.png", out=out / "summary.md")
    base = {ms: results / "receipts" / "base" / f"{ms}.json" for ms in study.model_sizes(config)}
    subsets = {r: results / "receipts" / "subset" / f"{name}.json"
               for r, name in study.recipe_cell_names(config).items()}
    analysis = out / "analysis"
    artifacts.analyze_study(read_receipt(suite), scores=score_files, predictions=prediction_files,
                            out_dir=analysis, spec=study.analysis_spec(config),
                            base_receipts={ms: str(f) for ms, f in base.items() if f.is_file()},
                            recipe_subsets={r: str(f) for r, f in subsets.items() if f.is_file()},
                            extrapolate=study.extrapolate_spec(config), untrained=study.untrained_spec(config))
    found, settings = pipeline.load_tables(analysis)
    plots.analysis_plots(found, out / "plots", settings["abilities"], settings["model_sizes"])
    # paths relative to report.md, as the workflow's report_md rule gives them; the body goes to a side
    # file first, so that report.md never shows a partial study without its first line
    body = out / ".report-body.md"
    text = report.write_report(config["study"], found, settings, body,
                               plots={name: f"plots/{name}.png" for name in plots.PLOTS},
                               recipe_path="analysis/recipe.yaml")
    body.unlink()
    adaptive = results / "adaptive.md"
    if study.adaptive_settings(config) and adaptive.is_file():  # as report_md appends it
        text = text.rstrip("\n") + "\n\n" + adaptive.read_text()
    write_text_atomic(out / "report.md", (header(config, p) if not p.done else "") + text)
    return p


def main(configfiles: list[Path], out: Path | None = None, workdir: str | Path = ".") -> int:
    """Results are read where ``growthpace status`` reads them: ``{workdir}/results/{study}``."""
    from .study import load_config

    config = load_config(*configfiles)
    results = Path(workdir) / "results" / config["study"]
    out = out or results / "partial"
    p = build(config, results, out)
    n = len(p.complete) + len(p.missing)
    print(f"{'complete' if p.done else 'partial'}: {len(p.complete)} of {n} cells -> {out / 'report.md'}")
    for line in not_yet_possible(config, p):
        print(f"  not possible yet: {line}")
    return 0
