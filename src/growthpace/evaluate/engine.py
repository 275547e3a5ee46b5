"""Batched HF inference with three request types, in the manner of lm-evaluation-harness's HF model.

- ``generate``: greedy decoding, left padding, batches sorted by prompt length (longest first, so an
  out-of-memory error shows up on the first batch), original order restored, stop on ``<eot>`` (and
  the other speaker tokens), per-request ``max_new_tokens``. Optionally returns the logits of given
  tokens (the option letters) at the FIRST generated position and at the LAST generation step of
  each row (the step that emitted its stop token, or its final step: what the authors' code read),
  and the log-likelihood of a given continuation (the gold answer), scored in the generation's own
  prefill: the prompt runs once for both.
- ``next_token_logits``: one forward per batch of prompts, the logits of given tokens at the next
  position (CMMLU/AGIEval-style first-token A-D scoring, no generation); optionally also the
  log-likelihood of a given continuation (the gold), from the same forward, as ``generate`` does.
- ``loglikelihood``: for (context, continuation) pairs of token ids, the summed log-probability of the
  continuation, its length and whether it is the greedy continuation. Two strategies give the same
  numbers (to float rounding):

  * ``flat``: one right-padded forward per batch over every context + continuation;
  * ``shared``: requests are grouped by context; a context and its candidates share one row of one
    forward, a 4D attention mask keeping each candidate to the context and its own tokens (the
    field's custom-mask path, which the sdpa and eager attentions read; with another attention
    every request goes ``flat``). The context runs once for all its candidates.

  ``auto`` picks ``shared`` when contexts are shared by several candidates, else ``flat``
  (``benchmarks/bench_eval.py`` measures both; see ``LL_SHARED_MIN_CANDIDATES``).

Batch size: an integer is the largest batch; ``"auto"`` starts at ``AUTO_BATCH_START``. Either way a
batch that runs out of memory (``torch.OutOfMemoryError``) is halved (its rows: for ``shared``
log-likelihood, its candidates) and retried, down to one row, and what fitted is kept as a number of
tokens per forward (rows x padded width; as lm-eval's ``find_executable_batch_size``, but in tokens):
later batches take as many rows as fit in it at their own width. It is kept per request kind
(``generate`` with its token budget, ``next_token``, ``loglikelihood_flat``, ``loglikelihood_shared``):
one out-of-memory on 1,024-token math generations does not cap 8-token generations. It is kept for the
rest of the request set, for later calls on this engine, and, with a ``BatchSizeMemory``, for every
engine that loads a model of the same shape on the same device (the 15 epochs of a cell, every cell of
a model size): a 33b model's evaluation searches once, not in every chunk of every job. It may grow
again: after ``GROW_AFTER`` batches in a row that fitted under it, the engine tries twice the tokens
(a passing shortage of memory, such as another process on the GPU, does not cap every later
evaluation); a try that runs out of memory doubles the batches to wait before the next.
``max_batch_tokens`` caps rows x padded length of any forward: a larger batch raises the same
``torch.OutOfMemoryError`` a full GPU would, so the back-off also bounds memory deliberately (and can
be exercised on a CPU).

Scoring forwards (``next_token_logits``, ``loglikelihood``) pass ``use_cache=False``: they read the
logits once and would otherwise build a key-value cache of every layer for nothing. A generation
prompt longer than the window less its token budget is cut from the left: each such row says how many
tokens it lost (``Generation.prompt_tokens_cut``) and a warning counts them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..models.chat import ASSISTANT, EOT, USER

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
AUTO_BATCH_START = 256
LL_STRATEGIES = ("auto", "flat", "shared")
# ``auto``: run a context once for its candidates when contexts carry at least this many on average.
# Measured by benchmarks/bench_eval.py (CPU, tiny LLaMA): on the demo's 3-candidate ranking items
# shared is 1.3-1.7x faster than flat with 29-token contexts and 3.1-3.3x with 5-shot (229-token)
# contexts; with one candidate per context it saves nothing and its mask costs more than flat's.
LL_SHARED_MIN_CANDIDATES = 2
# Batches in a row that fit under a backed-off token limit before the engine tries twice the tokens.
GROW_AFTER = 4


class BatchSizeMemory:
    """Tokens per forward found per request kind, in a JSON file shared by evaluations that use the
    same model shape, dtype and device (``key``); written under a file lock, atomically. A value may
    grow as well as shrink (the latest that fitted or was found by backing off)."""

    def __init__(self, path: str | Path, key: str):
        self.path, self.key = Path(path), key

    def load(self) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in json.loads(self.path.read_text()).get(self.key, {}).items()}
        except (FileNotFoundError, json.JSONDecodeError, AttributeError, TypeError, ValueError):
            return {}

    def save(self, kind: str, size: int) -> None:
        from filelock import FileLock

        from ..files import write_json_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            try:
                data = json.loads(self.path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                data = {}
            data.setdefault(self.key, {})[kind] = int(size)
            write_json_atomic(self.path, data)


def memory_key(model, dtype: torch.dtype, device: str, max_batch_tokens: int | None) -> str:
    """What decides whether a batch fits: the model's shape (its config), dtype, device and token cap."""
    config = {k: v for k, v in model.config.to_dict().items() if k not in ("_name_or_path", "transformers_version")}
    where = "cpu"
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        where = f"{props.name}/{props.total_memory}"
    text = json.dumps({"config": config, "dtype": str(dtype), "device": where, "max_batch_tokens": max_batch_tokens},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    prompt_tokens_cut: int = 0  # tokens cut from the prompt's start to leave room for the budget
    letter_logits: dict[str, float] | None = None       # at the first generated position
    last_letter_logits: dict[str, float] | None = None  # at the row's last generation step
    loglikelihood: tuple[float, int, bool] | None = None  # of the continuation given, as ``loglikelihood``


def resolve_dtype(name: str, device: str) -> torch.dtype:
    """``auto`` is fp32 on the CPU (bf16 matmul is ~400x slower there) and bf16 on a GPU."""
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if name not in DTYPES:
        raise ValueError(f"evaluation.dtype: unknown dtype {name!r}; use auto, {', '.join(DTYPES)}")
    return DTYPES[name]


class HFEngine:
    def __init__(self, model_dir: str | Path, device: str | None = None, dtype: str = "auto",
                 batch_size: int | str = "auto", max_batch_tokens: int | None = None,
                 loglikelihood_strategy: str = "auto", progress: bool = True, add_chat_tokens: bool = False,
                 batch_size_file: str | Path | None = None):
        """``add_chat_tokens``: give a tokenizer without the speaker tokens (a base model never fine-tuned
        here) those tokens, and the model embeddings for them initialised as SFT does (seeded).
        ``batch_size_file``: where batch sizes found by backing off are kept for later engines."""
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir}: not a model directory (no config.json)")
        if batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"evaluation.batch_size: expected a positive integer or 'auto', got {batch_size!r}")
        if loglikelihood_strategy not in LL_STRATEGIES:
            raise ValueError(f"evaluation.loglikelihood_strategy: {loglikelihood_strategy!r} is not one of "
                             f"{', '.join(LL_STRATEGIES)}")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        # On a GPU the weights go straight to it, shard by shard, never whole in host memory.
        placement = {"device_map": self.device} if self.device.startswith("cuda") else {}
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=self.dtype, weights_only=True,
                                                          **placement).to(self.device).eval()
        if add_chat_tokens:
            from ..models.chat import add_chat_tokens as add_tokens

            if add_tokens(self.tokenizer):
                torch.manual_seed(0)  # the new rows are drawn around the mean embedding: make them repeatable
                self.model.resize_token_embeddings(len(self.tokenizer))
        self.batch_size = AUTO_BATCH_START if batch_size == "auto" else batch_size
        self.max_batch_tokens = max_batch_tokens
        self.memory = None if batch_size_file is None else BatchSizeMemory(
            batch_size_file, memory_key(self.model, self.dtype, self.device, max_batch_tokens))
        # Tokens per forward known to fit, per request kind (``_batch_kind``); absent: no limit found.
        self.token_limits: dict[str, int] = self.memory.load() if self.memory else {}
        # Per kind: batches that fitted since the last change of its limit, and how many to wait for
        # before trying a larger one.
        self._fitted: dict[str, int] = {}
        self._grow_after: dict[str, int] = {}
        self._trying: set[str] = set()  # kinds whose limit was just raised and has not fitted yet
        self.loglikelihood_strategy = loglikelihood_strategy
        self.progress = progress
        self.last_batch_size = self.batch_size  # the size the last request set settled on (recorded)
        vocab = self.tokenizer.get_vocab()
        stops = {vocab[t] for t in (EOT, USER, ASSISTANT) if t in vocab}
        for tid in (self.tokenizer.eos_token_id, self.tokenizer.bos_token_id, self.tokenizer.unk_token_id):
            if tid is not None:
                stops.add(tid)
        self.stop_ids = sorted(stops)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        self.max_positions = getattr(self.model.config, "max_position_embeddings", 2048)
        # ``shared`` log-likelihood passes a 4D attention mask, which the sdpa and eager attentions read
        # (flash attention does not): other implementations score every request ``flat``.
        self.custom_masks = getattr(self.model.config, "_attn_implementation", None) in ("sdpa", "eager")
        # A generation's prefill also scores a continuation, then cuts the cache back to the prompt:
        # only where every layer keeps its full past (no sliding window, no linear-attention state).
        config = self.model.config
        self.joint_prefill = not getattr(config, "sliding_window", None) and all(
            t == "full_attention" for t in (getattr(config, "layer_types", None) or ["full_attention"]))

    # ------------------------------------------------------------ batching with back-off
    def _check_memory(self, rows: int, width: int) -> None:
        if self.max_batch_tokens is not None and rows * width > self.max_batch_tokens:
            raise torch.OutOfMemoryError(
                f"batch of {rows} x {width} tokens exceeds evaluation.max_batch_tokens={self.max_batch_tokens}")

    def _run_batches(self, n_units: int, take: Callable[[int, int], list[int]],
                     run: Callable[[list[int]], list], weight: Callable[[int], int], width: Callable[[int], int],
                     desc: str, kind: Callable[[int], str] | str) -> dict[int, object]:
        """Run ``run(idx)`` over batches ``take(start, size)``, halving on out-of-memory.

        ``take`` returns the units of the next batch (a prefix of the remaining sorted units, holding
        at most ``size`` rows); ``weight`` is how many rows a unit stands for (a ``shared`` group: its
        candidates); ``width(k)`` the tokens per row of a batch that starts at unit ``k`` (its padded
        width: units are sorted longest first); ``kind`` (or ``kind(k)``) names the request kind whose
        token limit applies.
        """
        kind_of = kind if callable(kind) else (lambda k: kind)
        results: dict[int, object] = {}
        start, size = 0, self.batch_size
        with tqdm(total=sum(weight(i) for i in range(n_units)), desc=desc, leave=False,
                  disable=not self.progress) as bar:
            while start < n_units:
                key, w = kind_of(start), max(1, width(start))
                limit = self.token_limits.get(key)
                size = self.batch_size if limit is None else max(1, min(self.batch_size, limit // w))
                idx = take(start, size)
                rows = sum(weight(i) for i in idx)
                try:
                    out = run(idx)
                except torch.OutOfMemoryError as e:
                    if len(idx) == 1:
                        raise torch.OutOfMemoryError(f"{desc}: one request does not fit in memory ({e})") from e
                    if key in self._trying:  # a larger try failed: wait longer before the next
                        self._trying.discard(key)
                        self._grow_after[key] *= 2
                    half = max(1, rows // 2)
                    log.warning("%s: out of memory with %d rows of %d tokens, retrying with %d", desc, rows, w, half)
                    self._set_limit(key, half * w)
                    if self.device.startswith("cuda"):
                        torch.cuda.empty_cache()
                    continue
                for i, r in zip(idx, out):
                    results[i] = r
                start += len(idx)
                bar.update(rows)
                self._trying.discard(key)
                if limit is not None and size < self.batch_size:  # held back by the limit: may it grow?
                    self._fitted[key] = self._fitted.get(key, 0) + 1
                    if self._fitted[key] >= self._grow_after.setdefault(key, GROW_AFTER):
                        log.info("%s: %d batches fitted in %d tokens, trying %d", desc, self._fitted[key], limit,
                                 2 * limit)
                        self._set_limit(key, 2 * limit)
                        self._trying.add(key)
        self.last_batch_size = size
        return results

    def _set_limit(self, key: str, tokens: int) -> None:
        self.token_limits[key] = tokens
        self._fitted[key] = 0
        if self.memory is not None:
            self.memory.save(key, tokens)

    def _left_pad(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in seqs)
        ids = torch.tensor([[self.pad_id] * (width - len(s)) + list(s) for s in seqs], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], dtype=torch.long)
        return ids.to(self.device), mask.to(self.device)

    # ---------------------------------------------------------------- generate
    @torch.inference_mode()
    def generate(self, prompts: Sequence[list[int]], max_new_tokens: Sequence[int] | int,
                 letter_token_ids: dict[str, int] | None = None, desc: str = "generate",
                 continuations: Sequence[list[int]] | None = None) -> list[Generation]:
        """Greedy generations of ``prompts``. ``continuations`` (one per prompt): also the
        ``loglikelihood`` of each after its prompt, from the forward that starts the generation (the
        continuation rides after the prompt; the cache is cut back to the prompt before decoding), so
        a prompt runs once for both."""
        n = len(prompts)
        budgets = [max_new_tokens] * n if isinstance(max_new_tokens, int) else list(max_new_tokens)
        # Scored with the generation only where the prompt is not cut for it.
        conts, apart = self._joint_continuations("generate", prompts, continuations, lambda i: self.joint_prefill and (
            len(prompts[i]) <= self.max_positions - budgets[i]))
        # A prompt longer than the window less its budget keeps its end (left truncation).
        cut = [max(0, len(p) - max(0, self.max_positions - b)) for p, b in zip(prompts, budgets)]
        if any(cut):
            log.warning("%s: %d of %d prompts cut from the left to leave room for their token budget in the "
                        "model's %d positions (%d tokens in all; flagged per row as prompt_tokens_cut)", desc,
                        sum(c > 0 for c in cut), n, self.max_positions, sum(cut))
        # Group by budget, then longest prompt first within a group.
        order = sorted(range(n), key=lambda i: (budgets[i], -len(prompts[i])))

        def take(start, size):
            budget = budgets[order[start]]
            return [k for k in range(start, min(n, start + size)) if budgets[order[k]] == budget]

        def run(ks):
            idx = [order[k] for k in ks]
            return self._generate_batch([prompts[i] for i in idx], budgets[idx[0]], letter_token_ids,
                                        [conts[i] for i in idx])

        def width(k):
            i = order[k]
            return len(prompts[i]) - cut[i] + budgets[i]

        done = self._run_batches(n, take, run, lambda k: 1, width, desc,
                                 lambda k: f"generate/{budgets[order[k]]}")
        results: list[Generation | None] = [None] * n
        for k, g in done.items():
            results[order[k]] = g
            g.prompt_tokens_cut = cut[order[k]]
        if apart:
            for i, ll in zip(apart, self.loglikelihood([(prompts[i], continuations[i]) for i in apart])):
                results[i].loglikelihood = ll
        return results  # type: ignore[return-value]

    def _joint_continuations(self, what: str, prompts, continuations, joint: Callable[[int], bool]):
        """(per prompt, the continuation to score in the prompt's own forward or None; the prompts whose
        continuation is scored apart). Joint only where ``joint(i)`` holds and prompt + continuation fit
        untruncated; else ``loglikelihood`` truncates them its own way: the numbers do not depend on the path."""
        n = len(prompts)
        conts = [None] * n if continuations is None else list(continuations)
        if len(conts) != n:
            raise ValueError(f"{what}: {len(conts)} continuations for {n} prompts")
        if any(c is not None and not c for c in conts):
            raise ValueError(f"{what}: empty continuation")
        apart = [i for i, c in enumerate(conts) if c is not None and (
            not joint(i) or not prompts[i] or len(prompts[i]) + len(c) - 1 > self.max_positions)]
        for i in apart:
            conts[i] = None
        return conts, apart

    def _prompt_forward(self, ids, mask, pos, conts, **kwargs):
        """One forward of left-padded prompts, each followed by its continuation but the last token
        where ``conts`` holds one (right padded; causal attention keeps the prompt's positions as they
        are alone). (model output, logits at each prompt's last position, {row: (log-likelihood of its
        continuation, length, is greedy)}), the continuations scored from the prompt's last position on."""
        scored = [r for r, c in enumerate(conts or []) if c is not None]
        if not scored:
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=1, **kwargs)
            return out, out.logits[:, -1], {}
        rows, width = ids.shape
        lengths = [len(c) - 1 if c else 0 for c in conts]  # tokens after the prompt's last
        tail = max(lengths)
        ext = torch.tensor([(c[:-1] if c else []) + [self.pad_id] * (tail - k) for c, k in zip(conts, lengths)],
                           dtype=torch.long, device=self.device).view(rows, tail)
        ext_mask = torch.tensor([[1] * k + [0] * (tail - k) for k in lengths], device=self.device).view(rows, tail)
        keep = torch.arange(width - 1, width + tail, device=self.device)  # the prompt's last position on
        out = self.model(input_ids=torch.cat([ids, ext], 1), attention_mask=torch.cat([mask, ext_mask], 1),
                         position_ids=torch.cat([pos, pos[:, -1:] + 1 + torch.arange(tail, device=self.device)], 1),
                         logits_to_keep=keep, **kwargs)
        r_idx = [r for r in scored for _ in conts[r]]
        c_idx = [j for r in scored for j in range(len(conts[r]))]
        sums, greedy = self._continuation_scores(out.logits[r_idx, c_idx], [t for r in scored for t in conts[r]],
                                                 [k for k, r in enumerate(scored) for _ in conts[r]], len(scored))
        return out, out.logits[:, 0], {r: (sums[k], len(conts[r]), greedy[k]) for k, r in enumerate(scored)}

    def _generate_batch(self, prompts, budget, letter_token_ids, conts=None):
        """Greedy decoding with a KV cache: one prefill, then one single-token forward per step.

        A plain loop rather than ``model.generate``: it keeps only the logits it needs (the last
        position; the letter logits of two steps per row) and has a fraction of its per-step overhead,
        which dominates for small models. ``tests/test_engine.py`` checks it against full forwards.
        ``conts``: per row, a continuation to score (or None). The prefill then holds each prompt
        followed by its continuation (right padded; causal attention keeps the prompt's positions
        as they are alone), its logits from the prompt's last position on score the continuation,
        and the cache is cut back to the prompts before the first step.
        """
        room = self.max_positions - budget
        prompts = [p[-room:] for p in prompts]  # keep the end of an over-long prompt (left truncation)
        ids, mask = self._left_pad(prompts)
        rows, width = ids.shape
        scored = [r for r, c in enumerate(conts or []) if c is not None]
        tail = max((len(conts[r]) - 1 for r in scored), default=0)
        self._check_memory(rows, width + max(budget, tail))
        stop = torch.tensor(self.stop_ids, device=self.device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        out, logits, scores = self._prompt_forward(ids, mask, pos, conts, use_cache=True)
        cache = out.past_key_values
        if cache.get_seq_length() > width:
            cache.crop(width - cache.get_seq_length())  # back to the prompts' keys and values
        next_pos = pos[:, -1:] + 1
        letter_ids = torch.tensor(list(letter_token_ids.values()), device=self.device) if letter_token_ids else None
        first = last = None
        done = torch.zeros(rows, dtype=torch.bool, device=self.device)
        steps = []
        for step in range(budget):
            token = logits.argmax(-1)
            stops = torch.isin(token, stop) & ~done
            if letter_ids is not None:
                picked = logits[:, letter_ids].float()
                if step == 0:
                    first, last = picked.clone(), picked.clone()
                else:  # this row's stop step, else its final step
                    take = stops | (~done & (step == budget - 1))
                    last[take] = picked[take]
            token = torch.where(done, torch.full_like(token, self.pad_id), token)
            steps.append(token)
            done |= stops
            if bool(done.all()) or step == budget - 1:
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            logits = self.model(input_ids=token[:, None], attention_mask=mask, position_ids=next_pos,
                                past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
            next_pos = next_pos + 1
        new = torch.stack(steps, dim=1).tolist()
        gens = []
        for r, seq in enumerate(new):
            cut = next((k for k, t in enumerate(seq) if t in self.stop_ids), len(seq))
            toks = seq[:cut]
            gen = Generation(self.tokenizer.decode(toks, skip_special_tokens=False), toks,
                             loglikelihood=scores.get(r))
            if first is not None:
                gen.letter_logits = dict(zip(letter_token_ids, first[r].tolist()))
                gen.last_letter_logits = dict(zip(letter_token_ids, last[r].tolist()))
            gens.append(gen)
        return gens

    # ------------------------------------------------------- next-token logits
    @torch.inference_mode()
    def next_token_logits(self, prompts: Sequence[list[int]], token_ids: dict[str, int],
                          desc: str = "next-token", continuations: Sequence[list[int]] | None = None):
        """Logits of ``token_ids`` right after each prompt (one forward per batch, no generation).
        ``continuations`` (one per prompt): also the ``loglikelihood`` of each after its prompt, from the
        same forward (as ``generate`` does: a CMMLU prompt runs once for its letters and its gold), and
        the result is (logits, log-likelihoods)."""
        n = len(prompts)
        conts, apart = self._joint_continuations("next_token_logits", prompts, continuations, lambda i: True)
        whole, prompts = prompts, [p[-self.max_positions:] for p in prompts]
        order = sorted(range(n), key=lambda i: -len(prompts[i]))
        names, tids = list(token_ids), torch.tensor(list(token_ids.values()), device=self.device)

        def run(ks):
            idx = [order[k] for k in ks]
            ids, mask = self._left_pad([prompts[i] for i in idx])
            self._check_memory(ids.shape[0], ids.shape[1] + max((len(conts[i]) - 1 for i in idx if conts[i]), default=0))
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            _, logits, scores = self._prompt_forward(ids, mask, pos, [conts[i] for i in idx], use_cache=False)
            return [(dict(zip(names, row.tolist())), scores.get(r)) for r, row in enumerate(logits[:, tids].float())]

        def width(k):  # the prompt, and the continuation scored after it
            i = order[k]
            return len(prompts[i]) + (len(conts[i]) - 1 if conts[i] else 0)

        done = self._run_batches(n, lambda s, size: list(range(s, min(n, s + size))), run, lambda k: 1, width, desc,
                                 "next_token")
        results: list = [None] * n
        for k, r in done.items():
            results[order[k]] = r
        if continuations is None:
            return [r[0] for r in results]
        lls = [r[1] for r in results]
        if apart:
            for i, ll in zip(apart, self.loglikelihood([(whole[i], continuations[i]) for i in apart])):
                lls[i] = ll
        return [r[0] for r in results], lls

    # ----------------------------------------------------------- loglikelihood
    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[tuple[list[int], list[int]]], strategy: str | None = None,
                      desc: str = "loglikelihood") -> list[tuple[float, int, bool]]:
        """(sum log p(continuation | context), continuation length, is greedy) per request."""
        strategy = strategy or self.loglikelihood_strategy
        if strategy not in LL_STRATEGIES:
            raise ValueError(f"loglikelihood strategy {strategy!r} is not one of {', '.join(LL_STRATEGIES)}")
        for ctx, cont in requests:
            if not cont:
                raise ValueError("loglikelihood: empty continuation")
            if not ctx:
                raise ValueError("loglikelihood: empty context (the first token has no prediction)")
            if len(cont) > self.max_positions:
                raise ValueError(f"loglikelihood: a continuation of {len(cont)} tokens is longer than the model's "
                                 f"{self.max_positions} positions")
        if strategy == "auto":
            strategy = choose_strategy(requests)
        if strategy == "flat" or not self.custom_masks:
            return self._loglikelihood_flat(list(requests), desc)
        return self._loglikelihood_shared(list(requests), desc)

    def _loglikelihood_flat(self, requests, desc):
        n = len(requests)
        order = sorted(range(n), key=lambda i: -(len(requests[i][0]) + len(requests[i][1])))

        def run(ks):
            return self._flat_batch([requests[order[k]] for k in ks])

        def width(k):
            ctx, cont = requests[order[k]]
            return min(len(ctx) + len(cont), self.max_positions + 1) - 1

        done = self._run_batches(n, lambda s, size: list(range(s, min(n, s + size))), run, lambda k: 1, width,
                                 desc, "loglikelihood_flat")
        results: list = [None] * n
        for k, r in done.items():
            results[order[k]] = r
        return results

    def _flat_batch(self, reqs):
        seqs = [((ctx + cont)[-(self.max_positions + 1):], len(cont)) for ctx, cont in reqs]
        width = max(len(s) for s, _ in seqs) - 1
        self._check_memory(len(seqs), width)
        # The input is each sequence but its last token (the start of an over-long context dropped).
        ids = torch.tensor([s[:-1] + [self.pad_id] * (width - len(s) + 1) for s, _ in seqs], dtype=torch.long)
        mask = torch.tensor([[1] * (len(s) - 1) + [0] * (width - len(s) + 1) for s, _ in seqs], dtype=torch.long)
        logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                            use_cache=False).logits
        r_idx = [r for r, (s, k) in enumerate(seqs) for _ in range(k)]
        c_idx = [j for s, k in seqs for j in range(len(s) - 1 - k, len(s) - 1)]  # continuation positions only
        sums, greedy = self._continuation_scores(logits[r_idx, c_idx], [t for s, k in seqs for t in s[-k:]],
                                                 [r for r, (_, k) in enumerate(seqs) for _ in range(k)], len(seqs))
        return [(lp, k, g) for lp, g, (_, k) in zip(sums, greedy, seqs)]

    def _continuation_scores(self, logits: torch.Tensor, targets: list[int], owners: list[int],
                             n: int) -> tuple[list[float], list[bool]]:
        """Summed log-probabilities of ``targets`` (one per row of ``logits`` [N, vocab], the
        prediction of it) per owner 0..n-1, in float64, and whether every target is the argmax."""
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        target = torch.tensor(targets, device=logprobs.device)
        owner = torch.tensor(owners, device=logprobs.device)
        picked = logprobs.gather(1, target[:, None]).squeeze(1)
        sums = torch.zeros(n, dtype=torch.float64, device=logprobs.device).index_add_(0, owner, picked.double())
        # Greedy: the target is the argmax. The row maximum is a plain reduction (argmax over a whole
        # vocabulary costs several times more); only where the target ties another token does the
        # first-index rule of argmax need checking.
        top = logprobs.amax(-1)
        greedy = picked == top
        rows = greedy.nonzero().squeeze(1)
        if rows.numel():
            tied = rows[(logprobs[rows] == top[rows, None]).sum(-1) > 1]
            if tied.numel():
                greedy[tied] = logprobs[tied].argmax(-1) == target[tied]
        missed = torch.zeros(n, dtype=torch.long, device=logprobs.device).index_add_(0, owner, (~greedy).long())
        return sums.tolist(), (missed == 0).tolist()

    def _loglikelihood_shared(self, requests, desc):
        groups: dict[tuple, list[int]] = {}
        for i, (ctx, _) in enumerate(requests):
            groups.setdefault(tuple(ctx), []).append(i)
        results: list = [None] * len(requests)
        # A group whose context + longest candidate is over-long falls back to ``flat`` (which
        # truncates each request on its own), so both strategies always see the same tokens.
        fits, over = [], []
        for ctx, members in groups.items():
            longest = max(len(requests[i][1]) for i in members)
            (fits if len(ctx) + longest - 1 <= self.max_positions else over).append((list(ctx), members))
        if over:
            idx = [i for _, m in over for i in m]
            for i, r in zip(idx, self._loglikelihood_flat([requests[i] for i in idx], desc)):
                results[i] = r
        # A context and its candidates share one row (``_shared_batch``): longest rows first.
        fits.sort(key=lambda g: -(len(g[0]) + sum(len(requests[i][1]) - 1 for i in g[1])))
        n_rows = [len(m) for _, m in fits]  # a batch holds up to ``size`` candidates

        def take(start, size):  # whole groups, up to ``size`` candidate rows (at least one group)
            ks, rows = [start], n_rows[start]
            while start + len(ks) < len(fits) and rows + n_rows[start + len(ks)] <= size:
                rows += n_rows[start + len(ks)]
                ks.append(start + len(ks))
            return ks

        def run(ks):
            batch = [(fits[k][0], [requests[i][1] for i in fits[k][1]]) for k in ks]
            return self._shared_batch(batch) if len(batch) > 1 else [self._shared_split(*batch[0])]

        def width(k):  # a group's row, spread over its candidates (the batch size counts candidates)
            ctx, members = fits[k]
            return -(-(len(ctx) + sum(len(requests[i][1]) - 1 for i in members)) // len(members))

        done = self._run_batches(len(fits), take, run, lambda k: n_rows[k], width, desc, "loglikelihood_shared")
        for k, per_cand in done.items():
            for i, r in zip(fits[k][1], per_cand):
                results[i] = r
        return results

    def _shared_split(self, ctx: list[int], conts: list[list[int]]) -> list[tuple[float, int, bool]]:
        """One context whose candidates do not fit together: halve its candidates until they do."""
        try:
            return self._shared_batch([(ctx, conts)])[0]
        except torch.OutOfMemoryError:
            if len(conts) == 1:
                raise
            half = len(conts) // 2
            return self._shared_split(ctx, conts[:half]) + self._shared_split(ctx, conts[half:])

    def _shared_batch(self, batch: list[tuple[list[int], list[list[int]]]]) -> list[list[tuple[float, int, bool]]]:
        """One forward, one row per context: the context (left padded), then each of its candidates
        but their last token, side by side. A 4D attention mask lets a candidate's tokens see the
        context and their own earlier tokens only, and their positions continue from the context's
        end, so each candidate is scored as if alone, and the context runs once."""
        ctx_ids, ctx_mask = self._left_pad([ctx for ctx, _ in batch])
        rows, width = ctx_ids.shape
        length = max(sum(len(c) - 1 for c in conts) for _, conts in batch)
        total = width + length
        self._check_memory(rows, total)
        ctx_valid = ctx_mask.tolist()
        tail, segment, pos = [], [], []
        r_idx, c_idx, targets, owners, sizes = [], [], [], [], []
        for g, (ctx, conts) in enumerate(batch):
            ids, seg = [], [-1 if v else -2 for v in ctx_valid[g]]  # -1: context, k: its k-th candidate, -2: pad
            where = [0] * (width - len(ctx)) + list(range(len(ctx)))
            for k, c in enumerate(conts):
                # c[0] is predicted at the context's last token, c[j] at the candidate's (j-1)-th.
                r_idx += [g] * len(c)
                c_idx += [0, *range(len(ids) + 1, len(ids) + len(c))]  # columns counted from width - 1
                targets += c
                owners += [len(sizes)] * len(c)
                sizes.append(len(c))
                ids += c[:-1]
                seg += [k] * (len(c) - 1)
                where += range(len(ctx), len(ctx) + len(c) - 1)
            fill = length - len(ids)
            tail.append(ids + [self.pad_id] * fill)
            segment.append(seg + [-2] * fill)
            pos.append(where + [0] * fill)
        segment = torch.tensor(segment, device=self.device)
        pos = torch.tensor(pos, device=self.device)
        query, key = segment[:, :, None], segment[:, None, :]
        causal = torch.ones(total, total, dtype=torch.bool, device=self.device).tril()
        allowed = causal & ((key == -1) | ((query == key) & (query >= 0)))
        allowed |= torch.eye(total, dtype=torch.bool, device=self.device)  # a padding query keeps a key
        mask = allowed[:, None]  # sdpa reads a boolean mask; eager adds it to the scores
        if self.model.config._attn_implementation != "sdpa":
            mask = torch.zeros(mask.shape, dtype=self.dtype, device=self.device).masked_fill_(
                ~mask, torch.finfo(self.dtype).min)
        keep = torch.arange(width - 1, total, device=self.device)
        tail = torch.tensor(tail, dtype=torch.long, device=self.device).view(rows, length)
        logits = self.model(input_ids=torch.cat([ctx_ids, tail], 1), attention_mask=mask, position_ids=pos,
                            use_cache=False, logits_to_keep=keep).logits
        sums, greedy = self._continuation_scores(logits[r_idx, c_idx], targets, owners, len(sizes))
        out, i = [], 0
        for _, conts in batch:
            out.append([(sums[i + j], len(c), greedy[i + j]) for j, c in enumerate(conts)])
            i += len(conts)
        return out


def choose_strategy(requests: Sequence[tuple[list[int], list[int]]]) -> str:
    """``shared`` when contexts carry several candidates on average (or every continuation is one
    token, which then needs no second forward); ``flat`` when each context has a single candidate."""
    contexts = {tuple(ctx) for ctx, _ in requests}
    if not contexts:
        return "flat"
    if all(len(cont) == 1 for _, cont in requests):
        return "shared"
    return "shared" if len(requests) / len(contexts) >= LL_SHARED_MIN_CANDIDATES else "flat"
