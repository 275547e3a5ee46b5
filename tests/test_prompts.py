"""Plain-text prompts for untuned base models (evaluate.prompts.PlainPrompts)."""

import torch
from transformers import AutoTokenizer

from growthpace.data.schema import record_hash
from growthpace.evaluate.engine import HFEngine
from growthpace.evaluate.prompts import PlainPrompts, render, solved
from growthpace.evaluate.run import evaluate_sets


def rec(q, a, type_="biology", **extra):
    r = {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "type": type_,
         "question_format": 0, **extra}
    return {**r, "_hash": record_hash(r), "_line": 1}


POOL = {"biology": [rec(f"细胞{i}是什么？\nA. 生命\nB. 石头", "A") for i in range(6)]
        + [rec(f"细胞{i}是生命吗？", "正确") for i in range(3)]}


def test_render_marks_every_turn():
    dialogue = {"messages": [{"role": "user", "content": "你好 "}, {"role": "assistant", "content": "好的"},
                             {"role": "user", "content": "去哪？"}, {"role": "assistant", "content": "海城"}]}
    assert render(dialogue["messages"]) == "问：你好\n答：好的\n\n问：去哪？\n答："
    assert solved(dialogue) == "问：你好\n答：好的\n\n问：去哪？\n答：海城"


def test_examples_are_of_the_same_ability_and_kind_seeded_and_never_the_item(char_tokenizer):
    fmt = PlainPrompts(char_tokenizer, POOL, shots=3, max_tokens=10_000, seed=0)
    item = rec("细胞9是什么？\nA. 生命\nB. 石头", "A")
    text = fmt.prompt_text(item)
    blocks = text.split("\n\n")
    assert len(blocks) == 4 and blocks[-1] == "问：细胞9是什么？\nA. 生命\nB. 石头\n答："
    assert all(b.endswith("答：A") for b in blocks[:3])  # single-choice examples for a single-choice item
    assert PlainPrompts(char_tokenizer, POOL, 3, 10_000, seed=0).prompt_text(item) == text  # deterministic
    assert PlainPrompts(char_tokenizer, POOL, 3, 10_000, seed=1).prompt_text(item) != text
    tf = fmt.prompt_text(rec("细胞9是生命吗？", "正确"))
    assert tf.count("答：正确") == 3  # true/false items get true/false examples
    own = POOL["biology"][0]  # an item of the pool itself gets the others
    assert solved(own) not in fmt.prompt_text(own) and fmt.prompt_text(own).count("\n\n") == 3
    assert fmt.prompt_text(rec("历史？", "唐", type_="history")) == "问：历史？\n答："  # no pool: zero-shot
    short = PlainPrompts(char_tokenizer, POOL, 3, max_tokens=60, seed=0).prompt_text(item)
    assert short.count("\n\n") < 3 and len(char_tokenizer(short)["input_ids"]) <= 60  # examples dropped first


def test_stops_and_continuations_in_context(llama_checkpoints):
    tok = AutoTokenizer.from_pretrained(llama_checkpoints["bin"])
    fmt = PlainPrompts(tok, POOL, 2, 10_000)
    items = [rec("细胞9是什么？\nA. 生命\nB. 石头", "A"), rec("细胞9是生命吗？", "正确")]
    prompts = fmt.prompts(items)
    assert all(p[0] == tok.bos_token_id for p in prompts)  # a base model's prompt starts as its text did
    conts = fmt.continuations([0, 1], ["A", "正确"])
    for p, c, (text, answer) in zip(prompts, conts, [(fmt.texts[0], "A"), (fmt.texts[1], "正确")]):
        assert p + c == tok(text + answer)["input_ids"]  # the tokens of the whole, split after the prompt
    assert fmt.clean("A，因为它是生命\n\n问：下一题") == "A，因为它是生命"
    assert fmt.clean("正确\n问：细胞？") == "正确" and fmt.clean("不变") == "不变"
    demo = PlainPrompts(tok, POOL, 0, 10_000, question="问", answer="答")  # the demo corpus's own markers
    assert demo.prompt_text(items[1]) == "问细胞9是生命吗？\n答" and demo.clean("正确\n问下一题") == "正确"


def test_plain_prompt_scores_match_a_plain_forward(tiny_model_dir, char_tokenizer):
    """The gold answer's log-likelihood under the plain prompt, computed independently."""
    engine = HFEngine(tiny_model_dir, batch_size=4, progress=False)
    item = rec("细胞是什么？\nA. 生命\nB. 石头", "A")
    df = evaluate_sets(engine, {"biology_test": [item]}, plain={"shots": 2, "seed": 0}, shot_pools=POOL)
    text = PlainPrompts(engine.tokenizer, POOL, 2, 10_000).prompt_text(item)
    ids = engine.tokenizer(text + "A")["input_ids"]
    head = len(engine.tokenizer(text)["input_ids"])
    with torch.no_grad():
        logprobs = torch.log_softmax(engine.model(torch.tensor([ids])).logits[0], -1)
    expected = sum(float(logprobs[k - 1, ids[k]]) for k in range(head, len(ids)))
    assert abs(df["gold_logprob"].iloc[0] - expected) < 1e-4 and df["gold_tokens"].iloc[0] == len(ids) - head


def test_benchmarks_on_a_base_model_are_plain_text_trimmed_as_prompted(llama_checkpoints):
    """A base model's tokenizer has no speaker tokens: the benchmark loaders measure its plain-text prompt
    (the chat format's measure fails there), and drop demos until that prompt fits."""
    from pathlib import Path

    import pytest

    from growthpace.evaluate import agieval, cmmlu
    from growthpace.evaluate.prompts import ChatPrompts

    fixtures = Path(__file__).parent / "fixtures"
    engine = HFEngine(llama_checkpoints["safetensors"], batch_size=4, progress=False)
    tok = engine.tokenizer
    fmt = PlainPrompts(tok, {}, 0, 10_000)
    agi, cm = fixtures / "agieval" / "data" / "v1", fixtures / "cmmlu"

    def plain_length(messages):  # the prompt's tokens, counted here from the text itself
        return len(tok(render(messages))["input_ids"])

    full = agieval.load_agieval(agi, ["few-shot"], ["logiqa-zh"])["agieval_few-shot_logiqa-zh_test"][0]["messages"]
    with pytest.raises(ValueError, match="no <user> token"):
        ChatPrompts(tok).prompt_length(full)
    n = plain_length(full)
    assert fmt.prompt_length(full) == n
    fit = agieval.load_agieval(agi, ["few-shot"], ["logiqa-zh"], length=fmt.prompt_length, max_tokens=n - 1 + 48)
    kept = fit["agieval_few-shot_logiqa-zh_test"][0]["messages"]
    assert len(kept) == len(full) - 2 and plain_length(kept) <= n - 1  # the last demo went
    assert kept[-2]["content"].startswith("问题 4.")  # the question renumbered after the 3 demos kept

    five = cmmlu.load_cmmlu(cm, [5], ["ancient_chinese"])["cmmlu_5shot_ancient_chinese_test"][0]["messages"]
    m = plain_length(five)
    trimmed = cmmlu.load_cmmlu(cm, [5], ["ancient_chinese"], length=fmt.prompt_length, max_tokens=m - 1)
    text = trimmed["cmmlu_5shot_ancient_chinese_test"][0]["messages"]
    assert text[0]["content"].count("题目：") == 5 and plain_length(text) <= m - 1

    # scored in plain text: the argmax of the letters' logits after the answer marker, computed here
    df = evaluate_sets(engine, fit, plain={"shots": 0, "seed": 0})
    assert len(df) == 3 and set(df["kind"]) == {"first_token"}
    for (_, row), record in zip(df.iterrows(), fit["agieval_few-shot_logiqa-zh_test"]):
        prompt = render(record["messages"])
        ids = tok(prompt)["input_ids"]
        with torch.no_grad():
            last = engine.model(torch.tensor([ids])).logits[0, -1]
        letter = {L: tok(prompt + L)["input_ids"][len(ids)] for L in "ABCD"}
        assert row["parsed"] == max("ABCD", key=lambda L: float(last[letter[L]]))
