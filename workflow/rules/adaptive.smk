# Adaptive studies (grid.adaptive; growthpace.analysis.adaptive): the grid's cells are trained round by
# round, each round chosen from the results of the rounds before it. Each round is a checkpoint, so
# Snakemake reads what a round chose before it plans that round's training, and a run that was stopped
# picks up from the last round on disk:
#
#   adaptive_round 0 (seed design) -> train/evaluate its cells -> adaptive_round 1 (criterion, picks)
#   -> ... -> adaptive_round N (stop: stable, budget, ...) -> tables (the cells trained) -> analysis
#   -> adaptive_summary (analysis/adaptive_rounds.parquet, adaptive.md, appended to report.md)


# Cheap (seconds: a bootstrap of the cells so far and the conclusions on n_draws replicates): run where
# snakemake runs.
checkpoint adaptive_round:
    localrule: True
    input:
        unpack(adaptive_round_inputs),
    output:
        f"{ADAPTIVE_DIR}/round{{round}}.json",
    params:
        spec=study.analysis_spec(config),
        settings=ADAPTIVE,
        candidates=[f"{c.model_size}/{c.name}" for c in study.adaptive_candidates(config)],
        measured=adaptive_measured,
        select_after=config["evaluation"]["select_after_epoch"],
        scoring=study.scoring_spec(config),
    log:
        f"{RESULTS}/logs/adaptive/round{{round}}.log",
    conda:
        ENV
    script:
        "../scripts/adaptive_round.py"


rule adaptive_summary:
    localrule: True
    input:
        rounds=adaptive_round_files,
        cells=f"{RESULTS}/tables/cells.parquet",
    output:
        rounds=f"{ANALYSIS}/adaptive_rounds.parquet",
        note=f"{RESULTS}/adaptive.md",
    params:
        spec=study.analysis_spec(config),
        settings=ADAPTIVE,
        candidates=[f"{c.model_size}/{c.name}" for c in study.adaptive_candidates(config)],
        validate_against=(ADAPTIVE or {}).get("validate_against"),
    log:
        f"{RESULTS}/logs/adaptive_summary.log",
    conda:
        ENV
    script:
        "../scripts/adaptive_summary.py"
