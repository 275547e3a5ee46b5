from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from pathlib import Path

from growthpace.analysis import pipeline, plots

tables, settings = pipeline.load_tables(Path(snakemake.input.settings).parent)
plots.analysis_plots(
    tables, Path(snakemake.output[0]).parent, settings["abilities"], settings["model_sizes"]
)
