"""Evaluate one model on a set of DoIT eval sets: build requests, run the engine, score every item.

Generation items (question_format 0) are decoded greedily and parsed by the scorer of their kind;
perplexity-ranked items (question_format 1) become three log-likelihood requests, gold first. The
result is one row per instance, ready for ``predictions.parquet``.
"""

from __future__ import annotations

import json

import pandas as pd

from ..models.chat import encode_continuation, encode_prompt
from . import scorers
from .engine import HFEngine

# Generation budget per item kind when a study does not set one.
DEFAULT_MAX_NEW_TOKENS = {"single_choice": 8, "true_false": 8, "cloze": 12, "multi_select": 8, "math": 160}

PREDICTION_COLUMNS = ["eval_set", "ability", "item_hash", "line", "kind", "output", "parsed", "score",
                      "expected", "choice_logprobs", "choice_lengths"]


def letter_token_ids(tokenizer) -> dict[str, int]:
    """Token ids of the bare letters A-D (the first token of each letter as the tokenizer encodes it)."""
    out = {}
    for letter in scorers.LETTERS:
        ids = tokenizer(letter, add_special_tokens=False)["input_ids"]
        out[letter] = ids[0]
    return out


def evaluate_sets(engine: HFEngine, eval_sets: dict[str, list[dict]],
                  max_new_tokens: dict[str, int] | None = None) -> pd.DataFrame:
    budgets = {**DEFAULT_MAX_NEW_TOKENS, **(max_new_tokens or {})}
    tok = engine.tokenizer
    items = [(name, r, scorers.item_kind(r)) for name, records in eval_sets.items() for r in records]

    gen_items = [(k, it) for k, it in enumerate(items) if it[2] != "ranking"]
    gens = engine.generate(
        [encode_prompt(tok, r["messages"]) for _, (_, r, _) in gen_items],
        [budgets[kind] for _, (_, _, kind) in gen_items],
        letter_token_ids=letter_token_ids(tok),
    ) if gen_items else []
    generated = {k: g for (k, _), g in zip(gen_items, gens)}

    rank_items = [(k, it) for k, it in enumerate(items) if it[2] == "ranking"]
    requests, owners = [], []
    for k, (_, r, _) in rank_items:
        ctx = encode_prompt(tok, r["messages"])
        for choice in r["choices"]:
            requests.append((ctx, encode_continuation(tok, choice)))
            owners.append(k)
    lls = engine.loglikelihood(requests) if requests else []
    ranked: dict[int, list] = {}
    for k, ll in zip(owners, lls):
        ranked.setdefault(k, []).append(ll)

    rows = []
    for k, (name, r, kind) in enumerate(items):
        if kind == "ranking":
            lps = [ll[0] for ll in ranked[k]]
            lens = [ll[1] for ll in ranked[k]]
            res = scorers.score_item(r, choice_logprobs=lps, choice_lengths=lens)
            output = None
        else:
            g = generated[k]
            res = scorers.score_item(r, output=g.text, letter_logits=g.letter_logits)
            output, lps, lens = g.text, None, None
        rows.append({
            "eval_set": name,
            "ability": r["type"],
            "item_hash": r["_hash"],
            "line": r.get("_line"),
            "kind": res["kind"],
            "output": output,
            "parsed": None if res["parsed"] is None else str(res["parsed"]),
            "score": float(res["score"]),
            "expected": float(res["expected"]),
            "choice_logprobs": json.dumps(lps) if lps is not None else None,
            "choice_lengths": json.dumps(lens) if lens is not None else None,
        })
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
