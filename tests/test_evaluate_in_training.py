"""evaluation.in_training_job: a training job evaluates its epochs once trained, and its evaluate jobs
find exactly the predictions they would have built."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from growthpace import artifacts
from growthpace.data.loaders import load_json
from growthpace.store import Artifact, Store

from .conftest import write_jsonl

ABILITIES = ["biology", "math", "ethics"]
SPEC = {"abilities": ABILITIES, "splits": ["valid"], "batch_size": 8, "dtype": "float32",
        "max_new_tokens": {"math": 8, "single_choice": 4, "true_false": 4}}
SETTINGS = {"epochs": 2, "max_len": 64, "batch_size": 4, "micro_batch_size": 2, "min_steps": 0, "lr": 5e-3}


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_suite_dir, llama_checkpoints):
    """A cell trained by two processes under torchrun that evaluates epoch 1 as its evaluate job would,
    and epoch 2 with a spec its CPU cannot run (keyed for a GPU): the job must still complete."""
    root = tmp_path_factory.mktemp("in-training")
    records = [r for f in sorted((demo_suite_dir / "curated" / "1000").glob("*.json")) for r in load_json(f)][:6]
    write_jsonl(root / "subset" / "train.jsonl", [{k: v for k, v in r.items() if not k.startswith("_")}
                                                  for r in records])
    store = Store(root / "store")
    suite = artifacts.build_suite(store, {"source_dir": str(demo_suite_dir)})
    driver = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from growthpace import artifacts\n"
        "from growthpace.store import Artifact, Store, read_receipt\n"
        "a = json.loads(sys.argv[1])\n"
        "suite = Artifact(**{**a['suite'], 'path': Path(a['suite']['path'])})\n"
        "sft = artifacts.build_sft(Store(a['store']), Artifact('base_model', 'b', Path(a['base'])),\n"
        "                          Artifact('subset', 's', Path(a['subset'])), {'settings': a['settings']},\n"
        "                          nproc=2, threads=1,\n"
        "                          evaluate={'suite': suite, 'threads': 1, 'epochs': a['epochs']})\n"
        "print(json.dumps({'sft': sft.receipt(), 'torch': 'torch' in sys.modules}))\n")
    args = {"store": str(store.root), "suite": suite.receipt(), "base": str(llama_checkpoints["safetensors"]),
            "subset": str(root / "subset"), "settings": SETTINGS,
            "epochs": {"1": SPEC, "2": {**SPEC, "device": "cuda"}}}
    done = subprocess.run([sys.executable, "-c", driver, json.dumps(args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    sft = Artifact("sft", result["sft"]["key"], Path(result["sft"]["path"]))
    return store, suite, sft, result, done.stdout + done.stderr


def test_the_training_job_builds_what_the_evaluate_job_would(trained, tmp_path):
    store, suite, sft, result, output = trained
    assert result["torch"] is False  # the job's own process launched, the worker evaluated
    evaluated = read(sft.path / "train_metrics.json")["evaluated_in_job"]
    key = evaluated["1"]
    manifest = store.manifest("predictions", key)
    assert manifest["inputs"]["model"] == artifacts.checkpoint_key(sft.key, 1)
    # Independently: the same checkpoint evaluated in this process, in a store of its own.
    other = Store(tmp_path / "other")
    again = artifacts.build_predictions(other, sft.path / "epochs" / "epoch-1", artifacts.checkpoint_key(sft.key, 1),
                                        artifacts.build_suite(other, {"source_dir": str(artifacts.suite_root(suite))}),
                                        SPEC, threads=1)
    assert again.key == key
    mine = pd.read_parquet(store.path("predictions", key) / "predictions.parquet")
    theirs = pd.read_parquet(again.path / "predictions.parquet")
    assert len(mine) == sum(len(load_json(p)) for a in ABILITIES
                            for p in (artifacts.suite_root(suite) / "curated" / "valid").glob(f"{a}_valid.json"))
    pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


def test_the_evaluate_job_finds_them_without_importing_torch(trained, tmp_path):
    store, suite, sft, _, _ = trained
    key = read(sft.path / "train_metrics.json")["evaluated_in_job"]["1"]
    built_at = store.manifest("predictions", key)["built_at"]
    out = tmp_path / "epoch1.parquet"
    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "from growthpace import artifacts\n"
            "from growthpace.store import Artifact, Store\n"
            "a = json.loads(sys.argv[1])\n"
            "art = lambda r: Artifact(r['kind'], r['key'], Path(r['path']))\n"
            "artifacts.evaluate_checkpoint(Store(a['store']), art(a['suite']), art(a['sft']), 1, a['spec'],\n"
            "                              {'model_size': 'xs'}, a['out'], threads=1)\n"
            "print(json.dumps('torch' in sys.modules))\n")
    args = {"store": str(store.root), "suite": suite.receipt(), "sft": sft.receipt(), "spec": SPEC, "out": str(out)}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) is False
    assert store.manifest("predictions", key)["built_at"] == built_at  # found, not built again
    labelled = pd.read_parquet(out)
    assert set(labelled.predictions_key) == {key} and set(labelled.epoch) == {1}
    assert len(labelled) == len(pd.read_parquet(store.path("predictions", key) / "predictions.parquet"))


def test_an_epoch_it_cannot_evaluate_is_left_to_its_evaluate_job(trained):
    """Epoch 2's spec is keyed for a GPU: the training job logs why and completes; nothing is stored."""
    store, suite, sft, _, output = trained
    evaluated = read(sft.path / "train_metrics.json")["evaluated_in_job"]
    assert "cuda" in evaluated["2"] and not store.exists("predictions", evaluated["2"])
    assert "epoch 2 was not evaluated in the training job (its evaluate job will do it)" in output
    built = [read(m)["inputs"]["model"] for m in store.root.glob("predictions/*/manifest.json")]
    assert built == [artifacts.checkpoint_key(sft.key, 1)]
    assert sorted(p.name for p in (sft.path / "epochs").iterdir()) == ["epoch-1", "epoch-2"]


HEAP_PROBE = """
import ctypes, json, sys
from growthpace.train.launch import heap_for_evaluation

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def mapped_while_held():  # whether an 8 MiB block comes from its own mapping
    before = libc.mallinfo2().hblks
    block = bytearray(8 << 20)
    return libc.mallinfo2().hblks > before

first = mapped_while_held()
heap_for_evaluation()
print(json.dumps([first, mapped_while_held()]))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")
def test_the_training_processes_heap_serves_evaluation_as_an_evaluate_jobs_does():
    """Training processes map every block of 4 MiB or more (LOW_MEMORY_ENV); before evaluating, blocks of
    that size come from the heap again."""
    from growthpace.train.launch import LOW_MEMORY_ENV, launch_env

    env = launch_env()
    assert env["MALLOC_MMAP_THRESHOLD_"] == LOW_MEMORY_ENV["MALLOC_MMAP_THRESHOLD_"]
    done = subprocess.run([sys.executable, "-c", HEAP_PROBE], env=env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [True, False]
