"""The paper's path, run end to end at the smallest scale: real snakemake on a study that reads a
DoIT-layout directory (``data.source_dir``: tests/fixtures/doit, a few records per ability) and a base
model from ``models.sizes.*.path`` (the SentencePiece LLaMA fixture in sharded PyTorch ``.bin`` files,
no pad token, no speaker tokens), trained in 2 processes (torchrun, gloo, DeepSpeed ZeRO-2, gradient
checkpointing on as for every model from a path), evaluated with the batched engine, the base model
prompted in plain text with solved examples, through tables, analysis and the report."""

import json

import pandas as pd
import pytest
import yaml

from growthpace.data.schema import ABILITIES

from .conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow

DOIT = ROOT / "tests" / "fixtures" / "doit"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, llama_checkpoints):
    workdir = tmp_path_factory.mktemp("realpath")
    config = {
        "study": "realpath",
        "store_dir": str(workdir / "store"),
        "data": {"source_dir": str(DOIT), "abilities": list(ABILITIES)},
        "grid": {"model_sizes": ["7b"], "data_sizes": {"curated": [10, 30]}, "evaluate_base": True},
        "models": {"sizes": {"7b": {
            "path": str(llama_checkpoints["bin-sharded"]),
            "sft": {"lr": 3e-3, "end_lr": 3e-4},
            "resources": {"train": {"processes": 2, "cpus": 2}},
        }}},
        "training": {"epochs": 2, "batch_size": 4, "micro_batch_size": 2, "min_steps": 4, "max_len": 128},
        "evaluation": {"batch_size": 16, "select_after_epoch": 0, "max_new_tokens": {"math": 24}},
        "analysis": {"n_boot": 50},
    }
    path = workdir / "realpath.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    snakemake(workdir, configfile=path)
    return workdir, path


def test_real_path_trains_in_two_processes_and_evaluates(real_run):
    workdir, _ = real_run
    out = workdir / "results" / "realpath"
    cells = pd.read_parquet(out / "tables" / "cells.parquet")
    assert sorted(cells["data_size"]) == [10, 30]
    receipts = sorted((out / "receipts" / "sft" / "7b").glob("*.json"))
    assert len(receipts) == 2
    for receipt in receipts:
        sft = workdir / json.loads(receipt.read_text())["path"]  # absolute, or relative to the workdir
        metrics = json.loads((sft / "train_metrics.json").read_text())
        assert metrics["world_size"] == 2 and metrics["engine"] == "deepspeed" and metrics["zero_stage"] == 2
        assert metrics["gradient_checkpointing"] is True and metrics["precision"] == "fp32"  # auto on a CPU
        for epoch in ("epoch-1", "epoch-2"):
            files = {p.name for p in (sft / "epochs" / epoch).iterdir()}
            assert "model.safetensors" in files and not [f for f in files if f.endswith(".bin")]
    scores = pd.read_parquet(out / "tables" / "scores.parquet")
    # 2 trained cells x 2 epochs + the base model, each on 10 abilities x (valid, test) + the OOD set
    assert set(scores["ability"]) == set(ABILITIES) | {"ceval_physician_fshot"}
    assert len(scores) == (2 * 2 + 1) * (10 * 2 + 1)
    base = scores[scores["data_source"] == "base"]
    assert len(base) == 21 and set(base["epoch"]) == {0}
    preds = pd.read_parquet(out / "tables" / "predictions.parquet")
    assert not preds.duplicated(["data_source", "data_size", "epoch", "eval_set", "item_hash"]).any()
    text = (out / "report.md").read_text()
    assert text.startswith("# Analysis of study `realpath`")


def test_base_model_is_prompted_in_plain_text(real_run):
    workdir, _ = real_run
    preds = pd.read_parquet(workdir / "results" / "realpath" / "predictions" / "7b" / "base" / "epoch0.parquet")
    manifests = [json.loads(p.read_text()) for p in (workdir / "store" / "predictions").glob("*/manifest.json")]
    base = [m for m in manifests if m["key"] == preds["predictions_key"].iloc[0]]
    assert len(base) == 1
    assert base[0]["settings"]["prompt"] == {"format": "plain", "shots": 3, "seed": 0, "question": "问：",
                                             "answer": "答："}
    trained = [m for m in manifests if m["key"] != preds["predictions_key"].iloc[0]]
    assert trained and all("prompt" not in m["settings"] for m in trained)  # tuned models: the chat format


def test_second_run_has_nothing_to_do(real_run):
    workdir, path = real_run
    proc = snakemake(workdir, "-n", configfile=path)
    assert "Nothing to be done" in proc.stdout + proc.stderr
