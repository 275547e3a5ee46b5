"""Evaluate one model on a set of eval sets: build requests, run the engine, score every item.

An eval set is a list of DoIT-format records (``messages`` whose last turn is the gold answer).
Three ways to answer, by record:

- generation items (``question_format`` 0) are decoded greedily and parsed by the scorer of their
  kind (``grading.score_item``); every one also keeps the A-D logits at the first generated position
  and at its last generation step (the single-choice fallback of each scoring mode);
- perplexity-ranked items (``question_format`` 1) become one log-likelihood request per choice, gold
  first;
- first-token items (``_score_by == "first_token"``: CMMLU, AGIEval) are answered by the argmax of the
  A-D logits right after ``<assistant>``, with no generation (``engine.next_token_logits``); the
  logits of both the chat encoding of each letter and its bare vocabulary piece are kept.

Every item also gets the log-likelihood of its gold output (content plus ``<eot>``) and its token
count (``gold_logprob``, ``gold_tokens``): for a ranked item that is its first choice; for a generated
item it comes with its generation (``engine.generate(continuations=...)``), for a first-token item
with its letters (``engine.next_token_logits(continuations=...)``): either way the prompt runs once
for both. It is the SFT
loss on held-out gold outputs, a continuous measure beside the score, and on the untuned base model
a complexity proxy of each ability (``analysis.complexity``).

Prompts are the chat format of the fine-tuned models, or plain text for an untuned base model
(``prompts``: ``ChatPrompts``, ``PlainPrompts``).

Items run in chunks (cheapest kind first, then by generation budget); each finished chunk goes to a
``PredictionLog`` when one is given, and items already in the log are skipped, so an interrupted
evaluation resumes with no duplicated rows. The result has one row per record, ready for
``predictions.parquet``. A row holds its evidence (gold, question, answer, output, logits; see
``scoring``) and its careful verdict; ``scoring.rescore`` grades stored rows again under either mode.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd

from ..data.schema import record_hash
from . import scorers, scoring
from .engine import HFEngine
from .predictions import PredictionLog, settings_hash
from .prompts import ChatPrompts, PlainPrompts, letter_token_ids  # noqa: F401 (letter_token_ids: re-exported)
from .scoring import FIRST_TOKEN

# Generation budget per item kind when a study does not set one.
DEFAULT_MAX_NEW_TOKENS = {"single_choice": 8, "true_false": 8, "cloze": 12, "multi_select": 8, "math": 160}
# Bump when what a row holds changes (prompt building, generation, the evidence kept): stored rows then
# stop matching (new settings hash) and are computed again. A change of verdicts alone needs no bump:
# the tables grade the stored rows again (scoring.VERSIONS). 3: rows keep their scoring evidence.
# 4: rows say how many prompt tokens were cut to fit the window (prompt_tokens_cut).
SCORING_VERSION = 4
DEFAULT_CHUNK_SIZE = 512

ROW_COLUMNS = ["eval_set", "ability", "item_hash", "kind", "gold", "question", "answer", "output", "parsed",
               "score", "expected", "parse_path", "ambiguous", "choice_logprobs", "choice_lengths", "gold_logprob",
               "gold_tokens", "letter_logits", "last_letter_logits", "piece_letter_logits", "batch_size",
               "prompt_tokens_cut"]
PREDICTION_COLUMNS = ["eval_set", "ability", "item_hash", "line", *ROW_COLUMNS[3:], "settings_hash"]


def letter_piece_ids(tokenizer) -> dict[str, int]:
    """Token ids of the vocabulary pieces ``A``-``D`` themselves, as the authors' CMMLU and AGIEval scripts
    look them up (``convert_tokens_to_ids``); with SentencePiece not what an answer ``A`` encodes to."""
    return {letter: tokenizer.convert_tokens_to_ids(letter) for letter in scorers.LETTERS}


def first_token_record(messages: list[dict], gold: str, type_: str, file: str, line: int) -> dict:
    """A record answered by its first-token A-D logits: ``messages`` is the prompt, ``gold`` a letter."""
    core = {"messages": [*messages, {"role": "assistant", "content": gold}], "type": type_,
            "question_format": 0}
    return {**core, "_score_by": FIRST_TOKEN, "_file": file, "_line": line, "_hash": record_hash(core)}


def eval_settings(engine: HFEngine, max_new_tokens: dict[str, int] | None = None, plain: dict | None = None) -> dict:
    """Everything that changes a prediction row (hashed into the rows' key). ``plain``
    (``{"shots", "seed", "question", "answer"}``): plain-text prompts instead of the chat format."""
    settings = {"dtype": str(engine.dtype).removeprefix("torch."),
                "max_new_tokens": {**DEFAULT_MAX_NEW_TOKENS, **(max_new_tokens or {})},
                "scoring_version": SCORING_VERSION}
    if plain is not None:  # absent for the chat format, so that its rows keep their keys
        settings["prompt"] = {"format": "plain", **plain}
    return settings


def prompt_format(engine: HFEngine, budgets: dict[str, int], plain: dict | None, pools: dict | None):
    if plain is None:
        return ChatPrompts(engine.tokenizer)
    room = engine.max_positions - max(budgets.values())  # the prompt leaves room for the longest answer
    markers = {k: plain[k] for k in ("question", "answer") if k in plain}
    return PlainPrompts(engine.tokenizer, pools or {}, plain.get("shots", 0), room, plain.get("seed", 0), **markers)


def _kind(record: dict) -> str:
    return FIRST_TOKEN if record.get("_score_by") == FIRST_TOKEN else scorers.item_kind(record)


def evaluate_items(engine: HFEngine, items: list[tuple[str, dict]], budgets: dict[str, int], fmt=None,
                   kinds: list[str] | None = None) -> list[dict]:
    """One row per (eval set, record) item, in the order given; ``fmt``: the prompt format
    (``prompts.ChatPrompts`` by default); ``kinds``: the items' kinds, when known."""
    fmt = fmt or ChatPrompts(engine.tokenizer)
    letters = fmt.letter_ids()
    pieces = letter_piece_ids(engine.tokenizer)
    kinds = kinds or [_kind(r) for _, r in items]
    prompts = fmt.prompts([r for _, r in items])
    outputs: dict[int, dict] = {}

    # The ranked items' choices (gold first) and every other item's gold output, in one tokenizer call.
    rank = [k for k, kind in enumerate(kinds) if kind == "ranking"]
    owners = [k for k in rank for _ in items[k][1]["choices"]]
    golds = [k for k, kind in enumerate(kinds) if kind != "ranking"]
    candidates = fmt.continuations(owners + golds, [c for k in rank for c in items[k][1]["choices"]]
                                   + [items[k][1]["messages"][-1]["content"] for k in golds])
    gold_ids = dict(zip(golds, candidates[len(owners):]))

    first = [k for k, kind in enumerate(kinds) if kind == FIRST_TOKEN]
    if first:
        # The gold's log-likelihood comes from the forward that reads the letters: one per prompt.
        both = {**letters, **{f"piece {L}": t for L, t in pieces.items()}}
        logits, lls = engine.next_token_logits([prompts[k] for k in first], both,
                                               continuations=[gold_ids[k] for k in first])
        for k, lg, (lp, n, _) in zip(first, logits, lls):
            outputs[k] = {"letter_logits": {L: lg[L] for L in letters},
                          "piece_letter_logits": {L: lg[f"piece {L}"] for L in pieces},
                          "batch_size": engine.last_batch_size, "gold_logprob": lp, "gold_tokens": n}

    gen = [k for k, kind in enumerate(kinds) if kind not in (FIRST_TOKEN, "ranking")]
    if gen:
        # The gold's log-likelihood comes with the generation: one forward of each prompt for both.
        gens = engine.generate([prompts[k] for k in gen], [budgets[kinds[k]] for k in gen], letter_token_ids=letters,
                               continuations=[gold_ids[k] for k in gen])
        for k, g in zip(gen, gens):
            outputs[k] = {"output": fmt.clean(g.text), "letter_logits": g.letter_logits,
                          "last_letter_logits": g.last_letter_logits, "batch_size": engine.last_batch_size,
                          "prompt_tokens_cut": g.prompt_tokens_cut,
                          "gold_logprob": g.loglikelihood[0], "gold_tokens": g.loglikelihood[1]}

    requests = [(prompts[k], cont) for k, cont in zip(owners, candidates)]
    if requests:
        lls = engine.loglikelihood(requests)
        for k, (lp, n, _) in zip(owners, lls):
            o = outputs.setdefault(k, {"choice_logprobs": [], "choice_lengths": [],
                                       "batch_size": engine.last_batch_size})
            o["choice_logprobs"].append(lp)
            o["choice_lengths"].append(n)
    for k in rank:
        outputs[k]["gold_logprob"] = outputs[k]["choice_logprobs"][0]
        outputs[k]["gold_tokens"] = outputs[k]["choice_lengths"][0]

    rows = []
    for k, (name, r) in enumerate(items):
        o, kind = outputs[k], kinds[k]
        row = {
            "eval_set": name,
            "ability": r["type"],
            "item_hash": r["_hash"],
            "kind": kind,
            **scoring.item_fields(r, kind),
            "output": o.get("output"),
            "choice_logprobs": _json(o.get("choice_logprobs")),
            "choice_lengths": _json(o.get("choice_lengths")),
            "gold_logprob": float(o["gold_logprob"]),
            "gold_tokens": int(o["gold_tokens"]),
            "letter_logits": _json(o.get("letter_logits")),
            "last_letter_logits": _json(o.get("last_letter_logits")),
            "piece_letter_logits": _json(o.get("piece_letter_logits")),
            "batch_size": o["batch_size"],
            # a generation prompt cut from the left to leave room for its budget (0: whole)
            "prompt_tokens_cut": int(o.get("prompt_tokens_cut", 0)),
        }
        rows.append({**row, **scoring.score_row(row, "careful")})
    return rows


def _json(value) -> str | None:
    return None if value is None else json.dumps(value)


def evaluate_sets(engine: HFEngine, eval_sets: dict[str, list[dict]],
                  max_new_tokens: dict[str, int] | None = None, *, log: PredictionLog | None = None,
                  chunk_size: int = DEFAULT_CHUNK_SIZE,
                  on_chunk: Callable[[int], None] | None = None, plain: dict | None = None,
                  shot_pools: dict[str, list[dict]] | None = None) -> pd.DataFrame:
    """Predictions for every record of ``eval_sets`` (one row each, in input order).

    With ``log``, rows already stored there are reused and new rows are stored chunk by chunk;
    ``on_chunk(i)`` runs after chunk ``i`` is stored. ``plain`` (``{"shots", "seed", "question",
    "answer"}``): prompt in plain text, after ``shots`` solved examples from ``shot_pools``
    (``{ability: records}``; ``prompts.PlainPrompts``), as for an untuned base model, instead of the
    chat format.
    """
    if chunk_size < 1:
        raise ValueError(f"evaluation.chunk_size must be >= 1, got {chunk_size}")
    settings = eval_settings(engine, max_new_tokens, plain)
    budgets = settings["max_new_tokens"]
    fmt = prompt_format(engine, budgets, plain, shot_pools)
    if log is not None and log.settings_hash != settings_hash(settings):
        raise ValueError(f"{log.dir}: the log's settings differ from this evaluation's settings")
    unique: dict[tuple[str, str], tuple[str, dict]] = {}
    for name, records in eval_sets.items():
        for r in records:
            unique.setdefault((name, r["_hash"]), (name, r))
    done = log.done_keys() if log is not None else set()
    pending = [key for key in unique if key not in done]
    # Cheapest kinds first (a short first chunk reaches the disk soon), then by generation budget,
    # so each chunk's batches hold requests of one kind and one budget.
    cost = {FIRST_TOKEN: 0, "ranking": 1}
    kind = {key: _kind(unique[key][1]) for key in pending}  # parsed once: it reads the question's options
    pending.sort(key=lambda key: (cost.get(kind[key], 2), budgets.get(kind[key], 0)))
    fresh: list[dict] = []
    for i, start in enumerate(range(0, len(pending), chunk_size)):
        keys = pending[start:start + chunk_size]
        rows = evaluate_items(engine, [unique[key] for key in keys], budgets, fmt, [kind[key] for key in keys])
        if log is not None:
            log.append(pd.DataFrame(rows, columns=ROW_COLUMNS))
        else:
            fresh += rows
        if on_chunk is not None:
            on_chunk(i)
    if log is not None:
        stored = log.read()
        # rows stored before rows said how their answer was found are graded again for it
        by_key = {(row["eval_set"], row["item_hash"]): row if isinstance(row["parse_path"], str)
                  else {**row, **scoring.score_row(row, "careful")}
                  for row in stored.reindex(columns=ROW_COLUMNS).to_dict("records")}
    else:
        by_key = {(row["eval_set"], row["item_hash"]): row for row in fresh}
    sh = settings_hash(settings)
    out = []
    for name, records in eval_sets.items():
        for r in records:
            row = by_key[(name, r["_hash"])]
            out.append({**row, "line": r.get("_line"), "settings_hash": sh})
    return pd.DataFrame(out, columns=PREDICTION_COLUMNS)
