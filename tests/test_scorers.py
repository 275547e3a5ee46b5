"""Table-driven tests of the DoIT scorers: each expected value is what a careful human grader would say.

Many rows are the cases on which the authors' parsing code is wrong (reference/paper.md §7.2).
"""

import math

import pytest

from growthpace.evaluate import scorers as S
from growthpace.evaluate.grading import score_item

NAN = float("nan")
INF = float("inf")


# ------------------------------------------------------------------------------------- record helpers
def rec(question: str, gold: str, type_: str = "biology", **extra) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": gold}],
            "type": type_, "question_format": 0, **extra}


def choice_rec(gold: str = "B", n: int = 4, type_: str = "biology", style: str = "{L}. {T}") -> dict:
    texts = ["细胞壁", "细胞核", "线粒体", "叶绿体", "核糖体", "内质网"][:n]
    lines = [style.format(L="ABCDEF"[i], T=t) for i, t in enumerate(texts)]
    return rec("下列哪个结构含有遗传物质？\n" + "\n".join(lines), gold, type_)


def ranked_rec(type_: str = "code", n: int = 3) -> dict:
    choices = ["gold answer", "fine distractor", "coarse distractor", "fourth"][:n]
    return {"messages": [{"role": "user", "content": "写一段代码"}, {"role": "assistant", "content": choices[0]}],
            "type": type_, "question_format": 1, "choices": choices}


def ethics_rec(gold: str) -> dict:
    return rec("下列做法中，哪些是对的？（多选）\nA. 排队\nB. 插队\nC. 让座\nD. 乱扔垃圾", gold, "ethics")


def tf_rec(gold: str = "正确") -> dict:
    return rec("判断下面的说法是否正确：秦朝统一了六国。", gold, "history")


def cloze_rec(gold: str = "春风") -> dict:
    return rec("填空：____又绿江南岸", gold, "chinese")


def math_rec(answer: str) -> dict:
    return rec("计算 1+1", f"1+1=2，答案：\\boxed{{{answer}}}", "math", answer=answer)


def understanding_rec(n: int, gold: str = "A") -> dict:
    opts = "\n".join(f"{'ABCD'[i]}. 选项{i}" for i in range(n))
    return {"messages": [{"role": "user", "content": "男：明天去哪？"}, {"role": "assistant", "content": "女：去江城。"},
                         {"role": "user", "content": f"根据对话回答：他们去哪里？\n{opts}"},
                         {"role": "assistant", "content": gold}],
            "type": "understanding", "question_format": 0}


def ceval_rec(gold: str = "C") -> dict:
    msgs = []
    for i in range(5):
        msgs += [{"role": "user", "content": f"例题{i}\nA. 甲\nB. 乙\nC. 丙\nD. 丁"}, {"role": "assistant", "content": "A"}]
    msgs += [{"role": "user", "content": "问题\nA. 甲\nB. 乙\nC. 丙\nD. 丁"}, {"role": "assistant", "content": gold}]
    return {"messages": msgs, "type": "ceval_physician", "question_format": 0}


LOGITS_B = {"A": 1.0, "B": 3.0, "C": 0.0, "D": -1.0}
LOGITS_C = {"A": 1.0, "B": 0.5, "C": 4.0, "D": 2.0}
LOGITS_D = {"A": 0.0, "B": 1.0, "C": 5.0, "D": 9.0}
LOGITS_A = {"A": 7.0, "B": 3.0, "C": 0.0, "D": -1.0}


# ------------------------------------------------------------------------------------- single choice
SINGLE_CHOICE = [
    # (output, gold, letter_logits, n_options, parsed, score)
    ("B", "B", None, 4, "B", 1.0),
    ("b", "B", None, 4, "B", 1.0),
    ("Ｂ", "B", None, 4, "B", 1.0),
    ("ｃ", "C", None, 4, "C", 1.0),
    ("Ｄ。", "D", None, 4, "D", 1.0),
    (" (B) ", "B", None, 4, "B", 1.0),
    ("（B）", "B", None, 4, "B", 1.0),
    ("B.", "B", None, 4, "B", 1.0),
    ("B．细胞核", "B", None, 4, "B", 1.0),
    ("B、细胞核", "B", None, 4, "B", 1.0),
    ("B. 细胞核\n细胞核中含有DNA。", "B", None, 4, "B", 1.0),
    ("答案：C", "C", None, 4, "C", 1.0),
    ("答案是C", "C", None, 4, "C", 1.0),
    ("答案为：Ｄ", "D", None, 4, "D", 1.0),
    ("正确答案是 (B)", "B", None, 4, "B", 1.0),
    ("答：A", "A", None, 4, "A", 1.0),
    ("Answer: C", "C", None, 4, "C", 1.0),
    ("Answer: C", "A", None, 4, "C", 0.0),
    ("The answer is C.", "C", None, 4, "C", 1.0),
    ("answer: c", "C", None, 4, "C", 1.0),
    ("DNA主要存在于细胞核中，故选B", "B", None, 4, "B", 1.0),
    ("DNA主要存在于细胞核中，故选B", "D", None, 4, "B", 0.0),
    ("选B", "B", None, 4, "B", 1.0),
    ("所以选D。", "D", None, 4, "D", 1.0),
    ("不能选A，只能选B", "B", None, 4, "B", 1.0),
    ("A错误，B错误，C正确", "C", None, 4, "C", 1.0),
    ("维生素C缺乏会导致坏血病，选C", "C", None, 4, "C", 1.0),
    ("我觉得是C吧", "C", None, 4, "C", 1.0),
    # several letters in answer positions: ambiguous, no answer, no logit fallback
    ("A和B", "A", None, 4, "E", 0.0),
    ("AB", "A", LOGITS_A, 4, "E", 0.0),
    ("A或C都可以", "A", LOGITS_A, 4, "E", 0.0),
    ("答案是A。不对，答案是B", "B", None, 4, "E", 0.0),
    ("A. 细胞壁\nB. 细胞核", "B", None, 4, "E", 0.0),
    # letters outside the options
    ("答案：D", "D", None, 3, "E", 0.0),
    ("D", "C", LOGITS_D, 3, "E", 0.0),
    # no letter in the text: first-position logits decide (argmax over the first n_options letters)
    ("", "B", LOGITS_B, 4, "B", 1.0),
    ("", "A", LOGITS_B, 4, "B", 0.0),
    ("细胞核", "B", LOGITS_C, 4, "C", 0.0),
    ("DNA", "A", LOGITS_A, 4, "A", 1.0),
    ("", "C", LOGITS_D, 3, "C", 1.0),
    ("the answer is a tricky one", "A", LOGITS_C, 4, "C", 0.0),
    # no letter and no logits: no answer
    ("DNA", "D", None, 4, "E", 0.0),
    ("the answer is a tricky one", "A", None, 4, "E", 0.0),
    ("", "A", None, 4, "E", 0.0),
    (None, "A", None, 4, "E", 0.0),
]


@pytest.mark.parametrize("output,gold,logits,n,parsed,score", SINGLE_CHOICE)
def test_score_single_choice(output, gold, logits, n, parsed, score):
    assert S.score_single_choice(output, gold, logits, n_options=n) == (parsed, score)


@pytest.mark.parametrize("output,n,expected", [
    ("Answer: C", 4, "C"), ("…DNA…故选B", 4, "B"), ("ａ", 4, "A"), ("A和B", 4, None), ("DNA", 4, None),
    ("答案：D", 3, None), ("答案：D", 4, "D"), ("", 4, None), ("细胞核", 4, None), ("Final answer: (D)", 4, "D"),
    ("E", 4, None), ("E", 5, "E"),
])
def test_parse_choice_text(output, n, expected):
    assert S.parse_choice_text(output, n) == expected


# ---------------------------------------------------------------------------------------- true/false
TRUE_FALSE = [
    ("正确", "T"), ("正确。", "T"), ("这句话是正确的", "T"), ("对", "T"), ("判断：对", "T"), ("绝对正确", "T"),
    ("√", "T"), ("✓", "T"), ("T", "T"), ("t", "T"), ("V", "T"), ("True", "T"), ("是", "T"),
    ("不是错误的", "T"), ("没有错", "T"), ("没错，是对的", "T"), ("无误", "T"), ("IMF的说法正确", "T"),
    ("错误", "F"), ("错。", "F"), ("该说法错误", "F"), ("错", "F"), ("×", "F"), ("F", "F"), ("X", "F"),
    ("False", "F"), ("否", "F"), ("不正确", "F"), ("不对", "F"), ("不是正确的", "F"), ("并不正确", "F"),
    ("说法不准确", "F"), ("这个说法是错误的，因为对于秦朝来说……", "F"), ("该说法正确吗？不，错误", "F"),
    ("正确。错误。", "E"), ("对，不对", "E"), ("", "E"), ("   ", "E"), ("我不知道", "E"), ("IMF", "E"), ("FBI", "E"),
    ("秦始皇", "E"),
]


@pytest.mark.parametrize("output,expected", TRUE_FALSE)
def test_parse_true_false(output, expected):
    assert S.parse_true_false(output) == expected


@pytest.mark.parametrize("gold,expected", [
    ("正确", "T"), ("对", "T"), ("T", "T"), ("√", "T"), ("V", "T"),
    ("错误", "F"), ("错", "F"), ("F", "F"), ("×", "F"), ("X", "F"),
])
def test_gold_true_false(gold, expected):
    assert S.gold_true_false(gold) == expected


@pytest.mark.parametrize("output,gold,score", [
    ("正确", "正确", 1.0), ("不正确", "正确", 0.0), ("不正确", "错误", 1.0), ("对", "正确", 1.0), ("×", "错误", 1.0),
    ("正确。错误。", "错误", 0.0), (None, "正确", 0.0), ("IMF的说法正确", "正确", 1.0),
])
def test_score_item_true_false(output, gold, score):
    res = score_item(tf_rec(gold), output=output)
    assert res["kind"] == "true_false" and res["score"] == score and res["expected"] == 0.5


# --------------------------------------------------------------------------------------------- cloze
CLOZE = [
    # (output, gold, parsed, score)
    ("春风", "春风", "春风", 1.0),
    ("答案：春风", "春风", "春风", 1.0),
    ("答案:春风", "春风", "春风", 1.0),
    ("“春风”", "春风", "春风", 1.0),
    ("春风。", "春风", "春风", 1.0),
    ("春风！", "春风", "春风", 1.0),
    ("春风;", "春风", "春风", 1.0),
    ("答案是春风", "春风", "春风", 1.0),
    ("答案是“春风”。", "春风", "春风", 1.0),
    ("答案为：春风", "春风", "春风", 1.0),
    ("答：春风", "春风", "春风", 1.0),
    ("应填：春风", "春风", "春风", 1.0),
    ("应填春风", "春风", "春风", 1.0),
    ("答案：\n春风", "春风", "春风", 1.0),
    ("  春风  ", "春风", "春风", 1.0),
    ("「春风」", "春风", "春风", 1.0),
    ("《春风》", "春风", "春风", 1.0),
    ("(春风)", "春风", "春风", 1.0),
    ("‘春风’", "春风", "春风", 1.0),
    ("春风，因为诗句描写的是春天。", "春风", "春风", 1.0),
    ("我认为答案是春风。", "春风", "春风", 1.0),
    ("“春风”二字", "春风", "春风", 1.0),
    ("春风", "春风。", "春风", 1.0),
    ("春风又绿", "春风", "春风又绿", 0.0),
    ("秋风", "春风", "秋风", 0.0),
    ("春", "春风", "春", 0.0),
    ("答案：", "春风", "", 0.0),
    ("", "春风", "", 0.0),
    (None, "春风", "", 0.0),
    ("chunfeng", "春风", "chunfeng", 0.0),
    ("对", "对", "对", 1.0),
    ("错", "对", "错", 0.0),
    ("5", "5", "5", 1.0),
    ("答案：5。", "5", "5", 1.0),
]


@pytest.mark.parametrize("output,gold,parsed,score", CLOZE)
def test_cloze(output, gold, parsed, score):
    assert S.parse_cloze(output) == parsed
    res = score_item(cloze_rec(gold), output=output)
    assert res["kind"] == "cloze"
    assert (res["parsed"], res["score"], res["expected"]) == (parsed, score, 0.0)


# -------------------------------------------------------------------------------------- multi-select
MULTI = [
    # (output, parsed letters)
    ("ABD", "ABD"), ("A、B、D", "ABD"), ("A，B，D", "ABD"), ("A,B and D", "ABD"), ("A, B, D", "ABD"),
    ("答案：BC", "BC"), ("答案是：ACD。", "ACD"), ("Answer: BC", "BC"), ("Final answer: AC", "AC"),
    ("Final Answer: B", "B"), ("ANSWER: AC", "AC"), ("(A)(C)", "AC"), ("（A）（C）", "AC"), ("ＡＣ", "AC"),
    ("DA", "AD"), ("A B", "AB"), ("ABCD", "ABCD"), ("A", "A"), ("答案：bc", "BC"), ("answer: bc", "BC"),
    ("a、c", "AC"), ("分析：排队和让座都是对的。\n所以答案是AC", "AC"), ("AC\n\n", "AC"),
    ("解析……\n\nBD\n", "BD"), ("选ABD", "ABD"), ("A和C", "AC"), ("AF", "AF"),
    ("It would be bad", ""), ("", ""), ("都不对", ""), ("None of them", ""),
]


@pytest.mark.parametrize("output,letters", MULTI)
def test_parse_multi_select(output, letters):
    assert S.parse_multi_select(output) == frozenset(letters)


@pytest.mark.parametrize("output,gold,score", [
    ("ABD", "ABD", 1.0), ("DBA", "ABD", 1.0), ("AB", "ABD", 0.0), ("ABCD", "ABD", 0.0),
    ("Answer: BC", "BC", 1.0), ("Final answer: AC", "AC", 1.0), ("答案：A、C", "AC", 1.0),
    ("", "A", 0.0), (None, "A", 0.0), ("E", "A", 0.0), ("答案：BC", "答案：BC", 1.0),
])
def test_score_item_multi_select(output, gold, score):
    res = score_item(ethics_rec(gold), output=output)
    assert res["kind"] == "multi_select" and res["score"] == score


# --------------------------------------------------------------------------------------------- math
EXTRACT = [
    (r"所以答案是\boxed{5}", "5"),
    (r"\boxed{{5}}", "5"),
    (r"\boxed{ {{5}} }", "5"),
    (r"\fbox{7}", "7"),
    (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
    (r"先算 \boxed{3}，再算得 \boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
    (r"x=\boxed{\dfrac{3}{4}}", r"\dfrac{3}{4}"),
    (r"答案：$\boxed{12}$", "12"),
    (r"答案 \boxed 5", "5"),
    (r"\boxed{x=5}", "x=5"),
    ("答案：3/4", "3/4"),
    (r"结果为 \frac{3}{4}", r"\frac{3}{4}"),
    (r"答案：\frac12", r"\frac12"),
    (r"所以 $x = 5$", "x = 5"),
    (r"答案：$\frac{3}{4}$或$-\frac{3}{4}$", r"\frac{3}{4}, -\frac{3}{4}"),
    (r"解得 $x=1$，代入得 $y=2$。", "y=2"),
    (r"$$\frac{1}{3}$$", r"\frac{1}{3}"),
    (r"面积是 \(12\pi\)", r"12\pi"),
    ("所以 x = 12.0。", "12.0"),
    ("x = −2", "-2"),
    ("答案是−3", "-3"),
    ("共5元", "5"),
    ("5cm", "5"),
    ("一共有5个", "5"),
    ("温度是-5度", "-5"),
    ("3+2=5，所以一共5个苹果", "5"),
    ("1+1=2\n所以答案是2个苹果", "2"),
    ("第1步：算出8，第2步：得到42", "42"),
    ("所以答案是1.5", "1.5"),
    ("答案：1,000", "1,000"),
    (r"\boxed{1,2}", "1,2"),
    ("x = 1或2", "1, 2"),
    (r"\boxed{5", "5"),
    ("这个问题是\\boxed{5}。这就是答案。", "5"),
    ("答案：x^2+1", "x^2+1"),
    ("答案是 2\\sqrt{3}。", "2\\sqrt{3}"),
    ("没有数字", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize("output,expected", EXTRACT)
def test_extract_math_answer(output, expected):
    assert S.extract_math_answer(output) == expected


EQUIV = [
    ("5", "5", True), ("12.0", "12", True), ("12.00", "12", True), ("12", "12.0", True),
    (r"\frac12", r"\frac{1}{2}", True), (r"\dfrac{1}{2}", r"\frac{1}{2}", True), (r"\tfrac{1}{2}", "0.5", True),
    ("1/2", r"\frac{1}{2}", True), ("0.5", r"\frac{1}{2}", True), (".5", "0.5", True), ("3/4", r"\frac{3}{4}", True),
    ("-3/4", r"-\frac{3}{4}", True), (r"\frac{-3}{4}", "-0.75", True), ("5cm", "5", True), (r"5\text{ cm}", "5", True),
    (r"5\text{cm}", "5", True), ("5 个", "5", True), (r"30^\circ", "30", True), (r"30^{\circ}", "30", True),
    ("30°", "30", True), (r"50\%", "50", True), ("50%", "50", True), (r"\$5", "5", True), ("$5$", "5", True),
    ("1,2", "2,1", True), ("1, 2, 3", "3,2,1", True), (r"\{1,2\}", r"\{2,1\}", True), ("(1,2)", "(1,2)", True),
    (r"\left(1,2\right)", "(1,2)", True), ("x=5", "5", True), ("AB=5", "5", True), (r"\sqrt2", r"\sqrt{2}", True),
    ("1,000", "1000", True), ("-2", "−2", True), (r"\boxed{5}", "5", True), (r"\text{east}", "east", True),
    ("y=2x+3", "y=2x+3", True), (r"\frac{6}{8}", r"\frac{3}{4}", True), ("5.", "5", True),
    ("(1,2)", "(2,1)", False), ("1,2", "1,2,3", False), ("5", "6", False), ("0.33", r"\frac{1}{3}", False),
    ("12.5", "12", False), ("50", "0.5", False), (r"\sqrt{2}", r"\sqrt{3}", False), ("", "", False),
    (None, "1", False), ("", "0", False), ("abc", "5", False), ("5", "-5", False), ("1/0", "1", False),
    ("{{{", "}}}", False), (r"\frac{", r"\frac", False),
]


@pytest.mark.parametrize("pred,gold,expected", EQUIV)
def test_math_equiv(pred, gold, expected):
    assert S.math_equiv(pred, gold) is expected


@pytest.mark.parametrize("s,expected", [
    (r"\dfrac{1}{2}", r"\frac{1}{2}"), (r"\frac12", r"\frac{1}{2}"), ("3/4", r"\frac{3}{4}"), ("12.0", "12"),
    (r"\left( 1, 2 \right)", "(1,2)"), (r"30^\circ", "30"), (r"50\%", "50"), (r"5\text{ cm}", "5"), ("−3", "-3"),
    (r"\sqrt3", r"\sqrt{3}"), ("x = 7", "7"), (".5", r"\frac{1}{2}"), (r"\boxed{{5}}", "5"),
])
def test_normalize_math(s, expected):
    assert S.normalize_math(s) == expected


@pytest.mark.parametrize("output,gold,parsed,score", [
    (r"1+1=2，答案：\boxed{2}", "2", "2", 1.0),
    (r"\boxed{{5}}", "5", "5", 1.0),
    (r"\fbox{\frac{1}{2}}", "0.5", r"\frac{1}{2}", 1.0),
    ("答案：3/4", r"\frac{3}{4}", "3/4", 1.0),
    ("答案：共5元", "5", "5", 1.0),
    ("结果是 −4", "-4", "-4", 1.0),
    (r"$30^\circ$", "30", r"30^\circ", 1.0),
    (r"\boxed{1,2}", "2,1", "1,2", 1.0),
    (r"\boxed{3}", "4", "3", 0.0),
    ("", "4", None, 0.0),
    (None, "4", None, 0.0),
])
def test_score_math(output, gold, parsed, score):
    assert S.score_math(output, gold) == (parsed, score)
    res = score_item(math_rec(gold), output=output)
    assert (res["kind"], res["parsed"], res["score"], res["expected"]) == ("math", parsed, score, 0.0)


# ------------------------------------------------------------------------------------------ ranking
RANKING = [
    # (sum log-probs, lengths, best index, score); gold is index 0
    ([-10, -20, -30], [10, 10, 10], 0, 1.0),
    ([-30, -20, -10], [10, 10, 10], 2, 0.0),
    ([-20, -10, -30], [10, 10, 10], 1, 0.0),
    ([-10, -10, -10], [5, 5, 5], 0, 1.0),       # three-way tie: gold
    ([-10, -10, -20], [10, 10, 10], 0, 1.0),    # gold ties the first distractor
    ([-10, -20, -10], [10, 10, 10], 0, 1.0),    # gold ties the second distractor
    ([-30, -10, -10], [10, 10, 10], 1, 0.0),    # distractors tie, lower index wins
    ([-6, -4, -9], [3, 2, 3], 0, 1.0),          # tie only after length normalisation
    ([-4, -6, -9], [2, 3, 3], 0, 1.0),
    ([-20, -10, -15], [20, 5, 5], 0, 1.0),      # length normalisation makes gold win (sum would pick 1)
    ([-5, -12, -30], [1, 6, 10], 1, 0.0),       # length normalisation makes gold lose (sum would pick 0)
    ([-3, -100, -50], [3, 50, 20], 0, 1.0),
    ([-100, -3, -50], [50, 3, 20], 1, 0.0),
    ([-50, -100, -3], [20, 50, 3], 2, 0.0),
    ([0.0, 0.0, -1.0], [1, 1, 1], 0, 1.0),
    ([-10.0, -9.999, -11.0], [10, 10, 10], 1, 0.0),
    ([-1, NAN, -2], [1, 1, 1], 0, 1.0),         # NaN is worst
    ([NAN, -1, -2], [1, 1, 1], 1, 0.0),
    ([-INF, -1, -2], [1, 1, 1], 1, 0.0),
    ([-1, -INF, -INF], [1, 1, 1], 0, 1.0),
    ([-1000, -999, -1001], [1000, 999, 1000], 0, 1.0),
    ([-2.5, -2.4, -2.6], [1, 1, 1], 1, 0.0),
    ([-2.4, -2.5, -2.6], [1, 1, 1], 0, 1.0),
    ([-7.0, -7.0, -7.0], [7, 6, 8], 2, 0.0),   # same sum: the longest candidate has the lowest PPL
    ([-7.0, -7.0, -7.0], [8, 6, 7], 0, 1.0),
    ([-0.5, -3.0, -2.0], [1, 2, 2], 0, 1.0),
    ([-1, -2], [1, 1], 0, 1.0),                 # any number of candidates
    ([-3, -2, -4, -1], [1, 1, 1, 1], 3, 0.0),
    ([-40, -41, -39.9], [40, 41, 39], 0, 1.0),  # means -1, -1, -1.023: gold ties distractor 1
    ([-40, -40.5, -39.9], [40, 41, 39], 1, 0.0),  # means -1, -0.988, -1.023
    ([-12, -12, -12], [4, 4, 3], 0, 1.0),       # gold ties the longer distractor, beats the shorter
    ([-12, -12, -12], [3, 4, 4], 1, 0.0),       # same sum, gold shortest: gold has the highest PPL
    ([-1e-9, -1e-9, 0.0], [1, 1, 1], 2, 0.0),
    ([-123.4, -200.0, -300.0], [100, 100, 100], 0, 1.0),
]


def _ranking_truth(lps, lens):
    """Reference: per-candidate PPL = exp(-mean), gold wins when its PPL is the minimum."""
    ppl = [math.exp(-lp / n) if not math.isnan(lp) else INF for lp, n in zip(lps, lens)]
    return float(ppl[0] <= min(ppl))


@pytest.mark.parametrize("lps,lens,best,score", RANKING)
def test_score_ranking(lps, lens, best, score):
    assert S.score_ranking(lps, lens) == (best, score)
    assert score == _ranking_truth(lps, lens)


@pytest.mark.parametrize("lps,lens", [([], []), ([-1, -2], [1]), ([-1, -2, -3], [1, 0, 1]), ([-1], [-2])])
def test_score_ranking_rejects_bad_input(lps, lens):
    with pytest.raises(ValueError):
        S.score_ranking(lps, lens)


def test_score_item_ranking():
    res = score_item(ranked_rec("role_play"), choice_logprobs=[-20, -10, -15], choice_lengths=[20, 5, 5])
    assert res == {"kind": "ranking", "parsed": "0", "score": 1.0, "expected": pytest.approx(1 / 3),
                   "parse_path": "committed", "ambiguous": False}
    res = score_item(ranked_rec("code"), choice_logprobs=[-5, -12, -30], choice_lengths=[1, 6, 10])
    assert (res["parsed"], res["score"]) == ("1", 0.0)
    with pytest.raises(ValueError):
        score_item(ranked_rec(), output="x")


# ------------------------------------------------------------------------------------ expected score
EXPECTED = [
    (choice_rec("B"), 0.25),
    (choice_rec("A", type_="history"), 0.25),
    (choice_rec("D", type_="reasoning"), 0.25),
    (choice_rec("C", type_="chinese"), 0.25),
    (choice_rec("B", style="{L}．{T}"), 0.25),
    (choice_rec("B", style="{L}、{T}"), 0.25),
    (choice_rec("B", style="({L}) {T}"), 0.25),
    (choice_rec("B", style="（{L}）{T}"), 0.25),
    (choice_rec("B", style="{L}: {T}"), 0.25),
    (choice_rec("B", style="{L}：{T}"), 0.25),
    (choice_rec("B", n=3), 1 / 3),
    (choice_rec("E", n=5), 0.2),
    (choice_rec("B", n=2), 0.5),
    (understanding_rec(3), 1 / 3),
    (understanding_rec(4), 0.25),
    (understanding_rec(3, "C"), 1 / 3),
    (ceval_rec(), 0.25),
    (rec("问题（无选项）", "D"), 0.25),           # a letter gold without parsable options: 4 options
    (tf_rec("正确"), 0.5),
    (tf_rec("错误"), 0.5),
    (tf_rec("对"), 0.5),
    (tf_rec("×"), 0.5),
    (cloze_rec("春风"), 0.0),
    (cloze_rec("对"), 0.0),                       # a cloze whose missing character is 对 stays cloze
    (rec("写出“门当户____”的最后一个字", "对", "history"), 0.0),
    (ethics_rec("A"), 0.25),
    (ethics_rec("AB"), 1 / 6),
    (ethics_rec("ABC"), 0.25),
    (ethics_rec("ABCD"), 1.0),                    # degenerate, as defined by the authors
    (ethics_rec("答案：BC"), 1 / 6),
    (ethics_rec("A、C"), 1 / 6),
    (ethics_rec("分析……\nBCD"), 0.25),
    (math_rec("5"), 0.0),
    (ranked_rec("code"), 1 / 3),
    (ranked_rec("creative_writing"), 1 / 3),
    (ranked_rec("role_play"), 1 / 3),
]


@pytest.mark.parametrize("record,expected", EXPECTED)
def test_expected_score(record, expected):
    assert S.expected_score(record) == pytest.approx(expected)
    if record.get("question_format") != 1:
        assert score_item(record, output="")["expected"] == pytest.approx(expected)


# --------------------------------------------------------------------------------------- item kinds
@pytest.mark.parametrize("record,kind", [
    (choice_rec("B"), "single_choice"), (understanding_rec(3), "single_choice"), (ceval_rec(), "single_choice"),
    (tf_rec("正确"), "true_false"), (tf_rec("错"), "true_false"), (cloze_rec("春风"), "cloze"),
    (cloze_rec("对"), "cloze"), (ethics_rec("AB"), "multi_select"), (math_rec("3"), "math"),
    (ranked_rec("code"), "ranking"), (rec("唐朝的都城是哪里？", "长安"), "cloze"),
])
def test_item_kind(record, kind):
    assert S.item_kind(record) == kind


@pytest.mark.parametrize("prompt,letters", [
    ("问题\nA. 甲\nB. 乙\nC. 丙\nD. 丁", ["A", "B", "C", "D"]),
    ("问题\nA．甲\nB．乙\nC．丙", ["A", "B", "C"]),
    ("问题\nA、甲\nB、乙", ["A", "B"]),
    ("问题\n(A) 甲\n(B) 乙\n(C) 丙\n(D) 丁", ["A", "B", "C", "D"]),
    ("问题\nA: 甲\nB: 乙\nC: 丙", ["A", "B", "C"]),
    ("问题\n  A. 甲\n  B. 乙", ["A", "B"]),
    ("A：你好\nB：你好\n他们在做什么？\nA. 打招呼\nB. 吃饭\nC. 睡觉", ["A", "B", "C"]),
    ("DNA是什么？", []),
    ("", []),
])
def test_parse_options(prompt, letters):
    assert S.parse_options(prompt) == letters


@pytest.mark.parametrize("record,letter", [(choice_rec("B"), "B"), (choice_rec("Ｃ"), "C"), (ceval_rec("D"), "D"),
                                           (rec("问\nA. 甲\nB. 乙", "答案：B"), "B")])
def test_gold_letter(record, letter):
    assert S.gold_letter(record) == letter


def test_gold_letter_rejects_non_choice():
    with pytest.raises(ValueError):
        S.gold_letter(cloze_rec("春风"))


# ---------------------------------------------------------------------------------------- score_item
@pytest.mark.parametrize("output,logits,parsed,score", [
    ("B", None, "B", 1.0),
    ("答案：B", None, "B", 1.0),
    ("Answer: C", None, "C", 0.0),
    ("细胞核", None, "B", 1.0),          # the exact text of option B
    ("细胞核。", LOGITS_C, "B", 1.0),    # option text wins over the logits
    ("细胞", LOGITS_C, "C", 0.0),        # no letter, no option text: first-position logits
    ("细胞", None, "E", 0.0),
    ("A和B", LOGITS_B, "E", 0.0),
    (None, LOGITS_B, "B", 1.0),
])
def test_score_item_single_choice(output, logits, parsed, score):
    res = score_item(choice_rec("B"), output=output, letter_logits=logits)
    assert {k: res[k] for k in ("kind", "parsed", "score", "expected")} == \
        {"kind": "single_choice", "parsed": parsed, "score": score, "expected": 0.25}


def test_score_item_three_options_ignores_d():
    rec3 = understanding_rec(3, "C")
    assert score_item(rec3, output="", letter_logits=LOGITS_D)["parsed"] == "C"
    assert score_item(rec3, output="D")["parsed"] == "E"
    assert score_item(rec3, output="C")["expected"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------------------ averages
@pytest.mark.parametrize("scores,mean", [([], 0.0), ([1.0], 1.0), ([1, 0], 0.5), ([1, 1, 0, 0], 0.5),
                                         ([0.25, 0.25, 0.5], 1 / 3), ([0] * 100, 0.0), ([1] * 100, 1.0)])
def test_mean_scores(scores, mean):
    assert S.mean_scores(scores) == pytest.approx(mean)


# ======================================================================= answer styles of real models
# Each class below is an answer style that models write and that a careful grader reads one way.
# benchmarks/answer_styles.py prints every case's verdict under the scorer of another checkout
# (before/after tables).
STYLE_SINGLE_CHOICE = [
    # (output, gold, parsed): a letter on the first line, then an explanation naming other options
    ("C\n解析：B项说法错误，A项与题意不符，故不选。", "C", "C"),
    ("C\n解析：A项错误；B项正确的说法应为细胞核；D项错误。", "C", "C"),
    ("C。\n解析：选项B中的说法是错的，故选C。", "C", "C"),
    ("(B)\n因为A项是细胞壁，C项和D项都不含遗传物质。", "B", "B"),
    ("D\nA项：错误。B项：错误。C项：错误。", "D", "D"),
    ("c\n解析：a 和 b 都不对", "C", "C"),
    ("B. 细胞核\n解析：A项正确的说法是细胞壁起保护作用，与题意无关。", "B", "B"),
    # still ambiguous: the later lines are options or letters themselves
    ("A\nB\nC\nD", "A", "E"),
    ("A. 细胞壁\nB. 细胞核", "B", "E"),
    # an answer phrase on the first line still decides
    ("A. 细胞壁不对，故选B\n解析：B项正确", "B", "B"),
]


@pytest.mark.parametrize("output,gold,parsed", STYLE_SINGLE_CHOICE)
def test_style_single_choice_first_line(output, gold, parsed):
    assert S.score_single_choice(output, gold, None, 4) == (parsed, float(parsed == gold))
    assert score_item(choice_rec(gold), output=output)["parsed"] == parsed


STYLE_TRUE_FALSE = [
    ("Yes", "T"), ("yes", "T"), ("YES", "T"), ("Yes.", "T"), ("yes, it is correct", "T"),
    ("No", "F"), ("no", "F"), ("NO", "F"), ("No.", "F"), ("no, that is wrong", "F"), ("It is not correct.", "F"),
    ("Not wrong", "T"), ("Yes, 正确", "T"), ("No, 错误", "F"),
    ("Yes and no", "E"), ("No, it is correct", "E"), ("Nothing", "E"), ("Yesterday", "E"), ("Noon", "E"),
]


@pytest.mark.parametrize("output,expected", STYLE_TRUE_FALSE)
def test_style_true_false_english(output, expected):
    assert S.parse_true_false(output) == expected
    gold = {"T": "正确", "F": "错误"}.get(expected, "正确")
    assert score_item(tf_rec(gold), output=output)["score"] == float(expected != "E")


STYLE_CLOZE = [
    # (output, gold, parsed, score): a CJK answer with spaces between its characters
    ("春 风", "春风", "春风", 1.0),
    ("春  风", "春风", "春风", 1.0),
    ("答案：春 风", "春风", "春风", 1.0),
    ("“春 风”", "春风", "春风", 1.0),
    ("春 风。", "春风", "春风", 1.0),
    ("春　风", "春风", "春风", 1.0),           # an ideographic space
    ("长 安 城", "长安城", "长安城", 1.0),
    ("春 风", "春", "春风", 0.0),
    ("春风 又绿江南岸", "春风", "春风", 1.0),   # words, not spaced characters
    ("秋 风", "春风", "秋风", 0.0),
]


@pytest.mark.parametrize("output,gold,parsed,score", STYLE_CLOZE)
def test_style_cloze_spaced(output, gold, parsed, score):
    assert S.parse_cloze(output) == parsed
    res = score_item(cloze_rec(gold), output=output)
    assert (res["kind"], res["parsed"], res["score"]) == ("cloze", parsed, score)


STYLE_MULTI_SELECT = [
    # (output, gold, parsed): the answer letters on the first line, an explanation after
    ("AC\n解析：A项排队是对的，C项让座是对的，B项插队不对，D项也不对。", "AC", "AC"),
    ("A、C\n解析：B和D都是错误的做法。", "AC", "AC"),
    ("答案：BD\n解析：A项错误，C项错误。", "BD", "BD"),
    ("ABD\nC项中的做法不对。", "ABD", "ABD"),
    ("A,C\nB. 插队不对\nD. 乱扔垃圾不对", "AC", "AC"),
    ("C\n因为A、B、D都不对", "C", "C"),
    # the old rule still holds when the first line is not an answer
    ("分析：排队和让座都是对的。\n所以答案是AC", "AC", "AC"),
    ("解析：排队和让座都对。\n答案：AC\n以上。", "AC", "AC"),
    ("排队是对的\n\nBD", "AC", "BD"),
]


@pytest.mark.parametrize("output,gold,parsed", STYLE_MULTI_SELECT)
def test_style_multi_select_first_line(output, gold, parsed):
    assert "".join(sorted(S.parse_multi_select(output))) == parsed
    res = score_item(ethics_rec(gold), output=output)
    assert (res["parsed"], res["score"]) == (parsed, float(parsed == gold))


STYLE_MATH = {
    # class: [(model output, gold answer, score)]
    "value": [
        ("3^{4}", "81", 1.0), ("所以结果是 $3^{4}$", "81", 1.0), (r"\boxed{3^4}", "81", 1.0),
        (r"\frac{2}{\sqrt{3}}", r"\frac{2\sqrt{3}}{3}", 1.0), (r"答案：$\dfrac{2\sqrt3}{3}$", r"\frac{2}{\sqrt{3}}", 1.0),
        (r"\boxed{2^{10}}", "1024", 1.0), (r"\boxed{\sqrt{12}}", r"2\sqrt{3}", 1.0),
        ("3^{4}", "64", 0.0), (r"\frac{2}{\sqrt{3}}", r"\frac{\sqrt{3}}{2}", 0.0),
    ],
    "list": [
        ("答案：2,-5", "-5,2", 1.0), ("答案：-5，2", "2,-5", 1.0), ("答案：-5、2", "2,-5", 1.0),
        (r"\boxed{-5, 2}", "2, -5", 1.0), ("解得x=2或x=-5", "2,-5", 1.0), ("答案：2,5", "-5,2", 0.0),
        ("答案：2", "2,-5", 0.0),
    ],
    "assignments": [
        ("x_1=2, x_2=-5", "2,-5", 1.0), ("x_1=2，x_2=-5", "-5,2", 1.0), (r"\boxed{x_{1}=2,x_{2}=-5}", "2,-5", 1.0),
        ("解得 $x_1=2$，$x_2=-5$", "2,-5", 1.0), ("x_1=2, x_2=5", "2,-5", 0.0),
    ],
    "roots": [
        ("答案：sqrt(3)", r"\sqrt{3}", 1.0), ("答案：√3", r"\sqrt{3}", 1.0), ("所以 x = 2√3", r"2\sqrt{3}", 1.0),
        ("答案：√(3)", r"\sqrt{3}", 1.0), ("答案：√2", r"\sqrt{3}", 0.0),
    ],
    "intervals": [
        ("答案：(0, 4)", "(0,4)", 1.0), ("答案：[2,5]", "[2,5]", 1.0), ("取值范围是 [2,5]", "[2,5]", 1.0),
        ("所以 a 的取值范围是 (0, 4)。", "(0,4)", 1.0), ("所以 x∈(-∞, 2]", r"(-\infty,2]", 1.0),
        ("答案：[2,5]", "(2,5)", 0.0), ("取值范围是 [2,5)", "[2,5]", 0.0), ("答案：(0,4)", "(4,0)", 0.0),
    ],
    "choice": [
        ("(C)", r"\text{(C)}", 1.0), ("答案：(C)", r"\text{(C)}", 1.0), ("故选 (C)", r"\text{(C)}", 1.0),
        ("答案：(B)", r"\text{(C)}", 0.0),
    ],
    "text": [
        ("不存在", "不存在", 1.0), ("答案：不存在", "不存在", 1.0), ("所以这样的实数 a 不存在。", "不存在", 1.0),
        (r"\boxed{\text{不存在}}", "不存在", 1.0), ("答案：存在", "不存在", 0.0),
        ("不存在这样的x，所以答案是3", "不存在", 0.0), ("所以这样的点不存在", "存在", 0.0),
    ],
}
STYLE_MATH_CASES = [(cls, *case) for cls, cases in STYLE_MATH.items() for case in cases]


@pytest.mark.parametrize("cls,output,gold,score", STYLE_MATH_CASES)
def test_style_math(cls, output, gold, score):
    assert S.score_math(output, gold)[1] == score
    assert score_item(math_rec(gold), output=output)["score"] == score


def test_symbolic_check_has_a_time_limit_and_never_raises():
    """A tower of powers would take sympy forever: the time limit ends the check, the verdict is 'different'."""
    assert S.math_equiv("9^{9^{9^{9}}}", "1") is False
    for pred, gold in [(r"\frac{1}{0}", "1"), (r"\sqrt{-1}^{\frac", "2"), ("((((", "1"), ("x^{", "x^{")]:
        assert S.math_equiv(pred, gold) in (True, False)


def test_symbolic_check_is_skipped_outside_the_main_thread():
    """SIGALRM (math-verify's time limit) exists only in the main thread; elsewhere the normaliser decides."""
    import threading

    S._symbolic_equiv_main.cache_clear()
    got = []
    worker = threading.Thread(target=lambda: got.append((S.math_equiv("3^{4}", "81"), S.math_equiv("1,2", "2,1"))))
    worker.start()
    worker.join()
    assert got == [(False, True)]
    assert S.math_equiv("3^{4}", "81") is True
