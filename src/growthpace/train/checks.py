"""Checks that run before any training starts: the model directory (and that a path model is still the
one its key was computed from), the training data and the model size."""

from __future__ import annotations

import json
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
# What a checkpoint's weights may be, in transformers' order of preference: safetensors, then PyTorch
# pickles (read with weights_only=True); each one file, or shards listed by an index.
WEIGHT_LAYOUTS = (("model.safetensors.index.json", "model.safetensors"),
                  ("pytorch_model.bin.index.json", "pytorch_model.bin"))


class NoTrainableTokens(ValueError):
    pass


def encode_records(tokenizer, records: list[dict], max_len: int) -> list[dict]:
    """The records as training items (``input_ids``, ``labels``), those with a token to learn only.

    Torch-free (``sft.prepare`` calls it before any model is loaded)."""
    from ..models.chat import IGNORE_INDEX, encode_for_training

    items = []
    for r in records:
        ids, labels = encode_for_training(tokenizer, r["messages"], max_len)
        if any(x != IGNORE_INDEX for x in labels):  # truncation may leave nothing to learn
            items.append({"input_ids": ids, "labels": labels})
    if not items:
        raise NoTrainableTokens(
            f"none of the {len(records)} training records has an assistant token within max_len={max_len}")
    return items


class ModelDirError(ValueError):
    """A model directory that cannot be fine-tuned; the message names the directory and the file."""


class UnknownModelSize(KeyError):
    def __str__(self):  # KeyError would quote the whole message
        return self.args[0]


def causal_lm_classes() -> set[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    names = set()
    for v in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values():
        names.update([v] if isinstance(v, str) else v)
    return names


def weight_files(path: str | Path) -> list[Path]:
    """The weight files transformers reads from a model directory (every shard of a sharded one).

    Raises ``ModelDirError`` for a directory with no weights, a LoRA adapter without merged weights,
    and an index that is unreadable or names a shard that is not there.
    """
    path = Path(path)
    for index_name, single in WEIGHT_LAYOUTS:
        index = path / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
                shards = sorted(set(weight_map.values()))
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as e:
                raise ModelDirError(f"{index}: not a weight index with a 'weight_map' ({e!r})") from None
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                raise ModelDirError(f"{index}: names {len(missing)} shard(s) missing from {path}: "
                                    f"{', '.join(missing[:5])}")
            return [path / s for s in shards]
        if (path / single).is_file():
            return [path / single]
    expected = " or ".join(n for pair in WEIGHT_LAYOUTS for n in reversed(pair))
    if (path / "adapter_config.json").is_file():
        raise ModelDirError(f"model directory {path} holds a LoRA adapter (adapter_config.json), not a model's "
                            f"weights: merge it into its base model first ({expected})")
    raise ModelDirError(f"model directory {path} has no weights ({expected})")


class BaseModelChanged(ModelDirError):
    """A path base model whose files changed after its key was computed (``base_model`` ran)."""


def check_model_unchanged(path: str | Path, recorded: dict[str, str], fingerprints) -> None:
    """Stop when the files of the model directory ``path`` are no longer those hashed into its key
    (``recorded``: {file relative to ``path``: SHA-256}, from its pointer's manifest). Only files changed
    since they were last hashed are read again (``fingerprint.Fingerprints`` caches by size, mtime, ctime
    and inode), so an unchanged 33b directory costs a stat per file."""
    from ..fingerprint import labelled, tree_files

    path = Path(path)
    now = fingerprints.fingerprint(labelled(path, tree_files(path))).files
    problems = [f"{path / f}: changed" for f in sorted(recorded) if f in now and now[f] != recorded[f]]
    problems += [f"{path / f}: removed" for f in sorted(set(recorded) - set(now))]
    problems += [f"{path / f}: added" for f in sorted(set(now) - set(recorded))]
    if problems:
        raise BaseModelChanged(
            f"{problems[0]} since the base model's key was computed; training would put new weights under "
            f"the old key. Run the study again to key the model as it is now ({len(problems)} file(s): "
            + "; ".join(problems[:5]) + ")")


def check_model_dir(path: str | Path) -> Path:
    """A local HF causal-LM directory: config.json naming a causal LM that transformers implements (no
    remote code), weights (safetensors or PyTorch .bin, one file or sharded), a tokenizer."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
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
    if not isinstance(config, dict):
        raise ModelDirError(f"{config_file}: not a JSON object")
    model_type = config.get("model_type")
    if config.get("auto_map") and model_type not in CONFIG_MAPPING_NAMES:
        raise ModelDirError(f"{config_file}: model_type {model_type!r} needs the checkpoint's own code (auto_map: "
                            f"{', '.join(config['auto_map'])}); growthpace never runs code from a model "
                            "directory (trust_remote_code is off): use a model that transformers implements")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelDirError(f"{config_file}: model_type {model_type!r} is not a causal language model "
                            "known to transformers")
    architectures = config.get("architectures") or []
    if architectures and not set(architectures) & causal_lm_classes():
        raise ModelDirError(f"{config_file}: architectures {architectures} is not a causal language model "
                            f"(a {model_type} causal LM is {MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[model_type]}); "
                            "its weights have no language-modelling head to fine-tune")
    try:
        AutoConfig.from_pretrained(path)
    except Exception as e:  # a field of the right name with the wrong type or value
        raise ModelDirError(f"{config_file}: {e}") from None
    weight_files(path)
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelDirError(f"model directory {path} has no tokenizer ({' or '.join(TOKENIZER_FILES)})")
    return path


def settings_for_size(defaults: dict, training: dict, sizes: dict, model_size: str) -> dict:
    """Defaults < study ``training`` < the model size's ``sft`` overrides, for a defined model size."""
    if model_size not in sizes:
        raise UnknownModelSize(f"unknown model size {model_size!r}; models.sizes defines "
                               f"{', '.join(sorted(sizes)) or 'none'}")
    return {**defaults, **training, **(sizes[model_size] or {}).get("sft", {})}
