from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import stages
from growthpace.store import Store, read_receipt, reuse_only, write_receipt

# One process per GPU of the job; one process (with the job's threads) without a GPU.
gpus = int(snakemake.resources.get("gpu", 0) or 0)
subset = read_receipt(snakemake.input.subset)
sft = stages.build_sft(
    Store(snakemake.params.store),
    read_receipt(snakemake.input.base),
    subset,
    snakemake.params.spec,
    nproc=max(1, gpus),
    threads=snakemake.threads if gpus == 0 else None,
    launcher=snakemake.params.launcher,
    reuse_only=reuse_only(snakemake.rule),  # a reuse_* rule: planned to be found in the store, never trains here
)
write_receipt(snakemake.output[0], sft, cell=stages.realised_cell(snakemake.params.cell, subset))
