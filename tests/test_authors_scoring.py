"""``scoring: authors`` against the DoIT authors' own evaluation code.

The differential test reads ``fixtures/authors_verdicts.jsonl``: outputs of every answer style of every
item kind, graded by the authors' code itself, run unchanged outside this project
(``fixtures/make_authors_verdicts.py``); it requires the same verdict on every item. The other tests
state the quirks that reference/paper.md §7.2 lists, case by case, and the aggregates of their
``scorer.py`` (``fixtures/authors_aggregates.json``, from the same run).
"""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from growthpace.evaluate import authors as A
from growthpace.evaluate import scoring

FIXTURES = Path(__file__).parent / "fixtures"
ROWS = [json.loads(line) for line in (FIXTURES / "authors_verdicts.jsonl").read_text(encoding="utf8").splitlines()]


def _verdict(row: dict) -> dict:
    return scoring.score_row(row, "authors")


def test_differential_agreement_with_the_authors_code():
    disagree = []
    for row in ROWS:
        got, want = _verdict(row), row["authors"]
        same = got["score"] == want["score"] and got["expected"] == pytest.approx(want["expected"], abs=1e-12)
        if "parsed" in want:
            same = same and got["parsed"] == (None if want["parsed"] is None else str(want["parsed"]))
        if not same:
            disagree.append((row["ability"], row["output"], row["gold"], want, got))
    assert len(ROWS) >= 500
    assert not disagree, f"{len(disagree)} of {len(ROWS)} verdicts differ, e.g. {disagree[:3]}"


def test_differential_fixture_covers_every_kind_and_both_verdicts():
    kinds = {}
    for row in ROWS:
        kind = row["kind"] if row["kind"] in ("ranking", scoring.FIRST_TOKEN) else A.kind(scoring._record(row))
        kinds.setdefault(kind, set()).add(row["authors"]["score"])
    assert set(kinds) == {"single_choice", "true_false", "cloze", "multi_select", "math", "ranking",
                          scoring.FIRST_TOKEN}
    assert all(scores == {0.0, 1.0} for scores in kinds.values()), kinds


def test_aggregates_match_the_authors_scorer():
    """Their per-file sums and halved averages, rebuilt from per-ability means as scores.parquet holds them."""
    theirs = json.loads((FIXTURES / "authors_aggregates.json").read_text(encoding="utf8"))
    items = pd.DataFrame([{"ability": r["ability"], **_verdict(r)} for r in ROWS
                          if r["kind"] != scoring.FIRST_TOKEN])
    scores = items.groupby("ability").agg(score=("score", "mean"), expected=("expected", "mean"),
                                          n=("score", "size")).reset_index().assign(cell="x")
    files, per = A.file_scores(scores, ["cell"])
    assert len(files) == (len(theirs) - 2) // 2
    for f in files.itertuples():
        assert f.file_score == pytest.approx(theirs[f"{f.ability}.json"], abs=1e-9)
        assert f.file_expected == pytest.approx(theirs[f"expected_{f.ability}.json"], abs=1e-9)
    assert per["average"].iloc[0] == pytest.approx(theirs["average"], abs=1e-9)
    assert per["expected_average"].iloc[0] == pytest.approx(theirs["expected_average"], abs=1e-9)
    # the halving: the average is half the mean file score
    assert per["average"].iloc[0] == pytest.approx(files["file_score"].mean() / 2)


# ------------------------------------------------------------------------ the quirks, one by one
def rec(question, gold, type_, **extra):
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": gold}],
            "type": type_, "question_format": 0, **extra}


CHOICE_Q = "问题\nA. 甲\nB. 乙\nC. 丙\nD. 丁"
LAST = {"A": 3.0, "B": 0.0, "C": 1.0, "D": 2.0}  # the last step favours A


@pytest.mark.parametrize("output,parsed", [
    ("C", "C"), (" C\n", "C"),            # one character after strip: the text
    ("c", "E"), ("Ｃ", "E"), ("E", "E"),   # one character that is not A-D: no answer, no fallback
    ("Answer: C", "A"), ("C。", "A"), ("故选C", "A"), ("", "A"),  # anything else: last-step logits
])
def test_single_choice_text_only_when_one_character(output, parsed):
    res = A.score_item(rec(CHOICE_Q, "C", "biology"), output=output, last_letter_logits=LAST)
    assert res["parsed"] == parsed and res["score"] == float(parsed == "C") and res["expected"] == 0.25


@pytest.mark.parametrize("logits,letter", [
    ({"A": 1.0, "B": 1.0, "C": 0.0, "D": 0.0}, "A"), ({"A": 0.0, "B": 2.0, "C": 2.0, "D": 2.0}, "B"),
    ({"A": 0.0, "B": 1.0, "C": math.nan, "D": 5.0}, "C"), (None, None)])
def test_argmax_is_numpys(logits, letter):
    assert A.argmax_letter(logits) == letter


@pytest.mark.parametrize("output,parsed", [
    ("不正确", "T"), ("不对", "T"), ("不是错误的", "F"), ("IMF的说法正确", "E"), ("正确", "T"), ("错", "F"),
    ("Yes", "E"), ("正确。错误。", "E"), ("t", "E")])
def test_true_false_is_substring_search(output, parsed):
    assert A.true_false(output) == parsed
    res = A.score_item(rec("判断：秦朝统一了六国。", "正确", "history"), output=output)
    assert (res["kind"], res["score"], res["expected"]) == ("true_false", float(parsed == "T"), 0.5)


@pytest.mark.parametrize("output,parsed,score", [
    ("春风", "春风", 1.0), ("春风。", "春风。", 0.0), ("“春风”", "春风”", 0.0), ("答案：春风", "答案：", 0.0),
    ("春 风", "春", 0.0), ("chunfeng", "chunfeng", 0.0)])
def test_cloze_keeps_the_punctuation_after_the_first_run(output, parsed, score):
    res = A.score_item(rec("填空：____又绿江南岸", "春风", "chinese"), output=output)
    assert (res["kind"], res["parsed"], res["score"]) == ("cloze", parsed, score)


@pytest.mark.parametrize("output,gold,parsed,score", [
    ("Answer: BC", "BC", "ABC", 0.0), ("Final answer: AC", "AC", "ACF", 0.0), ("AC\n解析：B错", "AC", "B", 0.0),
    ("都不对", "无", "", 1.0)])   # two empty sets are equal
def test_multi_select_takes_every_capital_of_the_last_line(output, gold, parsed, score):
    res = A.score_item(rec("哪些是对的？\nA. 甲\nB. 乙\nC. 丙\nD. 丁", gold, "ethics"), output=output)
    assert (res["parsed"], res["score"]) == (parsed, score)


@pytest.mark.parametrize("output,answer,parsed,score", [
    ("1,2", "2,1", "1,2", 0.0),                   # the list branch raises: raw strings compared
    ("12.0", "12", "12.0", 0.0), (r"\boxed{30^\circ}", "30", r"30^\circ", 0.0), ("\\fbox{7}", "7", None, 0.0),
    (r"\boxed{{5}}", "5", "{5}", 0.0), ("共5元", "5", None, 0.0), ("答案：3/4", r"\frac{3}{4}", "4", 0.0),
    ("x = −2", "-2", "−2", 0.0), (r"\boxed{3}", "3", "3", 1.0), ("答案：$\\frac{3}{4}$或$-\\frac{3}{4}$",
                                                              "\\frac{3}{4}, -\\frac{3}{4}",
                                                              "\\frac{3}{4}, -\\frac{3}{4}", 1.0)])
def test_math_parsing_and_equivalence_bugs(output, answer, parsed, score):
    res = A.score_item(rec("计算", "略", "math", answer=answer), output=output)
    assert (res["parsed"], res["score"]) == (parsed, score)


def test_understanding_expectation_is_033_without_four_option_lines():
    three = rec("根据对话回答：\nA. 甲\nB. 乙\nC. 丙", "A", "understanding")
    four = rec("根据对话回答：\nA. 甲\nB. 乙\nC. 丙\nD. 丁", "A", "understanding")
    assert A.score_item(three, output="A")["expected"] == 0.33
    assert A.score_item(four, output="A")["expected"] == 0.25


def test_kind_by_ability_and_golds_not_in_doit_form():
    assert A.kind(rec("判断：x", "正确", "history")) == "true_false"
    assert A.kind(rec(CHOICE_Q, "B", "history")) == "single_choice"
    assert A.kind(rec("填空", "对", "chinese")) == "cloze"
    # the generated demo suite writes explanations; the careful reading gives DoIT's gold
    demo = rec(CHOICE_Q, "它全身是蓝色的，选C", "biology")
    assert A.doit_gold(demo) == "C" and A.score_item(demo, output="C")["score"] == 1.0
    tf = rec("判断：希娜是宋朝人。", "他是宋朝人，所以正确", "history")
    assert A.kind(tf) == "true_false" and A.score_item(tf, output="对")["score"] == 1.0


def test_ranking_gold_wins_ties():
    assert A.ranking([-10, -10, -20], [10, 10, 10]) == (0, 1.0)
    assert A.ranking([-30, -10, -15], [10, 10, 10]) == (1, 0.0)
    res = A.score_item({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                        "type": "code", "question_format": 1}, choice_logprobs=[-1, -2, -3], choice_lengths=[1, 1, 1])
    assert res == {"kind": "ranking", "parsed": "0", "score": 1.0, "expected": pytest.approx(1 / 3)}
