from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from pathlib import Path

from growthpace import artifacts
from growthpace.store import read_receipt

artifacts.analyze_study(
    read_receipt(snakemake.input.suite),
    scores=list(snakemake.input.scores),
    predictions=list(snakemake.input.predictions),
    out_dir=Path(snakemake.output.settings).parent,
    spec=snakemake.params.spec,
    base_receipts=snakemake.params.base,
    recipe_subsets=snakemake.params.recipe_subsets,
    extrapolate=snakemake.params.extrapolate,
    untrained=snakemake.params.untrained,
)
