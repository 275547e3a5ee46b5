"""Artifact keys hold the precision, dtype and device kind that will run (``growthpace.devices``): a CPU
fp32 build never has the key of a GPU bf16 one. The GPU side is described (resources with GPUs, a
``Device``), not run."""

import copy
from pathlib import Path

import pytest
import yaml

from growthpace import artifacts, study
from growthpace.devices import CPU, CUDA, Device, DeviceMismatch, check_running, evaluation_dtype, training_precision
from growthpace.store import Artifact, Store, artifact_key

from .conftest import ROOT

DEMO = ROOT / "config" / "config.yaml"
# The demo's training keys before keys held the resolved precision (computed with the code of then):
# its cells train on the CPU in fp32, so the resolved values are what it always used.
DEMO_SFT_KEYS = {"xs": "f7a1898ffb991348dd4f", "s": "b719f4c6692b5dbb7291", "m": "5f97007b8f60480f6a92"}


def demo():
    return yaml.safe_load(DEMO.read_text())


def on_gpus(config, size, stage, gpus=1):
    config = copy.deepcopy(config)
    config["models"]["sizes"][size].setdefault("resources", {})[stage] = {"gpus": gpus}
    return config


def sft_key(config, size):
    return artifact_key("sft", study.sft_spec(config, size, 0), {"base": "b", "subset": "s"})


def eval_key(config, size):
    return artifact_key("predictions", study.eval_spec(config, study.Cell(size, "curated", 10, 0), 1), {"model": "m"})


def test_auto_resolves_to_what_runs():
    assert training_precision("auto", Device(CPU)) == "fp32"
    assert training_precision("auto", Device(CUDA, bf16=True)) == "bf16"
    assert training_precision("auto", Device(CUDA, bf16=False)) == "fp32"  # a V100
    assert training_precision("fp16", Device(CUDA, bf16=True)) == "fp16"  # given: kept
    assert evaluation_dtype("auto", Device(CPU)) == "float32"
    assert evaluation_dtype("auto", Device(CUDA, bf16=True)) == "bfloat16"
    assert Device.planned(0) == Device(CPU) and Device.planned(8) == Device(CUDA, bf16=True)


def test_training_keys_hold_precision_and_device():
    config = demo()
    config["training"]["precision"] = "auto"
    cpu, gpu = study.sft_spec(config, "xs", 0), study.sft_spec(on_gpus(config, "xs", "train"), "xs", 0)
    assert cpu["settings"]["precision"] == "fp32" and "device" not in cpu
    assert gpu["settings"]["precision"] == "bf16" and gpu["device"] == CUDA
    assert sft_key(config, "xs") != sft_key(on_gpus(config, "xs", "train"), "xs")
    # fp32 on a GPU is still not the CPU build
    config["training"]["precision"] = "fp32"
    assert sft_key(config, "xs") != sft_key(on_gpus(config, "xs", "train"), "xs")
    # auto on the CPU is what fp32 on the CPU runs: one key
    assert sft_key(config, "xs") == sft_key({**config, "training": {**config["training"], "precision": "auto"}}, "xs")


def test_evaluation_keys_hold_dtype_and_device():
    config = demo()
    assert config["evaluation"]["dtype"] == "auto"
    cpu = study.eval_spec(config, study.Cell("xs", "curated", 10, 0), 1)
    gpu = study.eval_spec(on_gpus(config, "xs", "evaluate"), study.Cell("xs", "curated", 10, 0), 1)
    assert cpu["dtype"] == "float32" and "device" not in cpu
    assert gpu["dtype"] == "bfloat16" and gpu["device"] == CUDA
    assert eval_key(config, "xs") != eval_key(on_gpus(config, "xs", "evaluate"), "xs")
    # The training resources do not key the evaluation, nor the reverse.
    assert eval_key(config, "xs") == eval_key(on_gpus(config, "xs", "train"), "xs")
    assert sft_key(config, "xs") == sft_key(on_gpus(config, "xs", "evaluate"), "xs")


def test_demo_training_keys_are_unchanged():
    assert {ms: sft_key(demo(), ms) for ms in DEMO_SFT_KEYS} == DEMO_SFT_KEYS


def test_the_papers_gpu_cells_are_keyed_for_gpus():
    paper = study.load_config(ROOT / "config" / "studies" / "doit-paper.yaml")
    spec = study.sft_spec(paper, "33b", 0)
    assert spec["device"] == CUDA and spec["settings"]["precision"] == "bf16"
    assert study.eval_spec(paper, study.Cell("33b", "curated", 10, 0), 5)["device"] == CUDA


def test_a_job_keyed_for_gpus_stops_without_one(tmp_path, demo_suite_dir):
    with pytest.raises(DeviceMismatch, match="keyed for cuda but no GPU is visible"):
        check_running(CUDA, "bf16", Device(CPU), "training")
    with pytest.raises(DeviceMismatch, match="this GPU has no bf16"):
        check_running(CUDA, "bf16", Device(CUDA, bf16=False), "training")
    check_running(CUDA, "fp16", Device(CUDA, bf16=False), "training")
    check_running(CPU, "fp32", Device(CUDA, bf16=True), "training")  # a CPU job runs on the CPU anyway
    # An evaluation keyed for a GPU, on this CPU machine: stopped before any model is loaded.
    spec = {**study.eval_spec(on_gpus(demo(), "xs", "evaluate"), study.Cell("xs", "curated", 10, 0), 1)}
    with pytest.raises(DeviceMismatch, match="keyed for cuda"):
        artifacts.build_predictions(Store(tmp_path / "store"), Path(tmp_path / "no-model"), "m",
                                    Artifact("suite", "s", demo_suite_dir), spec)
