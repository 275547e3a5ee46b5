"""LLaMA checkpoints laid out as real releases ship them, built here from nothing downloaded.

LLaMA-1 and Chinese-LLaMA(-Plus) ship a SentencePiece tokenizer (``tokenizer.model``, with
``tokenizer_config.json`` naming ``LlamaTokenizer`` and a ``special_tokens_map.json``; no
``tokenizer.json``, no pad token) and weights as PyTorch ``pytorch_model*.bin`` files, newer releases
as safetensors; a large model in shards listed by an index file. ``build_checkpoint`` writes such a
directory: a SentencePiece BPE tokenizer trained on given texts (byte fallback, ids 0/1/2 for
unk/bos/eos as in LLaMA) and a randomly initialised ``LlamaForCausalLM`` of a given shape, saved in
either weight format, in one file or in shards. The tests use small ones as stand-ins for real base
models; ``benchmarks/`` builds larger ones.

``LLAMA1_SHAPES`` are the shapes of the LLaMA-1 sizes (Touvron et al. 2023, Table 2), with
Chinese-LLaMA-Plus's 49,954-token vocabulary: the memory plan counts their parameters when a size's
model directory is not at hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch

# LLaMA-1 shapes (hidden size, layers, heads, MLP width); vocabulary of Chinese-LLaMA-Plus.
CHINESE_LLAMA_VOCAB = 49954
LLAMA1_SHAPES = {
    "7b": {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008},
    "13b": {"hidden_size": 5120, "num_hidden_layers": 40, "num_attention_heads": 40, "intermediate_size": 13824},
    "33b": {"hidden_size": 6656, "num_hidden_layers": 60, "num_attention_heads": 52, "intermediate_size": 17920},
    "65b": {"hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64, "intermediate_size": 22016},
}
WEIGHT_FORMATS = ("safetensors", "bin")
UNK, BOS, EOS = "<unk>", "<s>", "</s>"


def train_sentencepiece(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 2000) -> Path:
    """A LLaMA-style SentencePiece tokenizer trained on ``texts``, saved as LLaMA releases ship it."""
    import sentencepiece as spm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # LLaMA's trainer settings: BPE, byte fallback (no <unk> for unseen characters), digits split, no
    # normalisation (NFKC would turn "：" into ":", which transformers' tokenizer does not), whitespace
    # kept, unk/bos/eos = 0/1/2 and no pad piece.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=str(out_dir / "tokenizer"), vocab_size=vocab_size,
        model_type="bpe", byte_fallback=True, split_digits=True, character_coverage=0.9995,
        normalization_rule_name="identity", remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    (out_dir / "tokenizer.vocab").unlink(missing_ok=True)  # not shipped by releases
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": BOS, "eos_token": EOS, "unk_token": UNK,
        "add_bos_token": True, "add_eos_token": False, "model_max_length": 2048, "legacy": True}, indent=2))
    (out_dir / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": BOS, "eos_token": EOS, "unk_token": UNK}, indent=2))
    return out_dir / "tokenizer.model"


def llama_config(vocab_size: int, max_positions: int = 2048, **shape):
    """A LLaMA-1 style config (untied output layer, no pad token, bos 1 / eos 2) of the given shape."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, max_position_embeddings=max_positions, rms_norm_eps=1e-6,
                       tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None, **shape)


def parameter_count(config) -> int:
    """Parameters of the causal LM a config describes, counted on the meta device (no memory used)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def save_weights(model, out_dir: str | Path, fmt: str = "safetensors", shards: int = 1,
                 dtype: torch.dtype | None = None) -> list[Path]:
    """Write ``model``'s weights (and config) in ``fmt``, in ``shards`` files with an index when > 1."""
    if fmt not in WEIGHT_FORMATS:
        raise ValueError(f"weight format {fmt!r} is not one of {', '.join(WEIGHT_FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if dtype is not None:
        model = model.to(dtype)
    model.config.save_pretrained(out_dir)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    names = list(state)
    groups = [names[i::shards] for i in range(shards)] if shards > 1 else [names]
    stem, ext = ("model", ".safetensors") if fmt == "safetensors" else ("pytorch_model", ".bin")
    files, weight_map = [], {}
    for i, group in enumerate(groups, start=1):
        name = f"{stem}{ext}" if shards == 1 else f"{stem}-{i:05d}-of-{shards:05d}{ext}"
        part = {k: state[k].clone() for k in group}  # own storage: a view would save its whole base tensor
        if fmt == "safetensors":
            from safetensors.torch import save_file

            save_file(part, str(out_dir / name), metadata={"format": "pt"})
        else:
            torch.save(part, out_dir / name)
        files.append(out_dir / name)
        weight_map.update({k: name for k in group})
    if shards > 1:
        total = sum(t.numel() * t.element_size() for t in state.values())
        index = out_dir / f"{stem}{ext}.index.json"
        index.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
        files.append(index)
    return files


def build_checkpoint(out_dir: str | Path, texts: Iterable[str], shape: dict, *, fmt: str = "bin", shards: int = 1,
                     vocab_size: int = 2000, dtype: torch.dtype = torch.float16, seed: int = 0,
                     max_positions: int = 2048, tokenizer_dir: str | Path | None = None) -> Path:
    """A LLaMA model directory as a release ships it: SentencePiece tokenizer files, config.json and
    randomly initialised weights (``dtype``, fp16 as LLaMA's releases) in ``fmt``, in ``shards`` files.

    ``tokenizer_dir``: copy the tokenizer files from there instead of training one on ``texts``.
    """
    import shutil

    from transformers import LlamaForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if tokenizer_dir is None:
        train_sentencepiece(texts, out_dir, vocab_size)
    else:
        for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy2(Path(tokenizer_dir) / name, out_dir / name)
    import sentencepiece as spm

    vocab = spm.SentencePieceProcessor(model_file=str(out_dir / "tokenizer.model")).get_piece_size()
    config = llama_config(vocab, max_positions, **shape)
    config.dtype = dtype
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    save_weights(model, out_dir, fmt, shards, dtype)
    return out_dir
