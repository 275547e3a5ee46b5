from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace.analysis import tables

tables.write_tables(
    prediction_files=list(snakemake.input.predictions),
    sft_receipts=list(snakemake.input.sft),
    select_after=snakemake.params.select_after,
    out_predictions=snakemake.output.predictions,
    out_scores=snakemake.output.scores,
    out_cells=snakemake.output.cells,
    scoring=snakemake.params.scoring["mode"],
    decide_on=snakemake.params.decide_on,
)
