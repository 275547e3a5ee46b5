from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import torch

from growthpace import stages
from growthpace.store import Store, read_receipt, write_receipt

torch.set_num_threads(snakemake.threads)
store = Store(snakemake.params.store)
tokenizer = snakemake.input.get("tokenizer")  # only tiny models pretrained here have one
base = stages.build_base_model(
    store,
    read_receipt(snakemake.input.suite),
    read_receipt(tokenizer) if tokenizer else None,
    snakemake.params.spec,
)
write_receipt(snakemake.output[0], base)
