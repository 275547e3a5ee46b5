"""The benchmark loaders give the DoIT authors' prompts, quirks included, on fixtures in the releases' formats.

``fixtures/benchmark_prompts.json`` holds the prompts that the authors' own loaders (DoIT's
``evaluate/agieval/src/dataset_loader.py`` and ``evaluate/cmmlu/src/mp_utils.py``, run unchanged outside
this project by ``benchmarks/check_benchmarks.py --record``) give on ``fixtures/agieval``,
``fixtures/agieval_quirks`` (one small task per quirk of the AGIEval release and of their code) and
``fixtures/cmmlu``, or the error their code stops with. Each entry must load here to the same prompts
and gold letters, item by item, or be refused here too, with an error naming the file.
"""

import json
import logging
from pathlib import Path

import pytest

from growthpace.data.schema import RecordError
from growthpace.evaluate import agieval, cmmlu

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = FIXTURES.parents[1]
RECORDED = json.loads((FIXTURES / "benchmark_prompts.json").read_text(encoding="utf-8"))
QUIRKS = FIXTURES / "agieval_quirks" / "data" / "v1"


def _entries(bench):
    return [(folder, key, want) for folder, entries in RECORDED[bench].items() for key, want in entries.items()]


def test_the_record_covers_every_fixture_task():
    for folder in RECORDED["agieval"]:
        tasks = {p.stem for p in (ROOT / folder).glob("*.jsonl")}
        assert {k.split("/")[1] for k in RECORDED["agieval"][folder]} == tasks
    assert len(_entries("agieval")) == 2 * (2 + 15)
    refused = sorted(k for _, k, w in _entries("agieval") if "error" in w)
    assert len(refused) == 14 and "few-shot/gaokao-chemistry" in refused and "zero-shot/gaokao-chemistry" not in refused


@pytest.mark.parametrize("folder,key,want", _entries("agieval"), ids=lambda v: v if isinstance(v, str) else "")
def test_agieval_prompts_are_the_authors(folder, key, want):
    setting, task = key.split("/")
    root = ROOT / folder
    if "error" in want:
        with pytest.raises((RecordError, FileNotFoundError), match=rf"{task}\.jsonl|few_shot_prompts\.csv"):
            agieval.load_agieval(root, [setting], [task])
        return
    records = agieval.load_agieval(root, [setting], [task])[f"agieval_{setting}_{task}_test"]
    got = [[r["_line"] - 1, r["messages"][:-1], r["messages"][-1]["content"]] for r in records]
    assert got == want["prompts"]


@pytest.mark.parametrize("folder,key,want", _entries("cmmlu"), ids=lambda v: v if isinstance(v, str) else "")
def test_cmmlu_prompts_are_the_authors(folder, key, want):
    shots, subject = key.split("/")
    k = int(shots.removesuffix("shot"))
    records = cmmlu.load_cmmlu(ROOT / folder, [k], [subject])[f"cmmlu_{k}shot_{subject}_test"]
    assert [[r["_line"] - 2, r["messages"][0]["content"], r["messages"][-1]["content"]] for r in records] == \
        want["prompts"]


def _few_shot(task):
    return agieval.load_agieval(QUIRKS, ["few-shot"], [task])[f"agieval_few-shot_{task}_test"][0]["messages"]


def test_agieval_quirks_read_as_the_authors_word_them():
    """The quirks themselves, spelled out (the recorded prompts above hold them too)."""
    # gaokao-geography: four options given as one string count as four: "从A到D", the string as it is
    geo = _few_shot("gaokao-geography")
    assert geo[0]["content"].endswith("A. 工业区\tB. 住宅区\tC. 商业区\tD. 仓储区\n答案：从A到D, 我们应选择")
    assert "B. 地形\r\nC. 水源" in geo[2]["content"]
    # a three-option demo reads "从A到C"; null options read as none and "从A到G"
    assert _few_shot("gaokao-biology")[0]["content"].endswith("(C)核糖体\n答案：从A到C, 我们应选择")
    logiqa = _few_shot("logiqa-zh")
    assert logiqa[0]["content"] == "问题 1.   甲说真话。 选项为空的示例：\n从以下选项中选择:    \n答案：从A到G, 我们应选择"
    # numbering: a demo keeps its place among the non-empty samples (sample 2 is empty: not counted)
    assert logiqa[2]["content"].startswith("问题 2.   乙比丙高。")
    # skipped multi-answer demos leave gaps (2, 4, 5), the empty label stays as an empty answer, and the
    # question is numbered after the three demos kept: 4, again
    kd = _few_shot("jec-qa-kd")
    assert [m["content"].split(".")[0] for m in kd[:-1:2]] == ["问题 2", "问题 4", "问题 5", "问题 4"]
    assert [m["content"] for m in kd[1:-1:2]] == ["C", "", "A"]
    # every demo skipped: the question alone, still in the few-shot form
    assert [m["content"][:5] for m in _few_shot("jec-qa-ca")[:-1]] == ["问题 1."]


def test_agieval_refusals_name_file_line_and_field(caplog):
    cases = {"lsat-ar": r"lsat-ar.jsonl:1: options: 5 options",
             "gaokao-mathcloze": r"gaokao-mathcloze.jsonl:1: label: null",
             "logiqa-en": r"logiqa-en.jsonl:1: passage: missing",
             "gaokao-chinese": r"gaokao-chinese.jsonl:2: options: 3 options",
             "gaokao-history": r"gaokao-history.jsonl:1: label: expected one of A, B, C, D, got 'E'"}
    for task, message in cases.items():
        with pytest.raises(RecordError, match=message):
            agieval.load_agieval(QUIRKS, ["zero-shot"], [task])
    demos = {"gaokao-chemistry": r"few_shot_prompts.csv:2 \(gaokao-chemistry\): label: an empty list",
             "gaokao-physics": r"few_shot_prompts.csv:2 \(gaokao-physics\): label: null",
             "gaokao-mathqa": r"few_shot_prompts.csv:2 \(gaokao-mathqa\): passage: missing",
             "sat-en-without-passage": r"few_shot_prompts.csv:1: header: no column for task 'sat-en-without-passage'"}
    for task, message in demos.items():
        assert agieval.load_agieval(QUIRKS, ["zero-shot"], [task])  # zero-shot needs no demo
        with pytest.raises(RecordError, match=message):
            agieval.load_agieval(QUIRKS, ["few-shot"], [task])
    with caplog.at_level(logging.WARNING, logger="growthpace.evaluate.agieval"):
        sets = agieval.load_agieval(QUIRKS, ["zero-shot"], ["jec-qa-kd"])
    assert [r["_line"] for r in sets["agieval_zero-shot_jec-qa-kd_test"]] == [1, 7]
    assert "dropped 5 of 7 items (2 empty label, 3 several answer letters)" in caplog.text
