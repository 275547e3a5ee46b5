"""The DoIT loader: good records load with provenance; each kind of bad record stops with file:line: field."""

import json

import pytest

from growthpace.data.loaders import load_doit_split, load_jsonl
from growthpace.data.schema import RecordError, record_hash

from .conftest import write_jsonl

GOOD = [
    {"messages": [{"role": "user", "content": "细胞的基本单位是什么？\nA. 细胞\nB. 器官\nC. 组织\nD. 系统"},
                  {"role": "assistant", "content": "A"}], "type": "biology", "question_format": 0},
    {"messages": [{"role": "user", "content": "1+1=?"}, {"role": "assistant", "content": "1+1=2，答案 \\boxed{2}"}],
     "type": "math", "question_format": 0, "answer": "2"},
    {"messages": [{"role": "user", "content": "写一个函数"}, {"role": "assistant", "content": "def f(): pass"}],
     "type": "code", "question_format": 1, "choices": ["def f(): pass", "def f(): return 1", "print(1)"]},
    {"messages": [{"role": "user", "content": "甲：你好"}, {"role": "assistant", "content": "乙：你好"},
                  {"role": "user", "content": "他们在做什么？\nA. 打招呼\nB. 吵架\nC. 吃饭"},
                  {"role": "assistant", "content": "A"}], "type": "understanding", "question_format": 0},
]


def test_good_records_load_with_provenance(tmp_path):
    path = write_jsonl(tmp_path / "mixed.json", [GOOD[0], "", GOOD[1], GOOD[2], GOOD[3]])
    records = load_jsonl(path)
    assert [r["type"] for r in records] == ["biology", "math", "code", "understanding"]
    assert [r["_line"] for r in records] == [1, 3, 4, 5]  # blank line 2 skipped, numbering kept
    assert all(r["_file"] == str(path) for r in records)
    assert records[1]["_hash"] == record_hash(GOOD[1])
    assert records[0]["_hash"] != records[1]["_hash"]


def test_record_hash_ignores_provenance_and_key_order():
    reordered = json.loads(json.dumps(dict(reversed(list(GOOD[0].items())))))
    assert record_hash(reordered) == record_hash(GOOD[0])
    assert record_hash({**GOOD[0], "_line": 9}) == record_hash(GOOD[0])


def bad(**changes):
    r = json.loads(json.dumps(GOOD[0]))
    for k, v in changes.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


U = {"role": "user", "content": "问题"}
A = {"role": "assistant", "content": "答案"}

BAD_CASES = [
    ('{"messages": [', "json", "invalid JSON"),
    ("[1, 2]", "record", "expected a JSON object"),
    (bad(messages=None), "messages", "missing"),
    (bad(messages=[]), "messages", "non-empty list"),
    (bad(messages=[A, U]), "messages[0].role", "expected 'user'"),
    (bad(messages=[U, U]), "messages[1].role", "expected 'assistant'"),
    (bad(messages=[U]), "messages", "last turn must be the assistant"),
    (bad(messages=[U, A, U]), "messages", "last turn must be the assistant"),
    (bad(messages=[U, {"role": "assistant", "content": "  "}]), "messages[1].content", "non-empty string"),
    (bad(messages=[U, "答案"]), "messages[1]", "object"),
    (bad(type="physics"), "type", "unknown ability type 'physics'"),
    (bad(type=None), "type", "missing"),
    (bad(question_format=2), "question_format", "must be 0 or 1"),
    (bad(question_format=1), "choices", "exactly 3 choices"),
    (bad(question_format=1, choices=["a", "b"]), "choices", "got 2"),
    (bad(question_format=1, choices=["a", "b", ""]), "choices[2]", "non-empty"),
    (bad(type="math"), "answer", "non-empty 'answer'"),
]


@pytest.mark.parametrize("record,field,problem", BAD_CASES)
def test_bad_record_names_file_line_and_field(tmp_path, record, field, problem):
    path = write_jsonl(tmp_path / "data.json", [GOOD[0], GOOD[1], record])
    with pytest.raises(RecordError) as err:
        load_jsonl(path)
    assert str(err.value).startswith(f"{path}:3: {field}: ")
    assert problem in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_jsonl(tmp_path / "nope.json")


def test_doit_layout_checks_type_against_file(tmp_path):
    write_jsonl(tmp_path / "curated" / "valid" / "biology_valid.json", [GOOD[0]])
    write_jsonl(tmp_path / "curated" / "valid" / "math_valid.json", [GOOD[1], GOOD[0]])
    assert len(load_doit_split(tmp_path, "valid", ["biology"])["biology"]) == 1
    with pytest.raises(RecordError, match=r"math_valid.json:2: type: record of type 'biology'"):
        load_doit_split(tmp_path, "valid", ["biology", "math"])
