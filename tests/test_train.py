"""SFT through HF Trainer: the loss goes down, one weights-only snapshot per epoch, the schedule used."""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from growthpace.train.sft import NoTrainableTokens, SFTSettings, plan_repeats, train_sft

RECORDS = [
    {"messages": [{"role": "user", "content": f"细胞{i}"}, {"role": "assistant", "content": "生命的基本单位"}],
     "type": "biology", "question_format": 0}
    for i in range(6)
]


def test_sft_learns_and_snapshots_every_epoch(tiny_model_dir, tmp_path):
    settings = SFTSettings(lr=1e-2, end_lr=1e-3, batch_size=4, micro_batch_size=2, epochs=3, min_steps=12,
                           max_len=64)
    info = train_sft(tiny_model_dir, RECORDS, tmp_path / "out", tmp_path / "work", settings)
    # 12 steps over 3 epochs = 4 steps (16 items) per epoch: 3 copies of the 6 items = 18 items = 5 steps.
    assert info["repeats_per_epoch"] == plan_repeats(6, settings) == 3
    assert info["steps"] == 3 * math.ceil(18 / 4) == 15
    assert info["last_loss"] < info["first_loss"] * 0.6
    # Linear decay from lr (used at the first step) towards end_lr (reached after the last step).
    assert info["first_lr"] == pytest.approx(1e-2, rel=1e-6)
    assert info["last_lr"] == pytest.approx(1e-3 + (1e-2 - 1e-3) * 1 / 15, rel=1e-6)
    for epoch in (1, 2, 3):
        d = tmp_path / "out" / "epochs" / f"epoch-{epoch}"
        assert (d / "model.safetensors").is_file()
        assert not list(d.glob("optimizer*")) and not list(d.glob("*.pt"))
    m1 = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "epochs" / "epoch-1")
    m3 = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "epochs" / "epoch-3")
    diff = sum(float((a - b).abs().sum()) for a, b in zip(m1.state_dict().values(), m3.state_dict().values()))
    assert diff > 0


def test_plan_repeats():
    s = SFTSettings(batch_size=64, epochs=15, min_steps=0)
    assert plan_repeats(10, s) == 1
    s = SFTSettings(batch_size=64, epochs=15, min_steps=150)
    assert plan_repeats(10, s) == 58          # 10 steps per epoch need > 576 items: 58 copies of 10
    assert plan_repeats(10_000, s) == 1       # 157 steps per epoch already
    for n in (1, 7, 10, 100, 640, 5000):
        r = plan_repeats(n, s)
        assert 15 * math.ceil(n * r / 64) >= 150                      # enough steps
        assert r == 1 or 15 * math.ceil(n * (r - 1) / 64) < 150      # and no more copies than needed


def test_no_trainable_tokens_is_a_clear_error(tiny_model_dir, tmp_path):
    long_user = [{"messages": [{"role": "user", "content": "细" * 100}, {"role": "assistant", "content": "胞"}],
                  "type": "biology", "question_format": 0}]
    with pytest.raises(NoTrainableTokens, match="max_len=16"):
        train_sft(tiny_model_dir, long_user, tmp_path / "o", tmp_path / "w", SFTSettings(max_len=16, epochs=1))


def test_unknown_setting_is_named():
    with pytest.raises(KeyError, match="learning_rate"):
        SFTSettings.from_dict({"learning_rate": 1e-3})


def test_pretrain_lowers_loss(char_tokenizer, tmp_path):
    from growthpace.models.tiny import pretrain

    lines = ["生物学研究生命。细胞是生命的基本单位。"] * 200
    arch = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
            "intermediate_size": 64}
    info = pretrain(char_tokenizer, lines, arch, tmp_path / "base", steps=40, batch_size=8, seq_len=32, lr=5e-3)
    losses = [h["loss"] for h in info["log_history"] if "loss" in h]
    assert losses[-1] < losses[0] * 0.5
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "base")
    assert (tmp_path / "base" / "model.safetensors").is_file()
    assert sum(p.numel() for p in model.parameters()) == info["parameters"]
    assert isinstance(model.model.embed_tokens.weight, torch.Tensor)
