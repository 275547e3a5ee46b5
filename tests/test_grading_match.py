"""Stage 3 of careful grading (evaluate.grading.match) and the three stages together
(``scorers.score_item``), one table per answer class. Every verdict is a careful grader's, by hand."""

import threading

import pytest

from growthpace.evaluate import scorers as S
from growthpace.evaluate.grading import score_item
from growthpace.evaluate.grading import match as M
from growthpace.evaluate.grading import symbolic as Y

QUESTION = "关于光合作用，下列说法正确的是\nA. 只在白天进行暗反应\nB. 光反应产生氧气\nC. 不需要酶的参与\nD. 只发生在根部"


def choice_rec(gold):
    return {"type": "biology", "messages": [{"role": "user", "content": QUESTION},
                                            {"role": "assistant", "content": gold}]}


def tf_rec(gold):
    return {"type": "history", "messages": [{"role": "user", "content": "判断：赤壁之战发生在东汉末年。"},
                                            {"role": "assistant", "content": gold}]}


def cloze_rec(gold):
    return {"type": "chinese", "messages": [{"role": "user", "content": "补全：千里之行，始于__下。"},
                                            {"role": "assistant", "content": gold}]}


def ms_rec(gold):
    q = "下列做法恰当的有\nA. 按时归还借书\nB. 考试作弊\nC. 帮助同学\nD. 节约用水"
    return {"type": "ethics", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": gold}]}


def math_rec(answer):
    return {"type": "math", "answer": answer,
            "messages": [{"role": "user", "content": "计算。"}, {"role": "assistant", "content": answer}]}


# ------------------------------------------------------------------------------------------ choice
@pytest.mark.parametrize("output,parsed,path,ambiguous", [
    ("初步判断是C，但C忽略了酶的作用。纠正一下：B。", "B", "correction", False),       # correction
    ("Wait, no: on second thought it's B.", "B", "correction", False),
    ("A项错误，C项错误，D项也错误，因此剩下的是B。", "B", "committed", False),          # elimination
    ("排除 A、C 和 D 之后，B 是唯一可能。", "B", "committed", False),
    ("- A 错误\n- B 正确\n- C 错误\n- D 错误", "B", "committed", False),               # markdown list
    ("| 选项 | 结论 |\n|--|--|\n| A | × |\n| B | √ |\n| C | × |\n| D | × |", "B", "committed", False),
    ("我选ｂ。", "B", "committed", False),                                            # full-width lower case
    ("選擇B，因為光反應會釋放氧氣。", "B", "committed", False),                        # traditional
    ("答：「B」", "B", "committed", False),                                           # marks
    ("我觉得是“光反应产生氧气”这一项。", "B", "committed", False),                      # option text
    ("B和C都说得通，难以判断。", "E", "none", True),                                   # no preference
    ("答案是A。答案是B。", "E", "none", True),                                        # two answers
    ("A good question; photosynthesis needs light.", "E", "none", False),            # English article
    ("作为AI助手，我无法作答。", "E", "none", False),                                   # refusal
])
def test_choice(output, parsed, path, ambiguous):
    res = score_item(choice_rec("B"), output=output)
    assert (res["parsed"], res["parse_path"], res["ambiguous"]) == (parsed, path, ambiguous)
    assert res["score"] == float(parsed == "B")


INLINE = "关于光合作用，下列说法正确的是?A:只在白天进行暗反应;B:光反应产生氧气;C:不需要酶的参与;D:只发生在根部"


@pytest.mark.parametrize("output,parsed,path,ambiguous", [
    # an answer block or a conclusion outranks the options the reasoning discusses
    ("逐项来看：\nA项，暗反应不需要光，说法片面。\nC项，酶是必需的。\nD项，叶片才是主要场所。\n[正确答案]B",
     "B", "committed", False),
    ("A说只在白天，错；C说不需要酶，错；D说只在根部，错。\n综上所述，符合的是B。", "B", "committed", False),
    ("【解析】C和D的说法都站不住，A也不全面。\n【答案】B．光反应产生氧气 <eoa>", "B", "committed", False),
    ("解析：A、C、D都有明显的错误。\n【答案】: B <eoa>", "B", "committed", False),
    ("因此，选项B正确，选项A、C、D均不符合题意。", "B", "committed", False),           # the others ruled out
    # the question's options copied back are not answers
    ("关于光合作用，下列说法正确的是\nA. 只在白天进行暗反应\nB. 光反应产生氧气\nC. 不需要酶的参与\nD. 只发生在根部\n"
     "光反应产生氧气的是B，水在类囊体上被分解。", "B", "committed", False),
    ("B. 光反应产生氧气\nC. 不需要酶的参与", "E", "none", True),                  # two options given: no list copy
    # two committed answers that disagree, no correction between them
    ("综上所述，答案是A。\n【答案】C<eoa>", "E", "none", True),
    # a letter that is a name, or quoted in a refusal, is no answer
    ("很抱歉，您的问题不完整。如果您能提供选项（如“A”的内容），我可以帮您解答。", "E", "none", False),
    ("C语言的执行效率比Python高。", "E", "none", False),
    ("D的运行速度通常快于Ruby和Perl。", "E", "none", False),
    ("应选B，B与ATP的合成直接相关。", "B", "committed", False),
    ("维生素C与此无关，应选B。", "B", "committed", False),
    ("B选项比Java的写法更简洁。", "B", "committed", False),                   # a clause that speaks of an option
])
def test_choice_reads_the_committed_answer_not_the_options_mentioned(output, parsed, path, ambiguous):
    res = score_item(choice_rec("B"), output=output)
    assert (res["parsed"], res["parse_path"], res["ambiguous"]) == (parsed, path, ambiguous)


@pytest.mark.parametrize("output,parsed", [
    # a LawBench-style question with its options on one line, copied back before the answer
    (INLINE + "\n应当是B<eoa>", "B"),
    ("[正确答案]B:光反应产生氧气。\n" + INLINE, "B"),
    (INLINE, "E"),                                                                 # the copy alone: no answer
])
def test_choice_inline_options_copied_back(output, parsed):
    rec = {"type": "biology", "messages": [{"role": "user", "content": INLINE}, {"role": "assistant", "content": "B"}]}
    assert score_item(rec, output=output)["parsed"] == parsed


def test_choice_logit_fallback_only_when_the_text_names_nothing():
    logits = {"A": 0.1, "B": 0.2, "C": 3.0, "D": 0.0}
    res = score_item(choice_rec("B"), output="光合作用需要光。", letter_logits=logits)
    assert (res["parsed"], res["parse_path"]) == ("C", "logit_fallback")
    res = score_item(choice_rec("B"), output="B和C都有可能。", letter_logits=logits)   # ambiguous: no fallback
    assert (res["parsed"], res["parse_path"], res["ambiguous"]) == ("E", "none", True)


# -------------------------------------------------------------------------------------- true/false
@pytest.mark.parametrize("output,want", [
    ("这与史实一致，符合史实。", "T"), ("此说与史实不符。", "F"),                           # paraphrase, negation
    ("该命题成立。", "T"), ("该命题不成立。", "F"), ("原句表述有误。", "F"),
    ("It's accurate.", "T"), ("That is inaccurate.", "F"),
    ("正确。虽然有人说这是错误的，但史书写得很清楚。", "T"),                                 # reason has the opposite word
    ("错。看上去正确，其实年代不对。", "F"),
    ("起初我以为对，再想一下，应该是错误的。", "F"),                                      # correction
    ("✓", "T"), ("✗", "F"), ("Ｆ", "F"),                                               # symbols, full width
    ("說法正確。", "T"),                                                                # traditional
    ("正确。\n错误。", "E"), ("也许对也许错。", "E"), ("我无法判断。", "E"),                 # no commitment
])
def test_true_false(output, want):
    res = score_item(tf_rec("正确"), output=output)
    assert res["parsed"] == want
    assert res["score"] == float(want == "T")


# ------------------------------------------------------------------------------------------- cloze
@pytest.mark.parametrize("gold,output,score,ambiguous", [
    ("足", "横线上填「足」。", 1.0, False),
    ("足", "答案应为《足》", 1.0, False),
    ("足", "我认为是足", 1.0, False),
    ("足", "填手。订正：应为足。", 1.0, False),                                         # correction
    ("足", "足或脚", 0.0, True),                                                      # two answers
    ("足", "应填“脚”。", 0.0, False),
    ("三", "3", 1.0, False), ("三", "３", 1.0, False), ("三", "三次", 1.0, False),        # number words
    ("三", "叁", 1.0, False), ("三", "4", 0.0, False),
    ("龙", "填「龍」", 1.0, False),                                                    # traditional
])
def test_cloze(gold, output, score, ambiguous):
    res = score_item(cloze_rec(gold), output=output)
    assert (res["score"], res["ambiguous"]) == (score, ambiguous)


# ------------------------------------------------------------------------------------ multi-select
@pytest.mark.parametrize("output,want", [
    ("上述全部正确。", "ABCD"), ("All of the above are fine.", "ABCD"),
    ("以上选项均正确。", "ABCD"), ("除B外，其余都对。", "ACD"), ("除了B和D以外都对", "AC"),    # all, exclusion
    ("- A ✓\n- B ✗\n- C ✓\n- D ✓", "ACD"),                                          # markdown list
    ("| 选项 | 恰当 |\n|--|--|\n| A | 是 |\n| B | 否 |\n| C | 是 |\n| D | 否 |", "AC"),   # markdown table
    ("答案：ａｃｄ", "ACD"),                                                            # full-width lower case
    ("選ACD。", "ACD"),                                                                # traditional
    ("我先选了AC。更正：ACD。", "ACD"),                                                 # correction
    ("答：ACD\n理由：B项是作弊。", "ACD"),                                              # explanation names B
])
def test_multi_select(output, want):
    res = score_item(ms_rec("ACD"), output=output)
    assert res["parsed"] == want
    assert res["score"] == float(want == "ACD")


# -------------------------------------------------------------------------------------------- math
@pytest.mark.parametrize("answer,output,score", [
    ("\\frac{3}{4}", "答案：四分之三", 1.0), ("\\frac{3}{4}", "答案：0.75", 1.0), ("\\frac{3}{4}", "three quarters", 1.0),
    ("3000", "答案：三千", 1.0), ("3000", "答案 3×10^3", 1.0), ("3000", "答案：3e3", 1.0), ("3000", "答：3 000", 1.0),
    ("3000", "答案：3,000", 1.0), ("3000", "答案：30000", 0.0),
    ("\\frac{9}{4}", "答案：2又1/4", 1.0), ("\\frac{9}{4}", "答案：2¼", 1.0),                      # mixed numbers
    ("[-1,4]", "所以 -1≤x≤4。", 1.0), ("[-1,4]", "所以 -1<x≤4。", 0.0),                            # intervals
    ("(2,+\\infty)", "解得 x>2。", 1.0), ("(2,+\\infty)", "解得 x≥2。", 0.0),
    ("5:3", "两数之比为5比3。", 1.0), ("5:3", "比为3:5", 0.0),                                       # ratios
    ("-8", "答案是负八。", 1.0), ("9", "最終答案為玖。", 1.0), ("9", "The answer is nine.", 1.0),     # number words
    ("\\sqrt{5}", "答案：根号5", 1.0),
    ("9", "先算得 7。不对，重新计算：答案是 9。", 1.0), ("9", "先算得 9。不对，重新计算：答案是 7。", 0.0),  # corrections
    ("9", "答案可能是 9，也可能是 10。", 0.0), ("9", "我无法完成这道题。", 0.0),                   # no commitment

    ("0.75", "【答案】0.75<eoa>", 1.0), ("12", "推得 12<eoe>\n[答案]12<eoa>", 1.0),                  # answer blocks
    ("0.75", "【答案】0.57<eoa>", 0.0),
    ("x-2y+3=0", "【答案】切线方程为 $y=\\frac{1}{2}x+\\frac{3}{2}$", 1.0),                     # equations of lines
    ("2x+y-1=0", "所以直线为 $y=-2x+1$", 1.0), ("2x+y-1=0", "答案：$y=2x+1$", 0.0),
    ("y=4x", "答案：$4x-y=0$", 1.0), ("y=4x", "答案：$4x+y=0$", 0.0),
    ("2 和 5", "【答案】2和5<eoa>", 1.0), ("2,5", "答案：5和2", 1.0),                                # lists
    ("2 和 5", "答案：5", 0.0), ("2 和 5", "答案：2和6", 0.0),
])
def test_math(answer, output, score):
    assert score_item(math_rec(answer), output=output)["score"] == score


# ---------------------------------------------------------------------------------- CPU-time limit
def test_cpu_limited_ends_a_runaway_computation_even_through_a_bare_except():
    def runaway():
        try:
            while True:
                sum(range(10_000))
        except:  # noqa: E722 - a careless library swallows the first alarm and carries on
            pass
        while True:
            sum(range(10_000))
    assert Y.cpu_limited(runaway, seconds=0.2, default="stopped") == "stopped"
    assert Y.cpu_limited(lambda: 41 + 1, seconds=0.2) == 42


def test_cpu_limited_is_skipped_outside_the_main_thread():
    got = []
    worker = threading.Thread(target=lambda: got.append(Y.cpu_limited(lambda: 1, default="skipped")))
    worker.start()
    worker.join()
    assert got == ["skipped"]


def test_a_pathological_expression_is_no_answer_and_never_hangs(monkeypatch):
    monkeypatch.setattr(Y, "SYMBOLIC_CPU_SECONDS", 0.3)
    assert Y.symbolic_equiv("9^{9^{9^{9^{9}}}}", "1") is False
    assert Y.symbolic_equiv("3^{4}", "81") is True
