from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import torch

from growthpace import artifacts
from growthpace.gpus import claimed_gpus
from growthpace.store import Store, read_receipt

torch.set_num_threads(snakemake.threads)
with claimed_gpus(int(snakemake.resources.get("gpu", 0) or 0)):
    artifacts.evaluate_base(
        Store(snakemake.params.store),
        suite=read_receipt(snakemake.input.suite),
        base=read_receipt(snakemake.input.base),
        spec=snakemake.params.spec,
        cell=snakemake.params.cell,
        out=snakemake.output[0],
    )
