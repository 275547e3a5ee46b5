# One training cell. The script checks model, settings and data, then starts the launcher
# (torchrun, one process per GPU of the job, or one process on a CPU) and waits for it; so the same
# rule runs on one CPU, one GPU or every GPU of a SLURM node (resources from models.sizes.{size}).
# Resumable state stays in the store, outside this rule's outputs, so a killed job resumes.
# With evaluation.in_training_job the job also evaluates the cell's epochs once trained.
rule train_cell:
    input:
        unpack(train_inputs),
    output:
        f"{RESULTS}/receipts/sft/{{model_size}}/{{cell}}.json",
    params:
        store=STORE,
        spec=sft_params,
        cell=cell_params,
        evaluate=train_eval_params,
        launcher="torchrun",
        code_version=CODE_VERSIONS["sft"],
    log:
        f"{RESULTS}/logs/train/{{model_size}}/{{cell}}.log",
    threads: job_resource("train", "cpus")
    resources:
        # one node with all the size's GPUs: torchrun --standalone launches on one machine
        nodes=1,
        gpu=job_resource("train", "gpus"),
        mem_mb=job_resource("train", "mem_mb"),
        runtime=job_resource("train", "runtime"),
    conda:
        ENV
    script:
        "../scripts/train_cell.py"
