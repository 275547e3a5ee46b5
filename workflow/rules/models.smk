rule tokenizer:
    input:
        suite=rules.suite.output[0],
    output:
        f"{RESULTS}/receipts/tokenizer.json",
    params:
        store=STORE,
        spec=study.tokenizer_spec(config),
    log:
        f"{RESULTS}/logs/tokenizer.log",
    conda:
        ENV
    script:
        "../scripts/tokenizer.py"


rule base_model:
    input:
        suite=rules.suite.output[0],
        tokenizer=rules.tokenizer.output[0],
    output:
        f"{RESULTS}/receipts/base/{{model_size}}.json",
    params:
        store=STORE,
        spec=base_params,
    log:
        f"{RESULTS}/logs/base_model/{{model_size}}.log",
    threads: 2
    conda:
        ENV
    script:
        "../scripts/base_model.py"
