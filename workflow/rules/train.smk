# One training cell. The script checks model, settings and data, then starts the launcher
# (torchrun, one process per GPU of the job, or one process on a CPU) and waits for it; so the same
# rule runs on one CPU, one GPU or every GPU of a SLURM node (resources from models.sizes.{size}).
# Resumable state stays in the store, outside this rule's outputs, so a killed job resumes.
rule train_cell:
    input:
        unpack(train_inputs),
    output:
        f"{RESULTS}/receipts/sft/{{model_size}}/{{cell}}.json",
    params:
        store=STORE,
        spec=sft_params,
        cell=cell_params,
        launcher="torchrun",
        code_version=CODE_VERSIONS["sft"],
    log:
        f"{RESULTS}/logs/train/{{model_size}}/{{cell}}.log",
    threads: train_cpus
    resources:
        # one node with all the size's GPUs: torchrun --standalone launches on one machine
        nodes=1,
        gpu=train_gpus,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    conda:
        ENV
    script:
        "../scripts/train_cell.py"
