from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from pathlib import Path

from growthpace import stages
from growthpace.store import read_receipt

stages.analyze_study(
    read_receipt(snakemake.input.suite),
    scores=list(snakemake.input.scores),
    predictions=list(snakemake.input.predictions),
    out_dir=Path(snakemake.output.settings).parent,
    spec=snakemake.params.spec,
)
