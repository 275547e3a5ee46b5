"""Readers for DoIT's layout and for every supported format: same records, same hashes, clear errors."""

import importlib.util
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from growthpace.data.loaders import (
    load_doit_ood,
    load_doit_split,
    load_hf_disk,
    load_hf_json,
    load_json,
    load_records,
    load_synthetic,
    load_train_pools,
    location,
    ood_subjects,
    strip_provenance,
)
from growthpace.data.schema import ABILITIES, RecordError

from .conftest import ROOT, write_jsonl

FIXTURES = ROOT / "tests" / "fixtures"
DOIT = FIXTURES / "doit"
FORMATS = FIXTURES / "formats"
# records per file in the fixture tree (written by hand, counted here independently of the loaders)
FULL_SIZES = {"biology": 4, "history": 5, "code": 5, "creative_writing": 3, "chinese": 5, "understanding": 5,
              "role_play": 3, "reasoning": 5, "math": 5, "ethics": 3}


def _maker():
    spec = importlib.util.spec_from_file_location("make_format_fixtures", FIXTURES / "make_format_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def plain_lines(path):
    """The file's records with the standard library only: (line number, parsed object)."""
    return [(n, json.loads(ln)) for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if ln.strip()]


# ------------------------------------------------------------------------------- DoIT layout
@pytest.mark.parametrize("split,sizes", [("1000", {a: 3 for a in ABILITIES}), ("full", FULL_SIZES),
                                         ("valid", {a: 2 for a in ABILITIES}), ("test", {a: 2 for a in ABILITIES})])
def test_doit_splits_load_every_ability(split, sizes):
    data = load_doit_split(DOIT, split)
    assert list(data) == list(ABILITIES)
    assert {a: len(r) for a, r in data.items()} == sizes
    for ability, records in data.items():
        expected = plain_lines(DOIT / "curated" / split / f"{ability}_{split}.json")
        assert [strip_provenance(r) for r in records] == [obj for _, obj in expected]
        assert [r["_line"] for r in records] == [n for n, _ in expected]
        assert all(r["type"] == ability for r in records)


def test_fixture_tree_has_real_item_kinds():
    test = load_doit_split(DOIT, "test")
    assert all(r["question_format"] == 1 and len(r["choices"]) == 3
               for a in ("code", "creative_writing", "role_play") for r in test[a])
    assert all("\\boxed{" in r["messages"][-1]["content"] and r["answer"] for r in test["math"])
    assert all(len(r["messages"]) > 2 for r in test["understanding"])
    assert any(r["messages"][-1]["content"] in ("正确", "错误") for r in test["history"])
    assert any(len(r["messages"][-1]["content"]) > 1 for r in test["ethics"])  # multi-select


def test_full_pool_contains_the_1000_pool():
    small, full = load_doit_split(DOIT, "1000"), load_doit_split(DOIT, "full")
    for a in ABILITIES:
        assert {r["_hash"] for r in small[a]} <= {r["_hash"] for r in full[a]}


def test_ood_files_are_five_shot_ceval():
    assert ood_subjects(DOIT) == ["physician"]
    ood = load_doit_ood(DOIT)
    assert list(ood) == ["ceval_physician"]
    assert len(ood["ceval_physician"]) == 3
    for r in ood["ceval_physician"]:
        assert r["type"] == "ceval_physician_fshot"
        assert len(r["messages"]) == 12  # 5 demonstrations, the question, the gold answer
        assert r["messages"][-1]["content"] in "ABCD"


def test_ood_type_must_match_the_file(tmp_path):
    recs = [obj for _, obj in plain_lines(DOIT / "curated" / "test" / "ceval_physician.json")]
    recs[1]["type"] = "ceval_teacher_qualification_fshot"
    path = write_jsonl(tmp_path / "curated" / "test" / "ceval_physician.json", recs)
    with pytest.raises(RecordError, match=rf"{path}:2: type: record of type 'ceval_teacher_qualification_fshot' "
                                          r"in the 'ceval_physician' file"):
        load_doit_ood(tmp_path)


def test_synthetic_pool_and_default_type(tmp_path):
    synth = load_synthetic(DOIT)
    assert len(synth) == 5 and {r["type"] for r in synth} == {"general"}
    # a teacher file without 'type' gets the default; without a default it is an error
    untyped = [{"messages": r["messages"], "question_format": 0} for r in synth]
    path = write_jsonl(tmp_path / "synthetic" / "40960" / "general_instruction_gpt4_41k.json", untyped)
    filled = load_synthetic(tmp_path)
    assert [r["_hash"] for r in filled] == [r["_hash"] for r in synth]
    with pytest.raises(RecordError, match=rf"{path}:1: type: missing"):
        load_synthetic(tmp_path, default_type=None)
    with pytest.raises(FileNotFoundError, match="no synthetic data files"):
        load_synthetic(tmp_path / "nowhere")


def test_train_pools_fall_back_to_1000_without_full(tmp_path):
    shutil.copytree(DOIT / "curated" / "1000", tmp_path / "curated" / "1000")
    pools = load_train_pools(tmp_path, "full", ["biology", "math"])
    assert {a: len(r) for a, r in pools.items()} == {"biology": 3, "math": 3}
    assert {a: len(r) for a, r in load_train_pools(DOIT, "full", ["biology", "math"]).items()} == \
        {"biology": 4, "math": 5}


def test_split_type_mismatch_and_unknown_split(tmp_path):
    recs = [obj for _, obj in plain_lines(DOIT / "curated" / "full" / "history_full.json")]
    recs.insert(2, [obj for _, obj in plain_lines(DOIT / "curated" / "full" / "math_full.json")][0])
    path = write_jsonl(tmp_path / "curated" / "full" / "history_full.json", recs)
    with pytest.raises(RecordError, match=rf"{path}:3: type: record of type 'math' in the 'history' file"):
        load_doit_split(tmp_path, "full", ["history"])
    with pytest.raises(ValueError, match="unknown DoIT split 'train'"):
        load_doit_split(DOIT, "train")


# ----------------------------------------------------------------------------------- formats
def test_format_fixtures_are_up_to_date():
    """The committed files hold exactly the records the generator picks from the DoIT tree."""
    picks = _maker().records()
    assert json.loads((FORMATS / "records.json").read_text(encoding="utf-8")) == picks
    assert [obj for _, obj in plain_lines(FORMATS / "records.jsonl")] == picks
    assert sum(p.stat().st_size for p in FORMATS.rglob("*") if p.is_file()) < 50_000


@pytest.mark.parametrize("name,engine", [("records.json", "native"), ("records.jsonl", "native"),
                                         ("records.parquet", "native"), ("hf_disk", "native"),
                                         ("records.json", "hf"), ("records.jsonl", "hf")])
def test_every_format_reads_the_same_records(name, engine):
    picks = _maker().records()
    records = load_records(FORMATS / name, engine=engine)
    assert [strip_provenance(r) for r in records] == picks
    reference = load_records(FORMATS / "records.jsonl")
    assert [r["_hash"] for r in records] == [r["_hash"] for r in reference]
    assert [r["_row"] for r in records] == list(range(len(picks)))
    assert all(r["_file"] == str(FORMATS / name) for r in records)


def test_json_array_locates_items_by_line():
    records = load_json(FORMATS / "records.json")
    # indent=1 writes each item's opening brace alone on a line: those are the item lines
    starts = [n for n, ln in enumerate((FORMATS / "records.json").read_text(encoding="utf-8").splitlines(), 1)
              if ln == " {"]
    assert [r["_line"] for r in records] == starts
    assert location(records[1]) == f"{FORMATS / 'records.json'}:{starts[1]}"


def test_columnar_locations_are_rows():
    rec = load_records(FORMATS / "records.parquet")[3]
    assert rec["_line"] is None and location(rec) == f"{FORMATS / 'records.parquet'} (row 3)"
    assert load_hf_json(FORMATS / "records.jsonl")[2]["_line"] == 3


def test_load_records_rejects_unknown_and_missing(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match=r"data.csv: unknown data format '.csv'"):
        load_records(tmp_path / "data.csv")
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        load_records(tmp_path / "nope.parquet")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_records(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="engine must be"):
        load_records(FORMATS / "records.json", engine="pandas")


# ------------------------------------------------------------------------ validation per format
GOOD = [obj for _, obj in plain_lines(DOIT / "curated" / "test" / "biology_test.json")]
MATH = [obj for _, obj in plain_lines(DOIT / "curated" / "test" / "math_test.json")][0]
U = {"role": "user", "content": "问题"}
A = {"role": "assistant", "content": "答案"}


def _bad(**changes):
    r = json.loads(json.dumps(GOOD[0]))
    for k, v in changes.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


# (the bad record, field, problem): one case per validation rule of the DoIT format
RULES = [
    (_bad(messages=None), "messages", "missing"),
    (_bad(messages=[]), "messages", "non-empty list"),
    (_bad(messages=[A, U]), "messages[0].role", "expected 'user'"),
    (_bad(messages=[U, U, A]), "messages[1].role", "expected 'assistant'"),
    (_bad(messages=[U, A, U]), "messages", "last turn must be the assistant"),
    (_bad(type="physics"), "type", "unknown ability type 'physics'"),
    (_bad(question_format=1), "choices", "exactly 3 choices"),
    (_bad(question_format=1, choices=["甲", "乙"]), "choices", "got 2"),
    ({k: v for k, v in MATH.items() if k != "answer"}, "answer", "non-empty 'answer'"),
]


def write_as(fmt, path, records):
    if fmt == "jsonl":
        return write_jsonl(path.with_suffix(".jsonl"), records)
    if fmt == "json-lines":  # DoIT's own files: .json holding one object per line
        return write_jsonl(path.with_suffix(".json"), records)
    if fmt == "json-array":
        p = path.with_suffix(".json")
        p.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        return p
    fields = ("messages", "type", "question_format", "choices", "answer")
    table = pa.Table.from_pydict({f: [r.get(f) for r in records] for f in fields}, schema=_maker().SCHEMA)
    if fmt == "parquet":
        p = path.with_suffix(".parquet")
        pq.write_table(table, p)
        return p
    import datasets

    p = path.parent / "hf"
    datasets.Dataset(table).save_to_disk(str(p))
    return p


@pytest.mark.parametrize("fmt,where", [("jsonl", "{path}:3"), ("json-lines", "{path}:3"),
                                       ("json-array", "{path}:{line} (item 2)"), ("parquet", "{path} (row 2)"),
                                       ("hf", "{path} (row 2)")])
@pytest.mark.parametrize("record,field,problem", RULES)
def test_each_rule_names_where_and_field(tmp_path, fmt, where, record, field, problem):
    path = write_as(fmt, tmp_path / "data", [GOOD[0], MATH, record])
    line = None
    if fmt == "json-array":  # line of the third item's opening brace
        line = [n for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if ln == " {"][2]
    with pytest.raises(RecordError) as err:
        load_records(path)
    assert str(err.value).startswith(where.format(path=path, line=line) + f": {field}: "), str(err.value)
    assert problem in str(err.value)


def test_invalid_json_names_file_and_line(tmp_path):
    good = json.dumps(GOOD[0], ensure_ascii=False)
    lines = tmp_path / "lines.json"
    lines.write_text(f"{good}\n\n{good[:-1]}\n", encoding="utf-8")  # line 3 lost its closing brace
    with pytest.raises(RecordError, match=rf"^{lines}:3: json: invalid JSON"):
        load_records(lines)
    with pytest.raises(RecordError, match=rf"^{lines}:3: json: invalid JSON"):
        load_records(lines, engine="hf")  # the datasets reader reports through the native one

    arr = tmp_path / "array.json"
    arr.write_text("[\n " + good + ",\n {\"messages\": [}\n]\n", encoding="utf-8")
    with pytest.raises(RecordError, match=rf"^{arr}:3: json: invalid JSON .* in item 1"):
        load_records(arr)
    for text, line, problem in [("[\n " + good + ",\n]\n", 3, "trailing comma"),
                                ("[\n " + good + "\n " + good + "\n]", 3, "expected ',' or ']' after item 0"),
                                ("[\n " + good + "\n]\n[]", 3, "extra data"),
                                ("[\n " + good + ",\n", 3, "invalid JSON")]:
        arr.write_text(text, encoding="utf-8")
        with pytest.raises(RecordError, match=rf"^{arr}:{line}: json: .*{problem}"):
            load_records(arr)


def test_columnar_structure_errors(tmp_path):
    pq.write_table(pa.table({"text": ["你好"]}), tmp_path / "x.parquet")
    with pytest.raises(RecordError, match=r"x.parquet: messages: missing column \(columns: text\)"):
        load_records(tmp_path / "x.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(RecordError, match=r"broken.parquet: parquet: cannot read the file"):
        load_records(tmp_path / "broken.parquet")
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list([{"text": "x"}])})
    dd.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(RecordError, match=r"dd: dataset: this is a DatasetDict; point at one split's directory"):
        load_hf_disk(tmp_path / "dd")
    with pytest.raises(RecordError, match=r"dd/train: messages: missing column"):
        load_hf_disk(tmp_path / "dd" / "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordError, match="not a dataset saved with save_to_disk"):
        load_records(tmp_path / "empty")
