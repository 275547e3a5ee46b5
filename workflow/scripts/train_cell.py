from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import torch

from growthpace import stages
from growthpace.store import Store, read_receipt, write_receipt

torch.set_num_threads(snakemake.threads)
store = Store(snakemake.params.store)
sft = stages.build_sft(
    store, read_receipt(snakemake.input.base), read_receipt(snakemake.input.subset), snakemake.params.spec
)
write_receipt(snakemake.output[0], sft, cell=snakemake.params.cell)
