"""Train/held-out leakage: offending pairs are found and reported with the location of both sides."""

import json
import logging
import shutil

import pytest

from growthpace.data.leakage import LeakageError, check_leakage, find_leaks, suite_leaks
from growthpace.data.loaders import load_doit_split, load_jsonl
from growthpace.data.schema import ABILITIES

from .conftest import ROOT

DOIT = ROOT / "tests" / "fixtures" / "doit"


def lines(path):
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def append(path, record):
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


@pytest.fixture
def leaky(tmp_path):
    """The fixture tree with three leaks planted by hand:
    biology_1000.json:4 is biology_test.json:2 (same record);
    math_1000.json:4 asks math_valid.json:1's question with another answer (same prompt);
    the synthetic file's line 6 is ceval_physician.json:3 (same record, out-of-domain set)."""
    root = tmp_path / "doit"
    shutil.copytree(DOIT, root)
    cur = root / "curated"
    append(cur / "1000" / "biology_1000.json", lines(cur / "test" / "biology_test.json")[1])
    math = lines(cur / "valid" / "math_valid.json")[0]
    math["messages"][-1]["content"] = "答案：$\\boxed{22}$"
    math["answer"] = "22"
    append(cur / "1000" / "math_1000.json", math)
    append(root / "synthetic" / "40960" / "general_instruction_gpt4_mini.json",
           lines(cur / "test" / "ceval_physician.json")[2])
    return root


def test_fixture_tree_is_clean():
    assert suite_leaks(DOIT, ABILITIES) == []


def test_suite_leaks_lists_each_pair_with_both_locations(leaky):
    cur = leaky / "curated"
    found = {(leak.kind, leak.train, leak.held_out) for leak in suite_leaks(leaky, ABILITIES)}
    assert found == {
        ("record", f"{cur}/1000/biology_1000.json:4", f"{cur}/test/biology_test.json:2"),
        ("prompt", f"{cur}/1000/math_1000.json:4", f"{cur}/valid/math_valid.json:1"),
        ("record", f"{leaky}/synthetic/40960/general_instruction_gpt4_mini.json:6",
         f"{cur}/test/ceval_physician.json:3"),
    }
    # by record, the changed-answer math item is not a leak
    assert {leak.kind for leak in suite_leaks(leaky, ABILITIES, by="record")} == {"record"}
    assert len(suite_leaks(leaky, ABILITIES, by="record")) == 2


def test_error_names_offending_pairs(leaky):
    train = load_doit_split(leaky, "1000")
    held = load_doit_split(leaky, "test") | {f"v-{k}": v for k, v in load_doit_split(leaky, "valid").items()}
    train_recs = [r for recs in train.values() for r in recs]
    held_recs = [r for recs in held.values() for r in recs]
    with pytest.raises(LeakageError) as err:
        check_leakage(train_recs, held_recs)
    msg = str(err.value)
    assert msg.startswith("2 training record(s) also appear in held-out data")
    assert f"biology_1000.json:4  <->  {leaky}/curated/test/biology_test.json:2  [same record]" in msg
    assert f"math_1000.json:4  <->  {leaky}/curated/valid/math_valid.json:1  [same prompt]" in msg
    assert len(err.value.leaks) == 2


def test_report_mode_logs_and_returns(leaky, caplog):
    train = load_doit_split(leaky, "1000", ["biology"])["biology"]
    test = load_doit_split(leaky, "test", ["biology"])["biology"]
    with caplog.at_level(logging.WARNING):
        leaks = check_leakage(train, test, mode="report")
    assert [(leak.train.rsplit("/", 1)[1], leak.held_out.rsplit("/", 1)[1]) for leak in leaks] == \
        [("biology_1000.json:4", "biology_test.json:2")]
    assert "biology_1000.json:4" in caplog.text
    assert check_leakage(train, test, mode="off") == []
    assert check_leakage(train[:3], test) == []  # the clean part passes silently


def test_every_pair_is_counted_and_long_lists_are_cut(tmp_path):
    rec = lines(DOIT / "curated" / "test" / "biology_test.json")[0]
    path = tmp_path / "train.json"
    path.write_text((json.dumps(rec, ensure_ascii=False) + "\n") * 25, encoding="utf-8")
    train = load_jsonl(path)
    held = load_jsonl(DOIT / "curated" / "test" / "biology_test.json")
    assert len(find_leaks(train, held)) == 25
    with pytest.raises(LeakageError, match=r"(?s)^25 training.*train.json:20  <->.*and 5 more$"):
        check_leakage(train, held)


def test_bad_options():
    with pytest.raises(ValueError, match="must be 'record' or 'prompt'"):
        find_leaks([], [], by="answer")
    with pytest.raises(ValueError, match="leakage mode must be one of error, report, off"):
        check_leakage([], [], mode="warn")
