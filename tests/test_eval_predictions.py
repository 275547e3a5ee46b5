"""Chunked, resumable predictions: a killed evaluation resumes with no duplicated or missing rows."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from growthpace.evaluate.engine import HFEngine
from growthpace.evaluate.predictions import PredictionLog
from growthpace.evaluate.run import ROW_COLUMNS, eval_settings, evaluate_sets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ABILITIES = ["biology", "history", "math", "ethics", "code", "role_play"]
CHUNK = 8


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small generated suite and a tiny random model whose tokenizer covers it."""
    from growthpace.data.demo import generate_suite
    from growthpace.models.tiny import build_model
    from growthpace.models.tokenizer import train_char_tokenizer

    suite = tmp_path_factory.mktemp("suite")
    generate_suite(suite, abilities=ABILITIES, n_train=8, n_valid=6, n_test=2, n_synthetic=8, n_ood=0,
                   corpus_passes=1)
    texts = [line for f in sorted(suite.rglob("*.json")) for line in f.read_text(encoding="utf-8").splitlines()]
    model_dir = tmp_path_factory.mktemp("model")
    tok = train_char_tokenizer(texts, model_dir)
    arch = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 64}
    build_model(arch, len(tok), tok.pad_token_id, tok.eos_token_id, seed=3).save_pretrained(
        model_dir, safe_serialization=True)
    return suite, model_dir


def eval_sets(suite):
    from growthpace.data.loaders import load_doit_split
    return {f"{a}_valid": r for a, r in load_doit_split(suite, "valid", ABILITIES).items()}


BUDGETS = {"math": 6}

CHILD = textwrap.dedent("""
    import os, signal, sys
    from growthpace.data.loaders import load_doit_split
    from growthpace.evaluate.engine import HFEngine
    from growthpace.evaluate.predictions import PredictionLog
    from growthpace.evaluate.run import eval_settings, evaluate_sets
    suite, model_dir, log_dir, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    abilities = {abilities!r}
    sets = {{f"{{a}}_valid": r for a, r in load_doit_split(suite, "valid", abilities).items()}}
    engine = HFEngine(model_dir, batch_size=8, progress=False)
    log = PredictionLog(log_dir, "model-x", eval_settings(engine, {budgets!r}))

    def die(i):  # killed right after the first chunk reached the disk: no cleanup runs
        os.kill(os.getpid(), signal.SIGKILL)

    evaluate_sets(engine, sets, {budgets!r}, log=log, chunk_size=chunk, on_chunk=die)
""").format(abilities=ABILITIES, budgets=BUDGETS)


def test_killed_evaluation_resumes_without_duplicates(demo, tmp_path):
    suite, model_dir = demo
    sets = eval_sets(suite)
    n_items = sum(len(r) for r in sets.values())
    assert n_items > 3 * CHUNK

    log_dir = tmp_path / "rows"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(suite), str(model_dir), str(log_dir), str(CHUNK)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert [p.name for p in sorted(log_dir.glob("part-*.parquet"))] == ["part-00000.parquet"]
    assert not list(log_dir.glob(".*tmp*"))

    engine = HFEngine(model_dir, batch_size=8, progress=False)
    settings = eval_settings(engine, BUDGETS)
    chunks = []
    resumed = evaluate_sets(engine, sets, BUDGETS, log=PredictionLog(log_dir, "model-x", settings),
                            chunk_size=CHUNK, on_chunk=chunks.append)
    total_chunks = -(-n_items // CHUNK)
    assert len(chunks) == total_chunks - 1  # the first chunk was not computed again

    fresh = evaluate_sets(engine, sets, BUDGETS, log=PredictionLog(tmp_path / "other", "model-x", settings),
                          chunk_size=CHUNK)
    plain = evaluate_sets(engine, sets, BUDGETS)  # no log at all
    stored = pd.concat([pd.read_parquet(p) for p in sorted(log_dir.glob("part-*.parquet"))])
    assert len(stored) == n_items
    assert not stored.duplicated(["model_key", "eval_set", "item_hash", "settings_hash"]).any()
    assert len(resumed) == len(fresh) == len(plain) == n_items
    for other in (fresh, plain):
        for col in ["eval_set", "item_hash", "line", "kind", "output", "parsed", "score", "expected"]:
            assert resumed[col].tolist() == other[col].tolist(), col
        for a, b in zip(resumed["choice_logprobs"], other["choice_logprobs"]):
            assert pd.isna(a) == pd.isna(b)
            if not pd.isna(a):
                assert max(abs(x - y) for x, y in zip(json.loads(a), json.loads(b))) < 1e-4

    # Finished: a re-run computes nothing and returns the same rows.
    again = []
    rerun = evaluate_sets(engine, sets, BUDGETS, log=PredictionLog(log_dir, "model-x", settings),
                          chunk_size=CHUNK, on_chunk=again.append)
    assert again == []
    assert rerun.equals(resumed)
    assert len(list(log_dir.glob("part-*.parquet"))) == total_chunks


def test_a_log_rejects_stored_keys_and_other_settings(tmp_path):
    log = PredictionLog(tmp_path / "rows", "m", {"dtype": "float32"})
    row = dict.fromkeys(ROW_COLUMNS)
    row.update(eval_set="biology_valid", item_hash="abc", score=1.0)
    log.append(pd.DataFrame([row]))
    with pytest.raises(ValueError, match="already stored"):
        log.append(pd.DataFrame([row]))
    with pytest.raises(ValueError, match="repeats"):
        log.append(pd.DataFrame([{**row, "item_hash": "d"}, {**row, "item_hash": "d"}]))
    with pytest.raises(ValueError, match="belongs to model"):
        PredictionLog(tmp_path / "rows", "m", {"dtype": "bfloat16"})
    assert log.done_keys() == {("biology_valid", "abc")}
    assert log.read()["settings_hash"].tolist() == [log.settings_hash]


def test_duplicate_records_are_evaluated_once_and_reported_per_line(demo, tmp_path):
    suite, model_dir = demo
    records = eval_sets(suite)["biology_valid"][:3]
    twice = records + [{**records[0], "_line": 99}]
    engine = HFEngine(model_dir, batch_size=8, progress=False)
    log = PredictionLog(tmp_path / "rows", "m", eval_settings(engine))
    df = evaluate_sets(engine, {"biology_valid": twice}, log=log)
    assert df["line"].tolist() == [r["_line"] for r in twice]
    assert len(log.read()) == 3
    assert df.iloc[3]["parsed"] == df.iloc[0]["parsed"]


def test_every_item_carries_its_gold_log_likelihood(demo):
    """gold_logprob is log p(gold content + <eot> | prompt): checked against one plain forward pass of
    the model per item; for ranked items it is the first (gold) choice's."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from growthpace.models.chat import encode_continuation, encode_prompt

    suite, model_dir = demo
    sets = eval_sets(suite)
    engine = HFEngine(model_dir, batch_size=4, progress=False)
    df = evaluate_sets(engine, sets, BUDGETS)
    assert df["gold_logprob"].notna().all() and (df["gold_logprob"] < 0).all()
    ranked = df[df["kind"] == "ranking"]
    assert len(ranked) > 0 and len(df[df["kind"] != "ranking"]) > 0
    assert (ranked["gold_logprob"] == ranked["choice_logprobs"].map(lambda s: json.loads(s)[0])).all()

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    records = {(name, r["_hash"]): r for name, rs in sets.items() for r in rs}
    for row in df.itertuples():
        r = records[(row.eval_set, row.item_hash)]
        ctx, cont = encode_prompt(tok, r["messages"]), encode_continuation(tok, r["messages"][-1]["content"])
        with torch.no_grad():
            logits = model(torch.tensor([ctx + cont])).logits[0].float()
        logp = torch.log_softmax(logits[len(ctx) - 1:-1], dim=-1)
        want = logp.gather(1, torch.tensor(cont)[:, None]).sum().item()
        assert row.gold_tokens == len(cont)
        assert row.gold_logprob == pytest.approx(want, abs=1e-3)


def test_rows_are_rescored_from_their_evidence_alone(demo, tmp_path):
    """A row keeps what both scoring modes read; grading it again from the row equals grading the full
    record with the same output and logits, and writes a table that names its mode."""
    from growthpace.analysis.tables import scores_table
    from growthpace.evaluate import authors, grading, scoring

    suite, model_dir = demo
    sets = eval_sets(suite)
    engine = HFEngine(model_dir, batch_size=4, progress=False)
    df = evaluate_sets(engine, sets, BUDGETS)
    generated = df[df["kind"] != "ranking"]
    assert generated["letter_logits"].notna().all() and generated["last_letter_logits"].notna().all()
    assert df["piece_letter_logits"].isna().all()  # only first-token (benchmark) items have them
    records = {(name, r["_hash"]): r for name, rs in sets.items() for r in rs}
    for mode, grade in (("careful", grading.score_item), ("authors", authors.score_item)):
        again = scoring.rescore(df, mode)
        assert (again["scoring"] == mode).all() and len(again) == len(df)
        for row in again.itertuples():
            r = records[(row.eval_set, row.item_hash)]
            logits = scoring._loads(row.letter_logits if mode == "careful" else row.last_letter_logits)
            kw = {"letter_logits": logits} if mode == "careful" else {"last_letter_logits": logits}
            lps, lens = scoring._loads(row.choice_logprobs), scoring._loads(row.choice_lengths)
            want = grade(r, output=row.output, choice_logprobs=lps, choice_lengths=lens, **kw)
            parsed = None if pd.isna(row.parsed) else row.parsed
            assert (row.kind, parsed, row.score) == (want["kind"], None if want["parsed"] is None else
                                                      str(want["parsed"]), want["score"])
            assert row.expected == pytest.approx(want["expected"])
        if mode == "careful":  # the rows were written with the careful verdicts
            assert again[["parsed", "score", "expected"]].equals(df[["parsed", "score", "expected"]])
        table = scores_table(again.assign(model_size="xs", data_source="curated", data_size=10, seed=0, recipe="",
                                          epoch=1))
        assert (table["scoring"] == mode).all()
    with pytest.raises(ValueError, match="evaluate again"):
        scoring.rescore(df.drop(columns=["gold"]), "authors")
    with pytest.raises(ValueError, match="evaluation.scoring"):
        scoring.rescore(df, "lenient")
