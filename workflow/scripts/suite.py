from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.store import Store, write_receipt

suite = artifacts.build_suite(Store(snakemake.params.store), snakemake.params.spec)
write_receipt(snakemake.output[0], suite)
