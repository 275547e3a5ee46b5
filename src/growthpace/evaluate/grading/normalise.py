"""Stage 2 of careful grading: one writing for answers written in many.

Traditional characters to simplified (OpenCC ``t2s``), full-width letters, digits and punctuation to
ASCII, markdown emphasis dropped, an answer block's tag (``【答案】``) as an answer phrase and the tags
that end a section (``<eoa>``, ``</s>``) dropped, Chinese number words to digits (cn2an: ``两千五百`` -> 2500,
``二分之一`` -> 1/2, ``百分之五十`` -> 50%, ``负三`` -> -3, ``壹拾贰`` -> 12), English number words
(``one half``, ``negative three``, ``one thousand``) to digits, and the writings of a math answer
that name the same value: scientific notation, mixed numbers, digit groups, ratios, ``根号``, ``±``
and inequalities that describe an interval (``2≤x≤5`` -> ``[2,5]``, ``x>3`` -> ``(3,+\\infty)``).
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

from ..scorers import _FULLWIDTH

# the answer readers' full-width table, plus the ratio colon and full-width comparison signs
_WIDTH = str.maketrans({**_FULLWIDTH, "∶": ":", "＜": "<", "＞": ">"})
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")
_VULGAR = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5", "⅛": "1/8"}


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc  # OpenCC's own dictionaries: a hand-kept table would miss most characters

    return opencc.OpenCC("t2s")


def simplified(s: str) -> str:
    """Traditional characters to simplified ones."""
    return _t2s().convert(s) if s else s


def width(s: str) -> str:
    """Full-width letters, digits and punctuation to ASCII."""
    return s.translate(_WIDTH)


def markdown(s: str) -> str:
    """Markdown emphasis and code marks dropped (``**B**`` -> ``B``)."""
    return re.sub(r"\*\*|__|`", "", s)


# an answer block's tag (【答案】, [正确答案]) and the end-of-section tags of benchmark prompts and chat
# templates (<eoa>, <eoe>, <eot>, </s>, <|im_end|>, <|endoftext|>, <|eot_id|>)
_ANSWER_TAG = re.compile(r"\[\s*((?:正确|最终|参考)?答案)\s*\][ \t]*:?[ \t]*")
_END_TAG = re.compile(r"<\s*(?:eo[aetsq]|/s|\|(?:im_end|endoftext|eot_id|end)\|)\s*>", re.I)


def tags(s: str) -> str:
    """An answer block's tag as an answer phrase (``[答案]0.5`` -> ``答案:0.5``) and end-of-section tags
    dropped: one that ends the text, and a line break for one inside it."""
    s = _ANSWER_TAG.sub(r"\1:", s)
    s = re.sub(rf"(?:\s*{_END_TAG.pattern})+\s*$", "", s, flags=re.I)
    return re.sub(rf"[ \t]*{_END_TAG.pattern}[ \t]*\n?", "\n", s, flags=re.I)


# Grading a table reads the same questions, golds and outputs many times over (five thousand distinct
# texts in the demo's 150 thousand calls): each is normalised once.
@functools.lru_cache(maxsize=8192)
def text(s: str | None) -> str:
    """The writing every kind reads: simplified, ASCII width, no markdown emphasis, answer tags as
    answer phrases and no end-of-section tags."""
    return tags(markdown(width(simplified(s or ""))))


# ------------------------------------------------------------------------------------ number words
_CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟"


def cn_number(s: str) -> str | None:
    """A whole string of Chinese numerals as a decimal string (``十二`` -> ``12``), else None."""
    s = s.strip()
    if not s or any(c not in _CN_NUMERAL + "负点" for c in s):
        return None
    import cn2an

    try:
        v = cn2an.cn2an(s, "smart")
    except Exception:  # noqa: BLE001 - cn2an raises ValueError and others on what is not a number
        return None
    return str(int(v)) if float(v).is_integer() else str(v)


def cn_numbers_in(s: str) -> str:
    """Chinese number words inside a text to digits (fractions and percentages too), left as they are
    where cn2an cannot read them."""
    if not re.search(f"[{_CN_NUMERAL}]", s):
        return s
    import cn2an

    try:
        s = cn2an.transform(s, "cn2an")
    except Exception:  # noqa: BLE001
        pass
    # financial numerals (玖, 壹拾贰), which transform leaves as they are
    return re.sub("[零壹贰叁肆伍陆柒捌玖拾佰仟万亿]+", lambda m: cn_number(m.group(0)) or m.group(0), s)


_EN_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_EN_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
            if i > 1}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 10 ** 6}
_EN_FRACTION = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4, "fourths": 4,
                "fifth": 5, "fifths": 5}
_EN_WORD = "|".join(sorted([*_EN_UNITS, *_EN_TENS, *_EN_SCALES, *_EN_FRACTION, "negative", "minus", "and", "a"],
                           key=len, reverse=True))
_EN_RUN = re.compile(rf"(?i)(?<![A-Za-z])(?:{_EN_WORD})(?:[\s-]+(?:{_EN_WORD}))*(?![A-Za-z])")


def _en_value(words: list[str]) -> str | None:
    sign = ""
    if words and words[0] in ("negative", "minus"):
        sign, words = "-", words[1:]
    words = [w for w in words if w != "and"]
    if len(words) >= 2 and words[-1] in _EN_FRACTION:
        num = _en_int(words[:-1] if words[0] != "a" else ["one"])
        return None if num is None else f"{sign}{num}/{_EN_FRACTION[words[-1]]}"
    n = _en_int(words)
    return None if n is None else f"{sign}{n}"


def _en_int(words: list[str]) -> int | None:
    if not words or any(w not in _EN_UNITS and w not in _EN_TENS and w not in _EN_SCALES for w in words):
        return None
    total = cur = 0
    for w in words:
        if w in _EN_UNITS:
            cur += _EN_UNITS[w]
        elif w in _EN_TENS:
            cur += _EN_TENS[w]
        elif w == "hundred":
            cur = max(cur, 1) * 100
        else:
            total += max(cur, 1) * _EN_SCALES[w]
            cur = 0
    return total + cur


def en_numbers_in(s: str) -> str:
    """English number words to digits (``one half`` -> 1/2, ``negative three`` -> -3); a lone ``a`` or
    ``and`` stays a word."""
    def repl(m: re.Match) -> str:
        words = [w.lower() for w in re.split(r"[\s-]+", m.group(0)) if w]
        if all(w in ("a", "and", "negative", "minus") for w in words):
            return m.group(0)
        v = _en_value(words)
        return m.group(0) if v is None else v
    return _EN_RUN.sub(repl, s)


def numbers_in(s: str) -> str:
    """Number words (Chinese and English) to digits, only in a text that writes no digits itself: in a
    text with digits, words such as 一个 are words, not answers."""
    if re.search(r"\d", s):
        return s
    return en_numbers_in(cn_numbers_in(s))


# ------------------------------------------------------------------------------------ math writings
_NUM = r"-?\d+(?:\.\d+)?"
_REL = {"<": "<", "\\lt": "<", ">": ">", "\\gt": ">", "≤": "<=", "\\le": "<=", "\\leq": "<=", "⩽": "<=", "<=": "<=",
        "≥": ">=", "\\ge": ">=", "\\geq": ">=", "⩾": ">=", ">=": ">="}
_REL_RX = r"(?:\\leq|\\geq|\\le|\\ge|\\lt|\\gt|<=|>=|≤|≥|⩽|⩾|<|>)"
_CHAIN = re.compile(rf"({_NUM})\s*({_REL_RX})\s*[a-z]\s*({_REL_RX})\s*({_NUM})")
_ONE_SIDE = re.compile(rf"(?<![\w\\])[a-z]\s*({_REL_RX})\s*({_NUM})(?![\d.])")


def _interval(lo: str, lo_closed: bool, hi: str, hi_closed: bool) -> str:
    return ("[" if lo_closed else "(") + f"{lo},{hi}" + ("]" if hi_closed else ")")


def inequalities(s: str) -> str:
    """Inequalities that describe an interval written as that interval, in ``$...$``."""
    def chain(m: re.Match) -> str:
        r1, r2 = _REL[m.group(2)], _REL[m.group(3)]
        if r1[0] != r2[0]:
            return m.group(0)
        if r1[0] == "<":
            return "$" + _interval(m.group(1), r1 == "<=", m.group(4), r2 == "<=") + "$"
        return "$" + _interval(m.group(4), r2 == ">=", m.group(1), r1 == ">=") + "$"

    def one(m: re.Match) -> str:
        if re.search(rf"{_REL_RX}\s*$", m.string[:m.start()]):  # part of a chain left as it is
            return m.group(0)
        r, v = _REL[m.group(1)], m.group(2)
        if r[0] == ">":
            return "$" + _interval(v, r == ">=", "+\\infty", False) + "$"
        return "$" + _interval("-\\infty", False, v, r == "<=") + "$"
    s = _CHAIN.sub(chain, s)
    return _ONE_SIDE.sub(one, s)


def _sci(m: re.Match) -> str:
    try:
        v = Decimal(m.group(1)) * (Decimal(10) ** int(m.group(2)))
    except (InvalidOperation, ValueError):
        return m.group(0)
    out = format(v.normalize(), "f")
    return out


_SCI_TIMES = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:×|\\times|\\cdot|\*)\s*10\s*\^\s*\{?\s*(-?\d+)\s*\}?")
_SCI_E = re.compile(r"(?<![A-Za-z\\])(-?\d+(?:\.\d+)?)[eE]([-+]?\d+)(?![\d.])")
_MIXED = re.compile(r"(?<![\d./])(\d+)\s*又\s*(\d+)\s*/\s*(\d+)(?![\d.])")
_GROUPS = re.compile(r"(?<![\d.,])(\d{1,3})((?: \d{3})+)(?![\d.])")
_RATIO = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:比|∶)\s*(\d+(?:\.\d+)?)(?![\d.])")
_ROOT = re.compile(r"根号\s*\(?(\d+(?:\.\d+)?|[a-z])\)?")
_PM = re.compile(r"(?:([a-z])\s*=\s*)?(?:±|\\pm)\s*(\d+(?:\.\d+)?|\\sqrt\{[^{}]*\}|\\frac\{[^{}]*\}\{[^{}]*\})")


def math_text(s: str) -> str:
    """A math output in one writing before its answer is extracted (see the module docstring)."""
    s = _SUPERSCRIPT_RUN.sub(lambda m: "^{" + m.group(0).translate(_SUPERSCRIPT) + "}", text(s))
    s = numbers_in(s)
    for k, v in _VULGAR.items():
        s = re.sub(rf"(\d)\s*{k}", rf"\1又{v}", s).replace(k, v)
    s = _MIXED.sub(lambda m: f"$\\frac{{{int(m.group(1)) * int(m.group(3)) + int(m.group(2))}}}{{{m.group(3)}}}$", s)
    s = _SCI_TIMES.sub(_sci, s)
    s = _SCI_E.sub(_sci, s)
    s = _GROUPS.sub(lambda m: m.group(1) + m.group(2).replace(" ", ""), s)
    s = _RATIO.sub(r"$\1:\2$", s)
    s = _ROOT.sub(r"\\sqrt{\1}", s)
    s = _PM.sub(lambda m: f"$ {m.group(2)}, -{m.group(2)} $", s)
    s = re.sub(r"(?<![\w\\])[a-z]\s*(?:∈|\\in)\s*", "", s)
    return inequalities(s)
