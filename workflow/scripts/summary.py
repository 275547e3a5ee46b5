from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import pandas as pd

from growthpace.analysis import report

report.write_summary(
    study=snakemake.params.study,
    scores=pd.read_parquet(snakemake.input.scores),
    cells=pd.read_parquet(snakemake.input.cells),
    plot_path=snakemake.input.plot,
    out=snakemake.output[0],
)
