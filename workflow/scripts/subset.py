from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.store import Store, read_receipt, reuse_only, write_receipt

store = Store(snakemake.params.store)
subset = artifacts.build_subset(
    store,
    read_receipt(snakemake.input.suite),
    snakemake.params.spec,
    leakage=snakemake.params.leakage,
    recipe_file=snakemake.input.get("recipe"),  # guideline cells: the derived recipe
    reuse_only=reuse_only(snakemake.rule),  # a reuse_* rule: planned to be found in the store
)
write_receipt(snakemake.output[0], subset)
