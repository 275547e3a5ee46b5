"""The batched engine gives the same answers as one-at-a-time computation, in the original order."""

import pytest
import torch

from growthpace.evaluate.engine import HFEngine
from growthpace.models.chat import encode_continuation, encode_prompt


def prompts(tok):
    convs = [
        [{"role": "user", "content": "细胞"}, {"role": "assistant", "content": "x"}],
        [{"role": "user", "content": "生物学研究生命。答案："}, {"role": "assistant", "content": "x"}],
        [{"role": "user", "content": "甲：你好"}, {"role": "assistant", "content": "乙：你好"},
         {"role": "user", "content": "他们在做什么？"}, {"role": "assistant", "content": "x"}],
        [{"role": "user", "content": "春风"}, {"role": "assistant", "content": "x"}],
    ]
    return [encode_prompt(tok, c) for c in convs]


def reference_greedy(model, prompt, budget, stop_ids):
    """Plain greedy decoding with full forwards, no cache, no padding."""
    ids = list(prompt)
    out = []
    for _ in range(budget):
        with torch.no_grad():
            nxt = int(model(torch.tensor([ids])).logits[0, -1].argmax())
        if nxt in stop_ids:
            break
        out.append(nxt)
        ids.append(nxt)
    return out


def test_generate_matches_unbatched_greedy(tiny_model_dir):
    engine = HFEngine(tiny_model_dir, batch_size=3)
    ps = prompts(engine.tokenizer)
    budgets = [5, 7, 5, 3]
    gens = engine.generate(ps, budgets, letter_token_ids={"A": engine.tokenizer.convert_tokens_to_ids("A")})
    for p, b, g in zip(ps, budgets, gens):
        expected = reference_greedy(engine.model, p, b, set(engine.stop_ids))
        assert g.token_ids == expected
        assert g.text == engine.tokenizer.decode(expected)
        with torch.no_grad():
            first = engine.model(torch.tensor([p])).logits[0, -1]
        assert abs(g.letter_logits["A"] - float(first[engine.tokenizer.convert_tokens_to_ids("A")])) < 1e-4


def test_loglikelihood_matches_plain_forward(tiny_model_dir):
    engine = HFEngine(tiny_model_dir, batch_size=2)
    tok = engine.tokenizer
    ps = prompts(tok)
    reqs = [(p, encode_continuation(tok, c)) for p in ps for c in ("打招呼", "细胞是生命", "C")]
    results = engine.loglikelihood(reqs)
    assert len(results) == len(reqs)
    for (ctx, cont), (lp, n, greedy) in zip(reqs, results):
        with torch.no_grad():
            logits = engine.model(torch.tensor([ctx + cont])).logits[0]
        logprobs = torch.log_softmax(logits, -1)
        expected = sum(float(logprobs[len(ctx) - 1 + k, t]) for k, t in enumerate(cont))
        assert n == len(cont)
        assert abs(lp - expected) < 1e-4
        assert greedy == all(int(logits[len(ctx) - 1 + k].argmax()) == t for k, t in enumerate(cont))


def reference_loglikelihood(model, ctx, cont):
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([ctx + cont])).logits[0], -1)
    return sum(float(logprobs[len(ctx) - 1 + k, t]) for k, t in enumerate(cont))


def ranking_requests(tok):
    """Contexts shared by 1-3 candidates of different lengths, single-token candidates included."""
    ps = prompts(tok)
    conts = [["打招呼", "细胞是生命", "C"], ["A"], ["春风又绿江南岸", "对"], ["生物学研究生命。细胞是生命的基本单位。"]]
    return [(p, encode_continuation(tok, c)) for p, cs in zip(ps, conts) for c in cs] + \
           [(ps[0], [tok.convert_tokens_to_ids("B")])]  # a bare one-token continuation (no <eot>)


def test_shared_and_flat_loglikelihood_agree_with_plain_forward(tiny_model_dir):
    engine = HFEngine(tiny_model_dir, batch_size=3, progress=False)
    reqs = ranking_requests(engine.tokenizer)
    flat = engine.loglikelihood(reqs, strategy="flat")
    shared = engine.loglikelihood(reqs, strategy="shared")
    for (ctx, cont), f, s in zip(reqs, flat, shared):
        expected = reference_loglikelihood(engine.model, ctx, cont)
        assert abs(f[0] - expected) < 1e-4 and abs(s[0] - expected) < 1e-4
        assert f[1] == s[1] == len(cont)
        assert f[2] == s[2]


def test_shared_mask_is_read_by_eager_attention_and_flash_falls_back_to_flat(tiny_model_dir):
    """The packed ``shared`` forward's 4D mask means the same to the eager attention as to sdpa;
    an attention that takes no such mask scores every request ``flat``."""
    engine = HFEngine(tiny_model_dir, batch_size=4, progress=False)
    reqs = ranking_requests(engine.tokenizer)
    sdpa = engine.loglikelihood(reqs, strategy="shared")
    engine.model.set_attn_implementation("eager")
    assert engine.model.config._attn_implementation == "eager"
    for a, b in zip(sdpa, engine.loglikelihood(reqs, strategy="shared")):
        assert abs(a[0] - b[0]) < 1e-4 and a[1:] == b[1:]
    engine.custom_masks = False  # as for flash attention
    engine._loglikelihood_shared = None  # would fail if called
    flat = engine.loglikelihood(reqs, strategy="shared")
    for a, b in zip(sdpa, flat):
        assert abs(a[0] - b[0]) < 1e-4 and a[1:] == b[1:]


def test_generate_scores_continuations_as_loglikelihood_does(tiny_model_dir):
    """The log-likelihood that comes with a generation (from the prompt's own forward) is the plain
    forward's, and the generation is unchanged by it; a prompt that must be cut for its generation
    budget is scored apart, as ``loglikelihood`` scores it."""
    engine = HFEngine(tiny_model_dir, batch_size=3, progress=False)
    tok = engine.tokenizer
    ps = prompts(tok)
    conts = [encode_continuation(tok, c) for c in ("细胞是生命", "对", "春风又绿江南岸，明月何时照我还", "C")]
    budgets = [5, 7, 5, 3]
    gens = engine.generate(ps, budgets, continuations=conts)
    assert [g.token_ids for g in gens] == [g.token_ids for g in engine.generate(ps, budgets)]
    for p, c, g in zip(ps, conts, gens):
        lp, n, greedy = g.loglikelihood
        assert abs(lp - reference_loglikelihood(engine.model, p, c)) < 1e-4 and n == len(c)
        with torch.no_grad():
            logits = engine.model(torch.tensor([p + c])).logits[0]
        assert greedy == all(int(logits[len(p) - 1 + k].argmax()) == t for k, t in enumerate(c))
    engine.max_positions = 20  # the longer prompts no longer leave room for their budgets
    apart = [len(p) > engine.max_positions - b or len(p) + len(c) - 1 > engine.max_positions
             for p, c, b in zip(ps, conts, budgets)]
    assert any(apart) and not all(apart)  # both ways are taken
    cut = engine.generate(ps, budgets, continuations=conts)
    for p, c, g in zip(ps, conts, cut):
        want = engine.loglikelihood([(p, c)])[0]
        assert abs(g.loglikelihood[0] - want[0]) < 1e-4 and g.loglikelihood[1:] == want[1:]
    engine.joint_prefill = False  # a sliding-window model: every continuation is scored apart
    for g, h in zip(cut, engine.generate(ps, budgets, continuations=conts)):
        assert g.token_ids == h.token_ids and abs(g.loglikelihood[0] - h.loglikelihood[0]) < 1e-4
    with pytest.raises(ValueError, match="continuations"):
        engine.generate(ps, 3, continuations=conts[:2])


def test_greedy_flag_follows_argmax_on_ties(tiny_model_dir):
    """A continuation is greedy when each target is the argmax: on a tie the first index wins."""
    engine = HFEngine(tiny_model_dir, progress=False)
    logits = torch.tensor([[0.0, 2.0, 2.0, 1.0],   # target 1 ties 2 and comes first: greedy
                           [0.0, 2.0, 2.0, 1.0],   # target 2 ties 1 and comes after: not greedy
                           [3.0, 0.0, 0.0, 0.0],   # target 0, the only maximum: greedy
                           [3.0, 0.0, 0.0, 0.0]])  # target 3: not greedy
    sums, greedy = engine._continuation_scores(logits, [1, 2, 0, 3], [0, 1, 2, 2], 3)
    assert greedy == [True, False, False]
    logprobs = torch.log_softmax(logits, -1)
    assert sums[2] == pytest.approx(float(logprobs[2, 0] + logprobs[3, 3]), abs=1e-6)


def test_shared_strategy_falls_back_to_flat_for_over_long_requests(tiny_model_dir):
    engine = HFEngine(tiny_model_dir, batch_size=4, progress=False)
    engine.max_positions = 12  # both strategies must then keep the last 12 positions of each request
    tok = engine.tokenizer
    ctx = encode_prompt(tok, [{"role": "user", "content": "生物学研究生命。"}, {"role": "assistant", "content": "x"}])
    reqs = [(ctx, encode_continuation(tok, c)) for c in ("细胞是生命的基本单位", "对")]
    flat = engine.loglikelihood(reqs, strategy="flat")
    shared = engine.loglikelihood(reqs, strategy="shared")
    for (c, k), f, s in zip(reqs, flat, shared):
        full = (c + k)[-13:]
        expected = reference_loglikelihood(engine.model, full[:len(full) - len(k)], k)
        assert abs(f[0] - expected) < 1e-4 and abs(s[0] - expected) < 1e-4


def test_next_token_logits_match_plain_forward(tiny_model_dir):
    engine = HFEngine(tiny_model_dir, batch_size=3, progress=False)
    tok = engine.tokenizer
    letters = {L: tok.convert_tokens_to_ids(L) for L in "ABCD"}
    ps = prompts(tok)
    got = engine.next_token_logits(ps, letters)
    for p, g in zip(ps, got):
        with torch.no_grad():
            last = engine.model(torch.tensor([p])).logits[0, -1]
        for L, t in letters.items():
            assert abs(g[L] - float(last[t])) < 1e-4



def test_next_token_logits_score_continuations_in_the_same_forward(tiny_model_dir):
    """The gold's log-likelihood that comes with the letters (one forward per prompt) is the plain
    forward's, the letters are unchanged by it, and a prompt + continuation that does not fit is
    scored apart, as ``loglikelihood`` scores it."""
    engine = HFEngine(tiny_model_dir, batch_size=3, progress=False)
    tok = engine.tokenizer
    letters = {L: tok.convert_tokens_to_ids(L) for L in "ABCD"}
    ps = prompts(tok)
    conts = [encode_continuation(tok, c) for c in ("B", "细胞是生命的基本单位", "A", "春风又绿江南岸")]
    logits, lls = engine.next_token_logits(ps, letters, continuations=conts)
    for got, alone in zip(logits, engine.next_token_logits(ps, letters)):
        assert all(abs(got[L] - alone[L]) < 1e-4 for L in letters)
    for p, c, (lp, n, greedy) in zip(ps, conts, lls):
        assert abs(lp - reference_loglikelihood(engine.model, p, c)) < 1e-4 and n == len(c)
        with torch.no_grad():
            full = engine.model(torch.tensor([p + c])).logits[0]
        assert greedy == all(int(full[len(p) - 1 + k].argmax()) == t for k, t in enumerate(c))
    engine.max_positions = 20  # the longer prompt + continuation pairs no longer fit
    apart = [len(p) + len(c) - 1 > engine.max_positions for p, c in zip(ps, conts)]
    assert any(apart) and not all(apart)  # both ways are taken
    _, cut = engine.next_token_logits(ps, letters, continuations=conts)
    for p, c, got in zip(ps, conts, cut):
        want = engine.loglikelihood([(p, c)])[0]
        assert abs(got[0] - want[0]) < 1e-4 and got[1:] == want[1:]
    with pytest.raises(ValueError, match="continuations"):
        engine.next_token_logits(ps, letters, continuations=conts[:2])

def test_letter_logits_at_last_step(tiny_model_dir):
    """The last-step logits are those of the step that emitted each row's stop token (or its final
    step), as the authors read them; the first-step logits those right after the prompt."""
    engine = HFEngine(tiny_model_dir, batch_size=4, progress=False)
    tok = engine.tokenizer
    letters = {L: tok.convert_tokens_to_ids(L) for L in "ABCD"}
    ps = prompts(tok)
    gens = engine.generate(ps, 6, letter_token_ids=letters)
    for p, g in zip(ps, gens):
        ids = p + g.token_ids  # the step after the last kept token emitted the stop (or hit the budget)
        if len(g.token_ids) == 6:
            ids = ids[:-1]
        with torch.no_grad():
            logits = engine.model(torch.tensor([ids])).logits[0, -1]
        with torch.no_grad():
            first = engine.model(torch.tensor([p])).logits[0, -1]
        for L, t in letters.items():
            assert abs(g.last_letter_logits[L] - float(logits[t])) < 1e-4
            assert abs(g.letter_logits[L] - float(first[t])) < 1e-4


def test_out_of_memory_halves_the_batch_and_keeps_results(tiny_model_dir):
    """A real forward that exceeds the token budget raises torch.OutOfMemoryError; the engine halves."""
    tok_budget = 40
    big = HFEngine(tiny_model_dir, batch_size=16, progress=False)
    small = HFEngine(tiny_model_dir, batch_size=16, max_batch_tokens=tok_budget, progress=False)
    tok = big.tokenizer
    reqs = ranking_requests(tok)
    for strategy in ("flat", "shared"):
        want = big.loglikelihood(reqs, strategy=strategy)
        got = small.loglikelihood(reqs, strategy=strategy)
        assert small.last_batch_size < 16
        assert [g[1:] for g in got] == [w[1:] for w in want]
        assert max(abs(g[0] - w[0]) for g, w in zip(got, want)) < 1e-4
    ps = prompts(tok)
    assert [g.token_ids for g in small.generate(ps, 3)] == [g.token_ids for g in big.generate(ps, 3)]
    assert small.last_batch_size < 16
    small.max_batch_tokens = 5  # even one request is too large: a clear error, not a loop
    with pytest.raises(torch.OutOfMemoryError, match="one request does not fit"):
        small.loglikelihood(reqs, strategy="flat")


def test_engine_rejects_bad_settings(tiny_model_dir):
    with pytest.raises(ValueError, match="batch_size"):
        HFEngine(tiny_model_dir, batch_size=0)
    with pytest.raises(ValueError, match="loglikelihood_strategy"):
        HFEngine(tiny_model_dir, loglikelihood_strategy="fast")


def back_offs(caplog) -> int:
    n = sum("out of memory" in r.getMessage() for r in caplog.records)
    caplog.clear()
    return n


def test_batch_size_found_once_is_kept(tiny_model_dir, tmp_path, caplog, monkeypatch):
    """The tokens per forward found by backing off are kept per request kind: later request sets, and
    later engines loading a model of the same shape with the same file, start from them instead of
    searching again (growth is the next test's; here it is off, so each back-off is a search)."""
    monkeypatch.setattr("growthpace.evaluate.engine.GROW_AFTER", 10**6)
    memory = tmp_path / "batch-sizes.json"
    engine = HFEngine(tiny_model_dir, batch_size=16, max_batch_tokens=40, progress=False, batch_size_file=memory)
    ps = prompts(engine.tokenizer)
    caplog.set_level("WARNING", logger="growthpace.evaluate.engine")
    engine.generate(ps, 3)
    assert back_offs(caplog) >= 1
    found = engine.token_limits["generate/3"]  # generations with a budget of 3 tokens
    assert found <= 40 and engine.last_batch_size < 16
    for _ in range(3):  # later request sets (chunks, eval sets) of the same kind do not search again
        engine.generate(ps[::-1], 3)
        assert back_offs(caplog) == 0
    engine.loglikelihood(ranking_requests(engine.tokenizer), strategy="flat")  # another kind searches for itself
    assert back_offs(caplog) >= 1 and engine.token_limits["loglikelihood_flat"] <= 40
    # A later job (a new engine, e.g. the next epoch's checkpoint) starts where the first ended.
    again = HFEngine(tiny_model_dir, batch_size=16, max_batch_tokens=40, progress=False, batch_size_file=memory)
    assert again.token_limits == engine.token_limits
    again.generate(ps, 3)
    assert back_offs(caplog) == 0
    # Another token budget (standing in for another device or model shape) is another key.
    other = HFEngine(tiny_model_dir, batch_size=16, max_batch_tokens=80, progress=False, batch_size_file=memory)
    assert other.token_limits == {}
    other.generate(ps, 3)
    assert back_offs(caplog) >= 1


def test_chunked_evaluation_searches_once(tiny_model_dir, caplog, monkeypatch):
    """Evaluated in many chunks, a request kind backs off from out-of-memory in its first chunk only;
    forgetting the size after each chunk (what the engine did before) backs off in every chunk."""
    from growthpace.evaluate.run import evaluate_sets

    records = [{"messages": [{"role": "user", "content": "细胞" * (1 + i % 3) + "？答案：A或B"},
                             {"role": "assistant", "content": "正确"}],
                "type": "biology", "question_format": 0, "_hash": f"h{i}", "_line": i}
               for i in range(24)]
    caplog.set_level("WARNING", logger="growthpace.evaluate.engine")
    monkeypatch.setattr("growthpace.evaluate.engine.GROW_AFTER", 10**6)  # back-offs here are searches only
    counts = {}
    for forget in (False, True):
        engine = HFEngine(tiny_model_dir, batch_size=16, max_batch_tokens=60, progress=False)
        rows = evaluate_sets(engine, {"biology_valid": records}, chunk_size=4,
                             on_chunk=(lambda i: engine.token_limits.clear()) if forget else None)
        assert len(rows) == 24
        counts[forget] = back_offs(caplog)
    assert counts[True] >= 6  # 6 chunks, each searching again
    assert counts[False] < counts[True] / 2


def same_length_prompts(tok, n):
    """``n`` distinct prompts of one token length (the chat encoding of two-character questions)."""
    chars = "生物学研究命细胞是的基本单位答案正确错误历史上今天春风又绿江南岸甲乙你好他们在做什么打招呼"
    return [encode_prompt(tok, [{"role": "user", "content": chars[i % len(chars)] + chars[i // len(chars)]},
                                {"role": "assistant", "content": "x"}]) for i in range(n)]


def test_a_long_budget_running_out_of_memory_does_not_cap_short_ones(tiny_model_dir, caplog):
    """Token limits are kept per generation budget: after long generations back off, short ones still
    run in one batch (with one limit per request kind, they were capped at the long ones' rows)."""
    engine = HFEngine(tiny_model_dir, batch_size=16, progress=False)
    ps = same_length_prompts(engine.tokenizer, 4)
    width = len(ps[0])
    engine.max_batch_tokens = 2 * (width + 30)  # four rows fit with 3 new tokens; with 30, two
    caplog.set_level("WARNING", logger="growthpace.evaluate.engine")
    engine.generate(ps, 30)
    assert back_offs(caplog) == 1 and engine.token_limits["generate/30"] == 2 * (width + 30)
    engine.generate(ps, 3)
    assert back_offs(caplog) == 0 and engine.last_batch_size == 16 and "generate/3" not in engine.token_limits


def test_batches_grow_again_after_a_passing_shortage(tiny_model_dir, tmp_path, caplog):
    """Backed off under a tight cap (say another process held GPU memory), the engine tries twice the
    tokens after GROW_AFTER batches that fitted, up to its batch size, and keeps the grown limit; under a
    cap that stays, a failed try doubles the wait, so back-offs become rare instead of periodic."""
    from growthpace.evaluate.engine import GROW_AFTER

    memory = tmp_path / "tokens.json"
    big = HFEngine(tiny_model_dir, batch_size=8, progress=False)
    engine = HFEngine(tiny_model_dir, batch_size=8, progress=False, batch_size_file=memory)
    ps = same_length_prompts(engine.tokenizer, 40)
    width = len(ps[0]) + 3  # tokens per row of a generation with a budget of 3
    caplog.set_level("INFO", logger="growthpace.evaluate.engine")
    engine.max_batch_tokens = 2 * width
    engine.generate(ps[:4], 3)  # 4 rows do not fit; then 2 batches of 2
    assert back_offs(caplog) == 1 and engine.token_limits["generate/3"] == 2 * width
    engine.max_batch_tokens = None  # the memory is free again
    got = engine.generate(ps, 3)
    # 2 more batches of 2 rows (GROW_AFTER in all), then 4 of 4, then the rest at the batch size
    assert GROW_AFTER == 4 and engine.last_batch_size == 8
    assert engine.token_limits["generate/3"] == 8 * width
    assert sum("trying" in r.getMessage() for r in caplog.records) == 2
    assert [g.token_ids for g in got] == [g.token_ids for g in big.generate(ps, 3)]
    assert HFEngine(tiny_model_dir, batch_size=8, progress=False, batch_size_file=memory).token_limits == \
        {"generate/3": 8 * width}
    # A cap that stays: 8 -> 4 -> 2 rows; then a try after 4 batches, the next after 8, then after 16.
    caplog.clear()
    caplog.set_level("WARNING", logger="growthpace.evaluate.engine")
    tight = HFEngine(tiny_model_dir, batch_size=8, max_batch_tokens=2 * width, progress=False)
    tight.generate(ps * 2, 3)  # 80 prompts: 40 batches of 2
    assert back_offs(caplog) == 2 + 3


def test_shared_back_off_halves_the_candidate_rows(tiny_model_dir):
    """A ``shared`` batch that runs out of memory is retried with half its candidates (here 2 of 4
    contexts of 3 candidates each), not half its number of contexts counted as candidates (one)."""
    engine = HFEngine(tiny_model_dir, batch_size=12, progress=False)
    tok = engine.tokenizer
    conts = [encode_continuation(tok, c) for c in ("对的", "错误", "细胞")]
    reqs = [(p, c) for p in same_length_prompts(tok, 8) for c in conts]
    want = engine.loglikelihood(reqs, strategy="shared")
    shapes = []
    check = engine._check_memory
    engine._check_memory = lambda rows, width: (shapes.append((rows, width)), check(rows, width))
    engine.loglikelihood(reqs, strategy="shared")
    assert [r for r, _ in shapes] == [4, 4]  # 12 candidates: 4 contexts per forward
    engine.max_batch_tokens = 3 * shapes[0][1]  # 4 contexts do not fit, 2 do
    shapes.clear()
    got = engine.loglikelihood(reqs, strategy="shared")
    assert [r for r, _ in shapes] == [4, 2, 2, 2, 2]
    assert max(abs(g[0] - w[0]) for g, w in zip(got, want)) < 1e-4


def test_scoring_forwards_build_no_cache(tiny_model_dir):
    """Next-token and log-likelihood forwards (flat and shared) ask the model for no key-value cache;
    generation does use one."""
    engine = HFEngine(tiny_model_dir, batch_size=4, progress=False)
    calls = []
    forward = engine.model.forward
    engine.model.forward = lambda *a, **kw: (calls.append(kw.get("use_cache")), forward(*a, **kw))[1]
    ps = prompts(engine.tokenizer)
    engine.next_token_logits(ps, {"A": engine.tokenizer.convert_tokens_to_ids("A")})
    for strategy in ("flat", "shared"):
        engine.loglikelihood(ranking_requests(engine.tokenizer), strategy=strategy)
    assert calls and all(c is False for c in calls)
    calls.clear()
    engine.generate(ps, 3)
    assert calls and all(c is True for c in calls)


def test_a_prompt_cut_to_fit_is_flagged_and_logged(tiny_model_dir, caplog):
    """A generation prompt longer than the window less its budget keeps its end; its row says how many
    tokens it lost and a warning counts the cut prompts. The scores table counts them per ability."""
    from growthpace.analysis.tables import scores_table
    from growthpace.evaluate.prompts import ChatPrompts
    from growthpace.evaluate.run import DEFAULT_MAX_NEW_TOKENS, evaluate_sets

    engine = HFEngine(tiny_model_dir, batch_size=4, progress=False)
    ps = prompts(engine.tokenizer)
    engine.max_positions = 20  # a window of 20 positions: 15 for the prompt with 5 new tokens
    caplog.set_level("WARNING", logger="growthpace.evaluate.engine")
    gens = engine.generate(ps, 5)
    assert [g.prompt_tokens_cut for g in gens] == [max(0, len(p) - 15) for p in ps]
    assert sum(len(p) > 15 for p in ps) >= 1 and sum(len(p) <= 15 for p in ps) >= 1
    warned = [r.getMessage() for r in caplog.records if "cut from the left" in r.getMessage()]
    assert len(warned) == 1 and f"{sum(len(p) > 15 for p in ps)} of 4 prompts" in warned[0]
    short = engine.generate([p[-15:] for p in ps], 5)  # what the model saw: the same tokens
    assert [g.token_ids for g in gens] == [g.token_ids for g in short]

    records = [{"messages": [{"role": "user", "content": "细胞" * k + "？"}, {"role": "assistant", "content": "对"}],
                "type": "biology", "question_format": 0, "_hash": f"h{k}", "_line": k} for k in (1, 2, 9)]
    df = evaluate_sets(engine, {"biology_test": records}, dict.fromkeys(DEFAULT_MAX_NEW_TOKENS, 5))
    lengths = [len(p) for p in ChatPrompts(engine.tokenizer).prompts(records)]
    assert df["prompt_tokens_cut"].tolist() == [max(0, n - 15) for n in lengths]
    cells = df.assign(model_size="xs", data_source="curated", data_size=10, seed=0, recipe="", epoch=1)
    assert scores_table(cells)["prompts_cut"].tolist() == [sum(n > 15 for n in lengths)]

