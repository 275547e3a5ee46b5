"""SFT cells launched like the workflow launches them (torchrun / deepspeed launcher, real DeepSpeed ZeRO).

Each cell trains a tiny model from a local directory, then the test checks: the loss went down, the
epoch snapshots load with AutoModelForCausalLM with the expected parameter shapes and trained weights,
the learning rate in the optimizer at the first and last step follows the linear schedule lr -> end_lr
(computed here independently), and the optimizer is torch AdamW with the configured betas.
"""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from growthpace.models.chat import ASSISTANT, EOT, USER
from growthpace.train.launch import run_cell

from .conftest import write_jsonl

RECORDS = [
    {"messages": [{"role": "user", "content": f"细胞{i}是什么？"}, {"role": "assistant", "content": "生命的基本单位。"}],
     "type": "biology", "question_format": 0}
    for i in range(8)
]
SETTINGS = {"lr": 1e-2, "end_lr": 1e-3, "batch_size": 4, "micro_batch_size": 2, "epochs": 3, "min_steps": 12,
            "max_len": 64, "adam_beta1": 0.9, "adam_beta2": 0.95, "weight_decay": 0.1}


def expected_lr(step: int, total: int, lr: float, end_lr: float) -> float:
    """The lr used by optimiser step ``step`` (1-based) of ``total``: lr at the first, end_lr after the last."""
    return end_lr + (lr - end_lr) * (total - (step - 1)) / total


def run(tmp_path, base_dir, settings, launcher="torchrun"):
    train_file = write_jsonl(tmp_path / "train.jsonl", RECORDS)
    job = {"base_model_dir": str(base_dir), "train_file": str(train_file), "out_dir": str(tmp_path / "out"),
           "work_dir": str(tmp_path / "trainer"), "settings": settings}
    return run_cell(job, tmp_path / "run", nproc=1, launcher=launcher, threads=1)


def check_cell(info, tmp_path, base_dir, settings):
    # 8 items; 12 steps over 3 epochs need 4 steps of 4 per epoch: 2 copies (16 items) = 4 steps.
    assert info["repeats_per_epoch"] == 2 and info["steps"] == 12
    assert info["last_loss"] < info["first_loss"] * 0.7
    # The optimizer that actually stepped, at every step.
    assert info["optimizer_class"] == "torch.optim.adamw.AdamW"
    steps = info["optimizer_steps"]
    assert [s["step"] for s in steps] == list(range(1, 13))
    for s in steps:
        assert s["betas"] == [0.9, 0.95] and s["weight_decay"] == pytest.approx(0.1)
    lr, end = settings["lr"], settings["end_lr"]
    assert steps[0]["lr"] == pytest.approx(lr, rel=1e-9)
    assert steps[-1]["lr"] == pytest.approx(expected_lr(12, 12, lr, end), rel=1e-9)
    for s in steps:
        assert s["lr"] == pytest.approx(expected_lr(s["step"], 12, lr, end), rel=1e-9)
    assert info["final_scheduler_lr"] == pytest.approx(end, rel=1e-9)
    # Weights-only snapshots that load as HF models with the resized vocabulary.
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    tok = AutoTokenizer.from_pretrained(tmp_path / "out" / "epochs" / "epoch-3")
    for epoch in (1, 2, 3):
        d = tmp_path / "out" / "epochs" / f"epoch-{epoch}"
        assert sorted(p.name for p in d.iterdir() if not p.name.endswith(".json") and not p.name.endswith(".jinja")) \
            == ["model.safetensors"]
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "epochs" / "epoch-3")
    assert model.get_input_embeddings().weight.shape == (len(tok), base.config.hidden_size)
    saved = load_file(tmp_path / "out" / "epochs" / "epoch-3" / "model.safetensors")
    for name, tensor in saved.items():  # gathered full tensors, not empty ZeRO-3 shards
        ref = base.state_dict()[name]
        if name.endswith(("embed_tokens.weight", "lm_head.weight", "wte.weight")):
            assert tensor.shape == (len(tok), ref.shape[1]), name
        else:
            assert tensor.shape == ref.shape, name
    changed = [n for n, t in saved.items() if t.shape == base.state_dict()[n].shape
               and not torch.equal(t, base.state_dict()[n])]
    assert len(changed) >= len(saved) // 2
    # The reloaded model is the trained one: its loss on the training data is the logged last loss' scale.
    ids = tok(USER + "细胞1是什么？" + EOT + ASSISTANT + "生命的基本单位。" + EOT, add_special_tokens=False,
              return_tensors="pt")["input_ids"]
    with torch.no_grad():
        trained_loss = float(model(ids, labels=ids).loss)
        base.resize_token_embeddings(len(tok))
        base_loss = float(base(ids, labels=ids).loss)
    assert trained_loss < base_loss
    # What the bytes figures say: a checkpoint with optimizer state costs more than the weights alone.
    assert info["checkpoint_bytes_with_optimizer"] > 2 * (tmp_path / "out" / "epochs" / "epoch-3" /
                                                        "model.safetensors").stat().st_size
    assert info["bytes_if_every_epoch_with_optimizer"] == 3 * info["checkpoint_bytes_with_optimizer"]
    assert info["tokens_seen"] == 3 * info["tokens_per_epoch"]
    assert info["peak_memory_bytes"] > 0 and info["tokens_per_second"] > 0
    # Where the cell's time went: phases in order, each within the whole launched cell.
    phases = info["phase_seconds"]
    assert list(phases) == ["process_start", "tokenize", "process_group", "training_arguments", "load_model",
                            "trainer", "engine_setup", "loop", "after_loop"]
    assert all(v >= 0 for v in phases.values())
    assert sum(phases.values()) <= info["cell_seconds"]
    # The Trainer's own loop sits inside the time measured around trainer.train().
    assert phases["engine_setup"] + phases["loop"] <= info["wall_seconds"] + 0.05


@pytest.mark.parametrize("stage,launcher", [(2, "deepspeed"), (3, "torchrun")])
def test_deepspeed_cell_on_tiny_llama(tiny_model_dir, tmp_path, stage, launcher, monkeypatch):
    # A compile of DeepSpeed's CPU shared-memory op killed half-way leaves a lock that a later compile
    # waits on forever; training never uses that op, so it must start without compiling it.
    ops = tmp_path / "torch_extensions"
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(ops))
    settings = {**SETTINGS, "engine": "deepspeed", "zero_stage": stage}
    info = run(tmp_path, tiny_model_dir, settings, launcher)
    assert not ops.exists() or not any(ops.rglob("*")), sorted(map(str, ops.rglob("*")))
    assert info["engine"] == "deepspeed" and info["zero_stage"] == stage and info["world_size"] == 1
    check_cell(info, tmp_path, tiny_model_dir, settings)


def test_plain_trainer_cell(tiny_model_dir, tmp_path):
    settings = {**SETTINGS, "engine": "trainer"}
    info = run(tmp_path, tiny_model_dir, settings)
    assert info["engine"] == "trainer" and info["zero_stage"] is None
    check_cell(info, tmp_path, tiny_model_dir, settings)


@pytest.fixture(scope="module")
def qwen2_dir(tmp_path_factory):
    """A tiny Qwen2 (untied embeddings, qkv bias) with a byte-level BPE tokenizer that already has
    additional special tokens, as Qwen's own tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out = tmp_path_factory.mktemp("qwen2")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], show_progress=False)
    tok.train_from_iterator([r["messages"][0]["content"] + r["messages"][1]["content"] for r in RECORDS] * 5, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                 additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    hf.save_pretrained(out)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(hf), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
                         tie_word_embeddings=False, eos_token_id=hf.eos_token_id)
    Qwen2ForCausalLM(config).save_pretrained(out, safe_serialization=True)
    return out


def test_deepspeed_cell_on_tiny_qwen2_keeps_its_special_tokens(qwen2_dir, tmp_path):
    before = AutoTokenizer.from_pretrained(qwen2_dir)
    settings = {**SETTINGS, "engine": "deepspeed", "zero_stage": 3}
    info = run(tmp_path, qwen2_dir, settings)
    check_cell(info, tmp_path, qwen2_dir, settings)
    snap = tmp_path / "out" / "epochs" / "epoch-3"
    assert json.loads((snap / "config.json").read_text())["model_type"] == "qwen2"
    after = AutoTokenizer.from_pretrained(snap)
    assert {"<|im_start|>", "<|im_end|>", USER, ASSISTANT, EOT, after.pad_token} <= set(after.all_special_tokens)
    for t in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert after.convert_tokens_to_ids(t) == before.convert_tokens_to_ids(t)
    assert len(after) == len(before) + 3 + (before.pad_token is None)
    model = AutoModelForCausalLM.from_pretrained(snap)
    assert model.lm_head.weight.shape == (len(after), 32)  # untied output layer resized too
