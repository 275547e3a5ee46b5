"""Checks that run before any training starts: the model directory and the model size."""

from __future__ import annotations

import json
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


class ModelDirError(ValueError):
    """A model directory that cannot be fine-tuned; the message names the directory and the file."""


class UnknownModelSize(KeyError):
    def __str__(self):  # KeyError would quote the whole message
        return self.args[0]


def check_model_dir(path: str | Path) -> Path:
    """A local HF causal-LM directory: config.json naming a causal LM, safetensors weights, a tokenizer."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelDirError(f"model directory {path} has no config.json")
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelDirError(f"{config_file}: not valid JSON ({e})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelDirError(f"{config_file}: model_type {model_type!r} is not a causal language model "
                            "known to transformers")
    try:
        AutoConfig.from_pretrained(path)
    except Exception as e:  # a field of the right name with the wrong type or value
        raise ModelDirError(f"{config_file}: {e}") from None
    if not any(path.glob("*.safetensors")):
        raise ModelDirError(f"model directory {path} has no *.safetensors weights")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelDirError(f"model directory {path} has no tokenizer ({' or '.join(TOKENIZER_FILES)})")
    return path


def settings_for_size(defaults: dict, training: dict, sizes: dict, model_size: str) -> dict:
    """Defaults < study ``training`` < the model size's ``sft`` overrides, for a defined model size."""
    if model_size not in sizes:
        raise UnknownModelSize(f"unknown model size {model_size!r}; models.sizes defines "
                               f"{', '.join(sorted(sizes)) or 'none'}")
    return {**defaults, **training, **(sizes[model_size] or {}).get("sft", {})}
