from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.analysis import adaptive
from growthpace.files import write_json_atomic
from growthpace.store import read_receipt

p = snakemake.params
analysis = p.spec
# as the analysis, but never an error here: derive_recipe raises it where the recipe is derived
pools = artifacts.recipe_pools(read_receipt(snakemake.input.suite), analysis, strict=False)
record = adaptive.decide_from_files(
    int(snakemake.wildcards.round), list(snakemake.input.predictions), p.measured, p.candidates,
    adaptive.spec_from(analysis, p.settings, pools), p.select_after, p.scoring["mode"])
write_json_atomic(snakemake.output[0], record)
