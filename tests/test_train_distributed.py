"""One training cell in 2 or 3 processes (torchrun, gloo on the CPU) against the same cell in 1 process,
on cell sizes that the global batch does not divide.

The 2-process runs train 13 items at a global batch of 8 (1 process: micro-batch 2 x 4 accumulation
steps; 2 processes: 2 x 2 each), 2 optimiser steps an epoch, the second of 5 items; the 3-process runs
26 items at a global batch of 6 (micro-batch 2: 3 accumulation steps in 1 process, 1 in 3), the last
step of 2 items, so two of the three processes take a blank row. Every optimiser step must see the same
items in both runs (``train.batches``: no copies), so under ZeRO-2 and under ZeRO-3 the N-process run
must give the 1-process run's losses and final weights. They can differ only by float rounding (the
order in which gradients are summed), hence the tolerances:

- losses: every step's loss within ``LOSS_RTOL`` (relative);
- weights: every parameter within ``WEIGHT_ATOL`` of the 1-process run's. Training moves the weights by
  far more than that (checked, so the comparison is not vacuous): one step moves a weight by up to the
  learning rate (5e-3).

The examples each step trained on (counted in the batches, blank rows left out) must be the plan's:
the cell's items times its repeats per epoch, in steps of the global batch.

The base model is the SentencePiece LLaMA fixture in sharded PyTorch ``.bin`` files; under ZeRO-3 it is
built under ``zero.Init`` in both runs. A 2-process ZeRO-3 run killed (SIGKILL to its process group)
mid-run resumes from its last epoch checkpoint, with each process's optimizer partition, to the weights
of the uninterrupted run.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from growthpace import artifacts
from growthpace.data.loaders import load_json
from growthpace.store import Artifact, Store

from .conftest import write_jsonl

LOSS_RTOL = 1e-5
WEIGHT_ATOL = 1e-4
EPOCHS = 4
ITEMS = 13
STEPS = 2  # per epoch: 8 + 5 items
SETTINGS = {"lr": 5e-3, "end_lr": 5e-4, "batch_size": 8, "micro_batch_size": 2, "epochs": EPOCHS, "min_steps": 0,
            "max_len": 96, "engine": "deepspeed", "seed": 0}

DRIVER = """
import json, sys
from pathlib import Path
from growthpace import artifacts
from growthpace.store import Artifact, Store
a = json.loads(sys.argv[1])
artifacts.build_sft(Store(a["store"]), Artifact("base_model", "base", Path(a["base"])),
                 Artifact("subset", "subset", Path(a["subset"])), {"settings": a["settings"]}, nproc=2, threads=1)
"""


@pytest.fixture(scope="module")
def cell(tmp_path_factory, demo_suite_dir, llama_checkpoints):
    """13 records of the demo suite: 2 optimiser steps of 8 and 5 per epoch."""
    return make_cell(tmp_path_factory.mktemp("cell"), demo_suite_dir, llama_checkpoints, ITEMS)


def make_cell(root, demo_suite_dir, llama_checkpoints, n):
    records = [r for f in sorted((demo_suite_dir / "curated" / "1000").glob("*.json")) for r in load_json(f)]
    assert len(records) >= n
    write_jsonl(root / "subset" / "train.jsonl", [{k: v for k, v in r.items() if not k.startswith("_")}
                                                  for r in records[:n]])
    return {"base": str(llama_checkpoints["bin-sharded"]), "subset": str(root / "subset")}


def build(store_dir, cell, stage, nproc, **settings):
    return artifacts.build_sft(Store(store_dir), Artifact("base_model", "base", Path(cell["base"])),
                            Artifact("subset", "subset", Path(cell["subset"])),
                            {"settings": {**SETTINGS, "zero_stage": stage, **settings}}, nproc=nproc, threads=1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cell):
    """{(stage, nproc): (metrics, final weights, artifact)}, each run once, when first asked for."""
    done = {}

    def get(stage, nproc):
        if (stage, nproc) not in done:
            sft = build(tmp_path_factory.mktemp(f"z{stage}n{nproc}"), cell, stage, nproc)
            metrics = json.loads((sft.path / "train_metrics.json").read_text())
            done[(stage, nproc)] = (metrics, final_weights(sft), sft)
        return done[(stage, nproc)]
    return get


def final_weights(sft):
    return load_file(sft.path / "epochs" / f"epoch-{EPOCHS}" / "model.safetensors")


def max_weight_difference(a, b):
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


@pytest.mark.parametrize("stage", [2, 3])
def test_two_processes_match_one(runs, llama_checkpoints, stage):
    one, w1, _ = runs(stage, 1)
    two, w2, sft = runs(stage, 2)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert one["zero_stage"] == two["zero_stage"] == stage
    assert one["steps"] == two["steps"] == STEPS * EPOCHS
    assert one["tokens_seen"] == two["tokens_seen"]  # the same items, counted over both processes
    # The plan's examples: 13 items an epoch (no repeats at min_steps 0), in steps of 8 and 5.
    for run in (one, two):
        assert run["repeats_per_epoch"] == 1
        assert run["examples_per_step"] == [8, 5] * EPOCHS
        assert run["examples_per_epoch"] == [ITEMS] * EPOCHS
        assert run["tokens_per_epoch_seen"] == [run["tokens_per_epoch"]] * EPOCHS
    assert len(one["losses"]) == len(two["losses"]) == STEPS * EPOCHS
    for step, (a, b) in enumerate(zip(one["losses"], two["losses"]), start=1):
        assert b == pytest.approx(a, rel=LOSS_RTOL), f"step {step}"
    assert one["losses"][-1] < one["losses"][0] * 0.9  # it trained
    assert max_weight_difference(w1, w2) <= WEIGHT_ATOL
    # Training moved the weights far beyond the tolerance, so matching within it means something.
    from growthpace.train.checks import weight_files

    base = {}
    for f in weight_files(llama_checkpoints["bin-sharded"]):
        base.update(torch.load(f, weights_only=True))
    moved = max(float((w2[k].float() - base[k].float()).abs().max()) for k in base if w2[k].shape == base[k].shape)
    assert moved > 100 * WEIGHT_ATOL
    # Read from .bin shards, written as safetensors only.
    for epoch in range(1, EPOCHS + 1):
        names = {p.name for p in (sft.path / "epochs" / f"epoch-{epoch}").iterdir()}
        assert "model.safetensors" in names and not {n for n in names if n.endswith((".bin", ".pt", ".pth"))}


def test_zero2_and_zero3_agree_in_two_processes(runs):
    """ZeRO-3 (parameters partitioned, built under zero.Init) trains the same model as ZeRO-2."""
    two2, w2, _ = runs(2, 2)
    two3, w3, _ = runs(3, 2)
    for a, b in zip(two2["losses"], two3["losses"]):
        assert b == pytest.approx(a, rel=LOSS_RTOL)
    assert max_weight_difference(w2, w3) <= WEIGHT_ATOL


def checkpoints(store_dir):
    return sorted(store_dir.glob("sft/.work-*/trainer/checkpoint-*/trainer_state.json"))


def test_two_process_run_killed_mid_run_resumes_to_the_same_weights(tmp_path, cell, runs):
    _, uninterrupted, _ = runs(3, 2)
    store_dir = tmp_path / "store"
    args = {**cell, "store": str(store_dir), "settings": {**SETTINGS, "zero_stage": 3}}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(args)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while not checkpoints(store_dir) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the cell ended before its first epoch checkpoint could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job, as a scheduler cancelling it does
    proc.wait(timeout=60)
    time.sleep(0.5)  # the launched workers die with their launcher
    done = checkpoints(store_dir)
    last_epoch = max(round(json.loads(p.read_text())["epoch"]) for p in done)
    assert 1 <= last_epoch < EPOCHS, "the kill did not land mid-run"
    # Each process saved its own partition of the optimizer state.
    partitions = list(store_dir.glob("sft/.work-*/trainer/checkpoint-*/global_step*/*optim_states.pt"))
    assert len({p.name for p in partitions}) == 2, partitions

    resumed = build(store_dir, cell, 3, 2)
    metrics = json.loads((resumed.path / "train_metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["resumed_from_epoch"] >= last_epoch
    assert len(metrics["optimizer_steps"]) == STEPS * (EPOCHS - metrics["resumed_from_epoch"])
    assert metrics["examples_per_epoch"] == [ITEMS] * (EPOCHS - metrics["resumed_from_epoch"])
    assert max_weight_difference(uninterrupted, final_weights(resumed)) <= WEIGHT_ATOL


def test_three_processes_match_one_with_blank_rows(tmp_path_factory, demo_suite_dir, llama_checkpoints):
    """25 items at a global batch of 6, micro-batch 2, at least 9 steps in 1 epoch: 2 repeats, 50
    examples in 8 steps of 6 and one of 2. In 3 processes that last step is one micro-batch, so two of
    the processes take a blank row."""
    root = tmp_path_factory.mktemp("three")
    cell = make_cell(root, demo_suite_dir, llama_checkpoints, 25)
    settings = {"batch_size": 6, "epochs": 1, "min_steps": 9}
    runs = {n: build(root / f"n{n}", cell, 2, n, **settings) for n in (1, 3)}
    one, three = (json.loads((runs[n].path / "train_metrics.json").read_text()) for n in (1, 3))
    assert (one["world_size"], three["world_size"]) == (1, 3)
    for run in (one, three):  # the plan: repeats for min_steps, 50 examples in steps of the global batch
        assert run["repeats_per_epoch"] == 2
        assert run["examples_per_step"] == [6] * 8 + [2]
        assert run["examples_per_epoch"] == [50]
        assert run["tokens_per_epoch_seen"] == [run["tokens_per_epoch"]]
    assert one["tokens_seen"] == three["tokens_seen"]
    for step, (a, b) in enumerate(zip(one["losses"], three["losses"], strict=True), start=1):
        assert b == pytest.approx(a, rel=LOSS_RTOL), f"step {step}"
    w1, w3 = (load_file(runs[n].path / "epochs" / "epoch-1" / "model.safetensors") for n in (1, 3))
    assert max_weight_difference(w1, w3) <= WEIGHT_ATOL
