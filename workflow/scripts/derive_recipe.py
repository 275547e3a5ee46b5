from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from pathlib import Path

from growthpace import artifacts
from growthpace.store import read_receipt

# The grid's tables only: the recipe that the guideline cells train (and the analysis tables it comes from).
out_dir = Path(snakemake.output.settings).parent
artifacts.analyze_study(read_receipt(snakemake.input.suite), list(snakemake.input.scores),
                     list(snakemake.input.predictions), out_dir, snakemake.params.spec)
