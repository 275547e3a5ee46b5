"""``growthpace memory-plan``: parameter counts, DeepSpeed's estimates per model size, and warnings
when a size does not fit the resources it asks for (numbers checked against formulas written here)."""

import copy

import pytest
import torch

from growthpace.models.llama import CHINESE_LLAMA_VOCAB, LLAMA1_SHAPES, llama_config
from growthpace.study import load_config
from growthpace.train.checks import weight_files
from growthpace.train.memory_plan import GIB, count_parameters, memory_plan

from .conftest import ROOT

PAPER = ROOT / "config" / "studies" / "doit-paper.yaml"


def llama_params(vocab, hidden_size, num_hidden_layers, intermediate_size, **_):
    """Embeddings and untied output layer, per layer 4 attention and 3 MLP matrices and 2 norms, final norm."""
    h, i = hidden_size, intermediate_size
    return 2 * vocab * h + num_hidden_layers * (4 * h * h + 3 * h * i + 2 * h) + h


@pytest.fixture(scope="module")
def paper():
    return load_config(PAPER)


def test_llama1_parameter_counts():
    # LLaMA-1's own vocabulary gives its published sizes (6.7B, 13.0B, 32.5B)
    assert count_parameters(llama_config(32000, **LLAMA1_SHAPES["7b"]))[0] == 6_738_415_616
    assert count_parameters(llama_config(32000, **LLAMA1_SHAPES["13b"]))[0] == 13_015_864_320
    for shape in LLAMA1_SHAPES.values():
        total, largest = count_parameters(llama_config(CHINESE_LLAMA_VOCAB, **shape))
        assert total == llama_params(CHINESE_LLAMA_VOCAB, **shape)
        assert largest == CHINESE_LLAMA_VOCAB * shape["hidden_size"]  # the embedding (or output) matrix


def test_parameters_come_from_the_model_directory_when_it_exists(paper, llama_checkpoints):
    config = copy.deepcopy(paper)
    config["models"]["sizes"]["7b"]["path"] = str(llama_checkpoints["bin-sharded"])
    plan = {p.size: p for p in memory_plan(config)}
    raw = sum(t.numel() for f in weight_files(llama_checkpoints["bin-sharded"])
              for t in torch.load(f, weights_only=True).values())
    assert plan["7b"].parameters == raw and plan["7b"].source.endswith("config.json")
    assert plan["13b"].source.startswith("LLaMA-1 13b shape")


def test_the_papers_plan(paper):
    plans = {p.size: p for p in memory_plan(paper, gpu_memory_gib=80)}
    for size in ("7b", "13b"):  # ZeRO-2 on one node of 8 GPUs, DeepSpeed's formulas without offload
        p, n = plans[size], llama_params(CHINESE_LLAMA_VOCAB, **LLAMA1_SHAPES[size])
        assert p.parameters == n and (p.zero_stage, p.gpus) == (2, 8)
        assert p.states_gib == pytest.approx((2 * n + 18 * n / 8) / GIB, rel=1e-6)
        assert p.host_gib == pytest.approx(4 * n * 8 * 1.5 / GIB, rel=1e-6)
    p33 = plans["33b"]
    n, largest = p33.parameters, CHINESE_LLAMA_VOCAB * LLAMA1_SHAPES["33b"]["hidden_size"]
    assert p33.zero_stage == 3
    assert p33.states_gib == pytest.approx((4 * largest + 18 * n / 8) / GIB, rel=1e-6)
    assert p33.host_gib == pytest.approx(largest * 4 * 8 * 1.5 / GIB, rel=1e-6)  # zero.Init: one layer per GPU
    # Activations of one micro-batch of 2,048 tokens with gradient checkpointing (on for models from path).
    shape, tokens = LLAMA1_SHAPES["7b"], 8 * 2048
    expected = (shape["num_hidden_layers"] * tokens * shape["hidden_size"] * 2 + 34 * tokens * shape["hidden_size"]
                + 8 * tokens * CHINESE_LLAMA_VOCAB)
    assert plans["7b"].gradient_checkpointing and plans["7b"].activations_gib == pytest.approx(expected / GIB)
    assert plans["33b"].eval_gib == pytest.approx(2 * n / GIB)  # bf16 weights on one GPU
    assert not [w for p in plans.values() for w in p.warnings]


def test_a_size_that_does_not_fit_is_named(paper):
    config = copy.deepcopy(paper)
    config["models"]["sizes"]["13b"]["resources"]["train"]["mem_mb"] = 100_000
    config["models"]["sizes"]["7b"]["sft"]["gradient_checkpointing"] = False
    plans = {p.size: p for p in memory_plan(config, gpu_memory_gib=80)}
    assert any("models.sizes.13b.resources.train.mem_mb" in w for w in plans["13b"].warnings)
    [w7] = plans["7b"].warnings  # 7b at micro-batch 8 x 2,048 without checkpointing does not fit a GPU
    assert "more than 80 GiB" in w7 and "gradient_checkpointing" in w7
    small = {p.size: p for p in memory_plan(paper, gpu_memory_gib=40)}
    assert any("evaluation holds" in w for w in small["33b"].warnings)


def test_command_prints_the_plan_and_fails_when_a_size_does_not_fit(capsys):
    from growthpace.cli import main

    assert main(["memory-plan", "--configfile", str(PAPER)]) == 0
    out = capsys.readouterr().out
    assert "Memory plan of study 'doit-paper'" in out and "every model size fits" in out
    for size in ("7b", "13b", "33b"):
        assert any(line.startswith(size) for line in out.splitlines())
    assert main(["memory-plan", "--configfile", str(PAPER), "--gpu-memory", "24"]) == 1
    assert "WARNING: 7b: training needs" in capsys.readouterr().out
