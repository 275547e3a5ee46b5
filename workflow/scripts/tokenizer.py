from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.store import Store, read_receipt, write_receipt

store = Store(snakemake.params.store)
tok = artifacts.build_tokenizer(store, read_receipt(snakemake.input.suite), snakemake.params.spec)
write_receipt(snakemake.output[0], tok)
