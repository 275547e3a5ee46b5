from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.store import Store, read_receipt, reuse_only, write_receipt

from_store = reuse_only(snakemake.rule)  # a reuse_* rule: planned to be found in the store
if not from_store:  # torch takes seconds to import; a lookup does not need it
    import torch

    torch.set_num_threads(snakemake.threads)
store = Store(snakemake.params.store)
tokenizer = snakemake.input.get("tokenizer")  # only tiny models pretrained here have one
base = artifacts.build_base_model(
    store,
    read_receipt(snakemake.input.suite),
    read_receipt(tokenizer) if tokenizer else None,
    snakemake.params.spec,
    reuse_only=from_store,
)
write_receipt(snakemake.output[0], base)
