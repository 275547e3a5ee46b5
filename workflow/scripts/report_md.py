from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import os
from pathlib import Path

from growthpace.analysis import pipeline, report

tables, settings = pipeline.load_tables(Path(snakemake.input.settings).parent)
here = Path(snakemake.output[0]).parent  # paths in report.md are relative to it
report.write_report(
    snakemake.params.study,
    tables,
    settings,
    snakemake.output[0],
    plots={Path(p).stem: os.path.relpath(p, here) for p in snakemake.input.plots},
    recipe_path=os.path.relpath(snakemake.input.recipe, here),
)
