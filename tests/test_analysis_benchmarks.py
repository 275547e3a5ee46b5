"""The benchmark table and the report's Benchmarks section: the base model beside the tuned cells, in the
authors' aggregates, checked against sums written out here."""

import pandas as pd
import pytest

from growthpace.analysis import benchmarks, report

CELL = {"model_size": "s", "seed": 0, "recipe": ""}
BASE = {**CELL, "data_source": "base", "data_size": 0}
TUNED = {**CELL, "data_source": "curated", "data_size": 10}


def rows(cell, epoch, eval_set, scores):
    return [{**cell, "epoch": epoch, "eval_set": eval_set, "score": float(s)} for s in scores]


def predictions():
    out = []
    # base model: CMMLU 0-shot subjects at 1/2 and 1/3; AGIEval zero-shot tasks at 1/2 and 1
    out += rows(BASE, 0, "cmmlu_0shot_ancient_chinese_test", [1, 0, 0, 1])
    out += rows(BASE, 0, "cmmlu_0shot_high_school_biology_test", [1, 0, 0])
    out += rows(BASE, 0, "agieval_zero-shot_logiqa-zh_test", [1, 0])
    out += rows(BASE, 0, "agieval_zero-shot_jec-qa-kd_test", [1, 1, 1])
    # the tuned cell at epochs 1 (selected) and 2
    for epoch, good in ((1, 1), (2, 0)):
        out += rows(TUNED, epoch, "cmmlu_0shot_ancient_chinese_test", [good, good, 1, 1])
        out += rows(TUNED, epoch, "cmmlu_0shot_high_school_biology_test", [1, 1, good])
        out += rows(TUNED, epoch, "agieval_zero-shot_logiqa-zh_test", [good, 1])
        out += rows(TUNED, epoch, "agieval_zero-shot_jec-qa-kd_test", [0, 1, 1])
    out += rows(TUNED, 1, "biology_test", [1, 0])  # not a benchmark
    return pd.DataFrame(out)


def scores():
    return pd.DataFrame([{**BASE, "epoch": 0, "selected": True}, {**TUNED, "epoch": 1, "selected": True},
                         {**TUNED, "epoch": 2, "selected": False}])


def test_table_holds_the_authors_aggregates_per_cell_and_epoch():
    t = benchmarks.benchmark_table(predictions(), scores())
    assert list(t.columns) == benchmarks.BENCHMARK_COLUMNS
    assert len(t.groupby(["data_source", "epoch"])) == 3
    base = t[t["data_source"] == "base"].set_index(["benchmark", "name"])
    assert base.loc[("cmmlu", "Overall"), "accuracy"] == pytest.approx((2 / 4 + 1 / 3) / 2)  # mean of subjects
    assert base.loc[("agieval", "all tasks"), "accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    assert base.loc[("agieval", "all examples"), "accuracy"] == pytest.approx(4 / 5)
    assert base.loc[("agieval", "logiqa-zh"), "level"] == "task" and base["selected"].all()
    tuned = t[t["data_source"] == "curated"]
    assert set(tuned.loc[tuned["selected"], "epoch"]) == {1}
    e2 = tuned[tuned["epoch"] == 2].set_index(["benchmark", "name"])
    assert e2.loc[("cmmlu", "Overall"), "accuracy"] == pytest.approx((2 / 4 + 2 / 3) / 2)
    assert benchmarks.benchmark_table(predictions().iloc[-2:], scores()).empty


def test_headline_shows_the_selected_epoch_base_first():
    wide = benchmarks.headline(benchmarks.benchmark_table(predictions(), scores()))
    assert list(wide["data_source"]) == ["base", "curated"] and list(wide["epoch"]) == [0, 1]
    assert wide.loc[1, "CMMLU 0-shot"] == pytest.approx((1 + 1) / 2)
    assert wide.loc[1, "AGIEval zero-shot"] == pytest.approx((1 + 2 / 3) / 2)
    # without a selection the last benchmarked epoch is shown
    no_selection = scores().assign(selected=[True, False, False])
    assert list(benchmarks.headline(benchmarks.benchmark_table(predictions(), no_selection))["epoch"]) == [0, 2]


def test_report_section_sets_the_base_model_beside_the_tuned_cells():
    t = {"benchmarks": benchmarks.benchmark_table(predictions(), scores())}
    text = "\n".join(report._benchmarks_section(t, {}))
    assert text.startswith("## Benchmarks")
    base_cmmlu, tuned_cmmlu = (2 / 4 + 1 / 3) / 2, 1.0
    assert f"CMMLU 0-shot {tuned_cmmlu - base_cmmlu:+.3f} to {tuned_cmmlu - base_cmmlu:+.3f}" in text
    assert "| base model | " in text and f"{base_cmmlu:.3f}" in text and "| curated-10 |" in text
    empty = "\n".join(report._benchmarks_section({"benchmarks": benchmarks.benchmark_table(
        predictions().iloc[-2:], scores())}, {}))
    assert "runs no benchmark" in empty
