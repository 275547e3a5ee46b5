rule evaluate_checkpoint:
    input:
        suite=rules.suite.output[0],
        sft=f"{RESULTS}/receipts/sft/{{model_size}}/{{source}}-{{data_size}}-seed{{seed}}.json",
    output:
        f"{RESULTS}/predictions/{{model_size}}/{{source}}-{{data_size}}-seed{{seed}}/epoch{{epoch}}.parquet",
    params:
        store=STORE,
        spec=study.eval_spec(config),
        cell=cell_params,
    log:
        f"{RESULTS}/logs/evaluate/{{model_size}}/{{source}}-{{data_size}}-seed{{seed}}/epoch{{epoch}}.log",
    threads: eval_cpus
    resources:
        gpu=eval_gpus,
        mem_mb=eval_mem_mb,
        runtime=eval_runtime,
    conda:
        ENV
    script:
        "../scripts/evaluate_checkpoint.py"
