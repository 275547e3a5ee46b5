rule tokenizer:
    localrule: True
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
    # Two threads (1.7x one on the demo's 2 cores). One each, side by side, took 14% fewer core-seconds
    # for the pretraining itself but slowed the jobs beside it by about as much (shared caches).
    threads: 2
    priority: pretrain_priority
    conda:
        ENV
    script:
        "../scripts/base_model.py"
