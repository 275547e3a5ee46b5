"""DoIT's per-item scoring rules as a careful grader applies them (``evaluation.scoring: careful``).

This module holds the answer readers and the item kinds; ``score_item`` grades an item through the
stages of ``evaluate.grading`` (find the final committed answer, normalise it, match it per kind),
which read the answer styles described there on top of the rules below.

The rules are those of the DoIT paper (v1 §4.2) and of the authors' ``evaluate/utils.py``,
``parse_utils.py`` and ``math_equivalence.py``; ``reference/paper.md`` §1.3 and §7.2 document them.
Each scorer below follows the *rule* and departs from the authors' *code* only where that code
gives an answer that a careful human grader would not (paper.md §7.2). Every departure is listed here;
``evaluate.authors`` reproduces the code itself (``evaluation.scoring: authors``). The standard library
only, except the math equivalence step, which asks Hugging Face's ``math-verify`` (sympy) for what the
hand-written normaliser does not settle.

Item kinds (``item_kind``), checked in this order, from ``messages[-1]`` (gold) and ``messages[-2]``
(the question):

==============  ===========================================================  =====================
kind            when                                                         random-guess expected
==============  ===========================================================  =====================
ranking         ``question_format == 1`` (code, creative writing, role-play)  1 / len(choices) = 1/3
math            ``type == "math"``                                           0
multi_select    ``type == "ethics"``                                         1 / C(n, k)
true_false      the gold is exactly a true/false word (正确/对/T/√/V,           0.5
                错误/错/F/×/X, also True/False/不对/不正确), the type is not ``chinese``
                and the question has no blank (``__``)
single_choice   the gold is a single letter, or the question has option lines  1 / n_options
cloze           everything else (single-blank fill-in, CJK gold)              0
==============  ===========================================================  =====================

The authors decide T/F vs. cloze by ability (history: T/F, chinese: cloze); the rule above gives the
same kinds on DoIT and keeps a chinese cloze whose missing character is 对 or 错 a cloze item.

Single choice (``parse_choice_text``, ``score_single_choice``)
    Full-width letters (Ａ-Ｄ) and punctuation are mapped to ASCII first. The output is read in tiers;
    the first tier that names any letter decides:

    0. the whole output, stripped of spaces, brackets and punctuation, is one letter (``B``, ``b``,
       ``(B)``, ``B.``, ``Ｂ``); or two to four capital letters run together (``AB``: ambiguous).
    0b. a multi-line output whose first line is the answer, the rest an explanation that may name
       other options (``C\n解析：B项说法错误……`` is C): the first line is a bare letter (``C``, ``(C)``,
       ``C。``) or an option line naming no other letter (``C. 细胞核``), and no later line is a bare
       letter or an option line itself (``A. 细胞壁\nB. 细胞核`` lists options: ambiguous).
    1. explicit answer phrases: 答案/正确答案/答案是/答案为/答：/故选/所以选/因此选/应选/我选/选择/
       正确的是/正确的选项是/answer/answer is/final answer, followed by one letter.
    2. weaker phrases: 选X (not after 不/别/没/能/应 negations such as 不能选A), ``X正确`` / ``X项正确``
       / ``X选项正确`` / ``X是正确的``.
    3. lines that start like an option (``B. 细胞核``, ``B．xxx``, ``B、``, ``(B)``, ``B:``).
    4. any standalone capital letter of the valid options (not inside a word: "DNA" is not D).

    A letter counts only as a standalone token (no ASCII letter or digit beside it). Lower-case letters
    count in tiers 0-3 only, and not when an English word follows (``the answer is a tricky one``).
    If a tier names two different letters the output is ambiguous and ``parse_choice_text`` returns
    None; if it names only letters outside the first ``n_options`` (``答案：D`` for a 3-option item)
    it names no valid option and returns None.

    ``score_single_choice``: the text decides whenever it names anything. Only when the text names no
    letter at all (tiers 0-4 empty: e.g. the model wrote the option's text, or nothing) does it fall
    back to ``letter_logits``: the argmax over the first ``n_options`` letters. An ambiguous or
    out-of-range answer is 'E' (no answer, score 0) without a fallback. ``score_item`` additionally
    accepts an output that is exactly the text of one option (``细胞核`` for ``B. 细胞核``) before
    falling back to the logits.

    Departures from the authors' code: (a) they read the text only when the stripped output is
    exactly one character (and then only ASCII ``A``-``D``: ``b`` and ``Ｂ`` are no answer); any
    longer output (``Answer: C``, ``C。``, ``故选B``) goes to the logits. (b) Their logits come from
    ``outputs.scores[-1]``, the LAST generation step (usually the step that emitted the stop token);
    the careful fallback reads the A-D logits at the FIRST generated position, the model's
    distribution over the answer letter itself. Prediction rows keep both (``engine.HFEngine.generate``
    reads both in one pass), so each scoring mode reads its own. The softmax the authors apply before
    the argmax does not change the argmax and is omitted.

True/false (``parse_true_false``, text only, as the authors' ``tf_parse_mode='text'``)
    True words: 正确, 对, √ ✓ ✔, standalone T / V / True; false words: 错误, 错, × ✗ ✘, standalone
    F / X / False. Negations are read first: 不正确, 不对, 不是正确/对的, 并不正确, 并非正确 -> F;
    不是错误的, 不是错的, 没有错, 没错, 并非错误, 无误, 不错 -> T. Words in which 对/错 do not mean
    right/wrong (对于, 对比, 对应, 针对, 相对, 绝对, 反对, 面对, 错过, 交错, ...) are ignored, and so are
    phrases that restate the question (正确吗, 是否正确, 对不对, 正误). Latin letters
    count only as standalone tokens (``IMF`` carries no F), except that a whole output of one
    lower-case letter (``t``) counts; a whole output of 是/是的 is T and 否/不是 is F. English answers
    count in any case: ``yes``/``correct`` true, ``no``/``incorrect``/``wrong`` false, ``not correct``
    / ``not true`` false and ``not wrong`` true (whole words: ``Nothing`` and ``Yesterday`` say
    nothing). An output with both a true and a false signal, or neither, is 'E'. Departure: the authors
    search plain substrings, so 不正确 and 不对 counted as true, 不是错误的 as false, any capital
    T/F/V/X anywhere counted, and ``Yes``/``No`` were no answer.

Cloze (``parse_cloze``)
    Drop everything up to an answer prefix (the last 答案/答案是/答案为/答：/应填/填入, with a colon),
    strip quotes, brackets and punctuation, join single CJK characters written with spaces between
    them (``春 风`` -> ``春风``; words stay apart: ``春风 又绿`` -> ``春风``), and take the first run of CJK
    characters; an output with no CJK gives its first token, stripped of punctuation. The gold goes
    through the same function and the match is exact. Departure: the authors kept the punctuation after
    the CJK run (``春风。`` and ``“春风”`` were wrong), did not drop the prefix (``答案：春风`` parsed as
    ``答案：``) and read ``春 风`` as ``春``.

Multi-select (``parse_multi_select``, ethics)
    The line that holds the answer, of output and gold: the first line when it holds nothing but the
    answer (letters, separators and answer words: ``AC``, ``答案：A、C``) and an explanation follows
    (``AC\n解析：B项插队不对……`` is {A, C}); else the last non-empty line; and when that names no letter,
    the last answer phrase anywhere (``答案：BD\n以上。``). On that line, the letters A-F that appear as
    standalone capital tokens or in a run of capitals A-F (``ABD``, ``A、B、D``, ``A,B and D``,
    ``(A)(C)``); words with any other letter (``Answer``, ``Final``, ``AND``) are skipped. Lower-case
    runs (``答案：bc``) count only when the line has no capital candidates and every other Latin word on
    it is an answer word (answer, final, is, the, and, or, ...). Exact set equality; an empty
    prediction scores 0. Departure: the authors took every capital A-F on the last line (``Answer: BC``
    -> {A,B,C}, ``Final answer: AC`` -> {F,A,C}, ``AC\n解析：B错`` -> {B}). Expected score: 1/C(n, k),
    n the number of options (4 in DoIT), k the number of gold letters; this is the authors'
    definition, degenerate (1.0) when k == n.

Math (``extract_math_answer``, ``normalize_math``, ``math_equiv``)
    Extraction in the paper's order: keep the text after the last 答案 (unless nothing but punctuation
    follows it); the last ``\\boxed{...}`` or ``\\fbox{...}`` with balanced braces (nested braces fine,
    redundant outer braces removed: ``\\boxed{{5}}`` -> ``5``; ``\\boxed 5`` also read); else the last
    ``$...$`` / ``$$...$$`` / ``\\(...\\)`` / ``\\[...\\]`` (math segments joined only by 或/和/,/、 are
    kept together as a list, as the authors' special case does); else, when a 答案 was found and the rest
    of its line is one formula without CJK or ``=`` (``答案：x^2+1``), that text (an addition: the last-
    number rule would give ``1``), and likewise a whole output that is one formula (``3^{4}``) or a
    bare list of numbers (``1, 2``); a 答案 followed by words only is a text answer (``答案：不存在``);
    else roots written as assignments (``x=2或x=-5``, ``x_1=2, x_2=-5`` -> ``2, -5``); else the text
    after the last ``=`` up to the end of the line or the first CJK character / Chinese punctuation;
    else the last number, LaTeX fraction / square root (``3/4``, ``\\frac{3}{4}``, ``\\frac12``),
    interval or point (``取值范围是 [2,5]`` -> ``[2,5]``, ``(0, 4)``) or lettered choice (``故选 (C)``),
    whichever ends last. Numbers may follow or precede CJK characters and units (``5cm``, ``5个``,
    ``共5元`` -> 5), a unicode minus (−) and a full-width minus are minus signs. Answers joined by 或
    become comma lists.

    ``normalize_math`` is Hendrycks-MATH's ``strip_string`` (line breaks, ``\\!``, ``\\\\``, tfrac/dfrac,
    ``\\left``/``\\right``, ``^\\circ``, ``\\$``, units in ``\\text{ ...}``, ``\\%``, leading-zero fix,
    a short ``k =`` prefix, sqrt fix, spaces, ``\\frac`` fixes, ``0.5``, integer ``a/b``) plus: ``\\boxed``
    unwrapped, ``$``, ``\\(\\)``, thin spaces, ``°`` and ``%`` removed, any trailing ``\\text``/
    ``\\mbox``/``\\mathrm`` unit removed and a whole-answer ``\\text{...}`` unwrapped, common bare units
    and trailing CJK after a number removed (``5cm``, ``5 个``), ``\\frac{1}2`` fixed, negative ``-a/b``,
    a trailing period and a trailing ``.0`` on integers removed, unicode / full-width minus and
    full-width digits mapped to ASCII, Chinese commas and brackets (``，、（）【】``) to ASCII,
    ``√3``/``√(3)``/``sqrt(3)`` to ``\\sqrt{3}``, ``∞``/``π``/``×`` to LaTeX, 或/和 to commas, and a
    list of assignments (``x_1=2, x_2=-5``) to its values.

    ``math_equiv``: equal normalised strings; or equal numbers (exact rational comparison: ``12.0 ==
    12``, ``\\frac{1}{2} == 0.5 == 1/2``, ``1,000 == 1000``); or a prediction ``lhs = rhs`` whose rhs is
    equivalent to a gold without ``=``; or comma-separated lists compared element by element, unordered
    for bare lists and sets (``1,2 == 2,1``), in order when both are wrapped in the same brackets
    (``(1,2)`` is a point, not equal to ``(2,1)``); else, for what is not two plain numbers, equality by
    value with Hugging Face's ``math-verify`` (``_symbolic_equiv``: sympy; ``3^{4} == 81``,
    ``\\frac{2}{\\sqrt{3}} == \\frac{2\\sqrt{3}}{3}``, ``\\sqrt{12} == 2\\sqrt{3}``, intervals ``[2,5]`` vs ``(2,5)``
    told apart, ``(C) == \\text{(C)}``). Each parse and comparison has a CPU-time limit
    (``grading.symbolic.SYMBOLIC_CPU_SECONDS``, a re-firing ITIMER_VIRTUAL alarm, which only the main thread
    can set: in another thread the symbolic step is skipped and the answers count as different). ``score_math`` also
    accepts a text answer (``不存在``) that the output's last clause states (``所以这样的实数 a 不存在。``;
    not after a negation: ``不存在`` does not state ``存在``). It never raises. On the math cases of
    ``tests/test_scorers.py``, math-verify settles 7 that the normaliser alone gets wrong and gives no
    false "equal" (``benchmarks/answer_styles.py``). Departures (paper.md §7.2 items 1-2):
    the authors' list branch turned answers into a set and raised TypeError inside ``is_equiv``, so
    the unordered comparison never happened; ``30^\\circ``, ``50\\%``, ``5\\text{ cm}`` and ``12.0``
    never equalled the plain numbers; ``\\fbox`` was found but rejected; ``\\boxed{{5}}`` gave ``{5}``;
    ``5cm``/``5个``/``共5元`` gave no number; ``答案：3/4`` and a bare ``\\frac{3}{4}`` parsed as ``4``; a
    literal backslash-n was checked instead of a newline; a unicode minus was dropped.

Ranking (``score_ranking``, question_format 1)
    Per candidate, the mean log-probability per token of the candidate's tokens (``sum / length``,
    the engine's continuation includes ``<eot>``); PPL = exp(-mean), so the highest mean is the lowest
    PPL. The gold is ``choices[0]``; the score is 1 when the gold's mean is >= every other candidate's
    (ties count for the gold, as in the authors' ``min(ppl) == ppl[0]``). The returned index is the
    best candidate, ties to the lowest index.

Aggregation (``mean_scores``)
    A plain mean of per-item scores (0.0 for none). Departure: the authors' ``scorer.py`` divided by the
    number of dict keys (score + expected), halving both averages, and reported per-file sums.
    Random-guess expectation for a 3-option single choice is exactly 1/3 (the authors wrote 0.33).
"""

from __future__ import annotations

import functools
import math
import re
import string
import threading
from fractions import Fraction

from ..data.schema import LETTERS

_ALL_LETTERS = string.ascii_uppercase[:8]  # A-H: the most options any parser accepts

__all__ = [
    "LETTERS", "parse_choice_text", "score_single_choice", "parse_true_false", "gold_true_false",
    "parse_cloze", "parse_multi_select", "extract_math_answer", "normalize_math", "math_equiv",
    "score_math", "score_ranking", "parse_options", "item_kind", "expected_score", "gold_letter",
    "score_item", "mean_scores",
]

# ----------------------------------------------------------------------------------------- helpers
_FULLWIDTH = {chr(0xFF21 + i): chr(0x41 + i) for i in range(26)}
_FULLWIDTH.update({chr(0xFF41 + i): chr(0x61 + i) for i in range(26)})
_FULLWIDTH.update({chr(0xFF10 + i): chr(0x30 + i) for i in range(10)})
_FULLWIDTH.update({"（": "(", "）": ")", "：": ":", "．": ".", "，": ",", "　": " ", "【": "[", "】": "]",
                   "［": "[", "］": "]", "／": "/", "＝": "=", "－": "-", "−": "-", "＋": "+", "＄": "$"})
_FW_TABLE = str.maketrans(_FULLWIDTH)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_CJK_RUN = re.compile(f"[{_CJK}]+")
# Characters stripped around short answers (ASCII and CJK punctuation, quotes, brackets).
_PUNCT = " \t\r\n.,;:!?'\"`*_~()[]{}<>、。，；：！？“”‘’「」『』《》〈〉（）【】［］…—-·"


def _fw(s: str) -> str:
    """Full-width letters, digits and common punctuation to ASCII."""
    return s.translate(_FW_TABLE)


def _valid_letters(n_options: int) -> str:
    return _ALL_LETTERS[:max(1, min(int(n_options), len(_ALL_LETTERS)))]


# ------------------------------------------------------------------------------------ single choice
_NOT_LETTER_AFTER = r"(?![A-Za-z0-9])"
_NOT_LETTER_BEFORE = r"(?<![A-Za-z0-9])"
# A letter token in an answer position: a capital A-H, or a lower-case a-h not followed by an English word.
_TOKEN = rf"(?:[A-H]{_NOT_LETTER_AFTER}|[a-h]{_NOT_LETTER_AFTER}(?!\s+[A-Za-z]{{2,}}))"
_RUN = rf"({_TOKEN}(?:\s*(?:[、,/&]|和|与|及|或|\s|and|or)\s*{_TOKEN})*)"
_OPEN = r"[(\[\"'“‘「]*\s*"
_TIER1 = re.compile(
    r"(?:正确答案|最终答案|参考答案|答案|答\s*:|故选|所以选|因此选|因而选|(?<!不)应当选|(?<!不)应该选|(?<!不)应选|我选|(?<!不)选择|"
    r"正确的选项|正确选项|正确的(?:是|为))"
    r"\s*(?:应该是|应为|应是|是|为|:|选项|选|\s)*"
    + _OPEN + _NOT_LETTER_BEFORE + _RUN
)
_TIER1_EN = re.compile(r"(?i:final\s+answer|the\s+answer|answer)(?-i:\s*(?:is|should\s+be|would\s+be|:|\s)*)"
                       + _OPEN + _NOT_LETTER_BEFORE + _RUN)
_TIER2_SELECT = re.compile(r"选\s*(?:择)?\s*(?:选项|项)?\s*" + _OPEN + _NOT_LETTER_BEFORE + _RUN)
_TIER2_CORRECT = re.compile(_NOT_LETTER_BEFORE + r"([A-H])" + _NOT_LETTER_AFTER
                            + r"\s*(?:项|选项)?\s*(?:是|为)?\s*(?:正确|对)(?!吗|应|于|比)")
_TIER3 = re.compile(r"^\s*(?:[(\[]\s*([A-Ha-h])\s*[)\]]|([A-Ha-h])\s*[.、:)]|([A-H])\s*(?:项|选项)|([A-H])\s*$)")
_TIER4 = re.compile(_NOT_LETTER_BEFORE + r"([A-H])" + _NOT_LETTER_AFTER)
_NEGATIONS = ("不", "别", "没", "勿", "莫")


def _letters_of_run(run: str) -> list[str]:
    return [c.upper() for c in re.findall(r"(?<![A-Za-z])[A-Ha-h](?![A-Za-z])", run)]


def _decide(letters: list[str], valid: str) -> tuple[str | None, str]:
    """(letter, status) for the letters one tier found: status 'ok', 'ambiguous' or 'invalid'."""
    distinct = list(dict.fromkeys(letters))
    if len(distinct) > 1:
        return None, "ambiguous"
    if distinct[0] in valid:
        return distinct[0], "ok"
    return None, "invalid"


_OPTION_START = re.compile(r"^\s*(?:[(\[]\s*([A-Ha-h])\s*[)\]]|([A-Ha-h])\s*[.、:)])")


def _first_line_letter(s: str) -> str | None:
    """The letter of a multi-line output whose first line is a bare letter (``C``, ``(C)``, ``C。``) or an
    option line naming no other letter (``C. 细胞核``), when no later line is one too (a list of options)."""
    lines = [line for line in s.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    head = lines[0].strip()
    core = head.strip(_PUNCT)
    if len(core) == 1 and core.upper() in _ALL_LETTERS:
        letter = core.upper()
    else:
        m = _OPTION_START.match(head)
        if m is None or _TIER4.search(head[m.end():]):
            return None
        letter = (m.group(1) or m.group(2)).upper()
    for line in lines[1:]:
        rest = line.strip().strip(_PUNCT)
        if (len(rest) == 1 and rest.upper() in _ALL_LETTERS) or _OPTION_START.match(line):
            return None
    return letter


# A table's golds and outputs name their letters over and over (item kinds and option counts read the
# same golds again for every row): each (text, option count) is parsed once.
@functools.lru_cache(maxsize=8192)
def _parse_choice(output: str | None, n_options: int = 4) -> tuple[str | None, str]:
    """The letter named by ``output`` and a status: 'ok', 'none' (no letter), 'ambiguous', 'invalid'."""
    if not output or not output.strip():
        return None, "none"
    valid = _valid_letters(n_options)
    s = _fw(output).strip()
    core = s.strip(_PUNCT)
    # tier 0: the whole output is one letter (either case), or a run of capitals ("AB")
    if len(core) == 1 and core.upper() in _ALL_LETTERS:
        return _decide([core.upper()], valid)
    if 2 <= len(core) <= 4 and re.fullmatch(r"[A-H]+", core):
        return _decide(list(core), valid)
    # tier 0b: the first line is the answer, the lines after it explain ("C\n解析：B项说法错误……")
    first = _first_line_letter(s)
    if first is not None:
        return _decide([first], valid)
    # tier 1: explicit answer phrases
    found = []
    for rx in (_TIER1, _TIER1_EN):
        for m in rx.finditer(s):
            found.append((m.start(), _letters_of_run(m.group(1))))
    if found:
        return _decide([c for _, ls in sorted(found) for c in ls], valid)
    # tier 2: 选X (not negated), X正确
    letters = []
    for m in _TIER2_SELECT.finditer(s):
        before = s[max(0, m.start() - 2):m.start()]
        if before[-1:] in _NEGATIONS or before in ("不能", "不应", "不可"):
            continue
        letters.extend(_letters_of_run(m.group(1)))
    for m in _TIER2_CORRECT.finditer(s):
        letters.append(m.group(1))
    if letters:
        return _decide(letters, valid)
    # tier 3: lines that start like an option
    for line in s.splitlines():
        m = _TIER3.match(line)
        if m:
            letters.append(next(g for g in m.groups() if g).upper())
    letters = [c for c in letters if c in valid]
    if letters:
        return _decide(letters, valid)
    # tier 4: any standalone capital among the valid options
    letters = [c for c in _TIER4.findall(s) if c in valid]
    if letters:
        return _decide(letters, valid)
    return None, "none"


def parse_choice_text(output: str, n_options: int = 4) -> str | None:
    """The option letter the output names, or None if it names no single valid option."""
    return _parse_choice(output, n_options)[0]


def _argmax_letter(letter_logits: dict[str, float] | None, n_options: int) -> str | None:
    if not letter_logits:
        return None
    best, best_v = None, -math.inf
    for c in _valid_letters(n_options):
        v = letter_logits.get(c)
        if v is None:
            continue
        v = float(v)
        if math.isnan(v):
            continue
        if best is None or v > best_v:
            best, best_v = c, v
    return best


def score_single_choice(output: str, gold: str, letter_logits: dict[str, float] | None = None,
                        n_options: int = 4) -> tuple[str, float]:
    """(parsed letter or 'E', 0/1). Text first; logits (first generated position) only if no letter is named."""
    letter, status = _parse_choice(output, n_options)
    if letter is None and status == "none":
        letter = _argmax_letter(letter_logits, n_options)
    parsed = letter or "E"
    g = (gold or "").strip().upper()
    return parsed, float(parsed != "E" and parsed == g)


# --------------------------------------------------------------------------------------- true/false
# Phrases that ask or name the question rather than answer it ("正确吗", "是否正确", "对不对").
_TF_NEUTRAL = re.compile(r"是否正确|是否对|正确与否|对不对|对与错|对错|正误|正确吗|对吗|错吗|错误吗")
_TF_NEG_FALSE = ("不是错误", "不是错的", "并非错误", "并不错误", "并没有错", "没有错误", "没有错", "没错",
                 "不算错", "无误", "不错")
_TF_NEG_TRUE = ("不是正确", "并不正确", "并非正确", "不正确", "不是对的", "不是对", "并不对", "不对", "不准确",
                "不成立")
# 对/错 in words where they do not mean right/wrong
_DUI_WORDS = re.compile(r"对于|对比|对应|对待|对象|对称|对话|对方|对照|对手|对面|对策|对外|对内|对抗|对立|对岸|"
                        r"对付|对接|对决|对齐|对数|对角|对联|对偶|针对|相对|绝对|面对|反对|核对|配对|一对|成对|"
                        r"校对|应对|敌对|比对|派对|对着|对他|对她|对我|对你|对其|对此|对该")
_CUO_WORDS = re.compile(r"错过|交错|错落|错综|错开|错位|差错|出错率")
_TF_TRUE_SYM = re.compile(r"正确|对|√|✓|✔")
_TF_FALSE_SYM = re.compile(r"错误|错|×|✗|✘")
_TF_TRUE_LATIN = re.compile(r"(?<![A-Za-z0-9])(?:T|V|True|TRUE|true)(?![A-Za-z0-9])")
_TF_FALSE_LATIN = re.compile(r"(?<![A-Za-z0-9])(?:F|X|False|FALSE|false)(?![A-Za-z0-9])")
# English answers in any case: yes/no, correct/incorrect/wrong; "not correct" and "not wrong" first.
_TF_EN_NEG_TRUE = re.compile(r"(?i)(?<![A-Za-z])not\s+(?:correct|true|right)(?![A-Za-z])")
_TF_EN_NEG_FALSE = re.compile(r"(?i)(?<![A-Za-z])not\s+(?:wrong|incorrect|false)(?![A-Za-z])")
_TF_TRUE_EN = re.compile(r"(?i)(?<![A-Za-z])(?:yes|correct)(?![A-Za-z])")
_TF_FALSE_EN = re.compile(r"(?i)(?<![A-Za-z])(?:no|incorrect|wrong)(?![A-Za-z])")


def parse_true_false(output: str) -> str:
    """'T', 'F' or 'E' (no answer, or both a true and a false signal)."""
    if not output or not output.strip():
        return "E"
    s = _fw(output).strip()
    core = s.strip(_PUNCT)
    if core in ("t", "v", "是", "是的", "对的", "真"):
        return "T"
    if core in ("f", "x", "否", "不是", "错的", "假"):
        return "F"
    true = false = 0
    s = _TF_NEUTRAL.sub(" ", s)
    false += len(_TF_EN_NEG_TRUE.findall(s))
    true += len(_TF_EN_NEG_FALSE.findall(s))
    s = _TF_EN_NEG_FALSE.sub(" ", _TF_EN_NEG_TRUE.sub(" ", s))
    true += len(_TF_TRUE_EN.findall(s))
    false += len(_TF_FALSE_EN.findall(s))
    s = _TF_FALSE_EN.sub(" ", _TF_TRUE_EN.sub(" ", s))
    for w in _TF_NEG_FALSE:
        true += s.count(w)
        s = s.replace(w, " ")
    for w in _TF_NEG_TRUE:
        false += s.count(w)
        s = s.replace(w, " ")
    s = _DUI_WORDS.sub(" ", s)
    s = _CUO_WORDS.sub(" ", s)
    true += len(_TF_TRUE_SYM.findall(s)) + len(_TF_TRUE_LATIN.findall(s))
    false += len(_TF_FALSE_SYM.findall(s)) + len(_TF_FALSE_LATIN.findall(s))
    if true and not false:
        return "T"
    if false and not true:
        return "F"
    return "E"


def gold_true_false(gold: str) -> str:
    """The gold answer text mapped to 'T'/'F' ('E' if it is neither)."""
    return parse_true_false(gold)


_TF_GOLD_WORDS = {"正确": "T", "对": "T", "T": "T", "√": "T", "V": "T", "True": "T", "true": "T", "对的": "T",
                  "错误": "F", "错": "F", "F": "F", "×": "F", "X": "F", "False": "F", "false": "F", "错的": "F",
                  "不对": "F", "不正确": "F"}


def _strict_tf_gold(gold: str) -> str | None:
    return _TF_GOLD_WORDS.get(_fw(gold).strip().strip(" 。.！!"))


# -------------------------------------------------------------------------------------------- cloze
_CLOZE_PREFIX = re.compile(r"(?:答案|答\s*:|应填(?:入|写)?|填入|填写)\s*(?:应该是|应为|应是|是|为)?\s*:?")


# Single CJK characters written with spaces between them ("春 风"): one word.
_SPACED_CJK = re.compile(f"(?<![{_CJK}])[{_CJK}](?:[ \t]+[{_CJK}](?![{_CJK}]))+")


def parse_cloze(output: str) -> str:
    """The first run of CJK characters after an answer prefix; quotes and punctuation dropped, single
    characters written with spaces between them (``春 风``) joined."""
    if not output:
        return ""
    s = _fw(output).strip()
    prefixes = list(_CLOZE_PREFIX.finditer(s))
    if prefixes:
        s = s[prefixes[-1].end():]  # "答案：" with nothing after it is no answer
    s = _SPACED_CJK.sub(lambda m: re.sub(r"\s+", "", m.group(0)), s.strip(_PUNCT))
    m = _CJK_RUN.search(s)
    if m:
        return m.group(0)
    return s.split()[0].strip(_PUNCT) if s.split() else ""


# ------------------------------------------------------------------------------------- multi-select
_ANSWER_WORDS = {"answer", "answers", "final", "is", "are", "the", "and", "or", "correct", "option", "options",
                 "choice", "choices", "my"}


def _letters_on_line(line: str) -> frozenset[str]:
    words = re.findall(r"[A-Za-z]+", line)
    upper = [w for w in words if re.fullmatch(r"[A-F]+", w)]
    if upper:
        return frozenset("".join(upper))
    lower = [w for w in words if re.fullmatch(r"[a-f]+", w) and w not in _ANSWER_WORDS]
    others = [w for w in words if w not in lower]
    if lower and all(w.lower() in _ANSWER_WORDS for w in others):
        return frozenset("".join(lower).upper())
    return frozenset()


# A line that holds nothing but the answer: letters, separators and answer words ("AC", "答案：A、C").
_MS_ANSWER_WORDS = re.compile(r"(?i)正确答案|最终答案|答案|故选|所以选|因此选|应选|选择|答|选|应为|应是|是|为|"
                              r"(?<![a-z])(?:final|answer|is|the|and|or)(?![a-z])")
_MS_ONLY_LETTERS = re.compile(r"[\sA-Fa-f、,;/&和与及()\[\].。:!]*[A-Fa-f][\sA-Fa-f、,;/&和与及()\[\].。:!]*")
_MS_PHRASE = re.compile(r"(?:正确答案|最终答案|答案|故选|所以选|因此选|应选)\s*(?:是|为|应为)?\s*:?\s*"
                        r"((?<![A-Za-z])[A-F](?:[\s、,和与及]*[A-F])*(?![A-Za-z]))")


def parse_multi_select(output: str) -> frozenset[str]:
    """Letters A-F of the answer: the first line when it holds nothing but the answer and explanation
    follows (``AC\n解析：B项……``); else the last non-empty line (standalone tokens or a run of capitals
    like ``ABD``); else the last answer phrase (``答案：BD``) anywhere."""
    if not output:
        return frozenset()
    lines = [line for line in _fw(output).splitlines() if line.strip()]
    if not lines:
        return frozenset()
    if len(lines) > 1 and _MS_ONLY_LETTERS.fullmatch(_MS_ANSWER_WORDS.sub(" ", lines[0])):
        got = _letters_on_line(lines[0])
        if got:
            return got
    got = _letters_on_line(lines[-1])
    if got:
        return got
    phrases = _MS_PHRASE.findall(_fw(output))
    return frozenset(re.findall("[A-F]", phrases[-1])) if phrases else frozenset()


# --------------------------------------------------------------------------------------------- math
def _match_brace(s: str, i: int) -> int | None:
    """Index of the '}' matching the '{' at s[i], or None if unbalanced."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return None


def _strip_outer_braces(s: str) -> str:
    s = s.strip()
    while len(s) >= 2 and s[0] == "{" and _match_brace(s, 0) == len(s) - 1:
        s = s[1:-1].strip()
    return s


def _last_boxed(s: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...} with balanced braces (or ``\\boxed 5``)."""
    for m in reversed(list(re.finditer(r"\\(?:boxed|fbox)", s))):
        j = m.end()
        while j < len(s) and s[j] == " ":
            j += 1
        if j < len(s) and s[j] == "{":
            k = _match_brace(s, j)
            if k is None:
                continue
            return _strip_outer_braces(s[j + 1:k])
        if j > m.end():  # "\boxed 5"
            tok = re.match(r"[^\s$]+", s[j:])
            if tok:
                return tok.group(0)
    return None


_MATH_SEG = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_LIST_JOIN = re.compile(r"\s*(?:或者|或|和|以及|及|,|，|、|and|or)\s*")
_NUM = (r"(?:(?<![0-9A-Za-z)\]}])-)?(?<![0-9.])\d+(?:,\d{3})*(?:\.\d+)?"
        r"(?:\s*/\s*-?\d+(?:\.\d+)?)?")
_FRAC_TEX = r"-?\\[dt]?frac\s*(?:\{[^{}]*\}|\d)\s*(?:\{[^{}]*\}|\d)"
_SQRT_TEX = r"-?\d*\\sqrt\s*(?:\{[^{}]*\}|\d+)"
# An interval or point written in a sentence ("取值范围是 [2,5]", "(0, 4)"), and a lettered choice "(C)".
_BOUND = r"[-+0-9A-Za-z\\{}./^∞√π ]*?(?:\d|∞|\\infty)[-+0-9A-Za-z\\{}./^∞√π ]*?"
_INTERVAL = rf"[(（\[【]\s*{_BOUND}\s*[,，]\s*{_BOUND}\s*[)）\]】]"
_CHOICE = r"[(（]\s*[A-E]\s*[)）]"
_LAST_TOKEN = re.compile(f"{_INTERVAL}|{_CHOICE}|{_FRAC_TEX}|{_SQRT_TEX}|{_NUM}")
_STOP_AFTER_EQ = re.compile(f"[\n{_CJK}。，；！？;]")
# Roots written as assignments joined by 或/和/commas: "x=2或x=-5", "x_1=2, x_2=-5".
_VAR = r"[A-Za-z](?:_\{?[0-9A-Za-z]+\}?|[₀-₉]+)?"
_VALUE = rf"[^,，、;；。\n$=或和及{_CJK}]+"
_ASSIGN = rf"{_VAR}\s*=\s*({_VALUE})"
_ASSIGN_SEP = r"\s*(?:,|，|、|;|；|或者|或|和|及|and|or)\s*"
_ASSIGN_CHAIN = re.compile(rf"(?<![A-Za-z\\]){_ASSIGN}(?:{_ASSIGN_SEP}{_ASSIGN})+")
_ASSIGN_ONE = re.compile(rf"(?<![A-Za-z\\]){_ASSIGN}")
# A text answer after 答案 ("答案：不存在"): CJK and punctuation only.
_TEXT_ANSWER = re.compile(rf"[{_CJK}]+")


def _math_segments(s: str) -> str | None:
    segs = list(_MATH_SEG.finditer(s))
    segs = [m for m in segs if next(g for g in m.groups() if g is not None).strip()]
    if not segs:
        return None
    parts = [segs[-1]]
    for m in reversed(segs[:-1]):
        between = s[m.end():parts[0].start()]
        if between and _LIST_JOIN.fullmatch(between):
            parts.insert(0, m)
        else:
            break
    return ", ".join(next(g for g in m.groups() if g is not None).strip() for m in parts)


def extract_math_answer(output: str) -> str | None:
    """The final answer of a chain of thought (paper's order: 答案, boxed/fbox, $...$, '=', last number)."""
    if not output or not output.strip():
        return None
    s = output.replace("−", "-").replace("－", "-").replace("＝", "=").translate(
        str.maketrans({chr(0xFF10 + i): chr(0x30 + i) for i in range(10)}))
    after_answer = None
    if "答案" in s:
        rest = s.split("答案")[-1]
        if re.search(r"[0-9A-Za-z\\√∞]", rest):
            s = rest
            after_answer = re.sub(r"^\s*(?:应该是|应为|应是|是|为)?\s*[:：]?\s*", "", rest).strip().rstrip("。.").strip()
        else:
            text = re.sub(r"^\s*(?:应该是|应为|应是|是|为)?\s*[:：]?\s*", "", rest).strip(_PUNCT)
            if _TEXT_ANSWER.fullmatch(text):
                return text  # "答案：不存在"
    ans = _last_boxed(s)
    if ans is None:
        ans = _math_segments(s)
    whole = after_answer
    if whole is None and (re.search(r"[\\^√]", s) and not re.search(r"\\(?:boxed|fbox)", s)
                          or re.fullmatch(r"\s*-?\d*\.?\d+(?:\s*[,，]\s*-?\d*\.?\d+)*\s*[.。]?\s*", s)):
        whole = s.strip().rstrip("。.").strip()  # a formula or a bare list of numbers
    if ans is None and whole and "\n" not in whole and not _CJK_RE.search(whole) \
            and not re.search(r"(?<![<>!=])=(?!=)", whole):
        ans = whole  # "答案：x^2+1", "3^{4}": a one-line answer without words is the answer as written
    if ans is None:
        chains = list(_ASSIGN_CHAIN.finditer(s))
        if chains and not re.search(r"(?<![<>!=])=(?!=)", s[chains[-1].end():]):
            ans = ", ".join(v.strip() for v in _ASSIGN_ONE.findall(chains[-1].group(0)))
    if ans is None and re.search(r"(?<![<>!=])=(?!=)", s):
        tail = re.split(r"(?<![<>!=])=(?!=)", s)[-1]
        tail = re.sub(r"\s*(?:或者|或)\s*", ", ", tail)
        tail = _STOP_AFTER_EQ.split(tail, 1)[0].strip().rstrip(".").strip()
        if re.search(r"[0-9A-Za-z\\]", tail):
            ans = tail
    if ans is None:
        toks = list(_LAST_TOKEN.finditer(s))
        if toks:
            ans = max(toks, key=lambda m: (m.end(), -m.start())).group(0)
    if ans is None:
        return None
    ans = re.sub(r"\s*(?:或者|或)\s*", ", ", ans).strip()
    return ans or None


def _fix_fracs(s: str) -> str:
    substrs = s.split("\\frac")
    new = substrs[0]
    for sub in substrs[1:]:
        new += "\\frac"
        if sub[:1] == "{":
            new += sub
        else:
            if len(sub) < 2:
                return s
            a, b = sub[0], sub[1]
            if b != "{":
                new += "{" + a + "}{" + b + "}" + sub[2:]
            else:
                new += "{" + a + "}" + b + sub[2:]
    new = re.sub(r"\\frac\{([^{}]*)\}(\d)", r"\\frac{\1}{\2}", new)
    return new


def _fix_sqrt(s: str) -> str:
    if "\\sqrt" not in s:
        return s
    parts = s.split("\\sqrt")
    new = parts[0]
    for p in parts[1:]:
        if p[:1] and p[0] != "{" and p[0] != "[":
            new += "\\sqrt{" + p[0] + "}" + p[1:]
        else:
            new += "\\sqrt" + p
    return new


def _fix_a_slash_b(s: str) -> str:
    m = re.fullmatch(r"(-?)(\d+)/(\d+)", s)
    if m:
        return f"{m.group(1)}\\frac{{{int(m.group(2))}}}{{{int(m.group(3))}}}"
    return s


_UNITS = (r"(?:cm|mm|km|m|dm|kg|mg|g|ml|mL|l|L|s|sec|min|h|hr|hrs|hours?|minutes?|seconds?|days?|"
          r"degrees?|deg|inch(?:es)?|feet|ft|meters?|units?|dollars?|cents?|yuan|cm\^2|cm\^3|m\^2|m\^3)")
_TEXT_CMD = r"\\(?:text|mbox|mathrm|textbf|textrm)"


def _remove_text_units(s: str) -> str:
    # a whole-answer \text{...}: unwrap
    m = re.fullmatch(_TEXT_CMD + r"\s*\{(.*)\}", s.strip(), re.S)
    if m and _match_brace(s.strip(), s.strip().index("{")) == len(s.strip()) - 1:
        return m.group(1).strip()
    # a trailing \text{...} after something: a unit
    m = re.search(_TEXT_CMD + r"\s*\{[^{}]*\}\s*(?:\^\{?\d\}?)?\s*$", s)
    if m and s[:m.start()].strip():
        return s[:m.start()]
    return s


_ASSIGNED = re.compile(rf"\s*{_VAR}\s*=\s*(.+)", re.S)
_PLAIN = str.maketrans({"，": ",", "、": ",", "（": "(", "）": ")", "【": "[", "】": "]", "；": ";", "∞": "\\infty ",
                        "π": "\\pi ", "×": "\\times ", "·": "\\cdot "})


def _plain_math(s: str) -> str:
    """Plain-text math as LaTeX: Chinese commas and brackets, ``√3``/``√(3)``/``sqrt(3)`` as ``\\sqrt{3}``,
    ``∞`` and ``π``, list words (或, 和)."""
    s = s.translate(_PLAIN)
    s = re.sub(r"√\s*\(([^()]*)\)|√\s*\{([^{}]*)\}|√\s*(\d+(?:\.\d+)?|[A-Za-z])",
               lambda m: "\\sqrt{" + next(g for g in m.groups() if g is not None) + "}", s)
    s = re.sub(r"(?<![\\A-Za-z])sqrt\s*\(([^()]*)\)", r"\\sqrt{\1}", s)
    return re.sub(r"\s*(?:或者|或|和|以及|及)\s*", ",", s)


# The same extracted answers and golds recur across a table's rows (11 thousand calls, 2 thousand texts).
@functools.lru_cache(maxsize=8192)
def normalize_math(s: str) -> str:
    """Hendrycks-MATH ``strip_string`` plus unit, minus, ``\\boxed`` and trailing-zero fixes (see module doc)."""
    if s is None:
        return ""
    s = str(s).strip()
    s = s.replace("−", "-").replace("－", "-").translate(
        str.maketrans({chr(0xFF10 + i): chr(0x30 + i) for i in range(10)}))
    boxed = _last_boxed(s)
    if boxed is not None:
        s = boxed
    s = s.replace("\n", "")
    s = s.replace("\\$", "").replace("$", "")
    s = s.strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2]
    s = _plain_math(s)
    s = s.strip().rstrip("。").strip()
    if s.endswith(".") and not s.endswith("..."):
        s = s[:-1]
    s = s.replace("\\!", "")
    for thin in ("\\,", "\\;", "\\:", "\\quad", "\\qquad", "\\ ", "~"):
        s = s.replace(thin, " ")
    s = s.replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("°", "")
    s = _remove_text_units(s)
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    if s.startswith("-."):
        s = "-0." + s[2:]
    parts = _split_top(s)
    values = [_ASSIGNED.fullmatch(p) for p in parts]
    if len(parts) > 1 and all(values):  # "x_1=2, x_2=-5": the roots
        s = ",".join(v.group(1).strip() for v in values)
    if len(s.split("=")) == 2 and len(s.split("=")[0]) <= 2:
        s = s.split("=")[1]
    s = _fix_sqrt(s)
    s = s.replace(" ", "")
    # bare units or CJK after a number: 5cm, 5个, 30度
    m = re.fullmatch(rf"(-?\d+(?:,\d{{3}})*(?:\.\d+)?)(?:{_UNITS}|[{_CJK}]+)", s)
    if m:
        s = m.group(1)
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    s = _fix_a_slash_b(s)
    m = re.fullmatch(r"(-?\d+)\.0+", s)
    if m:
        s = m.group(1)
    if s == "-0":
        s = "0"
    return s


_FRAC_NUM = re.compile(r"(-?)\\frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}")


def _as_number(s: str) -> Fraction | None:
    """A normalised answer as an exact rational number, or None."""
    if re.fullmatch(r"-?\d+(?:\.\d+)?", s):
        return Fraction(s)
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        return Fraction(s.replace(",", ""))
    m = _FRAC_NUM.fullmatch(s)
    if m and Fraction(m.group(3)) != 0:
        v = Fraction(m.group(2)) / Fraction(m.group(3))
        return -v if m.group(1) else v
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)/(-?\d+(?:\.\d+)?)", s)
    if m and Fraction(m.group(2)) != 0:
        return Fraction(m.group(1)) / Fraction(m.group(2))
    return None


def _split_top(s: str) -> list[str]:
    """Split on commas that are not inside braces/brackets/parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def _equiv_single(a: str, b: str) -> bool:
    if a == b:
        return True
    na, nb = _as_number(a), _as_number(b)
    return na is not None and nb is not None and na == nb


def _unordered_equal(xs: list[str], ys: list[str]) -> bool:
    if len(xs) != len(ys):
        return False
    left = list(ys)
    for x in xs:
        for i, y in enumerate(left):
            if _equiv_single(x, y):
                del left[i]
                break
        else:
            return False
    return True


_WRAPS = (("(", ")"), ("[", "]"), ("\\{", "\\}"), ("{", "}"))


def _equiv_normalized(a: str, b: str) -> bool:
    if not a or not b:
        return False
    if _equiv_single(a, b):
        return True
    # a thousands separator is a number, not a list
    if _as_number(a) is not None and _as_number(b) is not None:
        return False
    for op, cl in _WRAPS:
        if a.startswith(op) and a.endswith(cl) and b.startswith(op) and b.endswith(cl):
            xs, ys = _split_top(a[len(op):-len(cl)]), _split_top(b[len(op):-len(cl)])
            if len(xs) > 1 or len(ys) > 1:
                if op == "\\{":  # a set
                    return _unordered_equal([normalize_math(x) for x in xs], [normalize_math(y) for y in ys])
                return len(xs) == len(ys) and all(
                    _equiv_single(normalize_math(x), normalize_math(y)) for x, y in zip(xs, ys))
    xs, ys = _split_top(a), _split_top(b)
    if len(xs) > 1 and len(ys) > 1:
        return _unordered_equal([normalize_math(x) for x in xs], [normalize_math(y) for y in ys])
    return False


_EQ_SPLIT = re.compile(r"(?<![<>!=\\])=(?!=)")


def math_equiv(pred: str | None, gold: str) -> bool:
    """Whether a predicted math answer equals the gold one (normalised, numeric, list-aware). Never raises."""
    try:
        if pred is None or gold is None:
            return False
        pred, gold = str(pred), str(gold)
        if not pred.strip() or not gold.strip():
            return False
        a, b = normalize_math(pred), normalize_math(gold)
        if _equiv_normalized(a, b):
            return True
        if _EQ_SPLIT.search(pred) and not _EQ_SPLIT.search(gold) \
                and _equiv_normalized(normalize_math(_EQ_SPLIT.split(pred)[-1]), b):
            return True
        if not a or not b or (_as_number(a) is not None and _as_number(b) is not None):
            return False  # two numbers were compared exactly above
        return _symbolic_equiv(a, b)
    except Exception:  # noqa: BLE001 - a grader must never crash on odd text
        try:
            return pred.strip() == gold.strip()
        except Exception:  # noqa: BLE001
            return False




def _symbolic_equiv(pred: str, gold: str) -> bool:
    """Equality by value (``3^{4}`` = ``81``, ``\\frac{2}{\\sqrt{3}}`` = ``\\frac{2\\sqrt{3}}{3}``, sets, intervals)
    with Hugging Face's math-verify on two normalised answers, under a CPU-time limit
    (``grading.symbolic.symbolic_equiv``). The limit is a signal, which only the main thread can set:
    elsewhere the symbolic step is skipped (the answers count as different). Never raises."""
    if threading.current_thread() is not threading.main_thread():
        return False
    return _symbolic_equiv_main(pred, gold)


@functools.lru_cache(maxsize=8192)
def _symbolic_equiv_main(pred: str, gold: str) -> bool:
    from .grading.symbolic import symbolic_equiv

    return symbolic_equiv(pred, gold)


_NEGATING = "不没非无未"


def _states_text(output: str, gold: str) -> bool:
    """Whether an output ends by stating a text answer (gold ``不存在``: ``所以这样的实数 a 不存在。``)."""
    want = _remove_text_units(normalize_math(gold)).strip(_PUNCT)
    if not want or not _TEXT_ANSWER.fullmatch(want):
        return False
    clauses = [c.strip(_PUNCT) for c in re.split(r"[。；;！!？?\n，,]", output)]
    last = next((c for c in reversed(clauses) if c), "")
    before = last[:-len(want)][-1:]
    return last.endswith(want) and not (before and before in _NEGATING)


def score_math(output: str, gold_answer: str) -> tuple[str | None, float]:
    """(extracted answer or None, 0/1). A text answer (``不存在``) also counts when the output's last
    clause states it."""
    ans = extract_math_answer(output) if output else None
    if math_equiv(ans, gold_answer):
        return ans, 1.0
    try:
        return ans, float(bool(output) and _states_text(output, gold_answer))
    except Exception:  # noqa: BLE001 - a grader must never crash on odd text
        return ans, 0.0


# ------------------------------------------------------------------------------------------ ranking
def score_ranking(choice_logprobs: list[float], choice_lengths: list[int]) -> tuple[int, float]:
    """(index of the lowest-perplexity candidate, 1 if the gold (index 0) is among the lowest)."""
    if not choice_logprobs or len(choice_logprobs) != len(choice_lengths):
        raise ValueError(f"ranking needs one log-prob and one length per candidate, got "
                         f"{len(choice_logprobs or [])} and {len(choice_lengths or [])}")
    means = []
    for lp, n in zip(choice_logprobs, choice_lengths):
        if n is None or n <= 0:
            raise ValueError(f"candidate length must be positive, got {n!r}")
        lp = float(lp)
        means.append(-math.inf if math.isnan(lp) else lp / n)
    best = max(range(len(means)), key=lambda i: (means[i], -i))
    score = float(all(means[0] >= m for m in means[1:]))
    return best, score


# ------------------------------------------------------------------------------- records and kinds
_OPTION_LINE = re.compile(r"^\s*(?:[(（\[【]\s*([A-H])\s*[)）\]】]|([A-H])\s*[.．、:：)）])")


def parse_options(prompt: str) -> list[str]:
    """Option letters of a question (lines 'A. ...', 'A．', 'A、', '(A)', 'A:'), e.g. ['A', 'B', 'C']."""
    return list(_option_letters(prompt))


# Grading a table asks each of its few hundred questions for its options thousands of times.
@functools.lru_cache(maxsize=1 << 12)
def _option_letters(prompt: str) -> tuple[str, ...]:
    if not prompt:
        return ()
    found = []
    for line in prompt.splitlines():
        m = _OPTION_LINE.match(line)
        if m:
            found.append(m.group(1) or m.group(2))
    if "A" not in found:
        return ()
    start = len(found) - 1 - found[::-1].index("A")  # the last option block
    out = ["A"]
    for c in found[start + 1:]:
        if len(out) < len(_ALL_LETTERS) and c == _ALL_LETTERS[len(out)]:
            out.append(c)
    return tuple(out)


def _gold(record: dict) -> str:
    return record["messages"][-1]["content"]


def _question(record: dict) -> str:
    msgs = record["messages"]
    return msgs[-2]["content"] if len(msgs) >= 2 else ""


def _is_single_letter(s: str) -> bool:
    core = _fw(s).strip().strip(_PUNCT)
    return len(core) == 1 and core.upper() in _ALL_LETTERS


def item_kind(record: dict) -> str:
    """ranking | math | multi_select | true_false | single_choice | cloze (see the module docstring)."""
    if record.get("question_format", 0) == 1:
        return "ranking"
    t = record.get("type", "")
    if t == "math":
        return "math"
    if t == "ethics":
        return "multi_select"
    gold, question = _gold(record), _question(record)
    blank = "__" in question or "＿" in question
    if t != "chinese" and not blank and _strict_tf_gold(gold):
        return "true_false"
    if _is_single_letter(gold) or (len(parse_options(question)) >= 2 and parse_choice_text(gold, 8)):
        return "single_choice"
    return "cloze"


def _n_options(record: dict) -> int:
    n = len(parse_options(_question(record)))
    n = n if n >= 2 else 4
    g = parse_choice_text(_gold(record), len(_ALL_LETTERS))
    if g is not None:
        n = max(n, _ALL_LETTERS.index(g) + 1)
    return n


def gold_letter(record: dict) -> str:
    """The gold letter of a single-choice record."""
    g = parse_choice_text(_gold(record), len(_ALL_LETTERS))
    if g is None:
        raise ValueError(f"gold answer {_gold(record)!r} names no single option letter")
    return g


def expected_score(record: dict) -> float:
    """Random-guess expectation for one item (the grey dotted line of the paper's figures)."""
    kind = item_kind(record)
    if kind == "ranking":
        return 1.0 / len(record.get("choices") or [0, 0, 0])
    if kind in ("math", "cloze"):
        return 0.0
    if kind == "true_false":
        return 0.5
    if kind == "single_choice":
        return 1.0 / _n_options(record)
    # multi_select
    k = len(parse_multi_select(_gold(record)))
    n = len(parse_options(_question(record)))
    n = n if n >= max(2, k) else max(4, k)
    if k == 0:
        return 0.0
    return 1.0 / math.comb(n, k)


def _option_texts(question: str) -> dict[str, str]:
    out = {}
    for line in question.splitlines():
        m = _OPTION_LINE.match(line)
        if m:
            out[m.group(1) or m.group(2)] = _fw(line[m.end():]).strip().strip(_PUNCT)
    return out


def mean_scores(scores: list[float]) -> float:
    """Plain mean (0.0 for no scores). The authors divided by twice the count; this does not."""
    scores = list(scores)
    return float(sum(scores) / len(scores)) if scores else 0.0
