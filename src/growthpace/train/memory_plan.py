"""``growthpace memory-plan``: will each model size of a study fit the resources it asks for?

For every model size, before anything runs:

- **parameters**, counted on the meta device from the size's ``config.json`` when its ``path`` exists,
  else from the LLaMA-1 shape of its name (``models.llama.LLAMA1_SHAPES``: 7b, 13b, 33b, 65b with
  Chinese-LLaMA-Plus's vocabulary), else from its tiny ``arch``;
- **training, per GPU**: the model states (parameters, gradients, AdamW states) from DeepSpeed's own
  estimators for the size's ZeRO stage on one node of ``resources.train.gpus`` GPUs, without offload
  (``estimate_zero2_model_states_mem_needs``, ``estimate_zero3_model_states_mem_needs``), plus an
  estimate of the activations of one micro-batch of ``max_len`` tokens: with gradient checkpointing,
  every layer's input (2 bytes a value) and one layer's working set (34 bytes per token and hidden unit,
  Korthikanti et al. 2022, attention through SDPA so no score matrix is kept); without it, that working
  set for every layer; and the logits with their gradient in fp32 (8 bytes per token and vocabulary
  entry). Against ``--gpu-memory`` (GiB per GPU; the resources do not say which GPUs a job gets);
- **training, per node**: DeepSpeed's host-memory estimate for the same run, against
  ``resources.train.mem_mb``. It assumes that each process holds the whole model in fp32 while it
  starts (ZeRO-2; ZeRO-3 with ``zero.Init`` only its largest layer), which is what this project's
  loading avoided until it built ZeRO-3 models under ``zero.Init``; for ZeRO-0/1/2 it is an upper bound;
- **evaluation, per GPU**: the weights in the evaluation dtype on one GPU, against ``--gpu-memory``.

A size that does not fit gets a warning naming the key to change. The estimates are estimates: DeepSpeed
says its own are for model states only, and activations depend on the attention implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

GIB = 2**30
# Bytes per parameter of the evaluation weights.
EVAL_DTYPE_BYTES = {"auto": 2, "bfloat16": 2, "float16": 2, "float32": 4}
TINY_VOCAB = 1000  # a tiny model's character vocabulary is not known before its tokenizer is trained


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
    states_gib: float = 0.0
    activations_gib: float = 0.0
    host_gib: float = 0.0
    host_requested_gib: float = 0.0
    eval_gib: float = 0.0
    eval_gpus: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def gpu_gib(self) -> float:
        return self.states_gib + self.activations_gib


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
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    return total, largest


def activation_bytes(config, micro_batch: int, seq_len: int, checkpointing: bool) -> int:
    tokens = micro_batch * seq_len
    hidden, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    one_layer = 34 * tokens * hidden
    kept = layers * tokens * hidden * 2 + one_layer if checkpointing else layers * one_layer
    return kept + 8 * tokens * vocab


def plan_size(config: dict, size: str, gpu_memory_gib: float) -> SizePlan:
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    from .. import study

    spec = config["models"]["sizes"][size]
    settings = study.sft_settings(config, size)
    model_config_, source = model_config(spec, size)
    total, largest = count_parameters(model_config_)
    train = study.job_resources(config, size, "train")
    evaluate = study.job_resources(config, size, "evaluate")
    gpus = max(1, train["gpus"])
    micro = min(settings["micro_batch_size"], settings["batch_size"])
    if settings["zero_stage"] == 3:
        host, gpu, _ = estimate_zero3_model_states_mem_needs(total, largest, num_gpus_per_node=gpus, num_nodes=1,
                                                             cpu_offload=False, cpu_offload_params=False,
                                                             zero_init=True)
    else:  # DeepSpeed has one estimator for stages 1 and 2; stage 0 is no better than stage 2
        host, gpu = estimate_zero2_model_states_mem_needs(total, num_gpus_per_node=gpus, num_nodes=1,
                                                          cpu_offload=False)
    dtype = (config.get("evaluation") or {}).get("dtype", "auto")
    plan = SizePlan(size, total, source, settings["zero_stage"], train["gpus"], micro, settings["max_len"],
                    settings["gradient_checkpointing"], states_gib=gpu / GIB,
                    activations_gib=activation_bytes(model_config_, micro, settings["max_len"],
                                                     settings["gradient_checkpointing"]) / GIB,
                    host_gib=host / GIB, host_requested_gib=train["mem_mb"] / 1024,
                    eval_gib=total * EVAL_DTYPE_BYTES[dtype] / GIB, eval_gpus=evaluate["gpus"])
    key = f"models.sizes.{size}"
    if train["gpus"] == 0:
        return plan  # trained on CPUs: only the host memory below applies
    if plan.gpu_gib > gpu_memory_gib:
        hint = "" if settings["gradient_checkpointing"] else "; turn on sft.gradient_checkpointing"
        plan.warnings.append(f"{size}: training needs ~{plan.gpu_gib:.0f} GiB per GPU ({plan.states_gib:.0f} model "
                             f"states + {plan.activations_gib:.0f} activations), more than {gpu_memory_gib:g} GiB: "
                             f"lower {key}.sft.micro_batch_size, use ZeRO-3 ({key}.sft.zero_stage) or more GPUs "
                             f"({key}.resources.train.gpus){hint}")
    if plan.host_gib > plan.host_requested_gib:
        plan.warnings.append(f"{size}: DeepSpeed estimates {plan.host_gib:.0f} GiB of host memory per node for "
                             f"ZeRO-{settings['zero_stage']} on {gpus} GPUs, more than the "
                             f"{plan.host_requested_gib:.0f} GiB requested ({key}.resources.train.mem_mb)")
    if evaluate["gpus"] and plan.eval_gib > gpu_memory_gib:
        plan.warnings.append(f"{size}: evaluation holds {plan.eval_gib:.0f} GiB of weights ({dtype}) on one GPU, "
                             f"more than {gpu_memory_gib:g} GiB")
    return plan


def memory_plan(config: dict, gpu_memory_gib: float = 80.0) -> list[SizePlan]:
    from .. import study

    return [plan_size(config, size, gpu_memory_gib) for size in study.model_sizes(config)]


def format_plan(plans: list[SizePlan], study_name: str, gpu_memory_gib: float) -> str:
    lines = [f"Memory plan of study {study_name!r} (GiB; model states from DeepSpeed's estimators, no offload; "
             f"{gpu_memory_gib:g} GiB per GPU)",
             f"{'size':<6}{'params':>8} {'ZeRO':>4} {'GPUs':>4} {'micro x len':>12} {'ckpt':>4}  "
             f"{'train/GPU: states + act. = total':>33}  {'host/node: need / asked':>24}  {'eval/GPU':>8}"]
    for p in plans:
        gpu = f"{p.states_gib:.1f} + {p.activations_gib:.1f} = {p.gpu_gib:.1f}" if p.gpus else "(CPU)"
        params = f"{p.parameters / 1e9:.2f}B" if p.parameters >= 1e8 else f"{p.parameters / 1e6:.2f}M"
        host = f"{p.host_gib:.1f} / {p.host_requested_gib:.1f}" if p.host_gib < 10 else \
            f"{p.host_gib:.0f} / {p.host_requested_gib:.0f}"
        lines.append(f"{p.size:<6}{params:>8} {p.zero_stage:>4} {p.gpus:>4} "
                     f"{f'{p.micro_batch} x {p.max_len}':>12} {'on' if p.gradient_checkpointing else 'off':>4}  "
                     f"{gpu:>33}  {host:>24}  {f'{p.eval_gib:.1f}' if p.eval_gpus else '(CPU)':>8}")
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

