rule suite:
    localrule: True
    output:
        f"{RESULTS}/receipts/suite.json",
    params:
        store=STORE,
        spec=study.suite_spec(config),
        code_version=CODE_VERSIONS["suite"],
    log:
        f"{RESULTS}/logs/suite.log",
    conda:
        ENV
    script:
        "../scripts/suite.py"


# The training set of one cell (plain, recipe, single-ability or guideline: growthpace.artifacts.build_subset),
# checked for train/held-out leakage (data.leakage) each time it runs.
rule subset:
    localrule: True
    input:
        unpack(subset_inputs),
    output:
        f"{RESULTS}/receipts/subset/{{cell}}.json",
    params:
        store=STORE,
        spec=subset_params,
        leakage=study.leakage_mode(config),
        code_version=CODE_VERSIONS["subset"],
        external=subset_external,
    log:
        f"{RESULTS}/logs/subset/{{cell}}.log",
    conda:
        ENV
    script:
        "../scripts/subset.py"
