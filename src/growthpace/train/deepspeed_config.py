"""DeepSpeed configs for HF Trainer, built from a model size's settings.

Batch sizes, gradient clipping and precision are ``"auto"``: HF Trainer fills them from its own
arguments, so there is one source of truth. There is deliberately no ``optimizer`` and no
``scheduler`` block: with one, DeepSpeed builds its own optimizer and schedule and the Trainer's are
silently replaced (the authors' runs got WarmupDecayLR to 0 instead of a linear decay to ``end_lr``,
and AdamW without their betas). Without them, Trainer creates torch AdamW with the configured betas and
its own linear schedule, and DeepSpeed wraps them. This also avoids JIT-building ``fused_adam`` on CPUs.
"""

from __future__ import annotations


def deepspeed_config(zero_stage: int) -> dict:
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage: {zero_stage!r} is not one of 0, 1, 2, 3")
    zero: dict = {"stage": zero_stage}
    if zero_stage == 3:
        # Save gathered full weights (safetensors), not only the per-rank shards.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "train_batch_size": "auto",
        "gradient_clipping": "auto",
        "zero_optimization": zero,
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "steps_per_print": 1_000_000,  # the Trainer logs; DeepSpeed's own prints only repeat it
        "wall_clock_breakdown": False,
    }
