"""Stage 3 of careful grading: the found, normalised answer against the gold, per item kind.

Each matcher returns ``(parsed, score, ambiguous)``. They build on the answer readers of
``evaluate.scorers`` (the answer-phrase tiers of a choice, the true/false words, the cloze run, the
multi-select line, math extraction and equivalence) and add what a careful grader also reads:

- choice: conclusions after elimination (``最后只剩B``, ``所以最后是B``, ``本题选B``), the one option
  marked right in a markdown list or table (``- B：正确``, ``| B | ✓ |``), an option's text quoted in a
  sentence. Not candidates: the options ruled out (``选项A、C、D不符合题意``), the question's list of
  options copied back (``A．…\nB．…``, ``A:…;B:…``), a capital that names something else (``C语言``,
  ``维生素C``, ``C比Java快``) and an English article (``A lot of…``);
- true/false: paraphrases (``符合史实``/``不符合史实``, ``相符``/``不符``, ``成立``/``不成立``,
  ``有误``, ``accurate``/``inaccurate``), and a verdict whose reason contains the opposite word: the
  first sentence that gives a verdict decides unless a later sentence is a bare opposite verdict;
- cloze: the quoted word (``应填“还”``), answer prefixes (``应该填``, ``横线上是``, ``我认为是``),
  numbers in any writing (``4`` = ``四``, ``七天`` = ``七``), two answers joined by ``或`` ambiguous;
- multi-select: ``以上都对`` / ``All of the above`` (every option), exclusion (``除了B以外都对``),
  the options marked right in a markdown list or table;
- math: the answer extracted from ``normalise.math_text`` (number words, scientific notation, mixed
  numbers, ratios, inequalities as intervals; values listed after 答案, ``1和3``, as a list) and compared
  by ``scorers.math_equiv`` (two equations by their solutions: ``y=x+1`` = ``x-y+1=0``), whose symbolic
  step (math-verify, sympy) runs under a CPU-time limit (``symbolic.cpu_limited``) so no expression can hang it.
"""

from __future__ import annotations

import functools
import re

from .. import scorers as S
from . import normalise as N
from .symbolic import symbolic_equiv

# ------------------------------------------------------------------------------------------ choice
_COMMIT = re.compile(r"(?:最后只剩(?:下)?|只剩下?|剩下的(?:只有|就是|是)|所以最后是|最后是|本题选|本题答案(?:是|为)?|就选|因此选|所以是|故答案(?:是|为)|"
                     r"(?:符合题意|正确)的(?:是|为)(?:选项)?)\s*(?:选项)?\s*[(\[“\"]?\s*([A-H])(?![A-Za-z0-9])")
_MARK_POS = r"(?:✓|✔|√|正确|对|是|符合|yes|correct|true)"
_MARK_NEG = r"(?:✗|✘|×|错误|错|否|不符合|不正确|no|wrong|incorrect|false)"
_MARKED = re.compile(rf"(?im)^\s*(?:[-*+]|\d+[.)])?\s*\|?\s*(?:选项)?\s*[(\[]?([A-H])[)\]]?\s*(?:项)?\s*[:：|]?\s*"
                     rf"(?:{_MARK_NEG}|({_MARK_POS}))\s*\|?\s*[。.]?\s*$")
_ARTICLE_A = re.compile(r"(?<![A-Za-z0-9])A(?=\s+[a-z])")
_RUN_OF = r"[A-H](?:\s*[和、,与及]\s*[A-H])*"
# options a reasoning rules out: 排除A和D, A项显然不对, rule out C
_RULED_OUT = re.compile(rf"(?:排除|除去|(?i:rule\s+out|eliminate))\s*(?:选项)?\s*{_RUN_OF}(?![A-Za-z0-9])|"
                        rf"(?<![A-Za-z0-9]){_RUN_OF}\s*(?:项|选项)?\s*(?:的说法)?\s*(?:显然|明显|也|都|均)?"
                        r"(?:不对|错误|不正确|站不住脚|可以排除|被排除|不符合题意|不合题意|不符题意|不符合要求|不选|"
                        r"(?i:is\s+wrong|can\s+be\s+ruled\s+out))")
# a capital that names something else: a programming language (C语言, C++), a vitamin, or a letter listed
# or compared with Latin-script names (C比Java快, Python和C) in a clause that speaks of no option
_NAME_GLUED = re.compile(r"(?<![A-Za-z0-9])[A-H](?=\+\+|#|\s*语言)|(?:维生素|(?i:vitamin))\s*[A-H](?![A-Za-z0-9])")
_LINK = r"(?:比|和|与|或者|或|及|、|还是|不如|[高低优快慢强弱多少大小]于|(?i:(?<![A-Za-z])(?:than|vs\.?|and|or)(?![A-Za-z])))"
_LATIN_NAME = r"(?<![A-Za-z])(?=[A-Za-z]{2})[A-Za-z]*[I-Zi-z][A-Za-z]*"  # JAVA, Python: not a run of option letters
_NAME_LISTED = re.compile(rf"(?<![A-Za-z0-9])[A-H](?![A-Za-z0-9])(?=[^。!?！？;；,，\n]{{0,20}}?{_LINK}\s*{_LATIN_NAME})|"
                          rf"({_LATIN_NAME}\s*{_LINK}\s*)[A-H](?![A-Za-z0-9])")
_OPTION_WORDS = re.compile(r"选|项|答案|正确|错误|符合|说法|(?i:option|answer|choice|correct)")
_CLAUSE = re.compile(r"[^。!?！？;；,，\n]+")
# options written on one line (A:...;B:...;C:... or A.①② B.①③ C.②④)
_NEXT_LABEL = r"(?:[;；]\s*|\s+)[A-H]\s*[:.、)]"
_INLINE_OPTION = re.compile(rf"(?<![A-Za-z0-9])([A-H])\s*[:.、)]\s*(.+?)(?={_NEXT_LABEL}|[;；。]?\s*$)")


def option_texts(question: str) -> dict[str, str]:
    """The options' texts of a question: one option a line, or several options on one line."""
    return dict(_question_options(question))


@functools.lru_cache(maxsize=1 << 12)  # asked again for every output to the same question
def _question_options(question: str) -> dict[str, str]:
    texts = {L: t for L, t in S._option_texts(question).items() if t}
    if len(texts) >= 2 and not any(re.search(_NEXT_LABEL, N.text(t)) for t in texts.values()):
        return texts
    inline = {}
    for line in N.text(question).splitlines():
        found = _INLINE_OPTION.findall(line)
        if len(found) >= 2:
            inline.update((L, t.strip().strip(S._PUNCT)) for L, t in found)
    inline = {L: t for L, t in inline.items() if t}
    return inline if len(inline) >= 2 else texts


def without_copied_options(found: str, question: str) -> str:
    """``found`` without the question's list of options copied back (three options or more, each with its
    letter, one after the other): a copied list names every letter and commits to none. An option with its
    letter on its own, two options given together, or options quoted one by one in a reasoning, stay."""
    copies = []
    for L, t in option_texts(question).items():
        t = re.sub(r"(?:\\\s)+", r"\\s*", re.escape(N.text(t)))
        copies.append(rf"(?<![A-Za-z0-9]){L}\s*[:.、)]\s*{t}")
    if len(copies) < 2:
        return found
    least = min(3, len(copies))  # two options one after the other may be an answer that names two
    return re.sub(rf"(?:(?:{'|'.join(copies)})[\s;；。]*){{{least},}}", "\n", found)


def without_named_letters(found: str) -> str:
    """``found`` with the capitals that name something other than an option blanked out."""
    found = _NAME_GLUED.sub(" ", found)

    def clause(m: re.Match) -> str:
        c = m.group(0)
        return c if _OPTION_WORDS.search(c) else _NAME_LISTED.sub(lambda n: (n.group(1) or "") + " ", c)
    return _CLAUSE.sub(clause, found)


def marked_letters(s: str) -> tuple[set[str], int] | None:
    """(letters marked right, number of marked lines) of a markdown list or table of verdicts."""
    rows = _MARKED.findall(s)
    if len(rows) < 2:
        return None
    return {L for L, pos in rows if pos}, len(rows)


def choice(found: str, question: str, n_options: int) -> tuple[str | None, str]:
    """(letter, status) with status 'ok', 'none', 'ambiguous' or 'invalid'."""
    valid = S._valid_letters(n_options)
    found = without_named_letters(without_copied_options(found, question))
    marked = marked_letters(found)
    if marked:
        right = sorted(marked[0])
        if len(right) == 1:
            return S._decide(right, valid)
        return (None, "ambiguous") if right else (None, "none")
    commits = _COMMIT.findall(found)
    if commits:
        return S._decide([commits[-1]], valid)
    found = _ARTICLE_A.sub(" ", found)
    letter, status = S._parse_choice(found, n_options)
    if status == "ambiguous":  # what the reasoning ruled out is not a candidate
        rest = _RULED_OUT.sub(" ", found)
        if rest != found:
            letter, status = S._parse_choice(rest, n_options)
    if status == "none":  # the option's text: the whole answer, or quoted in a sentence (two characters or more)
        texts = {L: N.text(t) for L, t in option_texts(question).items()}
        core = found.strip().strip(S._PUNCT)
        hits = [L for L, t in texts.items() if t == core] or [L for L, t in texts.items() if len(t) >= 2 and t in found]
        if len(hits) == 1:
            return S._decide(hits, valid)
    return letter, status


# -------------------------------------------------------------------------------------- true/false
_TF_TO_FALSE = re.compile(r"不符合(?:史实|事实|实际)?|与(?:史实|事实|史料)不符|不符|不成立|有误|不属实|并非史实|"
                          r"(?i:(?<![a-z])(?:inaccurate|does\s+not\s+hold(?:\s+up)?|doesn't\s+hold)(?![a-z]))")
_TF_TO_TRUE = re.compile(r"符合(?:史实|事实|实际)|与(?:史实|事实|史料)相符|相符|(?<!不)成立|属实|是史实|"
                         r"(?i:(?<![a-z])(?:accurate|holds(?:\s+up)?|that'?s\s+right|is\s+right)(?![a-z]))")
_SENTENCE = re.compile(r"[。！!？?\n；;]|(?<=[A-Za-z\u4e00-\u9fff])\.(?:\s|$)")


def _tf_words(s: str) -> str:
    s = _TF_TO_FALSE.sub(" 错误 ", s)
    return _TF_TO_TRUE.sub(" 正确 ", s)


def true_false(found: str) -> tuple[str, bool]:
    """('T' | 'F' | 'E', ambiguous)."""
    s = _tf_words(found)
    whole = S.parse_true_false(s)
    if whole != "E" or not s.strip():
        return whole, False
    verdicts = []
    for sent in _SENTENCE.split(s):
        v = S.parse_true_false(sent)
        if v != "E":
            bare = len(sent.strip(S._PUNCT)) <= 3  # the sentence is a verdict and nothing else
            verdicts.append((v, bare))
        elif not verdicts and re.search(r"正确|错误|对|错|true|false|correct", sent, re.I):
            return "E", True  # the first verdict says both (a later one is a reason)
    if not verdicts:
        return "E", False
    first = verdicts[0][0]
    if any(v != first and bare for v, bare in verdicts[1:]):
        return "E", True
    return first, False


# ------------------------------------------------------------------------------------------- cloze
_QUOTED = re.compile(r"[“\"「『〈《【'‘]\s*([^“”\"「」『』〈〉《》【】'‘’]{1,12}?)\s*[”\"」』〉》】'’]")
_CLOZE_LEAD = re.compile(r"(?:应该填|应当填|应填写?|填入|填写|应为|横线上(?:应)?是|横线处(?:应)?(?:是|填)?|空格处(?:应)?(?:填|是)?|"
                         r"我认为是|答案是|答案为|答案|答|(?i:the\s+missing\s+word\s+is|answer(?:\s+is)?)|填)\s*[:：]?\s*")
_MEASURE = "个天年次只名人位条件本张"


def cloze(found: str) -> tuple[str, bool]:
    """(the answer word, ambiguous)."""
    s = found.strip()
    quoted = [q for q in _QUOTED.findall(s) if S._CJK_RE.search(q) or re.fullmatch(r"\d+", q.strip())]
    if quoted:
        s = quoted[-1]
    else:
        leads = list(_CLOZE_LEAD.finditer(s))
        if leads and s[leads[-1].end():].strip(S._PUNCT):
            s = s[leads[-1].end():]
    s = s.strip().strip(S._PUNCT)
    parts = [p.strip(S._PUNCT) for p in re.split(r"或者|或|/|(?i:\s+or\s+)", s) if p.strip(S._PUNCT)]
    if len(parts) > 1 and len({S.parse_cloze(p) for p in parts}) > 1:
        return "", True
    word = S.parse_cloze(s) if S._CJK_RE.search(s) else s.split()[0] if s.split() else ""
    if len(word) > 1 and word.endswith("字") and not S.parse_cloze(found).endswith("字字"):
        word = word[:-1]
    return word, False


def cloze_number(word: str) -> str | None:
    """A cloze answer that is a number, in digits (``四`` / ``4`` / ``七天`` -> ``4`` / ``4`` / ``7``)."""
    w = word.strip()
    if w and w[-1] in _MEASURE and len(w) > 1:
        w = w[:-1]
    if re.fullmatch(r"\d+", w):
        return str(int(w))
    return N.cn_number(w)


def cloze_equal(pred: str, gold: str) -> bool:
    if not pred:
        return False
    if pred == gold:
        return True
    a, b = cloze_number(pred), cloze_number(gold)
    return a is not None and a == b


# ------------------------------------------------------------------------------------ multi-select
_ALL = re.compile(r"以上(?:选项)?(?:都|均|全)(?:对|正确|符合)|全选|全部(?:正确|符合)|(?:四|所有|全部)个?选项(?:都|均)(?:对|正确|符合)|"
                  r"(?i:all\s+of\s+the\s+above|all\s+(?:four\s+)?(?:options|choices)\s+are\s+correct)")
_EXCEPT = re.compile(r"除了?\s*(?:选项)?\s*([A-F](?:\s*[、,和与及]?\s*[A-F])*)\s*(?:项|选项)?\s*(?:以外|之外|外)?\s*[,，]?\s*"
                     r"(?:其余|其他|其它)?(?:都|均|全)(?:对|正确|符合)")


def multi_select(found: str, n_options: int) -> frozenset[str]:
    letters = "ABCDEF"[:max(2, min(6, n_options))]
    marked = marked_letters(found)
    if marked:
        return frozenset(marked[0])
    m = _EXCEPT.search(found)
    if m:
        return frozenset(letters) - set(re.findall("[A-F]", m.group(1)))
    if _ALL.search(found):
        return frozenset(letters)
    return S.parse_multi_select(found)


# -------------------------------------------------------------------------------------------- math
_VALUE = r"-?\d+(?:\.\d+)?(?:/\d+)?"
_LISTED = re.compile(rf"\$?\s*{_VALUE}(?:\s*(?:和|与|以及|及|、|,|或者|或)\s*{_VALUE})+\s*\$?")
_ONE_EQ = re.compile(r"(?<![<>!=\\])=(?!=)")


def listed_answer(text: str) -> str | None:
    """Several values given as the answer (``答案：1和3``, ``答案：2、5``) as a list ``1, 3``."""
    if "答案" not in text:
        return None
    rest = re.sub(r"^\s*(?:应该是|应为|应是|是|为)?\s*:?", "", text.split("答案")[-1]).strip().rstrip("。.").strip()
    if not _LISTED.fullmatch(rest):
        return None
    return ", ".join(re.findall(_VALUE, rest.replace("$", "")))


def _equation(s: str | None) -> str | None:
    """``s`` as an equation in the unknowns (``y=x+1``, ``3x-y=0``), without ``$``, or None."""
    if not s:
        return None
    s = s.replace("$", "").strip()
    if len(_ONE_EQ.findall(s)) != 1 or not re.search(r"(?<![\\A-Za-z])[a-z](?![A-Za-z])", s):
        return None
    return s


def equations_equal(pred: str | None, gold: str) -> bool:
    """Two equations with the same solutions (``y=x+1`` and ``x-y+1=0``): math-verify compares them as
    equations (one side minus the other, up to a nonzero factor)."""
    a, b = _equation(pred), _equation(gold)
    return bool(a and b) and symbolic_equiv(a, b)


def math(found: str, gold_answer: str) -> tuple[str | None, float]:
    text = N.math_text(found)
    ans = (listed_answer(text) or S.extract_math_answer(text)) if text.strip() else None
    gold = N.math_text(gold_answer)
    if S.math_equiv(ans, gold) or S.math_equiv(ans, gold_answer) or equations_equal(ans, gold):
        return ans, 1.0
    try:
        return ans, float(bool(text) and S._states_text(text, gold_answer))
    except Exception:  # noqa: BLE001 - a grader must never crash on odd text
        return ans, 0.0
