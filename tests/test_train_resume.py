"""A training cell killed mid-run (SIGTERM or SIGKILL) resumes from its last epoch checkpoint.

The cell runs as the workflow runs it: a process calling ``artifacts.build_sft``, which launches torchrun
and the training worker. The test kills the whole process group, as a scheduler does, once an epoch
checkpoint is complete, runs the cell again, and compares the final weights with those of an
uninterrupted run tensor by tensor. On the CPU, with the same seed and thread count, the resumed run
restores model, optimizer, scheduler and RNG states, so the weights match exactly.
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
from growthpace.store import Artifact, Store

from .conftest import write_jsonl

RECORDS = [
    {"messages": [{"role": "user", "content": f"问题{i}：" + "细胞" * (i % 5 + 1)},
                  {"role": "assistant", "content": "生命的基本单位" + "。" * (i % 3)}],
     "type": "biology", "question_format": 0}
    for i in range(24)
]
# Enough epochs and steps that the run is still going when the first checkpoint appears.
SETTINGS = {"lr": 5e-3, "end_lr": 5e-4, "batch_size": 4, "micro_batch_size": 2, "epochs": 8, "min_steps": 0,
            "max_len": 64, "engine": "deepspeed", "zero_stage": 2}

DRIVER = """
import json, sys
from pathlib import Path
from growthpace import artifacts
from growthpace.store import Artifact, Store
a = json.loads(sys.argv[1])
artifacts.build_sft(Store(a["store"]), Artifact("base_model", "base", Path(a["base"])),
                 Artifact("subset", "subset", Path(a["subset"])), {"settings": a["settings"]}, threads=1)
"""


@pytest.fixture(scope="module")
def cell(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("resume")
    write_jsonl(root / "subset" / "train.jsonl", RECORDS)
    return {"base": str(tiny_model_dir), "subset": str(root / "subset"), "settings": SETTINGS}


def build(store_dir, cell):
    return artifacts.build_sft(Store(store_dir), Artifact("base_model", "base", Path(cell["base"])),
                            Artifact("subset", "subset", Path(cell["subset"])), {"settings": cell["settings"]},
                            threads=1)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cell):
    return build(tmp_path_factory.mktemp("straight"), cell)


def final_weights(artifact):
    return load_file(artifact.path / "epochs" / f"epoch-{SETTINGS['epochs']}" / "model.safetensors")


def checkpoints(store_dir):
    return sorted(store_dir.glob("sft/.work-*/trainer/checkpoint-*/trainer_state.json"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_cell_resumes_to_the_same_weights(tmp_path, cell, uninterrupted, sig):
    store_dir = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps({**cell, "store": str(store_dir)})],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not checkpoints(store_dir) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the cell ended before its first epoch checkpoint could be interrupted"
    os.killpg(proc.pid, sig)  # the whole tree, as a scheduler cancelling the job does
    proc.wait(timeout=60)
    time.sleep(0.5)  # let the launched processes finish dying
    done = checkpoints(store_dir)
    assert done, "no complete epoch checkpoint to resume from"
    last_epoch = max(round(json.loads(p.read_text())["epoch"]) for p in done)
    assert 1 <= last_epoch < SETTINGS["epochs"], "the kill did not land mid-run"
    assert not [d for d in (store_dir / "sft").iterdir() if (d / "manifest.json").is_file()]  # not complete

    resumed = build(store_dir, cell)
    metrics = json.loads((resumed.path / "train_metrics.json").read_text())
    assert metrics["resumed_from_epoch"] >= last_epoch
    steps_per_epoch = metrics["steps"] // SETTINGS["epochs"]
    # The optimizer stepped only for the epochs after the checkpoint.
    assert metrics["optimizer_steps"][0]["step"] == metrics["resumed_from_epoch"] * steps_per_epoch + 1
    assert len(metrics["optimizer_steps"]) == (SETTINGS["epochs"] - metrics["resumed_from_epoch"]) * steps_per_epoch
    assert sorted(p.name for p in (resumed.path / "epochs").iterdir()) == \
        [f"epoch-{k}" for k in range(1, SETTINGS["epochs"] + 1)]
    assert not list((store_dir / "sft").glob(".work-*"))  # optimizer states gone once complete

    want, got = final_weights(uninterrupted), final_weights(resumed)
    assert want.keys() == got.keys()
    for name in want:
        assert torch.equal(want[name], got[name]), name
    # Every epoch's snapshot, not only the last, matches the uninterrupted run.
    for k in range(1, SETTINGS["epochs"] + 1):
        a = load_file(uninterrupted.path / "epochs" / f"epoch-{k}" / "model.safetensors")
        b = load_file(resumed.path / "epochs" / f"epoch-{k}" / "model.safetensors")
        assert all(torch.equal(a[n], b[n]) for n in a), f"epoch {k}"
