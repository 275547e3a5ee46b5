rule tokenizer:
    input:
        suite=rules.suite.output[0],
    output:
        f"{RESULTS}/receipts/tokenizer.json",
    params:
        store=STORE,
        spec=study.tokenizer_spec(config),
        code_version=CODE_VERSIONS["tokenizer"],
        external=PLAN.tokenizer_inputs(),
    log:
        f"{RESULTS}/logs/tokenizer.log",
    conda:
        ENV
    script:
        "../scripts/tokenizer.py"


# A tiny model pretrained here (on the suite's corpus, with its character tokenizer), or a receipt
# for a local HF model directory (models.sizes.{size}.path), which needs no tokenizer job.
rule base_model:
    input:
        unpack(base_inputs),
    output:
        f"{RESULTS}/receipts/base/{{model_size}}.json",
    params:
        store=STORE,
        spec=base_params,
        code_version=CODE_VERSIONS["base_model"],
        external=base_external,
    log:
        f"{RESULTS}/logs/base_model/{{model_size}}.log",
    # One thread each: two threads make one job only 1.7x faster on 2 cores, so the sizes pretrain
    # side by side (and beside the smaller sizes' first cells) in fewer core-seconds.
    threads: 1
    priority: pretrain_priority
    conda:
        ENV
    script:
        "../scripts/base_model.py"
