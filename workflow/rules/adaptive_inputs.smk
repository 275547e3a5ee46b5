# Inputs of an adaptive study's rules (rules/adaptive.smk) and of the tables: which cells the rounds
# decided so far chose, read from the checkpoints' outputs (growthpace.analysis.adaptive).
import json

from growthpace.study.grid import split_key as adaptive_key

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
    return [study.lookup(CELLS, adaptive_key(k), "training cell") for k in keys]


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
    """The tables' predictions: every grid cell's, or those an adaptive study trained (with their
    benchmarks at the selected epoch, which take no part in the rounds' choices)."""
    if not ADAPTIVE:
        return prediction_files()
    chosen = [k for r in adaptive_records() for k in r["chosen"]]
    return _cell_files(chosen)[0] + selected_benchmark_files(_cells(chosen))


def grid_sft_receipts(wildcards=None):
    if not ADAPTIVE:
        return sft_receipts()
    return _cell_files([k for r in adaptive_records() for k in r["chosen"]])[1]


def adaptive_round_files(wildcards=None):
    return [f"{ADAPTIVE_DIR}/round{r['round']}.json" for r in adaptive_records()]


def adaptive_outputs():
    return [f"{ANALYSIS}/adaptive_rounds.parquet", f"{RESULTS}/adaptive.md"] if ADAPTIVE else []


