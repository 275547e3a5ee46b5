"""Stage 1 of careful grading (evaluate.grading.find): the text that holds the final committed answer.
Each case carries the verdict a careful grader gives by hand."""

import pytest

from growthpace.evaluate.grading import find as F
from growthpace.evaluate.grading import normalise as N


@pytest.mark.parametrize("output,text,path", [
    # a correction wins: what follows the last marker is the answer
    ("先写了A。更正：答案是D。", "：答案是D。", F.CORRECTION),
    ("结果是12。我算错了，结果应当是14。", "，结果应当是14。", F.CORRECTION),
    ("I pick A. Actually, D.", ", D.", F.CORRECTION),
    ("It is 3. No — 4.", "4.", F.CORRECTION),
    ("选C。不对，应选D。", "应选D。", F.CORRECTION),
    # a marker with nothing before it, or nothing after it, is no correction
    ("Actually the answer is B.", "Actually the answer is B.", F.COMMITTED),
    ("答案是B，我仔细检查后", "答案是B，我仔细检查后", F.COMMITTED),
    # a hedge with a stated preference commits to it
    ("我更倾向于D，不过C也说得通。", "D", F.COMMITTED),
    ("I'd go with (C), though B is close.", "(C)", F.COMMITTED),
    ("很抱歉，我不能确定，但我倾向于B。", "B", F.COMMITTED),      # an apology with a preference is no refusal
    # an explanation after the answer is not read
    ("答案：D\n理由：C项混淆了概念。", "答案：D", F.COMMITTED),
    ("Final: B\nExplanation: A and C are wrong.", "Final: B", F.COMMITTED),
    # an explanation with nothing before it stays
    ("解析：只有B符合题意。", "解析：只有B符合题意。", F.COMMITTED),
])
def test_find_committed_text(output, text, path):
    got = F.find(output)
    assert (got.text, got.parse_path, got.ambiguous) == (text, path, False)


@pytest.mark.parametrize("output,ambiguous", [
    ("C和D都有可能。", True),                 # a hedge without a preference
    ("It could be either A or D.", True),
    ("我不能确定是B还是C。", True),
    ("作为人工智能，我无法判断。", False),      # a refusal commits to nothing and is not ambiguous
    ("As an AI, I cannot say.", False),
    ("", False),
    ("   \n ", False),
])
def test_find_commits_to_nothing(output, ambiguous):
    got = F.find(output)
    assert (got.text, got.parse_path, got.ambiguous) == ("", F.NONE, ambiguous)


@pytest.mark.parametrize("output,text", [
    # an answer block outranks the options that the reasoning discusses before it
    ("【解析】A项以偏概全，B项说法正确，C项与材料无关。\n【答案】B<eoa>", "答案:B"),
    ("分析：甲、乙两组都错了。\n[正确答案] 丙\n题目问的是哪一组正确：甲组、乙组还是丙组", "正确答案:丙"),
    # a tag alone on its line: the answer is on the next line with content
    ("【答案】\n\n所求的值为 $12$<eoa>", "答案:\n\n所求的值为 $12$"),
    ("【答案】\n$$\nx=\\frac{1}{2}\n$$\n验证略。", "答案:\n$$\nx=\\frac{1}{2}\n$$"),       # a display formula
    # a conclusion ("综上所述") holds the rest of the output
    ("先看A，A不对；再看B，B也不对。\n综上所述，应选C。\n即C项。", "综上所述,应选C。\n即C项。"),
    ("A、B两项都与材料不符。\n综上，只有C符合。", "综上,只有C符合。"),
    # two blocks are both read (whether they agree is the match stage's concern)
    ("综上所述，选A。\n【答案】D", "综上所述,选A。\n答案:D"),
    # an explanation marker before the answer block does not hide it
    ("我们逐项分析：A错，C错。\n【答案】B", "答案:B"),
    # a tag with nothing after it is no block
    ("推理如下，B正确。\n【答案】", "推理如下,B正确。\n答案:"),
])
def test_find_reads_the_answer_block(output, text):
    got = F.find(N.text(output))
    assert (got.text, got.parse_path, got.ambiguous) == (text, F.COMMITTED, False)


@pytest.mark.parametrize("output", [
    "很抱歉，您没有给出完整的题目，如果您能提供选项（比如“B”这一项），我可以帮您分析。",
    "对不起，我无法理解这个问题。",
    "Sorry, please provide the full question (e.g. option \"C\").",
])
def test_find_apologetic_refusal_commits_to_nothing(output):
    got = F.find(N.text(output))
    assert (got.text, got.parse_path, got.ambiguous) == ("", F.NONE, False)


@pytest.mark.parametrize("output", [
    "这道题的答案是什么？先看各项。\n最后选B",        # a question about the answer is no answer block
    "答案为何？\n选B",
])
def test_find_question_about_the_answer_is_no_block(output):
    assert F.find(N.text(output)).text == N.text(output)
