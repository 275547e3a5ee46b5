"""How an evaluated model is prompted: the chat format, or plain text for an untuned base model.

``ChatPrompts`` (every fine-tuned checkpoint): the speaker-token format the model was tuned on
(``models.chat``): the conversation, then ``<assistant>``; a candidate answer is its content then ``<eot>``.

``PlainPrompts`` (untuned base models, ``evaluation.base_prompt.format: plain``): plain text in the layout
of the model's pretraining text, optionally after solved examples, as lm-evaluation-harness and
OpenCompass prompt base models. A base model has never seen the speaker tokens: a real one's tokenizer
lacks them, and the embedding rows added for them are drawn around the mean of the others, so in the
chat format its scores mix what it knows with its confusion at a format it cannot read
(``benchmarks/base_prompts.py`` measures both). Each turn is marked as a question or an answer::

    问：{question of a solved example}
    答：{its answer}

    问：{the question}
    答：

The markers are settings (``question``, ``answer``): they should be those of the model's pretraining
text (the demo corpus writes exam items as ``问…`` / ``答…`` with no colon; Chinese web text commonly
``问：`` / ``答：``). The ``shots`` examples show the answer's form (an option letter, 正确/错误,
``\\boxed{}``) that a tuned model learns from its data; they are the items of the training pool of the
same ability and answer kind with the smallest seeded hash, the same for every item of that kind, and
are dropped from the front until the prompt leaves room for the answer. Generation is cut at the first
blank line or next question (lm-eval's ``until``). A continuation (a ranked choice, the gold answer) is
scored right after the answer marker, tokenised in context: the tokens of prompt + continuation after
those of the prompt (lm-eval's split), with no end-of-turn token.
"""

from __future__ import annotations

import hashlib

from ..models.chat import encode_continuations, encode_prompts
from . import scorers

FORMATS = ("plain", "chat")
QUESTION, ANSWER, SEPARATOR = "问：", "答：", "\n\n"


def letter_token_ids(tokenizer) -> dict[str, int]:
    """Token ids of the letters A-D as the chat format encodes an assistant answer ``A`` (first token).

    The authors looked up the bare pieces ``A``..``D``; a SentencePiece tokenizer encodes an answer
    ``A`` as ``▁A``, which is what an SFT model learns to emit, so the encoding is used here.
    """
    return {L: tokenizer(L, add_special_tokens=False)["input_ids"][0] for L in scorers.LETTERS}


class ChatPrompts:
    """The chat format of ``models.chat``."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def prompts(self, records: list[dict]) -> list[list[int]]:
        return encode_prompts(self.tokenizer, [r["messages"] for r in records])

    def prompt_length(self, messages: list[dict]) -> int:
        """Tokens of the prompt of a conversation (its last turn is the gold answer)."""
        return len(encode_prompts(self.tokenizer, [messages])[0])

    def continuations(self, owners: list[int], texts: list[str]) -> list[list[int]]:
        """Token ids of ``texts[i]`` as the answer to the ``owners[i]``-th record of the last ``prompts``."""
        return encode_continuations(self.tokenizer, texts)

    def letter_ids(self) -> dict[str, int]:
        return letter_token_ids(self.tokenizer)

    def clean(self, output: str) -> str:
        return output


def render(messages: list[dict], question: str = QUESTION, answer: str = ANSWER) -> str:
    """The conversation without its last (gold) turn, as plain text ending in the answer cue."""
    text = ""
    for m in messages[:-1]:  # a question ends its line; an answer ends its exchange
        text += question + m["content"].strip() + "\n" if m["role"] == "user" else \
            answer + m["content"].strip() + SEPARATOR
    return text + answer


def solved(record: dict, question: str = QUESTION, answer: str = ANSWER) -> str:
    """A solved example: the conversation with its gold answer."""
    return render(record["messages"], question, answer) + record["messages"][-1]["content"].strip()


def shot_order(record: dict, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{record['_hash']}".encode()).hexdigest()


class PlainPrompts:
    """Plain text with ``shots`` solved examples of the item's ability and kind from ``pools``
    (``{ability: training records}``; an ability without a pool gets none), at most ``max_tokens``."""

    def __init__(self, tokenizer, pools: dict[str, list[dict]], shots: int, max_tokens: int, seed: int = 0,
                 question: str = QUESTION, answer: str = ANSWER):
        self.tokenizer, self.shots, self.max_tokens = tokenizer, shots, max_tokens
        self.question, self.answer = question, answer
        self.stops = (SEPARATOR, "\n" + question)
        # (record hash, solved text) of shots + 1 examples per (ability, kind): one spare, for an item
        # that is itself in the pool
        self.examples: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for ability, pool in (pools or {}).items():
            for r in sorted(pool, key=lambda r: shot_order(r, seed)):
                chosen = self.examples.setdefault((ability, scorers.item_kind(r)), [])
                if len(chosen) <= shots:
                    chosen.append((r["_hash"], solved(r, question, answer)))
        self.texts: list[str] = []

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text)["input_ids"]  # with the tokenizer's own BOS, as a base model was trained

    def prompt_text(self, record: dict) -> str:
        question = render(record["messages"], self.question, self.answer)
        examples = [text for h, text in self.examples.get((record["type"], scorers.item_kind(record)), [])
                    if h != record["_hash"]][:self.shots]
        while True:
            text = "".join(e + SEPARATOR for e in examples) + question
            if not examples or len(self._encode(text)) <= self.max_tokens:
                return text
            examples = examples[1:]

    def prompt_length(self, messages: list[dict]) -> int:
        """Tokens of the plain-text prompt of a conversation (its last turn is the gold answer), without
        solved examples: what a benchmark item gets (its type is no ability, so it has no pool)."""
        return len(self._encode(render(messages, self.question, self.answer)))

    def prompts(self, records: list[dict]) -> list[list[int]]:
        self.texts = [self.prompt_text(r) for r in records]
        return [self._encode(t) for t in self.texts]

    def continuations(self, owners: list[int], texts: list[str]) -> list[list[int]]:
        out = []
        for k, text in zip(owners, texts):
            context = self.texts[k]
            whole, head = self._encode(context + text.strip()), self._encode(context)
            out.append(whole[len(head):] or whole[-1:])
        return out

    def letter_ids(self) -> dict[str, int]:
        head = self._encode(self.answer)
        return {L: self._encode(self.answer + L)[len(head)] for L in scorers.LETTERS}

    def clean(self, output: str) -> str:
        cut = min((i for i in (output.find(s) for s in self.stops) if i >= 0), default=len(output))
        return output[:cut]
