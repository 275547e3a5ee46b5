"""The DoIT record: one JSON object per line, validated field by field.

A record is exactly DoIT's (see the project README, "Data format"):

    messages         [{role: user|assistant, content: str}, ...]; alternating, user first,
                     the last turn is the assistant's and is the gold output
    type             ability id (one of ABILITIES, an out-of-domain ``ceval_*`` id, or a
                     general-instruction type for synthetic data)
    question_format  0 = generate then parse; 1 = rank 3 ``choices`` by perplexity, gold first
    choices          exactly 3 strings when question_format == 1
    answer           the final answer string, required for math

Every problem is reported as ``file:line: field: what is wrong`` so that a user can find it.
"""

from __future__ import annotations

import hashlib
import json
import re

# DoIT's ten abilities, in the paper's order (v1 Table 1).
ABILITIES = (
    "biology",
    "history",
    "code",
    "creative_writing",
    "chinese",
    "understanding",
    "role_play",
    "reasoning",
    "math",
    "ethics",
)
# Abilities that DoIT scores by 3-way perplexity ranking (question_format == 1).
RANKED_ABILITIES = ("code", "creative_writing", "role_play")
# Record types that are not abilities of the in-domain suite but are valid records.
OOD_TYPE = re.compile(r"^ceval_[a-z0-9_]+$")
GENERAL_TYPES = ("general",)  # synthetic general-instruction data (teacher-model style)

ROLES = ("user", "assistant")
# The option letters of a four-way single-choice question (the in-domain suite's choice items).
LETTERS = "ABCD"
# Passages of a pretraining corpus (``corpus.txt``) are separated by an empty line.
PASSAGE_SEPARATOR = "\n\n"


class RecordError(ValueError):
    """A record that violates the DoIT format; the message is ``where: field: problem``."""

    def __init__(self, where: str, field: str, problem: str):
        self.where, self.field, self.problem = where, field, problem
        super().__init__(f"{where}: {field}: {problem}")


def is_known_type(t: str) -> bool:
    return t in ABILITIES or t in GENERAL_TYPES or bool(OOD_TYPE.match(t))


def validate_record(obj: object, where: str) -> dict:
    """Check one parsed JSON value against the DoIT format; return it unchanged or raise RecordError."""
    if not isinstance(obj, dict):
        raise RecordError(where, "record", f"expected a JSON object, got {type(obj).__name__}")
    messages = obj.get("messages")
    if messages is None:
        raise RecordError(where, "messages", "missing")
    if not isinstance(messages, list) or not messages:
        raise RecordError(where, "messages", "must be a non-empty list of {role, content} objects")
    for i, m in enumerate(messages):
        field = f"messages[{i}]"
        if not isinstance(m, dict):
            raise RecordError(where, field, "must be an object with 'role' and 'content'")
        expected = ROLES[i % 2]
        if m.get("role") != expected:
            raise RecordError(
                where, f"{field}.role", f"expected {expected!r} (turns alternate, user first), got {m.get('role')!r}"
            )
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            raise RecordError(where, f"{field}.content", "must be a non-empty string")
    if messages[-1]["role"] != "assistant":
        raise RecordError(where, "messages", "the last turn must be the assistant's (it is the gold output)")

    t = obj.get("type")
    if not isinstance(t, str) or not t:
        raise RecordError(where, "type", "missing or not a string")
    if not is_known_type(t):
        raise RecordError(where, "type", f"unknown ability type {t!r}; expected one of {', '.join(ABILITIES)}, "
                                         "ceval_<subject> or general")
    qf = obj.get("question_format", 0)
    if qf not in (0, 1) or isinstance(qf, bool):
        raise RecordError(where, "question_format", f"must be 0 or 1, got {qf!r}")
    if qf == 1:
        choices = obj.get("choices")
        if not isinstance(choices, list) or len(choices) != 3:
            n = len(choices) if isinstance(choices, list) else "no"
            raise RecordError(where, "choices", f"question_format 1 needs exactly 3 choices (gold first), got {n}")
        for j, c in enumerate(choices):
            if not isinstance(c, str) or not c.strip():
                raise RecordError(where, f"choices[{j}]", "must be a non-empty string")
    if t == "math":
        ans = obj.get("answer")
        if not isinstance(ans, str) or not ans.strip():
            raise RecordError(where, "answer", "math records need a non-empty 'answer' string")
    return obj


def record_hash(obj: dict) -> str:
    """A stable hash of the fields that define a record (not its provenance)."""
    core = {k: obj[k] for k in ("messages", "type", "question_format", "choices", "answer") if k in obj}
    blob = json.dumps(core, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def prompt_hash(messages: list[dict]) -> str:
    """Hash of the conversation before the gold turn: what a model sees (used for leakage checks)."""
    blob = json.dumps(messages[:-1], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
