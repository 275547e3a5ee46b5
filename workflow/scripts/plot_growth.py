from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import pandas as pd

from growthpace.analysis import plots

plots.growth_plot(pd.read_parquet(snakemake.input.scores), snakemake.output[0])
