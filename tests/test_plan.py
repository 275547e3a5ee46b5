"""``growthpace plan`` against what the workflow does and what a run measured, and ``growthpace report``
on a study stopped half-way and on the finished one.

All on the finished smoke study (the session's ``smoke_run``): dry runs of snakemake on copies of it,
one run of the keep_epochs rule (one local job), and two builds of the report; no training.
"""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from growthpace import partial_report, study
from growthpace.artifacts import PRUNED, epoch_dir
from growthpace.plan import format_study_plan, plan_study
from growthpace.store import Artifact, Store
from growthpace.throughput import Rates

from .conftest import ROOT, snakemake
from .test_orchestration import job_stats, planned_jobs

pytestmark = pytest.mark.workflow

SMOKE = ROOT / ".test" / "config.yaml"
STORE = Path(".test") / "results" / "store"  # the smoke study's store_dir, under its work directory


def smoke_config():
    return study.load_config(SMOKE)


def test_plan_jobs_match_the_dry_run_of_a_partly_stored_study(smoke_run, tmp_path, monkeypatch):
    """A new work directory whose store holds the smoke study's artifacts but one fine-tuned model and
    every prediction: the plan's jobs per rule, and those in the store, are what snakemake plans
    (a job found in the store runs as its reuse_* rule)."""
    work = tmp_path / "work"
    shutil.copytree(smoke_run / STORE, work / STORE, symlinks=True)
    shutil.rmtree(work / STORE / "predictions")
    dropped = sorted((work / STORE / "sft").glob("*/manifest.json"))[0].parent
    shutil.rmtree(dropped)
    monkeypatch.chdir(work)
    # keep_epochs: selected adds its rule, and changes no artifact's key (the stored ones are still found)
    configfile = work / "keep.yaml"
    configfile.write_text(SMOKE.read_text().replace("training:\n", "training:\n  keep_epochs: selected\n", 1))
    config = study.load_config(configfile)
    plan = plan_study(config, memory=False)
    assert plan.jobs["keep_epochs"] == {"jobs": 1, "in_store": 0}
    dry = planned_jobs(work, configfile)
    expected = {}
    for rule, row in plan.jobs.items():
        if row["jobs"] - row["in_store"]:
            expected[rule] = row["jobs"] - row["in_store"]
        if row["in_store"]:
            expected[f"reuse_{rule}"] = row["in_store"]
    assert dry == expected
    cells = len(study.training_cells(config))
    assert plan.jobs["train_cell"] == {"jobs": cells, "in_store": cells - 1}
    assert plan.jobs["evaluate_checkpoint"]["in_store"] == 0
    # the stored cells cost nothing: only the dropped one is trained
    assert sum(c.in_store for c in plan.cells) == cells - 1
    trained = [c for c in plan.cells if not c.in_store]
    assert sum(s.train_tokens for s in plan.sizes) == pytest.approx(trained[0].train_tokens)


def test_plan_tokens_and_bytes_against_the_finished_run(smoke_run, monkeypatch):
    """Items, optimiser repeats and tokens per cell against the training metrics of the run, the bytes
    kept per cell against the snapshot files on disk, and the resume state against the last checkpoint's."""
    monkeypatch.chdir(smoke_run)
    config = smoke_config()
    plan = plan_study(config, memory=False)
    measured = pd.read_parquet(smoke_run / "results" / "smoke" / "tables" / "cells.parquet")
    receipts = smoke_run / "results" / "smoke" / "receipts" / "sft"
    assert len(plan.cells) == len(measured)
    for c in plan.cells:
        receipt = json.loads((receipts / c.model_size / f"{c.name}.json").read_text())
        train = json.loads((Path(receipt["path"]) / "manifest.json").read_text())["train"]
        assert c.items == train["n_items"]
        assert c.repeats == train["repeats_per_epoch"]
        assert c.train_tokens == pytest.approx(train["tokens_seen"], rel=0.02), c.name
        weights = sum(f.stat().st_size for f in (Path(receipt["path"]) / "epochs").glob("epoch-*/*.safetensors"))
        assert c.kept_bytes == pytest.approx(weights, rel=0.02), c.name
        assert c.resume_bytes == pytest.approx(train["checkpoint_bytes_with_optimizer"], rel=0.15), c.name
        assert c.in_store
    # everything is in the store: nothing left to pay for
    assert plan.gpu_hours == 0 and plan.kept_bytes() == 0
    text = format_study_plan(plan)
    assert "Jobs: " in text and "Disk" in text


def test_plan_of_the_paper_study_without_its_data():
    """The paper's study plans where its data and models are not: its 629 jobs (as snakemake's dry run
    counts them), 15 snapshots per cell, and what keep_epochs: selected keeps."""
    config = study.load_config(ROOT / "config" / "studies" / "doit-paper.yaml")
    plan = plan_study(config, Rates(mfu_train=0.4), memory=False)
    assert plan.total_jobs == 629
    per_epoch = {s.size: s.stored_values * 2 for s in plan.sizes}  # bf16
    trained = [c for c in plan.cells if not c.in_store]
    assert plan.kept_bytes("all") == sum(per_epoch[c.model_size] * 15 for c in trained)
    # the study benchmarks each cell at its selected epoch (evaluation.benchmarks.epochs: selected): every
    # cell keeps that one snapshot
    assert plan.kept_bytes("selected") == sum(per_epoch[c.model_size] for c in trained)
    # training hours: 6 N T over peak x MFU, summed over the cells
    for s in plan.sizes:
        assert s.train_hours * 3600 == pytest.approx(
            6 * s.parameters * s.train_tokens / (312e12 * 0.4) + 120 * 8 * sum(c.model_size == s.size for c in trained))


def test_plan_command_with_gpu_check_rates(tmp_path, capsys):
    """``growthpace plan --rates`` takes benchmarks/gpu_check.py's figures (its matmul peak and ZeRO-2's
    MFU); a rates file with a key it does not know is refused, naming the file and the key."""
    from growthpace.cli import main

    figures = tmp_path / "gpu_check.json"
    figures.write_text(json.dumps({"device": "NVIDIA H100", "gemm": {"tflops": 700.0},
                                   "train": [{"zero_stage": 3, "mfu": 0.3}, {"zero_stage": 2, "mfu": 0.5}]}))
    rates = Rates.load(figures)
    assert (rates.peak_tflops, rates.mfu_train) == (700.0, 0.5)
    paper = ROOT / "config" / "studies" / "doit-paper.yaml"
    assert main(["plan", "--configfile", str(paper), "--rates", str(figures)]) in (0, 1)  # 1: /scratch's disk
    out = capsys.readouterr().out
    assert "Jobs: 629" in out and "NVIDIA H100 (measured), 700 TFLOP/s; MFU 50% training" in out
    assert "Memory plan of study 'doit-paper'" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"peak_tflops": 1.0, "mfu": 0.5}))
    assert main(["plan", "--configfile", str(paper), "--rates", str(bad)]) == 2
    assert f"{bad}: unknown key(s) mfu" in capsys.readouterr().out


def test_partial_report_of_a_study_stopped_half_way(smoke_run, tmp_path):
    """Results with one cell not trained and one cell's last epoch not evaluated: the report covers the
    complete cells only and says what is missing and what cannot be concluded yet."""
    results = tmp_path / "results" / "smoke"
    shutil.copytree(smoke_run / "results" / "smoke", results, symlinks=True)
    (results / "receipts" / "sft" / "s" / "curated-40-seed0.json").unlink()
    shutil.rmtree(results / "predictions" / "s" / "curated-40-seed0")
    (results / "predictions" / "xs" / "synthetic-20-seed0" / "epoch2.parquet").unlink()
    assert partial_report.main([SMOKE], workdir=tmp_path) == 0
    out = results / "partial"
    first = (out / "report.md").read_text().splitlines()[0]
    total = len(study.training_cells(smoke_config())) + len(study.base_cells(smoke_config()))
    assert first.startswith(f"**Partial report: {total - 2} of {total} cells complete.**")
    assert "s/curated-40-seed0" in first and "xs/synthetic-20-seed0" in first
    assert "curated growth curve of s (1 of 2 data sizes)" in first
    assert "model sizes compared at curated-40 (not yet on s)" in first
    scores = pd.read_parquet(out / "tables" / "scores.parquet")
    cells = set(zip(scores.model_size, scores.data_source, scores.data_size))
    assert ("s", "curated", 40) not in cells and ("xs", "synthetic", 20) not in cells
    assert ("xs", "curated", 40) in cells
    # intervals on the cells there are
    overall = pd.read_parquet(out / "analysis" / "overall.parquet")
    assert set(zip(overall.model_size, overall.data_source, overall.data_size)) <= cells
    assert len(overall) and ((overall.ci_low <= overall.score) & (overall.score <= overall.ci_high)).all()
    # the workflow's own outputs are untouched
    assert (results / "report.md").read_bytes() == (smoke_run / "results" / "smoke" / "report.md").read_bytes()


def test_report_of_the_finished_study_is_the_workflows(smoke_run, tmp_path):
    assert partial_report.main([SMOKE], out=tmp_path / "report", workdir=smoke_run) == 0
    ours = (tmp_path / "report" / "report.md").read_text()
    assert ours == (smoke_run / "results" / "smoke" / "report.md").read_text()
    assert not ours.startswith("**Partial")


def test_keep_epochs_selected_on_the_finished_run(smoke_run, tmp_path):
    """training.keep_epochs: selected on a copy of the finished smoke study: its rule is the only job (no
    artifact's key changes), each fine-tuned model keeps its selected epoch (no benchmarks here), an
    evaluation of a deleted one names the setting, and the study is then up to date."""
    work = tmp_path / "work"
    shutil.copytree(smoke_run, work, symlinks=True)
    configfile = work / "keep.yaml"
    configfile.write_text(SMOKE.read_text().replace("training:\n", "training:\n  keep_epochs: selected\n", 1))
    proc = snakemake(work, configfile=configfile)
    assert job_stats(proc.stdout + proc.stderr) == {"keep_epochs": 1, "all": 1}
    store = Store(work / STORE)
    table = pd.read_parquet(work / "results" / "smoke" / "tables" / "cells.parquet")
    deleted = json.loads((work / "results" / "smoke" / "receipts" / "keep_epochs.json").read_text())
    assert len(deleted) == len(table)
    for row in table.itertuples():
        sft = Artifact("sft", row.sft_key, store.path("sft", row.sft_key))
        assert sorted(p.name for p in (sft.path / "epochs").glob("epoch-*")) == [f"epoch-{row.selected_epoch}"]
        other = 3 - row.selected_epoch  # two epochs
        assert json.loads((sft.path / "epochs" / PRUNED).read_text())["deleted"] == [other]
        with pytest.raises(FileNotFoundError, match="keep_epochs"):
            epoch_dir(sft, other)
    assert planned_jobs(work, configfile) == {}


def test_cpu_calibration_and_plan_against_the_run_it_came_from(smoke_run, tmp_path, monkeypatch):
    """benchmarks/calibrate_cpu.py and plan_vs_measured.py on the smoke run: rates calibrated on a run
    predict that run's core-seconds per rule (a check of the accounting: the same tokens, parameters and
    thread counts on both sides)."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from calibrate_cpu import calibrate
    from plan_vs_measured import compare

    monkeypatch.chdir(smoke_run)
    rates = calibrate([SMOKE], smoke_run)
    assert 0 < rates.mfu_train < 1 and rates.peak_tflops > 0
    path = tmp_path / "rates.json"
    rates.save(path)
    table = compare([SMOKE], path, smoke_run)
    for rule in ("train_cell", "evaluate_checkpoint"):
        assert table.loc[rule, "ratio"] == pytest.approx(1, abs=0.3), table
