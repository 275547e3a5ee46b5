"""Tiny LLaMA-architecture base models for the demo, pretrained here on the demo world's corpus.

Sizes are named like the paper's (7b/13b/33b stand-ins): a study config maps each model size to an
architecture (hidden size, layers, heads) and a pretraining budget. The result is a plain HF model
directory (``model.safetensors``, ``config.json``, tokenizer files), loadable with
``AutoModelForCausalLM`` like any real base model.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from ..data.schema import PASSAGE_SEPARATOR
from .chat import ASSISTANT, EOT, USER

log = logging.getLogger(__name__)

# Passages of the corpus are joined by PASSAGE_SEPARATOR, as in ``corpus.txt`` (not by <eot>, which stays
# a speaker-turn token that SFT teaches).
# The speaker tokens never occur in the corpus. After pretraining their embedding rows (tied with the
# output rows) start as copies of the corpus's own markers: the demo suite writes worked exam questions
# as "问<question>\n<options>\n答<answer>", so a chat prompt "<user>...<eot><assistant>" begins close to
# that layout. Initialising new tokens from related ones is common practice; SFT then adapts the format
# instead of learning it from random rows (measured: with random rows, a few hundred SFT steps leave
# knowledge questions at chance even when the base model answers them in the corpus's layout).
CHAT_TOKEN_INIT = {USER: "问", ASSISTANT: "答", EOT: "\n"}

# Defaults for the demo's sizes; a study config may override any field per size.
ARCHITECTURES = {
    "xs": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "intermediate_size": 172},
    "s": {"hidden_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
          "intermediate_size": 344},
    "m": {"hidden_size": 192, "num_hidden_layers": 4, "num_attention_heads": 6, "num_key_value_heads": 3,
          "intermediate_size": 512},
}


def build_model(arch: dict, vocab_size: int, pad_id: int, eos_id: int, max_positions: int = 512,
                seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        bos_token_id=None,
        **arch,
    )
    return LlamaForCausalLM(config)


class _Chunks(torch.utils.data.Dataset):
    """Fixed-length windows over the concatenated, tokenised corpus (an empty line between passages)."""

    def __init__(self, ids: list[int], seq_len: int):
        n = len(ids) // seq_len
        self.data = torch.tensor(ids[: n * seq_len], dtype=torch.long).view(n, seq_len)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x = self.data[i]
        return {"input_ids": x, "labels": x.clone()}


def pretrain(tokenizer, corpus_lines: list[str], arch: dict, out_dir: str | Path, *, steps: int,
             batch_size: int, seq_len: int, lr: float, seed: int = 0, work_dir: str | Path | None = None) -> dict:
    """Pretrain a tiny LLaMA on ``corpus_lines`` for ``steps`` optimiser steps; save to ``out_dir``."""
    out_dir = Path(out_dir)
    eot = tokenizer.eos_token_id
    sep = tokenizer(PASSAGE_SEPARATOR, add_special_tokens=False)["input_ids"]
    ids: list[int] = []
    for line in corpus_lines:
        ids.extend(tokenizer(line, add_special_tokens=False)["input_ids"])
        ids.extend(sep)
    data = _Chunks(ids, seq_len)
    if len(data) == 0:
        raise ValueError(f"pretraining corpus is shorter than one window of {seq_len} tokens")
    model = build_model(arch, len(tokenizer), tokenizer.pad_token_id, eot, max_positions=max(512, seq_len), seed=seed)
    n_params = sum(p.numel() for p in model.parameters())
    epochs = math.ceil(steps * batch_size / len(data))
    log.info("pretraining %s params on %d tokens (%d windows), %d steps", f"{n_params:,}", len(ids), len(data), steps)
    args = TrainingArguments(
        output_dir=str(work_dir or out_dir / "_work"),
        max_steps=steps,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, steps // 20),
        weight_decay=0.01,
        adam_beta2=0.95,
        logging_steps=max(1, steps // 10),
        save_strategy="no",
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        seed=seed,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data)
    result = trainer.train()
    initialised = init_chat_tokens(model, tokenizer)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return {
        "parameters": n_params,
        "corpus_tokens": len(ids),
        "final_train_loss": round(float(result.training_loss), 4),
        "train_seconds": round(result.metrics.get("train_runtime", 0.0), 2),
        "chat_tokens_from": initialised,
        "log_history": trainer.state.log_history,
    }


@torch.no_grad()
def init_chat_tokens(model, tokenizer, init: dict[str, str] = CHAT_TOKEN_INIT) -> dict[str, str]:
    """Copy each speaker token's embedding row from its corpus marker (``CHAT_TOKEN_INIT``)."""
    emb = model.get_input_embeddings().weight
    done = {}
    for token, marker in init.items():
        tid = tokenizer.convert_tokens_to_ids(token)
        src = tokenizer(marker, add_special_tokens=False)["input_ids"]
        if tid is None or tid == tokenizer.unk_token_id or len(src) != 1 or src[0] == tokenizer.unk_token_id:
            continue
        emb[tid] = emb[src[0]]
        done[token] = marker
    return done
