"""Bad inputs to a training cell stop it with a clear error before anything is trained: the settings and
a path model changed since its key before any process is launched, the model directory and the data
in the launched process before it loads anything."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from growthpace import artifacts
from growthpace.store import Artifact, Store
from growthpace.train.checks import (BaseModelChanged, ModelDirError, UnknownModelSize, check_model_dir,
                                      settings_for_size)
from growthpace.train.deepspeed_config import deepspeed_config
from growthpace.train.launch import launch_command
from growthpace.train.sft import NoTrainableTokens, SFTSettings

from .conftest import write_jsonl

GOOD = [{"messages": [{"role": "user", "content": "细胞"}, {"role": "assistant", "content": "生命"}],
         "type": "biology", "question_format": 0}]


def build(tmp_path, model_dir, records=GOOD, settings=None):
    write_jsonl(tmp_path / "subset" / "train.jsonl", records)
    store = Store(tmp_path / "store")
    return artifacts.build_sft(store, Artifact("base_model", "b", Path(model_dir)),
                            Artifact("subset", "s", tmp_path / "subset"),
                            {"settings": {"epochs": 1, "max_len": 16, **(settings or {})}})


def nothing_launched(tmp_path):
    return not list((tmp_path / "store").glob("sft/.work-*/job.json"))


def copy_model(src, dst, drop=(), config=None):
    shutil.copytree(src, dst)
    for name in drop:
        for f in dst.glob(name):
            f.unlink()
    if config is not None:
        (dst / "config.json").write_text(config)
    return dst


@pytest.mark.parametrize("drop,config,message", [
    ((), None, "does not exist"),
    (("config.json",), None, "has no config.json"),
    ((), '{"model_type": "llama", ', "config.json: not valid JSON"),
    ((), '{"model_type": "vit"}', "model_type 'vit' is not a causal language model"),
    ((), '{"hidden_size": 32}', "model_type None is not a causal language model"),
    (("*.safetensors",), None, "has no weights"),
    (("tokenizer*",), None, "has no tokenizer"),
])
def test_bad_model_directory(tiny_model_dir, tmp_path, drop, config, message):
    model_dir = tmp_path / "missing" if message == "does not exist" else \
        copy_model(tiny_model_dir, tmp_path / "model", drop, config)
    with pytest.raises(ModelDirError, match=message) as e:
        check_model_dir(model_dir)
    assert str(model_dir) in str(e.value)


def test_the_workers_checks_stop_a_cell_with_their_own_error(tiny_model_dir, tmp_path):
    """A training job's launched processes check the model directory and the data before they load
    anything; the job raises the check's own error (class, file, problem), with one process or three
    under torchrun, trains nothing, and its own process never imports torch for the checks."""
    no_config = copy_model(tiny_model_dir, tmp_path / "model", ("config.json",))
    long_user = [{"messages": [{"role": "user", "content": "细" * 40}, {"role": "assistant", "content": "胞"}],
                  "type": "biology", "question_format": 0}]
    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "from growthpace import artifacts\n"
            "from growthpace.store import Artifact, Store\n"
            "out = []\n"
            "for root, model, records, nproc in json.loads(sys.argv[1]):\n"
            "    root = Path(root)\n"
            "    (root / 'subset').mkdir(parents=True)\n"
            "    (root / 'subset' / 'train.jsonl').write_text(''.join(json.dumps(r) + '\\n' for r in records))\n"
            "    try:\n"
            "        artifacts.build_sft(Store(root / 'store'), Artifact('base_model', 'b', Path(model)),\n"
            "                            Artifact('subset', 's', root / 'subset'),\n"
            "                            {'settings': {'epochs': 1, 'max_len': 16, 'micro_batch_size': 1}}, nproc=nproc)\n"
            "    except Exception as e:\n"
            "        out.append([type(e).__name__, str(e)])\n"
            "print(json.dumps({'errors': out, 'torch': 'torch' in sys.modules}))\n")
    runs = [[str(tmp_path / "a"), str(no_config), GOOD, 1], [str(tmp_path / "b"), str(tiny_model_dir), long_user, 3]]
    done = subprocess.run([sys.executable, "-c", code, json.dumps(runs)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False
    (bad_dir, bad_dir_message), (no_tokens, no_tokens_message) = result["errors"]
    assert bad_dir == "ModelDirError" and f"model directory {no_config} has no config.json" in bad_dir_message
    assert no_tokens == "NoTrainableTokens"
    assert "none of the 1 training records has an assistant token within max_len=16" in no_tokens_message
    for run in ("a", "b"):  # launched, stopped before any training: no Trainer checkpoint, no snapshot
        assert list((tmp_path / run / "store").glob("sft/.work-*/job.json"))
        assert not list((tmp_path / run / "store").glob("sft/.work-*/trainer/checkpoint-*"))
        assert not list((tmp_path / run / "store").glob("sft/*/epochs"))


@pytest.mark.parametrize("settings,message", [
    ({"engine": "megatron"}, "engine: 'megatron' is not one of deepspeed, trainer"),
    ({"zero_stage": 4}, "zero_stage: 4 is not one of 0, 1, 2, 3"),
    ({"precision": "fp8"}, "precision: 'fp8' is not one of"),
])
def test_bad_engine_settings(tiny_model_dir, tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        build(tmp_path, tiny_model_dir, settings=settings)
    assert nothing_launched(tmp_path)


def test_unknown_model_size_is_named():
    sizes = {"xs": {"sft": {"zero_stage": 3}}, "s": {}}
    assert settings_for_size({"zero_stage": 2}, {}, sizes, "xs")["zero_stage"] == 3
    assert settings_for_size({"zero_stage": 2}, {"zero_stage": 1}, sizes, "s")["zero_stage"] == 1
    with pytest.raises(UnknownModelSize, match="unknown model size 'xl'; models.sizes defines s, xs"):
        settings_for_size({}, {}, sizes, "xl")


def test_check_model_dir_accepts_a_real_one(tiny_model_dir):
    assert check_model_dir(tiny_model_dir) == Path(tiny_model_dir)


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_deepspeed_config_leaves_optimizer_and_schedule_to_trainer(stage):
    cfg = deepspeed_config(stage, 64)
    assert "optimizer" not in cfg and "scheduler" not in cfg
    assert cfg["zero_optimization"]["stage"] == stage
    assert cfg["train_micro_batch_size_per_gpu"] == cfg["gradient_accumulation_steps"] == "auto"
    assert cfg["zero_optimization"].get("stage3_gather_16bit_weights_on_model_save", False) == (stage == 3)
    json.dumps(cfg)  # plain JSON, as a launcher's config file would be


def test_launch_commands_name_the_processes(tmp_path):
    cmd = launch_command(tmp_path / "job.json", tmp_path / "m.json", 4, "torchrun", threads=2)
    assert "--nproc_per_node=4" in cmd and cmd[cmd.index("-m", 3) + 1] == "growthpace.train"
    # One process needs no launcher (run_cell gives it torchrun's environment).
    cmd = launch_command(tmp_path / "job.json", tmp_path / "m.json", 1, "torchrun")
    assert cmd[1:3] == ["-m", "growthpace.train"] and "torch.distributed.run" not in cmd
    cmd = launch_command(tmp_path / "job.json", tmp_path / "m.json", 2, "deepspeed")
    assert "--num_gpus=2" in cmd and "growthpace.train" in cmd
    with pytest.raises(ValueError, match="launcher: 'mpirun'"):
        launch_command(tmp_path / "job.json", tmp_path / "m.json", 1, "mpirun")
    with pytest.raises(ValueError, match="nproc: 0"):
        launch_command(tmp_path / "job.json", tmp_path / "m.json", 0)


def test_settings_defaults_are_the_papers():
    s = SFTSettings()
    assert (s.adam_beta1, s.adam_beta2, s.weight_decay, s.lr, s.end_lr, s.batch_size, s.epochs) == \
        (0.9, 0.95, 0.1, 1e-5, 1e-6, 64, 15)
    assert (s.engine, s.zero_stage) == ("deepspeed", 2)


@pytest.mark.parametrize("edit,problem", [
    (lambda d: (d / "config.json").write_text((d / "config.json").read_text() + " "), "config.json: changed"),
    (lambda d: next(d.glob("*.safetensors")).unlink(), ".safetensors: removed"),
    (lambda d: (d / "extra.bin").write_bytes(b"x"), "extra.bin: added"),
])
def test_a_path_base_model_changed_after_its_key_stops_training(tiny_model_dir, tmp_path, edit, problem):
    """The key of a path model is computed when ``base_model`` runs; its training job may start days
    later. An edit in between stops the job, naming the file, before any process is launched."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    store = Store(tmp_path / "store")
    base = artifacts.build_base_model(store, None, None, {"path": str(model)})
    assert base.path == model.resolve()
    write_jsonl(tmp_path / "subset" / "train.jsonl", GOOD)
    subset = Artifact("subset", "s", tmp_path / "subset")
    artifacts.check_base_unchanged(store, base)  # unchanged: passes
    edit(model)
    with pytest.raises(BaseModelChanged, match=problem) as e:
        artifacts.build_sft(store, base, subset, {"settings": {"epochs": 1, "max_len": 16}})
    assert str(model.resolve()) in str(e.value)
    assert nothing_launched(tmp_path)
