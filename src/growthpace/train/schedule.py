"""The paper's learning-rate schedule: linear decay from ``lr`` to ``end_lr`` over all optimiser steps.

HF's "polynomial" schedule computes the same thing but reads ``optimizer.defaults``, which DeepSpeed's
ZeRO optimizers do not have; this one only needs ``param_groups``, so both engines share it.
"""

from __future__ import annotations

from functools import partial

from torch.optim.lr_scheduler import LambdaLR


def linear_factor(step: int, *, lr: float, end_lr: float, total_steps: int) -> float:
    """Multiplier of ``lr`` after ``step`` scheduler steps: ``lr`` at step 0, ``end_lr`` from ``total_steps`` on."""
    done = min(step, total_steps) / max(1, total_steps)
    return (end_lr + (lr - end_lr) * (1.0 - done)) / lr


def linear_to_end_lr(optimizer, lr: float, end_lr: float, total_steps: int) -> LambdaLR:
    if not 0 <= end_lr <= lr:
        raise ValueError(f"end_lr {end_lr} must be between 0 and lr {lr}")
    return LambdaLR(optimizer, partial(linear_factor, lr=lr, end_lr=end_lr, total_steps=total_steps))
