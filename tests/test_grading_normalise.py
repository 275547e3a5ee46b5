"""Stage 2 of careful grading (evaluate.grading.normalise): one writing for the writings of one answer.
The expected values are written by hand."""

import pytest

from growthpace.evaluate.grading import normalise as N


@pytest.mark.parametrize("raw,want", [
    ("這道題選擇對", "这道题选择对"),          # traditional to simplified (OpenCC)
    ("答案：ＢＣ，（２）", "答案:BC,(2)"),       # full-width to ASCII
    ("选 **D** 或 `D`", "选 D 或 D"),          # markdown emphasis dropped
    ("", ""),
    # an answer block's tag is an answer phrase; end-of-section tags are no part of any answer
    ("【最终答案】7<eoa>", "最终答案:7"),
    ("[答案]: 甲 </s>", "答案:甲"),
    ("推理结束<eoe>\n【答案】0.5<|im_end|>", "推理结束\n答案:0.5"),
    ("a<b 且 c>d", "a<b 且 c>d"),             # a comparison is no tag
])
def test_text(raw, want):
    assert N.text(raw) == want


@pytest.mark.parametrize("raw,want", [
    ("九", "9"), ("二十三", "23"), ("三千零五", "3005"), ("负八", "-8"), ("玖拾", "90"), ("两百", "200"),
    ("春风", None), ("", None), ("一些", None),
])
def test_cn_number(raw, want):
    assert N.cn_number(raw) == want


@pytest.mark.parametrize("raw,want", [
    ("结果是四分之三", "结果是3/4"),
    ("增长了百分之二十", "增长了20%"),
    ("twenty-one apples", "21 apples"),
    ("minus four", "-4"),
    ("two thirds", "2/3"),
    ("a lot and more", "a lot and more"),     # a lone article or conjunction is a word
    ("x=3，有一个解", "x=3，有一个解"),        # a text with digits keeps its words
])
def test_numbers_in(raw, want):
    assert N.numbers_in(raw) == want


@pytest.mark.parametrize("raw,want", [
    ("-1≤x≤4", "$[-1,4]$"),
    ("0 < x < 1", "$(0,1)$"),
    ("x \\geq 2", "$[2,+\\infty)$"),
    ("y<-1", "$(-\\infty,-1)$"),
    ("3 > x > 1", "$(1,3)$"),                  # a descending chain
    ("1 < x > 0", "1 < x > 0"),                # not an interval: left as it is
])
def test_inequalities(raw, want):
    assert N.inequalities(raw) == want


@pytest.mark.parametrize("raw,want", [
    ("约 4.5×10^{2} 米", "约 450 米"),
    ("2.0e-3", "0.002"),
    ("6×10⁴", "60000"),
    ("5又2/3", "$\\frac{17}{3}$"),
    ("2¼", "$\\frac{9}{4}$"),
    ("12 000 人", "12000 人"),
    ("甲乙之比为5比3", "甲乙之比为$5:3$"),
    ("根号5", "\\sqrt{5}"),
    ("y=±3", "$ 3, -3 $"),
    ("t∈(1,2]", "(1,2]"),
    ("一百二十", "120"),
])
def test_math_text(raw, want):
    assert N.math_text(raw) == want
