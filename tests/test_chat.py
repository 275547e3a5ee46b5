"""The chat format: labels are -100 exactly outside assistant content and its <eot>."""

import pytest

from growthpace.models.chat import (
    ASSISTANT, EOT, IGNORE_INDEX, USER, add_chat_tokens, encode_continuation, encode_for_training, encode_prompt,
)

CONV = [
    {"role": "user", "content": "甲：你好"},
    {"role": "assistant", "content": "乙：你好 "},
    {"role": "user", "content": "他们在做什么？"},
    {"role": "assistant", "content": "打招呼"},
]


def expected_masking(tok, messages):
    """Independent construction: walk the turns and mark which positions carry a label."""
    ids, trained = [], []
    for m in messages:
        speaker = tok.convert_tokens_to_ids(USER if m["role"] == "user" else ASSISTANT)
        body = tok.encode(m["content"].strip(), add_special_tokens=False) + [tok.convert_tokens_to_ids(EOT)]
        ids += [speaker] + body
        trained += [False] + [m["role"] == "assistant"] * len(body)
    return ids, trained


def test_labels_cover_every_assistant_turn_and_its_eot(char_tokenizer):
    ids, labels = encode_for_training(char_tokenizer, CONV, max_len=1000)
    exp_ids, trained = expected_masking(char_tokenizer, CONV)
    assert ids == exp_ids
    for i, (x, lab, t) in enumerate(zip(ids, labels, trained)):
        assert lab == (x if t else IGNORE_INDEX), f"position {i}"
    eot = char_tokenizer.convert_tokens_to_ids(EOT)
    # Two assistant turns, each ending in a trained <eot>; the user turns' <eot> are masked.
    assert sum(1 for x, lab in zip(ids, labels) if x == eot and lab == eot) == 2
    assert sum(1 for x, lab in zip(ids, labels) if x == eot and lab == IGNORE_INDEX) == 2
    assert char_tokenizer.decode([x for x, lab in zip(ids, labels) if lab != IGNORE_INDEX]) == \
        "乙：你好<eot>打招呼<eot>"


def test_truncation_cuts_from_the_right(char_tokenizer):
    full_ids, full_labels = encode_for_training(char_tokenizer, CONV, max_len=1000)
    ids, labels = encode_for_training(char_tokenizer, CONV, max_len=9)
    assert ids == full_ids[:9] and labels == full_labels[:9]


def test_prompt_ends_with_assistant_and_omits_gold(char_tokenizer):
    prompt = encode_prompt(char_tokenizer, CONV)
    text = char_tokenizer.decode(prompt)
    assert text == "<user>甲：你好<eot><assistant>乙：你好<eot><user>他们在做什么？<eot><assistant>"
    assert "打招呼" not in text
    assert char_tokenizer.decode(encode_continuation(char_tokenizer, "打招呼")) == "打招呼<eot>"


def test_prompts_and_continuations_are_the_tokenizer_call_ids(char_tokenizer):
    """Batched encoding (the fast tokenizer's backend called directly) gives the ids of the tokenizer's
    own call, turn by turn, special tokens written in the text included."""
    from growthpace.models.chat import encode_continuations, encode_prompts

    convs = [CONV, [{"role": "user", "content": " 答案：<eot>A "}, {"role": "assistant", "content": "x"}]]
    got = encode_prompts(char_tokenizer, convs)
    for conv, ids in zip(convs, got):
        want, _ = expected_masking(char_tokenizer, conv[:-1])
        assert ids == want + [char_tokenizer.convert_tokens_to_ids(ASSISTANT)]
    texts = ["打招呼", " 对<user> ", "B"]
    eot = char_tokenizer.convert_tokens_to_ids(EOT)
    assert encode_continuations(char_tokenizer, texts) == [
        char_tokenizer(t.strip(), add_special_tokens=False)["input_ids"] + [eot] for t in texts]


def test_add_chat_tokens_keeps_existing_special_tokens(tmp_path):
    """A tokenizer that already has extra special tokens (like Qwen's) keeps them and gains ours."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1, "b": 2, "<|im_start|>": 3, "<|im_end|>": 4},
                                     unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>",
                                 additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    hf.save_pretrained(tmp_path)
    hf = AutoTokenizer.from_pretrained(tmp_path)
    before = len(hf)
    added = add_chat_tokens(hf)
    assert added == 4  # <user> <assistant> <eot> and a pad token
    assert len(hf) == before + 4
    specials = set(hf.all_special_tokens)
    assert {"<|im_start|>", "<|im_end|>", USER, ASSISTANT, EOT, hf.pad_token} <= specials
    assert hf.convert_tokens_to_ids("<|im_start|>") == 3
    assert add_chat_tokens(hf) == 0  # idempotent


def test_missing_chat_tokens_are_a_clear_error(tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
                                 unk_token="<unk>")
    with pytest.raises(ValueError, match="add_chat_tokens"):
        encode_prompt(hf, CONV)
