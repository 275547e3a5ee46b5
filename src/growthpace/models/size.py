"""A model's parameter count from its ``config.json`` alone, without reading or allocating its weights.

The model-size axis of the extrapolation (``analysis.extrapolation``) is the parameter count: a label
such as ``m`` or ``13b`` says how sizes are ordered, not how far apart they are. The model is built
from its config on PyTorch's ``meta`` device (shapes without storage, so a 33b config costs no memory)
and its distinct parameters are counted, as ``PreTrainedModel.num_parameters`` does: tied input and
output embeddings count once, as they are stored once.
"""

from __future__ import annotations

from pathlib import Path


def parameter_count(model_dir: str | Path) -> int:
    """Parameters of the causal LM that ``model_dir/config.json`` describes (tied weights counted once)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir}: no config.json to count the model's parameters from")
    config = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return int(model.num_parameters())
