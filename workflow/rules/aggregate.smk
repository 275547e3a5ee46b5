rule tables:
    input:
        predictions=grid_prediction_files,
        sft=grid_sft_receipts,
    output:
        predictions=f"{RESULTS}/tables/predictions.parquet",
        scores=f"{RESULTS}/tables/scores.parquet",
        cells=f"{RESULTS}/tables/cells.parquet",
    params:
        select_after=config["evaluation"]["select_after_epoch"],
        decide_on=study.analysis_spec(config)["decide_on"],
        scoring=study.scoring_spec(config),
    log:
        f"{RESULTS}/logs/tables.log",
    conda:
        ENV
    script:
        "../scripts/tables.py"


rule plot_growth:
    localrule: True
    input:
        scores=rules.tables.output.scores,
    output:
        report(
            f"{RESULTS}/plots/growth.png",
            caption="../report/growth.rst",
            category="Growth curves",
        ),
    log:
        f"{RESULTS}/logs/plot_growth.log",
    conda:
        ENV
    script:
        "../scripts/plot_growth.py"


rule summary:
    localrule: True
    input:
        scores=rules.tables.output.scores,
        cells=rules.tables.output.cells,
        plot=rules.plot_growth.output[0],
    output:
        f"{RESULTS}/summary.md",
    params:
        study=config["study"],
    log:
        f"{RESULTS}/logs/summary.log",
    conda:
        ENV
    script:
        "../scripts/summary.py"
