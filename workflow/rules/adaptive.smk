# Adaptive studies (grid.adaptive; growthpace.analysis.adaptive): the grid's cells are trained round by
# round, each round chosen from the results of the rounds before it. Each round is a checkpoint, so
# Snakemake reads what a round chose before it plans that round's training, and a run that was stopped
# picks up from the last round on disk:
#
#   adaptive_round 0 (seed design) -> train/evaluate its cells -> adaptive_round 1 (criterion, picks)
#   -> ... -> adaptive_round N (stop: stable, budget, ...) -> tables (the cells trained) -> analysis
#   -> adaptive_summary (analysis/adaptive_rounds.parquet, adaptive.md, appended to report.md)
import json

ADAPTIVE = study.adaptive_settings(config)
ADAPTIVE_DIR = f"{ANALYSIS}/adaptive"


wildcard_constraints:
    round=r"\d+",


def _round_record(r):
    with open(checkpoints.adaptive_round.get(round=r).output[0]) as f:
        return json.load(f)


def adaptive_records():
    """Every round's record up to the one that stopped (Snakemake re-plans as each round is decided)."""
    records = [_round_record(0)]
    while not records[-1]["stop"]:
        records.append(_round_record(len(records)))
    return records


def _cells(keys):
    return [study.lookup(CELLS, tuple(k.split("/", 1)), "training cell") for k in keys]


def _cell_files(keys):
    cells = _cells(keys)
    predictions = [
        f"{RESULTS}/predictions/{c.model_size}/{c.name}/epoch{e}.parquet"
        for c in cells
        for e in study.epochs(config, c.model_size)
    ]
    # the base models are no grid cell: always evaluated (grid.evaluate_base)
    predictions += [
        f"{RESULTS}/predictions/{c.model_size}/base/epoch0.parquet"
        for c in study.base_cells(config)
    ]
    receipts = [f"{RESULTS}/receipts/sft/{c.model_size}/{c.name}.json" for c in cells]
    return predictions, receipts


def _measured_before(r):
    return [k for i in range(r) for k in _round_record(i)["chosen"]]


def adaptive_round_inputs(wildcards):
    r = int(wildcards.round)
    predictions, receipts = _cell_files(_measured_before(r)) if r else ([], [])
    return {"suite": rules.suite.output[0], "predictions": predictions, "sft": receipts}


def adaptive_measured(wildcards):
    return _measured_before(int(wildcards.round))


def grid_prediction_files(wildcards=None):
    """The tables' predictions: every grid cell's, or those an adaptive study trained."""
    if not ADAPTIVE:
        return prediction_files()
    return _cell_files([k for r in adaptive_records() for k in r["chosen"]])[0]


def grid_sft_receipts(wildcards=None):
    if not ADAPTIVE:
        return sft_receipts()
    return _cell_files([k for r in adaptive_records() for k in r["chosen"]])[1]


def adaptive_round_files(wildcards=None):
    return [f"{ADAPTIVE_DIR}/round{r['round']}.json" for r in adaptive_records()]


def adaptive_outputs():
    return [f"{ANALYSIS}/adaptive_rounds.parquet", f"{RESULTS}/adaptive.md"] if ADAPTIVE else []


# Cheap (seconds: a bootstrap of the cells so far and the conclusions on n_draws replicates): run where
# snakemake runs.
checkpoint adaptive_round:
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
