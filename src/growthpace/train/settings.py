"""The settings of one SFT cell: a plain dataclass, importable without torch (the workflow reads it
while it plans a study; ``growthpace.train.sft`` re-exports it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

ENGINES = ("deepspeed", "trainer")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
# Settings added after artifacts were first keyed by the settings: left out of a cell's spec while they
# keep these values, so that the cells trained before them keep their keys (study.sft_spec).
LATER_DEFAULTS = {"gradient_checkpointing": False, "offload_optimizer": False}


@dataclass
class SFTSettings:
    lr: float = 1e-5
    end_lr: float = 1e-6
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    weight_decay: float = 0.1
    batch_size: int = 64  # global batch
    micro_batch_size: int = 8
    epochs: int = 15
    min_steps: int = 0
    max_len: int = 2048
    seed: int = 0
    max_grad_norm: float = 1.0
    engine: str = "deepspeed"  # HF Trainer + DeepSpeed, or the plain Trainer ("trainer")
    zero_stage: int = 2  # the authors' runs used ZeRO-2
    precision: str = "fp32"  # auto: bf16 on a GPU that has it, else fp32 (bf16 matmul crawls on CPUs)
    # Recompute each layer's activations in the backward pass instead of keeping them: a 7b model at
    # micro-batch 8 x 2,048 tokens needs this to fit a GPU; the same numbers, about a third more compute.
    gradient_checkpointing: bool = False
    # Optimizer states, fp32 master weights and gradients in host memory (DeepSpeed ZeRO-2/3): what lets
    # 33b train on 8 x 80 GB GPUs with room to spare (``growthpace memory-plan``).
    offload_optimizer: bool = False

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"engine: {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"zero_stage: {self.zero_stage!r} is not one of 0, 1, 2, 3")
        if self.offload_optimizer and (self.engine != "deepspeed" or self.zero_stage not in (2, 3)):
            raise ValueError(f"offload_optimizer: needs engine deepspeed with zero_stage 2 or 3, not "
                             f"{self.engine} with zero_stage {self.zero_stage}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: {self.precision!r} is not one of {', '.join(PRECISIONS)}")

    @classmethod
    def from_dict(cls, d: dict) -> "SFTSettings":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise KeyError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        return cls(**d)


def plan_repeats(n_items: int, settings: SFTSettings) -> int:
    """How many copies of the data make one epoch, so that all epochs together reach ``min_steps``."""
    steps_per_epoch = math.ceil(settings.min_steps / settings.epochs)
    if steps_per_epoch <= 1:
        return 1
    # the fewest copies r with ceil(n_items * r / batch_size) >= steps_per_epoch
    return max(1, math.ceil(((steps_per_epoch - 1) * settings.batch_size + 1) / n_items))
