# training.keep_epochs: selected (or a model size's sft.keep_epochs): once the tables have selected each
# cell's epoch, the cell's fine-tuned model keeps only the snapshots of that epoch and of the epochs the
# study's benchmarks evaluate; the others are deleted from the store (a 33b snapshot is ~65 GB). Runs
# after every evaluation of the cells (the tables read them all), so no job of this study needs them.
rule keep_epochs:
    localrule: True
    input:
        cells=analysis_tables("cells"),
    output:
        f"{RESULTS}/receipts/keep_epochs.json",
    params:
        store=STORE,
        keep=study.keep_plan(config),
    log:
        f"{RESULTS}/logs/keep_epochs.log",
    conda:
        ENV
    script:
        "../scripts/keep_epochs.py"
