"""Stage 1 of careful grading: the part of an output that holds its final committed answer.

A careful grader reads an answer the way it was meant, not every letter in it:

- a correction wins: the text after the last correction marker (``订正：``, ``更正``, ``不对，应为``,
  ``重新计算``, ``仔细想想``, ``正确的应该是``, ``no wait``, ``actually``, ``No —``) is the answer;
- a hedge with a stated preference (``我倾向于B，虽然A也有道理``, ``I'd go with B``) commits to the
  preferred answer; a hedge without one (``A或B都有可能``, ``也可能是``, ``might also be``) and a
  refusal (``作为AI…无法回答``, ``I cannot``) commit to nothing;
- an answer block (``【答案】D``, ``[正确答案]D``, ``答案：D``, ``综上所述，应选D``) is the committed answer: the
  options a reasoning discusses before it, and the question copied back after it, are not answers; two
  blocks are both read (two that disagree leave the output ambiguous);
- an explanation after the answer (``解析：``, ``理由：``, ``Explanation:``, ``（注意：``) is not the
  answer: the text before it is read when it holds anything.

``find`` returns the text to read, how it was found (``parse_path``) and whether the output already
shows that it commits to no single answer. The kind-specific stage (``match``) reads the text and may
find it ambiguous too (two different answers with no correction between them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# parse_path values of a prediction row
COMMITTED = "committed"
CORRECTION = "correction"
LOGIT_FALLBACK = "logit_fallback"
NONE = "none"
PARSE_PATHS = (COMMITTED, CORRECTION, LOGIT_FALLBACK, NONE)

_CORRECTION = re.compile(
    r"订正|更正|改正|纠正|修正为|应改为|重新计算|我算错了|算错了|仔细想想|仔细检查后?|再想一下|转念一想|"
    r"正确的应该是|不对[，,。.！!]\s*(?=应|正确|答案|是|选|其实)|其实应该是|"
    r"(?i:(?<![a-z])(?:no,?\s+wait|wait,?\s+no|on\s+second\s+thought|correction\s*:|actually)(?![a-z]))|"
    r"(?<![A-Za-z])No\s*[—–-]+"
)
_PREFERENCE = re.compile(r"(?:我(?:更)?倾向于(?:选)?|更倾向于(?:选)?|我更认同|(?i:I'?d\s+go\s+with|I\s+lean\s+towards?))\s*")
_NO_PREFERENCE = re.compile(r"都有可能|也可能是|也有可能是|无法确定|不能确定|无法判断|难以判断|(?i:might\s+also\s+be|could\s+be\s+either)")
_REFUSAL = re.compile(r"作为一个?(?:AI|人工智能|语言模型)|我无法(?:回答|完成|作答|判断)|无法作答|需要更多信息|不便(?:对|回答|作答)|"
                      r"超出了我的|(?i:as\s+an\s+ai|I\s+cannot|I\s+can'?t\s+(?:answer|verify|determine))|"
                      # an apology that asks for the question or says it cannot answer
                      r"(?:很抱歉|抱歉|对不起)[^。!！?？\n]*?(?:没有(?:提供|给出)|未(?:提供|给出)|"
                      r"我?(?:无法|不能)(?:回答|作答|理解|提供|解答))|"
                      r"如果您?能(?:够)?(?:提供|给出)|请您?(?:提供|给出)(?:具体|完整|更多)|"
                      r"(?i:sorry[^.!?\n]*?(?:please\s+provide|I\s+(?:cannot|can'?t|am\s+unable)))")
# An answer block: the line of an answer tag or phrase (stage 2 writes 【答案】 as 答案:), up to the next line
# with content when the tag ends its line (and to the end of a display formula $$...$$ it opens); a
# conclusion (综上所述) holds the rest of the output.
_ANSWER_MARK = re.compile(r"(?:正确答案|最终答案|参考答案|答案)\s*(?:应该是|应当是|应为|应是|是|为|:)(?!\s*(?:什么|多少|哪))|"
                          r"(?i:final\s+answer|the\s+answer\s+is|answer\s*:)")
_CONCLUSION = re.compile(r"综上(?:所述|可知|可得)?|综合以上|(?i:in\s+conclusion)")
_EXPLANATION = re.compile(r"(?:解析|解释|理由|分析|补充说明|说明)\s*[:：]|[(（]\s*注意\s*[:：]|(?i:explanation\s*:)")
_PUNCT_ONLY = re.compile(r"[\s\W_]*")


@dataclass(frozen=True)
class Found:
    text: str            # what the kind-specific stage reads
    parse_path: str      # COMMITTED, CORRECTION or NONE
    ambiguous: bool      # the output commits to no single answer


def _has_content(s: str) -> bool:
    return not _PUNCT_ONLY.fullmatch(s)


def answer_blocks(s: str) -> str | None:
    """The answer blocks of ``s`` joined by line breaks, or None when it has none with content."""
    spans = []
    for m in _ANSWER_MARK.finditer(s):
        end = m.end()
        while True:
            nl = s.find("\n", end)
            end = len(s) if nl < 0 else nl
            if re.search(r"\w", s[m.end():end]) and s[m.end():end].count("$$") % 2 == 0 or nl < 0:
                break  # a line with content, and a display formula closed
            end = nl + 1
        if re.search(r"\w", s[m.end():end]) and not re.search(r"[?？]\s*$", s[m.end():end]):  # not a question
            spans.append((s.rfind("\n", 0, m.start()) + 1, end))
    spans += [(m.start(), len(s)) for m in _CONCLUSION.finditer(s) if _has_content(s[m.end():])]
    if not spans:
        return None
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return "\n".join(s[a:b].strip() for a, b in merged)


def find(output: str | None) -> Found:
    """The text holding the final committed answer of ``output`` (see the module docstring)."""
    s = (output or "").strip()
    if not s:
        return Found("", NONE, False)
    if _REFUSAL.search(s):
        return Found("", NONE, False)
    path = COMMITTED
    marks = [m for m in _CORRECTION.finditer(s) if _has_content(s[m.end():])]
    if marks and _has_content(s[:marks[-1].start()]):
        s, path = s[marks[-1].end():].strip(), CORRECTION
    blocks = answer_blocks(s)
    if blocks is not None:
        s = blocks
    pref = list(_PREFERENCE.finditer(s))
    if pref:
        rest = s[pref[-1].end():]
        s = re.split(r"[，,;；。!！?？\n]|\.\.\.|…", rest, maxsplit=1)[0].strip()
    elif _NO_PREFERENCE.search(s):
        return Found("", NONE, True)
    expl = _EXPLANATION.search(s)
    if expl and _has_content(s[:expl.start()]):
        s = s[:expl.start()].rstrip()
    return Found(s, path, False)
