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
    # derive_recipe runs this script too, without them: it needs the recipe only
    base_receipts=getattr(snakemake.params, "base", None),
    recipe_subsets=getattr(snakemake.params, "recipe_subsets", None),
    extrapolate=getattr(snakemake.params, "extrapolate", None),
    untrained=getattr(snakemake.params, "untrained", None),
)
