rule suite:
    output:
        f"{RESULTS}/receipts/suite.json",
    params:
        store=STORE,
        spec=study.suite_spec(config),
    log:
        f"{RESULTS}/logs/suite.log",
    conda:
        ENV
    script:
        "../scripts/suite.py"


rule subset:
    input:
        suite=rules.suite.output[0],
    output:
        f"{RESULTS}/receipts/subset/{{source}}-{{data_size}}-seed{{seed}}.json",
    params:
        store=STORE,
        spec=subset_params,
    log:
        f"{RESULTS}/logs/subset/{{source}}-{{data_size}}-seed{{seed}}.log",
    conda:
        ENV
    script:
        "../scripts/subset.py"
