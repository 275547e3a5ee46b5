"""The speaker-token chat format of the paper (section 3.7 of its notes), for any HF tokenizer.

Each message is ``<user>`` or ``<assistant>``, then the tokens of ``content.strip()``, then ``<eot>``.
No BOS, no system prompt. SFT loss covers assistant content plus its ``<eot>`` in every assistant
turn; user turns and the speaker tokens are masked with -100. Inference prompts are the conversation
without its last (gold) turn, followed by ``<assistant>``.
"""

from __future__ import annotations

from dataclasses import dataclass

USER, ASSISTANT, EOT, PAD = "<user>", "<assistant>", "<eot>", "<pad>"
CHAT_TOKENS = (USER, ASSISTANT, EOT)
IGNORE_INDEX = -100


def add_chat_tokens(tokenizer) -> int:
    """Add the speaker tokens (and a pad token if missing) without clobbering existing special tokens.

    Returns the number of tokens added; the caller resizes the model's embeddings when it is > 0.
    The authors' code replaced ``additional_special_tokens`` and unpacked exactly three ids, which
    breaks tokenizers that already define extra special tokens (Qwen, for one).
    """
    vocab = tokenizer.get_vocab()
    missing = [t for t in CHAT_TOKENS if t not in vocab]
    added = tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False) \
        if missing else 0
    if tokenizer.pad_token is None:
        added += tokenizer.add_special_tokens({"pad_token": PAD})
    return added


@dataclass(frozen=True)
class ChatIds:
    user: int
    assistant: int
    eot: int
    pad: int

    @classmethod
    def of(cls, tokenizer) -> "ChatIds":
        ids = [tokenizer.convert_tokens_to_ids(t) for t in (USER, ASSISTANT, EOT)]
        unk = tokenizer.unk_token_id
        for tok, i in zip((USER, ASSISTANT, EOT), ids):
            if i is None or (unk is not None and i == unk):
                raise ValueError(f"tokenizer has no {tok} token; call add_chat_tokens() first")
        return cls(*ids, tokenizer.pad_token_id)


def _content_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text.strip(), add_special_tokens=False)["input_ids"]


def encode_for_training(tokenizer, messages: list[dict], max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels for one conversation; labels are -100 outside assistant content + <eot>.

    Sequences longer than ``max_len`` are cut from the right, as in the paper.
    """
    ids_of = ChatIds.of(tokenizer)
    input_ids: list[int] = []
    labels: list[int] = []
    for m in messages:
        speaker = ids_of.user if m["role"] == "user" else ids_of.assistant
        body = _content_ids(tokenizer, m["content"]) + [ids_of.eot]
        input_ids.append(speaker)
        labels.append(IGNORE_INDEX)
        input_ids.extend(body)
        labels.extend(body if m["role"] == "assistant" else [IGNORE_INDEX] * len(body))
    return input_ids[:max_len], labels[:max_len]


def encode_prompt(tokenizer, messages: list[dict]) -> list[int]:
    """Ids of the conversation up to (not including) its last turn, followed by ``<assistant>``."""
    return encode_prompts(tokenizer, [messages])[0]


def encode_prompts(tokenizer, conversations: list[list[dict]]) -> list[list[int]]:
    """``encode_prompt`` for many conversations, with one batched tokenizer call for all their turns
    (one call per turn costs more than the model's forward passes on a small model)."""
    ids_of = ChatIds.of(tokenizer)
    turns = [m for messages in conversations for m in messages[:-1]]
    bodies = iter(_contents_ids(tokenizer, [m["content"] for m in turns]))
    prompts = []
    for messages in conversations:
        out: list[int] = []
        for m in messages[:-1]:
            out.append(ids_of.user if m["role"] == "user" else ids_of.assistant)
            out.extend(next(bodies))
            out.append(ids_of.eot)
        out.append(ids_of.assistant)
        prompts.append(out)
    return prompts


def encode_continuation(tokenizer, text: str) -> list[int]:
    """Ids of a candidate answer as the model would produce it: content, then ``<eot>``."""
    return encode_continuations(tokenizer, [text])[0]


def encode_continuations(tokenizer, texts: list[str]) -> list[list[int]]:
    eot = ChatIds.of(tokenizer).eot
    return [ids + [eot] for ids in _contents_ids(tokenizer, texts)]


def _contents_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    texts = [t.strip() for t in texts]
    backend = getattr(tokenizer, "_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if (backend is not None and backend.truncation is None and backend.padding is None
            and backend.encode_special_tokens == bool(getattr(tokenizer, "split_special_tokens", False))):
        # The Rust tokenizer a fast tokenizer calls (in the state that call would set), without the
        # per-text Python conversion around it (attention masks, a BatchEncoding), which costs about
        # as much as the tokenizing itself.
        return [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]
