"""``growthpace memory-plan``: parameter counts, DeepSpeed's estimates per model size, DeepSpeed's
buffers as the config sets them, the headroom, and warnings naming a setting that fits when a size does
not (numbers checked against DeepSpeed's estimators and against formulas written here)."""

import contextlib
import copy
import io

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


def activations(shape, micro, seq=2048, vocab=CHINESE_LLAMA_VOCAB):
    """Gradient checkpointing: every layer's bf16 input, one layer's working set (34 bytes per token and
    hidden unit), and the logits for the loss at 16 bytes per token and vocabulary entry."""
    tokens, h = micro * seq, shape["hidden_size"]
    return shape["num_hidden_layers"] * tokens * h * 2 + 34 * tokens * h + 16 * tokens * vocab


def on_gpu(allocated):
    """10% fragmentation on what PyTorch allocates, and 1 GiB of CUDA context."""
    return allocated * 1.1 + GIB


def test_the_papers_plan(paper):
    plans = {p.size: p for p in memory_plan(paper, gpu_memory_gib=80)}
    for size, micro in (("7b", 8), ("13b", 4)):  # ZeRO-2 on one node of 8 GPUs, no offload
        p, n, shape = plans[size], llama_params(CHINESE_LLAMA_VOCAB, **LLAMA1_SHAPES[size]), LLAMA1_SHAPES[size]
        h = shape["hidden_size"]
        assert p.parameters == n and (p.zero_stage, p.gpus, p.micro_batch, p.offload_optimizer) == (2, 8, micro, False)
        states = 2 * n + 18 * n / 8  # bf16 weights; bf16 + fp32 gradients, fp32 weights, AdamW: a GPU's share
        assert p.states_gib == pytest.approx(states / GIB, rel=1e-6)
        assert p.host_gib == pytest.approx(4 * n * 8 * 1.5 / GIB, rel=1e-6)
        buffers = 2 * h * h * 2  # reduce + all-gather bucket of hidden² bf16 values
        assert p.buffers_gib == pytest.approx(buffers / GIB)
        assert p.gradient_checkpointing and p.activations_gib == pytest.approx(activations(shape, micro) / GIB)
        assert p.gpu_gib == pytest.approx(on_gpu(states + activations(shape, micro) + buffers) / GIB, rel=1e-6)
        assert p.gpu_gib < 0.9 * 80
    # 33b: ZeRO-3 with the optimizer in host memory
    p33, shape = plans["33b"], LLAMA1_SHAPES["33b"]
    n, h, largest = p33.parameters, shape["hidden_size"], CHINESE_LLAMA_VOCAB * shape["hidden_size"]
    assert (p33.zero_stage, p33.offload_optimizer, p33.micro_batch) == (3, True, 2)
    states = 4 * largest + 2 * n / 8  # the largest layer gathered, this GPU's bf16 weights
    assert p33.states_gib == pytest.approx(states / GIB, rel=1e-6)
    assert p33.host_gib == pytest.approx(16 * n * 1.5 / GIB, rel=1e-6)  # fp32 weights, gradients, AdamW
    norms = (2 * shape["num_hidden_layers"] + 1) * h  # the only tensors under 10 x hidden elements
    buffers = (2 * h * h + int(0.9 * h * h) + 10**9 + norms) * 2  # 2 reduce, 1 prefetch, live, persistent
    assert p33.buffers_gib == pytest.approx(buffers / GIB)
    assert p33.gpu_gib == pytest.approx(on_gpu(states + activations(shape, 2) + buffers) / GIB, rel=1e-6)
    assert plans["33b"].eval_gib == pytest.approx(2 * n / GIB)  # bf16 weights on one GPU
    assert not [w for p in plans.values() for w in p.warnings]


def deepspeed_table(estimate, *args) -> dict[str, tuple[float, float]]:
    """DeepSpeed's "all cold" estimator's printed table: {options: (GiB per node, GiB per GPU)}."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        estimate(*args)
    rows = [line.split("|") for line in out.getvalue().splitlines() if line.count("|") == 2 and "GB" in line]
    return {opts.strip().replace("OffloadDeviceEnum.", ""): (float(cpu.strip()[:-2]), float(gpu.strip()[:-2]))
            for cpu, gpu, opts in rows}


def test_model_states_are_deepspeeds_estimates(paper):
    """The estimates DeepSpeed prints for every offload option (its "GB" are GiB), against the plan's."""
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs_all_cold
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs_all_cold

    plans = {p.size: p for p in memory_plan(paper, gpu_memory_gib=80)}
    largest = CHINESE_LLAMA_VOCAB * LLAMA1_SHAPES["33b"]["hidden_size"]
    z3 = deepspeed_table(estimate_zero3_model_states_mem_needs_all_cold, plans["33b"].parameters, largest, 8, 1)
    p = plans["33b"]
    assert z3["offload_param=none, offload_optimizer=cpu, zero_init=1"] == \
        pytest.approx((p.host_gib, p.states_gib), abs=0.006)
    for size in ("7b", "13b"):
        z2 = deepspeed_table(estimate_zero2_model_states_mem_needs_all_cold, plans[size].parameters, 8, 1)
        assert z2["offload_optimizer=none"] == pytest.approx((plans[size].host_gib, plans[size].states_gib),
                                                             abs=0.006)


def test_a_size_that_does_not_fit_is_named_with_a_setting_that_fits(paper):
    config = copy.deepcopy(paper)
    config["models"]["sizes"]["13b"]["resources"]["train"]["mem_mb"] = 100_000
    config["models"]["sizes"]["7b"]["sft"]["gradient_checkpointing"] = False
    config["models"]["sizes"]["33b"]["sft"]["offload_optimizer"] = False
    plans = {p.size: p for p in memory_plan(config, gpu_memory_gib=80)}
    assert any("models.sizes.13b.resources.train.mem_mb" in w for w in plans["13b"].warnings)
    # 7b at micro-batch 8 x 2,048 without checkpointing: a smaller micro-batch with more accumulation fits
    [w7] = plans["7b"].warnings
    assert "over 90% of 80 GiB" in w7 and "models.sizes.7b.sft.micro_batch_size: " in w7
    micro = int(w7.split("micro_batch_size: ")[1].split()[0])
    assert micro < 8 and f"({64 // (micro * 8)} accumulation steps)" in w7
    fixed = copy.deepcopy(config)
    fixed["models"]["sizes"]["7b"]["sft"]["micro_batch_size"] = micro
    assert not {p.size: p for p in memory_plan(fixed, gpu_memory_gib=80)}["7b"].warnings  # it does fit
    # 33b under ZeRO-3 without offload: 70 GiB of model states leave no micro-batch room; offload does
    [w33] = plans["33b"].warnings
    assert "models.sizes.33b.sft.offload_optimizer: true" in w33 and "of host memory per node" in w33
    assert plans["33b"].gpu_gib > 0.9 * 80
    assert plans["33b"].states_gib + plans["33b"].activations_gib < 80  # what was counted before: "it fits"
    small = {p.size: p for p in memory_plan(paper, gpu_memory_gib=40)}
    assert any("evaluation holds" in w for w in small["33b"].warnings)


@pytest.mark.parametrize("stage,offload", [(0, False), (1, False), (2, False), (2, True), (3, False), (3, True)])
def test_deepspeed_reads_the_buffers_the_plan_counts(stage, offload):
    """DeepSpeed's own config parser takes every entry, with the values the plan counts."""
    from deepspeed.runtime.constants import ZERO_FORCE_DS_CPU_OPTIMIZER
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    from growthpace.train.deepspeed_config import deepspeed_config

    h = 4096
    config = deepspeed_config(stage, h, offload)
    zero = DeepSpeedZeroConfig(**config["zero_optimization"])
    assert zero.stage == stage and zero.reduce_bucket_size == h * h
    if stage == 3:
        assert (zero.prefetch_bucket_size, zero.param_persistence_threshold) == (int(0.9 * h * h), 10 * h)
        assert zero.max_live_parameters == zero.max_reuse_distance == 10**9 and zero.overlap_comm
    else:
        assert zero.allgather_bucket_size == h * h and not zero.overlap_comm
    assert (zero.offload_optimizer is not None and zero.offload_optimizer.device == "cpu") == offload
    assert config.get(ZERO_FORCE_DS_CPU_OPTIMIZER, True) is not offload
    # a tiny model's buckets keep a floor, not hidden² elements
    assert deepspeed_config(stage, 32)["zero_optimization"]["reduce_bucket_size"] == 1 << 20
