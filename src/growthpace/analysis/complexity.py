"""Complexity proxies per ability, and how well complexity and transference predict the sensitivities.

``proxies_from_records``: one row per ability from DoIT records (``messages``, ``type``; the last
assistant turn is the gold output), e.g. the test split:

    answer_chars    mean length of the gold output in characters
    answer_tokens   mean length in tokens (only with a tokenizer)
    answer_lines    mean number of non-empty lines of the gold output (written-out steps)
    answer_equals   mean number of ``=`` in the gold output (calculation steps)

``base_gold_nll``: the untuned base model's mean negative log-likelihood per token of the gold output
(``-gold_logprob / gold_tokens``, which the evaluation stores for every item), averaged over items and
model sizes: how far an ability's answers are from what pretraining taught. The base model reads each
item as ``evaluation.base_prompt`` says (by default plain text in its pretraining text's layout, so the
measure is of the answers, not of a chat format it never saw; ``evaluate.prompts``). Predictions that lack
those columns fall back to perplexity-ranked items (``choice_logprobs[0]`` / ``choice_lengths[0]``,
choice 0 being gold), so other abilities then have no value.

Any per-ability table (an ``ability`` column and numeric columns) can be used as proxies:
``complexity_table`` joins them with the transference summary.

``predictiveness``: the Spearman rank correlation (``scipy.stats.spearmanr``, two-sided p) across
abilities of every feature with every sensitivity (``data_gain``, ``model_gain``), with n. With ten
abilities |rho| must exceed about 0.65 for p < 0.05, so most such correlations are inconclusive; the
table is reported whatever it says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .bootstrap import BASE

PREDICTIVENESS_COLUMNS = ["feature", "target", "n", "rho", "p"]
TARGETS = ("data_gain", "model_gain")


def _records(records) -> Iterable[dict]:
    if isinstance(records, Mapping):
        for recs in records.values():
            yield from recs
    else:
        yield from records


def proxies_from_records(records, tokenizer=None) -> pd.DataFrame:
    """Gold-output length and step counts per ability (``records``: a list, or eval set -> list)."""
    rows = []
    for r in _records(records):
        gold = r["messages"][-1]["content"]
        row = {"ability": r["type"], "answer_chars": len(gold),
               "answer_lines": sum(1 for line in gold.splitlines() if line.strip()),
               "answer_equals": gold.count("=")}
        if tokenizer is not None:
            row["answer_tokens"] = len(tokenizer(gold, add_special_tokens=False)["input_ids"])
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["ability", "answer_chars", "answer_lines", "answer_equals"])
    return pd.DataFrame(rows).groupby("ability", sort=True).mean().reset_index()


def base_gold_nll(items: pd.DataFrame) -> pd.DataFrame:
    """Base model's gold NLL per token, mean per ability (over items and model sizes)."""
    cols = ["ability", "base_gold_nll"]
    base = items[items["data_source"] == BASE]
    rows = []
    if {"gold_logprob", "gold_tokens"} <= set(base):
        known = base[base["gold_logprob"].notna() & (base["gold_tokens"].fillna(0) > 0)]
        rows += [{"ability": a, "base_gold_nll": -lp / n}
                 for a, lp, n in zip(known["ability"], known["gold_logprob"], known["gold_tokens"])]
        base = base[~base.index.isin(known.index)]
    if {"choice_logprobs", "choice_lengths"} <= set(base):
        for r in base[base["choice_logprobs"].notna() & base["choice_lengths"].notna()].itertuples(index=False):
            lp, n = json.loads(r.choice_logprobs), json.loads(r.choice_lengths)
            if lp and n and n[0]:
                rows.append({"ability": r.ability, "base_gold_nll": -lp[0] / n[0]})
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(rows).groupby("ability", sort=True)["base_gold_nll"].mean().reset_index()


def complexity_table(proxies: list[pd.DataFrame], transference: pd.DataFrame | None = None,
                     abilities=None) -> pd.DataFrame:
    """Per-ability features: the proxies, plus transfer_in/out (mean over model sizes, largest n)."""
    frames = [p for p in proxies if p is not None and not p.empty]
    out = pd.DataFrame({"ability": list(abilities)}) if abilities is not None else None
    for p in frames:
        out = p if out is None else out.merge(p, on="ability", how="left")
    if transference is not None and not transference.empty:
        t = transference[transference["n"] == transference["n"].max()]
        t = t[t["model_size"] == "all"] if (t["model_size"] == "all").any() else t
        t = t.groupby("ability")[["transfer_in", "transfer_out"]].mean().reset_index()
        out = t if out is None else out.merge(t, on="ability", how="left")
    if out is None:
        return pd.DataFrame(columns=["ability"])
    return out.reset_index(drop=True)


def predictiveness(features: pd.DataFrame, sensitivity: pd.DataFrame, targets=TARGETS) -> pd.DataFrame:
    """Spearman rho, two-sided p and n of every feature against every sensitivity."""
    # here, not at the top: scipy.stats costs a second to import, and the report and plot jobs that
    # import this module (through analysis.pipeline) never call it
    from scipy import stats

    rows = []
    if features.empty or sensitivity.empty:
        return pd.DataFrame(columns=PREDICTIVENESS_COLUMNS)
    df = features.merge(sensitivity[["ability", *targets]], on="ability", how="inner")
    feature_cols = [c for c in features.columns if c != "ability" and pd.api.types.is_numeric_dtype(features[c])]
    for f in feature_cols:
        for t in targets:
            pair = df[[f, t]].astype(float).dropna()
            rho = p = np.nan
            if len(pair) >= 3 and pair[f].nunique() > 1 and pair[t].nunique() > 1:
                res = stats.spearmanr(pair[f], pair[t])
                rho, p = float(res.statistic), float(res.pvalue)
            rows.append({"feature": f, "target": t, "n": len(pair), "rho": rho, "p": p})
    return pd.DataFrame(rows, columns=PREDICTIVENESS_COLUMNS)
