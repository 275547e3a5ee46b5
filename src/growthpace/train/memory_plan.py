"""``growthpace memory-plan``: will each model size of a study fit the resources it asks for, with room?

For every model size, before anything runs:

- **parameters**, counted on the meta device from the size's ``config.json`` when its ``path`` exists,
  else from the LLaMA-1 shape of its name (``models.llama.LLAMA1_SHAPES``: 7b, 13b, 33b, 65b with
  Chinese-LLaMA-Plus's vocabulary), else from its tiny ``arch``;
- **training, per GPU**, the sum of
  - the model states (parameters, gradients, AdamW states) from DeepSpeed's own estimators for the
    size's ZeRO stage on one node of ``resources.train.gpus`` GPUs, with the optimizer in host memory
    when ``sft.offload_optimizer`` is on (``estimate_zero2_model_states_mem_needs``,
    ``estimate_zero3_model_states_mem_needs``);
  - the activations of one micro-batch of ``max_len`` tokens: with gradient checkpointing, every
    layer's input (2 bytes a value) and one layer's working set (34 bytes per token and hidden unit,
    Korthikanti et al. 2022, attention through SDPA so no score matrix is kept); without it, that
    working set for every layer; and the logits for the loss, ``LOGIT_BYTES`` per token and vocabulary
    entry (bf16 logits 2, their fp32 upcast 4, fp32 log-softmax 4, its gradient 4, bf16 gradient 2);
  - DeepSpeed's buffers as ``deepspeed_config`` sets them (never DeepSpeed's defaults): ZeRO-1/2 reduce
    and all-gather buckets; ZeRO-3 reduce buckets (two: ``overlap_comm``), the prefetch bucket, up to
    ``stage3_max_live_parameters`` gathered parameters and the small parameters kept whole;
  - ``FRAGMENTATION`` of all of that: PyTorch's caching allocator cannot use every freed byte;
  - ``CUDA_CONTEXT_GIB`` per process: the CUDA context, cuBLAS and NCCL workspaces, which
    ``torch.cuda.max_memory_allocated`` never sees (0.5-1 GiB on A100/H100; the upper end is taken);

  against ``--gpu-memory`` (GiB per GPU; the resources do not say which GPUs a job gets). Over
  ``HEADROOM`` (90%) of it is a warning, which names a setting that fits: a smaller micro-batch with
  more accumulation steps, the optimizer in host memory, or ZeRO-3, in that order;
- **training, per node**: DeepSpeed's host-memory estimate for the same run, against
  ``resources.train.mem_mb``. It assumes that each process holds the whole model in fp32 while it
  starts (ZeRO-2; ZeRO-3 with ``zero.Init`` only its largest layer), which is what this project's
  loading avoided until it built ZeRO-3 models under ``zero.Init``; for ZeRO-0/1/2 it is an upper bound.
  With the optimizer offloaded it holds the fp32 master weights, gradients and AdamW states (16 bytes a
  parameter, times DeepSpeed's buffer factor 1.5);
- **evaluation, per GPU**: the weights in the evaluation dtype on one GPU, against ``--gpu-memory``.

The estimates are estimates: DeepSpeed says its own are for model states only, and activations depend
on the attention implementation; the headroom is there for what they miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

GIB = 2**30
# Bytes per parameter of the evaluation weights.
EVAL_DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
TINY_VOCAB = 1000  # a tiny model's character vocabulary is not known before its tokenizer is trained
LOGIT_BYTES = 16  # per token and vocabulary entry, see above
CUDA_CONTEXT_GIB = 1.0
FRAGMENTATION = 0.10
HEADROOM = 0.90


@dataclass
class SizePlan:
    size: str
    parameters: int
    source: str
    zero_stage: int
    gpus: int
    micro_batch: int
    max_len: int
    gradient_checkpointing: bool
    offload_optimizer: bool = False
    states_gib: float = 0.0
    activations_gib: float = 0.0
    buffers_gib: float = 0.0
    host_gib: float = 0.0
    host_requested_gib: float = 0.0
    eval_gib: float = 0.0
    eval_gpus: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def allocated_gib(self) -> float:
        """What PyTorch allocates: model states, activations and DeepSpeed's buffers."""
        return self.states_gib + self.activations_gib + self.buffers_gib

    @property
    def gpu_gib(self) -> float:
        """All a training process takes of its GPU."""
        return self.allocated_gib * (1 + FRAGMENTATION) + CUDA_CONTEXT_GIB


@dataclass(frozen=True)
class Shape:
    """What the plan needs to know of a model."""

    parameters: int
    largest: int  # parameters of the largest single module
    small: int  # parameters in tensors under ZeRO-3's persistence threshold (kept whole on each GPU)
    hidden: int
    layers: int
    vocab: int

def model_config(spec: dict, size: str):
    """The size's model config and where it came from: its directory, the LLaMA-1 table, or its arch."""
    from transformers import AutoConfig

    from ..models.llama import CHINESE_LLAMA_VOCAB, LLAMA1_SHAPES, llama_config

    path = spec.get("path")
    if path and (Path(path) / "config.json").is_file():
        return AutoConfig.from_pretrained(path), f"{path}/config.json"
    if size.lower() in LLAMA1_SHAPES:
        return (llama_config(CHINESE_LLAMA_VOCAB, **LLAMA1_SHAPES[size.lower()]),
                f"LLaMA-1 {size.lower()} shape, vocabulary {CHINESE_LLAMA_VOCAB}")
    if "arch" in spec:
        config = llama_config(TINY_VOCAB, **spec["arch"])
        config.tie_word_embeddings = True  # as models.tiny builds them
        return config, f"arch, vocabulary ~{TINY_VOCAB}"
    raise ValueError(f"models.sizes.{size}: no config.json at path {path!r}, not a LLaMA-1 size name "
                     f"({', '.join(LLAMA1_SHAPES)}) and no arch: cannot count its parameters")


def count_parameters(config) -> tuple[int, int]:
    """(all parameters, parameters of the largest single module), counted on the meta device."""
    shape = model_shape(config)
    return shape.parameters, shape.largest


def model_shape(config) -> Shape:
    import torch
    from transformers import AutoModelForCausalLM

    from .deepspeed_config import bucket_sizes

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = list(model.parameters())
    threshold = bucket_sizes(3, config.hidden_size)["stage3_param_persistence_threshold"]
    return Shape(parameters=sum(p.numel() for p in params),
                 largest=max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules()),
                 small=sum(p.numel() for p in params if p.numel() < threshold),
                 hidden=config.hidden_size, layers=config.num_hidden_layers, vocab=config.vocab_size)


def activation_bytes(config, micro_batch: int, seq_len: int, checkpointing: bool) -> int:
    tokens = micro_batch * seq_len
    hidden, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    one_layer = 34 * tokens * hidden
    kept = layers * tokens * hidden * 2 + one_layer if checkpointing else layers * one_layer
    return kept + LOGIT_BYTES * tokens * vocab


def buffer_bytes(shape: Shape, zero_stage: int, value_bytes: int) -> int:
    """DeepSpeed's communication buckets and ZeRO-3's gathered parameters, as ``deepspeed_config`` sets them."""
    from .deepspeed_config import bucket_sizes

    b = bucket_sizes(zero_stage, shape.hidden)
    copies = 2 if b["overlap_comm"] else 1
    if zero_stage == 3:
        elements = (copies * b["reduce_bucket_size"] + b["stage3_prefetch_bucket_size"]
                    + min(b["stage3_max_live_parameters"], shape.parameters) + shape.small)
    else:
        elements = copies * b["reduce_bucket_size"] + b["allgather_bucket_size"]
    return elements * value_bytes


def states_bytes(shape: Shape, zero_stage: int, gpus: int, offload: bool) -> tuple[int, int]:
    """(host bytes per node, GPU bytes per GPU) of the model states, from DeepSpeed's estimators."""
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    if zero_stage == 3:
        host, gpu, _ = estimate_zero3_model_states_mem_needs(shape.parameters, shape.largest,
                                                             num_gpus_per_node=gpus, num_nodes=1,
                                                             cpu_offload=offload, cpu_offload_params=False,
                                                             zero_init=True)
        return host, gpu
    # DeepSpeed has one estimator for stages 1 and 2; stage 0 is no better than stage 2
    return estimate_zero2_model_states_mem_needs(shape.parameters, num_gpus_per_node=gpus, num_nodes=1,
                                                 cpu_offload=offload)


def training_plan(plan: SizePlan, shape: Shape, model_config_, value_bytes: int) -> SizePlan:
    """``plan`` with its memory filled in for its stage, GPUs, micro-batch and offload."""
    host, gpu = states_bytes(shape, plan.zero_stage, max(1, plan.gpus), plan.offload_optimizer)
    plan.states_gib, plan.host_gib = gpu / GIB, host / GIB
    plan.activations_gib = activation_bytes(model_config_, plan.micro_batch, plan.max_len,
                                            plan.gradient_checkpointing) / GIB
    plan.buffers_gib = buffer_bytes(shape, plan.zero_stage, value_bytes) / GIB
    return plan


def setting_that_fits(plan: SizePlan, shape: Shape, model_config_, value_bytes: int, batch: int,
                      limit_gib: float) -> tuple[str, SizePlan] | None:
    """The first change that fits ``limit_gib``: a smaller micro-batch (more accumulation steps), the
    optimizer in host memory, ZeRO-3, each tried with smaller micro-batches."""
    key = f"models.sizes.{plan.size}.sft"
    micros = [m for m in range(plan.micro_batch, 0, -1) if batch % (m * max(1, plan.gpus)) == 0]
    tries = []
    for stage, offload in [(plan.zero_stage, plan.offload_optimizer), (max(2, plan.zero_stage), True),
                           (3, plan.offload_optimizer), (3, True)]:
        for micro in micros:
            changed = {"micro_batch_size": micro} if micro != plan.micro_batch else {}
            if offload != plan.offload_optimizer:
                changed["offload_optimizer"] = offload
            if stage != plan.zero_stage:
                changed["zero_stage"] = stage
            if changed and changed not in tries:
                tries.append(changed)
    for changed in tries:
        candidate = training_plan(replace(plan, warnings=[], **{
            "micro_batch": changed.get("micro_batch_size", plan.micro_batch),
            "offload_optimizer": changed.get("offload_optimizer", plan.offload_optimizer),
            "zero_stage": changed.get("zero_stage", plan.zero_stage)}), shape, model_config_, value_bytes)
        if candidate.gpu_gib <= limit_gib:
            steps = batch // (candidate.micro_batch * max(1, plan.gpus))
            text = ", ".join(f"{key}.{k}: {str(v).lower()}" for k, v in changed.items())
            if "micro_batch_size" in changed:
                text += f" ({steps} accumulation steps)"
            return text, candidate
    return None


def plan_size(config: dict, size: str, gpu_memory_gib: float) -> SizePlan:
    from .. import study
    from ..devices import Device, evaluation_dtype, training_precision

    spec = config["models"]["sizes"][size]
    settings = study.sft_settings(config, size)
    model_config_, source = model_config(spec, size)
    shape = model_shape(model_config_)
    train = study.job_resources(config, size, "train")
    evaluate = study.job_resources(config, size, "evaluate")
    micro = min(settings["micro_batch_size"], settings["batch_size"])
    precision = training_precision(settings["precision"], Device.planned(train["gpus"]))
    value_bytes = 4 if precision == "fp32" else 2
    dtype = evaluation_dtype((config.get("evaluation") or {}).get("dtype", "auto"), Device.planned(evaluate["gpus"]))
    plan = SizePlan(size, shape.parameters, source, settings["zero_stage"], train["gpus"], micro, settings["max_len"],
                    settings["gradient_checkpointing"], settings["offload_optimizer"],
                    host_requested_gib=train["mem_mb"] / 1024,
                    eval_gib=shape.parameters * EVAL_DTYPE_BYTES[dtype] / GIB, eval_gpus=evaluate["gpus"])
    training_plan(plan, shape, model_config_, value_bytes)
    key = f"models.sizes.{size}"
    if train["gpus"] == 0:
        return plan  # trained on CPUs: only the host memory below applies
    limit = HEADROOM * gpu_memory_gib
    if plan.gpu_gib > limit:
        fits = setting_that_fits(plan, shape, model_config_, value_bytes, settings["batch_size"], limit)
        hint = (f"set {fits[0]}: ~{fits[1].gpu_gib:.0f} GiB per GPU" + (
                f" and ~{fits[1].host_gib:.0f} GiB of host memory per node" if fits[1].offload_optimizer else "")
                if fits else f"no micro-batch, offload or ZeRO stage fits: use more GPUs ({key}.resources.train.gpus)")
        plan.warnings.append(f"{size}: training needs ~{plan.gpu_gib:.0f} GiB per GPU ({plan.states_gib:.0f} model "
                             f"states + {plan.activations_gib:.0f} activations + {plan.buffers_gib:.1f} DeepSpeed "
                             f"buffers, {FRAGMENTATION:.0%} fragmentation, {CUDA_CONTEXT_GIB:g} CUDA context), over "
                             f"{HEADROOM:.0%} of {gpu_memory_gib:g} GiB: {hint}")
    if plan.host_gib > plan.host_requested_gib:
        plan.warnings.append(f"{size}: DeepSpeed estimates {plan.host_gib:.0f} GiB of host memory per node for "
                             f"ZeRO-{plan.zero_stage}{' with the optimizer offloaded' if plan.offload_optimizer else ''}"
                             f" on {max(1, plan.gpus)} GPUs, more than the {plan.host_requested_gib:.0f} GiB requested "
                             f"({key}.resources.train.mem_mb)")
    if evaluate["gpus"] and plan.eval_gib > gpu_memory_gib:
        plan.warnings.append(f"{size}: evaluation holds {plan.eval_gib:.0f} GiB of weights ({dtype}) on one GPU, "
                             f"more than {gpu_memory_gib:g} GiB")
    return plan


def memory_plan(config: dict, gpu_memory_gib: float = 80.0) -> list[SizePlan]:
    from .. import study

    return [plan_size(config, size, gpu_memory_gib) for size in study.model_sizes(config)]


def format_plan(plans: list[SizePlan], study_name: str, gpu_memory_gib: float) -> str:
    lines = [f"Memory plan of study {study_name!r} (GiB; model states from DeepSpeed's estimators; "
             f"{gpu_memory_gib:g} GiB per GPU, {HEADROOM:.0%} usable)",
             f"{'size':<6}{'params':>8} {'ZeRO':>4} {'GPUs':>4} {'micro x len':>12} {'ckpt':>4} {'offl':>4}  "
             f"{'train/GPU: states + act. + buffers (+frag, +ctx) = total':>55}  "
             f"{'host/node: need / asked':>24}  {'eval/GPU':>8}"]
    for p in plans:
        gpu = (f"{p.states_gib:.1f} + {p.activations_gib:.1f} + {p.buffers_gib:.1f} (+{p.allocated_gib * FRAGMENTATION:.1f}"
               f", +{CUDA_CONTEXT_GIB:g}) = {p.gpu_gib:.1f} ({p.gpu_gib / gpu_memory_gib:.0%})") if p.gpus else "(CPU)"
        params = f"{p.parameters / 1e9:.2f}B" if p.parameters >= 1e8 else f"{p.parameters / 1e6:.2f}M"
        host = f"{p.host_gib:.1f} / {p.host_requested_gib:.1f}" if p.host_gib < 10 else \
            f"{p.host_gib:.0f} / {p.host_requested_gib:.0f}"
        lines.append(f"{p.size:<6}{params:>8} {p.zero_stage:>4} {p.gpus:>4} "
                     f"{f'{p.micro_batch} x {p.max_len}':>12} {'on' if p.gradient_checkpointing else 'off':>4} "
                     f"{'on' if p.offload_optimizer else 'off':>4}  {gpu:>55}  {host:>24}  "
                     f"{f'{p.eval_gib:.1f}' if p.eval_gpus else '(CPU)':>8}")
    lines.append("parameters from: " + "; ".join(f"{p.size}: {p.source}" for p in plans))
    warnings = [w for p in plans for w in p.warnings]
    lines += [f"WARNING: {w}" for w in warnings] or ["every model size fits its requested resources"]
    return "\n".join(lines)


def main(configfiles: list[Path], gpu_memory_gib: float) -> int:
    """Print the plan; exit status 1 when a size does not fit."""
    from ..study import load_config

    config = load_config(*configfiles)
    plans = memory_plan(config, gpu_memory_gib)
    print(format_plan(plans, config["study"], gpu_memory_gib))
    return 1 if any(p.warnings for p in plans) else 0

