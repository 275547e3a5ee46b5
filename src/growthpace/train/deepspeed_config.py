"""DeepSpeed configs for HF Trainer, built from a model size's settings.

Batch sizes, gradient clipping and precision are ``"auto"``: HF Trainer fills them from its own
arguments, so there is one source of truth. There is deliberately no ``optimizer`` and no
``scheduler`` block: with one, DeepSpeed builds its own optimizer and schedule and the Trainer's are
silently replaced (the authors' runs got WarmupDecayLR to 0 instead of a linear decay to ``end_lr``,
and AdamW without their betas). Without them, Trainer creates torch AdamW with the configured betas and
its own linear schedule, and DeepSpeed wraps them. This also avoids JIT-building ``fused_adam`` on CPUs.

The communication buckets and ZeRO-3's live-parameter limits are set here, never left to DeepSpeed's
defaults (5e8-element buckets, 1e9 live parameters: gigabytes per GPU that no plan counted), so that
``memory_plan`` counts exactly what runs. The sizes are those HF's ``"auto"`` derives from the model
(``transformers.integrations.deepspeed``): reduce and all-gather buckets of hidden² elements, a ZeRO-3
prefetch bucket of 0.9 hidden², parameters under 10 hidden elements kept whole on every GPU; with a
floor (``MIN_BUCKET``) so that a tiny model does not cut its gradients into hundreds of collectives.
ZeRO-3 keeps at most ``MAX_LIVE_PARAMETERS`` gathered parameters (DeepSpeed's and HF's documented value).

``offload_optimizer`` keeps the fp32 master weights, gradients and AdamW states in host memory (ZeRO-2
or 3): each GPU holds its bf16 parameters only, for host memory and a slower optimizer step. Trainer's
torch AdamW then steps on the CPU (``zero_force_ds_cpu_optimizer: false``; DeepSpeed's CPUAdam would
replace the optimizer the study configured).
"""

from __future__ import annotations

MIN_BUCKET = 1 << 20  # elements
MAX_LIVE_PARAMETERS = 10**9
MAX_REUSE_DISTANCE = 10**9


def bucket_sizes(zero_stage: int, hidden_size: int) -> dict:
    """The ``zero_optimization`` entries that size DeepSpeed's buffers, from the model's hidden size."""
    bucket = max(hidden_size * hidden_size, MIN_BUCKET)
    if zero_stage == 3:
        return {"reduce_bucket_size": bucket,
                "stage3_prefetch_bucket_size": max(int(0.9 * hidden_size * hidden_size), MIN_BUCKET),
                "stage3_param_persistence_threshold": 10 * hidden_size,
                "stage3_max_live_parameters": MAX_LIVE_PARAMETERS,
                "stage3_max_reuse_distance": MAX_REUSE_DISTANCE,
                "overlap_comm": True}
    return {"reduce_bucket_size": bucket, "allgather_bucket_size": bucket, "overlap_comm": False}


def deepspeed_config(zero_stage: int, hidden_size: int, offload_optimizer: bool = False) -> dict:
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage: {zero_stage!r} is not one of 0, 1, 2, 3")
    if offload_optimizer and zero_stage not in (2, 3):
        raise ValueError(f"offload_optimizer needs ZeRO-2 or ZeRO-3, not zero_stage {zero_stage}")
    zero: dict = {"stage": zero_stage, **bucket_sizes(zero_stage, hidden_size)}
    if zero_stage == 3:
        # Save gathered full weights (safetensors), not only the per-rank shards.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    config = {
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
    if offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        config["zero_force_ds_cpu_optimizer"] = False
    return config
