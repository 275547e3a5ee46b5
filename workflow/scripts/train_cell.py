from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts, study
from growthpace.gpus import claimed_gpus
from growthpace.store import Store, read_receipt, reuse_only, write_receipt

# One process per GPU of the job; without GPUs, resources.train.processes sharing the job's threads.
gpus = int(snakemake.resources.get("gpu", 0) or 0)
nproc = gpus or study.job_resources(snakemake.config, snakemake.wildcards.model_size, "train")["processes"]
subset = read_receipt(snakemake.input.subset)
evaluate = None
if snakemake.params.evaluate:  # evaluation.in_training_job, with the threads an evaluate job would get
    cpus = study.job_resources(snakemake.config, snakemake.wildcards.model_size, "evaluate")["cpus"]
    evaluate = {"suite": read_receipt(snakemake.input.suite), "epochs": snakemake.params.evaluate,
                "threads": max(1, min(cpus, snakemake.threads))}
with claimed_gpus(gpus):
    sft = artifacts.build_sft(
        Store(snakemake.params.store),
        read_receipt(snakemake.input.base),
        subset,
        snakemake.params.spec,
        nproc=nproc,
        threads=max(1, snakemake.threads // nproc) if gpus == 0 else None,
        launcher=snakemake.params.launcher,
        reuse_only=reuse_only(snakemake.rule),  # a reuse_* rule: planned to be found in the store, never trains here
        evaluate=evaluate,
    )
write_receipt(snakemake.output[0], sft, cell=artifacts.realised_cell(snakemake.params.cell, subset))
