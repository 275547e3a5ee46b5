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
if snakemake.input.adaptive:  # an adaptive study: its design, appended
    out = Path(snakemake.output[0])
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(out.read_text().rstrip("\n") + "\n\n" + Path(snakemake.input.adaptive[0]).read_text())
    os.replace(tmp, out)
