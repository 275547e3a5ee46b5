"""Prediction rows say how their answer was found and whether it was ambiguous (evaluate.scoring), and
the analysis counts, per ability, the ambiguous share and the items on which the careful and the
authors' verdicts differ (analysis.grading, report section). Verdicts below are a careful grader's,
by hand; the authors' are those of their code (reference paper.md §7.2)."""

import json

import pandas as pd

from growthpace.analysis import grading, report
from growthpace.evaluate import scoring

QUESTION = "下列属于哺乳动物的是\nA. 鲨鱼\nB. 鲸\nC. 企鹅\nD. 青蛙"
LOGITS = json.dumps({"A": 2.0, "B": 0.1, "C": 0.0, "D": 0.0})  # both modes' logits point at A


def row(output, ability="biology", gold="B", question=QUESTION, kind="single_choice", **cell):
    return {"kind": kind, "ability": ability, "gold": gold, "question": question, "answer": None, "output": output,
            "letter_logits": LOGITS, "last_letter_logits": LOGITS, "piece_letter_logits": None,
            "choice_logprobs": None, "choice_lengths": None, "eval_set": f"{ability}_test", "item_hash": output,
            "model_size": "s", "data_source": "curated", "data_size": 10, "seed": 0, "recipe": "", "epoch": 1,
            **cell}


def test_score_row_says_how_the_answer_was_found():
    cases = {  # output -> careful (parsed, parse_path, ambiguous), authors' parse_path
        "B": (("B", "committed", False), "committed"),
        "是A。改正：B。": (("B", "correction", False), "logit_fallback"),
        "鲸鱼生活在海里。": (("A", "logit_fallback", False), "logit_fallback"),
        "A或B都有可能": (("E", "none", True), "logit_fallback"),
        "": (("A", "logit_fallback", False), "logit_fallback"),
    }
    for output, (careful, authors_path) in cases.items():
        got = scoring.score_row(row(output), "careful")
        assert (got["parsed"], got["parse_path"], got["ambiguous"]) == careful, output
        theirs = scoring.score_row(row(output), "authors")
        assert (theirs["parse_path"], theirs["ambiguous"]) == (authors_path, False), output


def test_rescore_writes_the_new_columns():
    out = scoring.rescore(pd.DataFrame([row("B"), row("A或B都有可能")]), "careful")
    assert out["parse_path"].tolist() == ["committed", "none"]
    assert out["ambiguous"].tolist() == [False, True]


def test_grading_table_counts_ambiguity_and_differing_verdicts():
    preds = pd.DataFrame([
        row("B"),                                  # both right
        row("Answer: B"),                          # careful right; authors: not one character -> logits A
        row("A或B都有可能"),                        # ambiguous: careful 0; authors: logits A, 0
        row("鲸"),                                 # option B's text: careful right; authors: one character, not A-D
        row("是A。改正：B。"),                       # careful right (correction); authors: logits A
        row("正确", ability="history", gold="正确", question="判断：唐朝都城在长安。", kind="true_false"),
        row("不正确", ability="history", gold="正确", question="判断：唐朝都城在长安。", kind="true_false"),
        row("B", epoch=2),                          # not the selected epoch
        row("B", eval_set="biology_valid"),         # not the test split
    ])
    scores = pd.DataFrame([{"model_size": "s", "data_source": "curated", "data_size": 10, "seed": 0, "recipe": "",
                            "epoch": e, "selected": e == 1} for e in (1, 2)])
    t = grading.grading_table(preds, scores).set_index("ability")
    bio, hist = t.loc["biology"], t.loc["history"]
    assert (bio["n"], bio["ambiguous_share"], bio["verdicts_differ"]) == (5, 1 / 5, 3)
    assert (bio["committed"], bio["correction"], bio["logit_fallback"], bio["none"]) == (3, 1, 0, 1)
    assert (bio["careful_score"], bio["authors_score"]) == (4 / 5, 1 / 5)
    # 不正确: careful false (0); the authors' substring search finds 正确 -> true (1)
    assert (hist["n"], hist["verdicts_differ"], hist["careful_score"], hist["authors_score"]) == (2, 1, 0.5, 1.0)
    lines = "\n".join(report._grading_section({"grading": t.reset_index()}, {}))
    assert "different verdicts on 4 of 7 items" in lines and "| biology " in lines


def test_grading_table_is_empty_without_evidence():
    preds = pd.DataFrame([{"ability": "biology", "score": 1.0}])
    assert list(grading.grading_table(preds, pd.DataFrame()).columns) == grading.GRADING_COLUMNS
    lines = report._grading_section({"grading": pd.DataFrame(columns=grading.GRADING_COLUMNS)}, {})
    assert "not compared" in " ".join(lines)


def test_grading_table_of_rows_the_tables_graded_is_that_of_the_raw_rows():
    """Rows that carry the careful verdicts already (``scoring`` careful, as the tables write them) give
    the table that grading them here gives."""
    preds = pd.DataFrame([row("B"), row("Answer: B"), row("A或B都有可能"), row("鲸"), row("是A。改正：B。")])
    scores = pd.DataFrame([{"model_size": "s", "data_source": "curated", "data_size": 10, "seed": 0, "recipe": "",
                            "epoch": 1, "selected": True}])
    pd.testing.assert_frame_equal(grading.grading_table(scoring.rescore(preds, "careful"), scores),
                                  grading.grading_table(preds, scores), check_exact=True)
