from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import torch

from growthpace import stages
from growthpace.gpus import claimed_gpus
from growthpace.store import Store, read_receipt

torch.set_num_threads(snakemake.threads)
with claimed_gpus(int(snakemake.resources.get("gpu", 0) or 0)):
    stages.evaluate_checkpoint(
        Store(snakemake.params.store),
        suite=read_receipt(snakemake.input.suite),
        sft=read_receipt(snakemake.input.sft),
        epoch=int(snakemake.wildcards.epoch),
        spec=snakemake.params.spec,
        cell=stages.receipt_cell(snakemake.input.sft),
        out=snakemake.output[0],
    )
