"""Batched HF inference with two request types, in the manner of lm-evaluation-harness's HF model.

- ``generate``: greedy decoding, left padding, batches sorted by prompt length (longest first, so an
  out-of-memory error shows up on the first batch), original order restored, stop on ``<eot>`` (and
  the other speaker tokens), per-request ``max_new_tokens``. Optionally returns the logits of given
  tokens (the option letters) at the FIRST generated position.
- ``loglikelihood``: for (context, continuation) pairs of token ids, the summed log-probability of the
  continuation, its length and whether it is the greedy continuation; batches sorted by total length,
  right padding, one forward per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..models.chat import ASSISTANT, EOT, USER

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    letter_logits: dict[str, float] | None = None


def resolve_dtype(name: str, device: str) -> torch.dtype:
    """``auto`` is fp32 on the CPU (bf16 matmul is ~400x slower there) and bf16 on a GPU."""
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if name not in DTYPES:
        raise ValueError(f"evaluation.dtype: unknown dtype {name!r}; use auto, {', '.join(DTYPES)}")
    return DTYPES[name]


class HFEngine:
    def __init__(self, model_dir: str | Path, device: str | None = None, dtype: str = "auto", batch_size: int = 32):
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir}: not a model directory (no config.json)")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=self.dtype).to(self.device).eval()
        self.batch_size = batch_size
        vocab = self.tokenizer.get_vocab()
        stops = {vocab[t] for t in (EOT, USER, ASSISTANT) if t in vocab}
        for tid in (self.tokenizer.eos_token_id, self.tokenizer.bos_token_id, self.tokenizer.unk_token_id):
            if tid is not None:
                stops.add(tid)
        self.stop_ids = sorted(stops)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        self.max_positions = getattr(self.model.config, "max_position_embeddings", 2048)

    # ---------------------------------------------------------------- generate
    @torch.inference_mode()
    def generate(self, prompts: Sequence[list[int]], max_new_tokens: Sequence[int] | int,
                 letter_token_ids: dict[str, int] | None = None, desc: str = "generate") -> list[Generation]:
        n = len(prompts)
        budgets = [max_new_tokens] * n if isinstance(max_new_tokens, int) else list(max_new_tokens)
        # Group by budget, then longest prompt first within a group.
        order = sorted(range(n), key=lambda i: (budgets[i], -len(prompts[i])))
        results: list[Generation | None] = [None] * n
        with tqdm(total=n, desc=desc, leave=False) as bar:
            start = 0
            while start < n:
                budget = budgets[order[start]]
                idx = [i for i in order[start:start + self.batch_size] if budgets[i] == budget]
                start += len(idx)
                for i, g in zip(idx, self._generate_batch([prompts[i] for i in idx], budget, letter_token_ids)):
                    results[i] = g
                bar.update(len(idx))
        return results  # type: ignore[return-value]

    def _generate_batch(self, prompts, budget, letter_token_ids):
        room = self.max_positions - budget
        prompts = [p[-room:] for p in prompts]  # keep the end of an over-long prompt (left truncation)
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, p in enumerate(prompts):
            ids[r, width - len(p):] = torch.tensor(p)
            mask[r, width - len(p):] = 1
        out = self.model.generate(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            max_new_tokens=budget,
            do_sample=False,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
            return_dict_in_generate=True,
            output_scores=letter_token_ids is not None,
        )
        new = out.sequences[:, width:].tolist()
        gens = []
        for r, seq in enumerate(new):
            cut = next((k for k, t in enumerate(seq) if t in self.stop_ids), len(seq))
            toks = seq[:cut]
            letters = None
            if letter_token_ids is not None:
                first = out.scores[0][r].float()
                letters = {L: float(first[t]) for L, t in letter_token_ids.items()}
            gens.append(Generation(self.tokenizer.decode(toks, skip_special_tokens=False), toks, letters))
        return gens

    # ----------------------------------------------------------- loglikelihood
    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[tuple[list[int], list[int]]],
                      desc: str = "loglikelihood") -> list[tuple[float, int, bool]]:
        """(sum log p(continuation | context), continuation length, is greedy) per request."""
        n = len(requests)
        order = sorted(range(n), key=lambda i: -(len(requests[i][0]) + len(requests[i][1])))
        results: list[tuple[float, int, bool] | None] = [None] * n
        with tqdm(total=n, desc=desc, leave=False) as bar:
            for start in range(0, n, self.batch_size):
                idx = order[start:start + self.batch_size]
                for i, r in zip(idx, self._loglikelihood_batch([requests[i] for i in idx])):
                    results[i] = r
                bar.update(len(idx))
        return results  # type: ignore[return-value]

    def _loglikelihood_batch(self, reqs):
        seqs = []
        for ctx, cont in reqs:
            if not cont:
                raise ValueError("loglikelihood: empty continuation")
            full = (ctx + cont)[-(self.max_positions + 1):]  # drop the start of an over-long context
            seqs.append((full, len(cont)))
        width = max(len(s) for s, _ in seqs) - 1
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, (s, _) in enumerate(seqs):
            inp = s[:-1]
            ids[r, :len(inp)] = torch.tensor(inp)
            mask[r, :len(inp)] = 1
        logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        out = []
        for r, (s, k) in enumerate(seqs):
            end = len(s) - 1
            target = torch.tensor(s[-k:], device=logprobs.device)
            rows = logprobs[r, end - k:end]
            lp = rows.gather(1, target[:, None]).squeeze(1)
            greedy = bool((rows.argmax(-1) == target).all())
            out.append((float(lp.sum()), k, greedy))
        return out
