"""The batched engine gives the same answers as one-at-a-time computation, in the original order."""

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
