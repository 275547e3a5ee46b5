# Predictions of one checkpoint (training cell, epoch) on every eval set of the study; the cell's
# labels come from its training receipt (a recipe cell's data_size is known only once it trained).
rule evaluate_checkpoint:
    input:
        suite=rules.suite.output[0],
        sft=f"{RESULTS}/receipts/sft/{{model_size}}/{{cell}}.json",
    output:
        f"{RESULTS}/predictions/{{model_size}}/{{cell}}/epoch{{epoch}}.parquet",
    params:
        store=STORE,
        spec=eval_params,
        code_version=CODE_VERSIONS["predictions"],
        external=eval_external,
    log:
        f"{RESULTS}/logs/evaluate/{{model_size}}/{{cell}}/epoch{{epoch}}.log",
    threads: job_resource("evaluate", "cpus")
    resources:
        # one node; the GPUs are this job's own (growthpace.gpus claims them on a shared machine)
        nodes=1,
        gpu=job_resource("evaluate", "gpus"),
        mem_mb=job_resource("evaluate", "mem_mb"),
        runtime=job_resource("evaluate", "runtime"),
    conda:
        ENV
    script:
        "../scripts/evaluate_checkpoint.py"


# evaluation.benchmarks.epochs: selected: the benchmarks at the epoch that the cell's own predictions
# select (as the tables select it), so that every recipe comparison has them.
rule evaluate_benchmarks:
    input:
        suite=rules.suite.output[0],
        sft=f"{RESULTS}/receipts/sft/{{model_size}}/{{cell}}.json",
        predictions=cell_epoch_predictions,
    output:
        f"{RESULTS}/predictions/{{model_size}}/{{cell}}/benchmarks.parquet",
    params:
        store=STORE,
        spec=selected_benchmark_params,
        select_after=config["evaluation"]["select_after_epoch"],
        decide_on=study.analysis_spec(config)["decide_on"],
        scoring=study.scoring_spec(config),
        code_version=CODE_VERSIONS["predictions"],
        external=selected_benchmark_external,
    log:
        f"{RESULTS}/logs/evaluate/{{model_size}}/{{cell}}/benchmarks.log",
    threads: job_resource("evaluate", "cpus")
    resources:
        nodes=1,
        gpu=job_resource("evaluate", "gpus"),
        mem_mb=job_resource("evaluate", "mem_mb"),
        runtime=job_resource("evaluate", "runtime"),
    conda:
        ENV
    script:
        "../scripts/evaluate_benchmarks.py"


# The untuned base model of a model size, evaluated like an epoch 0 (grid.evaluate_base).
rule evaluate_base:
    input:
        suite=rules.suite.output[0],
        base=f"{RESULTS}/receipts/base/{{model_size}}.json",
    output:
        f"{RESULTS}/predictions/{{model_size}}/base/epoch0.parquet",
    params:
        store=STORE,
        spec=base_eval_params,
        cell=base_cell_params,
        code_version=CODE_VERSIONS["predictions"],
        external=base_eval_external,
    log:
        f"{RESULTS}/logs/evaluate/{{model_size}}/base/epoch0.log",
    threads: job_resource("evaluate", "cpus")
    resources:
        # one node; the GPUs are this job's own (growthpace.gpus claims them on a shared machine)
        nodes=1,
        gpu=job_resource("evaluate", "gpus"),
        mem_mb=job_resource("evaluate", "mem_mb"),
        runtime=job_resource("evaluate", "runtime"),
    conda:
        ENV
    script:
        "../scripts/evaluate_base.py"
