"""Stage 1 of careful grading (evaluate.grading.find): the text that holds the final committed answer.
Each case carries the verdict a careful grader gives by hand."""

import pytest

from growthpace.evaluate.grading import find as F


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
