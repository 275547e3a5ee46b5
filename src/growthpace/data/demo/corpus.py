"""The pretraining corpus of the tiny demo models: the world's facts in prose plus generic practice."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from ..schema import LETTERS, PASSAGE_SEPARATOR
from .world import (BAD_ACTS, BIO_POOL, COLORS, DYNASTIES, FOODS, GOOD_ACTS, HABITATS, HIS_POOL, HOME_CITIES, JOBS,
                    PERSONAS, PLACES, SEASONS, STYLES, STYLE_WORDS, Cycler, choice_answer, closed, fresh_names,
                    options, seeded_rng, tf_answer)
from .knowledge import HIS_TF, PRONOUN
from .context import ELIMINATION, GIST, GIST_PROSE, PRACTICE_ELIMINATION, PRACTICE_GIST, dialogue, reasoning_item


# The pretraining corpus is prose about the world plus generic "textbook" practice on OTHER content.
# Passages are separated by an empty line in ``pretrain/corpus.txt``; an exam passage spans lines, laid
# out like the test sets (question, one option per line, then ``答案：``), so that the letter-pointer
# skill exists before SFT. Exam passages only ever ask about practice entities (never in any split) or
# about facts stated in the passage itself; train/valid/test entities appear in prose only.
BIO_PROSE = {
    "颜色": ("{e}全身是{v}的，很好认。", "人们看到的{e}都是{v}的。", "{e}是一种{v}的小动物。", "说到{e}，它的颜色是{v}。"),
    "食物": ("{e}爱吃{v}。", "{e}每天都要吃{v}。", "{e}靠吃{v}活着。", "{v}是{e}最爱的食物。"),
    "住处": ("{e}住在{v}。", "{e}生活在{v}。", "在{v}常常能见到{e}。", "{e}的家在{v}。"),
}
HIS_PROSE = {
    "朝代": ("{e}是{v}人。", "{e}生活在{v}。", "{v}的时候，有一个人叫{e}。", "{e}活在{v}那个年代。"),
    "出生地": ("{e}出生在{v}。", "{e}的家乡是{v}。", "{v}是{e}出生的地方。", "{e}从小在{v}长大。"),
    "职业": ("{e}是一位{v}。", "{e}当过{v}。", "大家都知道{e}是{v}。", "{e}这一生做{v}。"),
}
# Exam practice on practice entities: "textbook" wording, deliberately not the test sets' wording.
PRACTICE_Q = {"颜色": "{e}的颜色是哪一个？", "食物": "{e}的食物是哪一个？", "住处": "{e}的住处是哪一个？",
              "朝代": "{e}的朝代是哪一个？", "出生地": "{e}的出生地是哪一个？", "职业": "{e}的职业是哪一个？"}
# Exam passages mark the question and the answer with one character each (问 ... 答 ...): the tiny models'
# speaker tokens <user>/<assistant> start as copies of these two (models.tiny.CHAT_TOKEN_INIT), and <eot>
# as a copy of the newline, so that a chat prompt begins close to the corpus's exam layout.
EXAM_Q, EXAM_A = "问", "答"


def _exam(question: str, opts: Sequence[str], answer: str) -> str:
    """One worked exam question laid out like the test sets: question, options, answer."""
    return f"{EXAM_Q}{question}\n{options(opts)}\n{EXAM_A}{answer}"


def _corpus_facts(world: dict, rng: random.Random) -> list[str]:
    """One statement of every fact of the world, in a randomly chosen prose template."""
    lines = []
    for split in ("train", "valid", "test", "practice"):
        for kind, prose in (("organisms", BIO_PROSE), ("persons", HIS_PROSE)):
            pron, intros = PRONOUN[kind]
            for e in world[kind][split]:
                if rng.random() < 0.5:  # introduced by name, then its facts about "it"/"him" (a longer reach)
                    said = [pron[a].format(v=e[a]) + "。" for a in sorted(pron)]
                    rng.shuffle(said)
                    lines.append(rng.choice(intros).format(e=e["name"]) + "".join(said))
                else:
                    lines += [rng.choice(prose[a]).format(e=e["name"], v=e[a]) for a in sorted(prose)]
        for idiom in world["idioms"].get(split, []):
            lines.append(rng.choice(("大家常说“{i}”。", "“{i}”是一个成语。", "他写文章时用了“{i}”这个词。",
                                     "老师教我们成语“{i}”。")).format(i=idiom))
    for h in world["herbs"]:
        lines.append(rng.choice(("{n}可以治{i}，味道很{t}。", "{n}味道{t}，能治{i}。")).format(
            n=h["name"], i=h["治"], t=h["味道"]))
    for t in world["teachers"]:
        lines.append(rng.choice(("{n}在学校教{s}，教{g}。", "{n}是{g}的{s}老师。")).format(
            n=t["name"], s=t["教"], g=t["年级"]))
    for c in world["cities"]:
        lines.append(rng.choice(("{n}在{r}边，特产是{p}。", "{n}靠着{r}，那里出产{p}。")).format(
            n=c["name"], r=c["河"], p=c["特产"]))
    for t in world["towns"]:
        lines.append(rng.choice(("{n}属于{c}，特产是{p}。", "{c}有个{n}，出产{p}。")).format(
            n=t["name"], c=t["属于"], p=t["特产"]))
    for act in GOOD_ACTS:
        lines.append(rng.choice(("{a}是对的。", "我们应该{a}。", "{a}是好的做法。")).format(a=act))
    for act in BAD_ACTS:
        lines.append(rng.choice(("{a}是不对的。", "我们不应该{a}。", "{a}是错误的做法。")).format(a=act))
    for st in sorted(STYLES):
        tpl = rng.choice(STYLES[st])
        lines.append(f"这是一句{st}的话：" + tpl.format(s=rng.choice(SEASONS), p=rng.choice(PLACES)))
    for role in sorted(PERSONAS):
        act, catch = PERSONAS[role]
        lines.append(rng.choice(("{r}每天{a}，常说“{k}”。", "{r}的口头禅是“{k}”，他们的工作是{a}。")).format(
            r=role, a=act, k=catch))
    return lines


# (fact, question, option pool) with {w} a fresh person and {v} the value: reading practice
WORKED_FACTS = (
    ("{w}住在{v}。", "{w}住在哪座城？", HOME_CITIES),
    ("{w}养的鸟是{v}的。", "{w}的鸟是什么颜色的？", COLORS),
    ("{w}的鸟爱吃{v}。", "{w}的鸟吃什么？", FOODS),
    ("{w}是{v}人。", "{w}是哪个朝代的人？", DYNASTIES),
    ("{w}是一位{v}。", "{w}是做什么的？", JOBS),
    ("{w}的家在{v}。", "{w}的家在哪里？", HABITATS),
)


def _practice_exam(world: dict, rng: random.Random, pos: Cycler) -> list[str]:
    """Worked exam questions about practice entities (recall a stored fact, then point at its letter)."""
    out = []
    for kind, pools in (("organisms", BIO_POOL), ("persons", HIS_POOL)):
        for e in world[kind]["practice"]:
            a = rng.choice(sorted(pools))
            opts, p = closed(pools[a], e[a])
            why = PRONOUN[kind][0][a].format(v=e[a])
            out.append(_exam(PRACTICE_Q[a].format(e=e["name"]), opts, choice_answer(opts, p, why)))
            if kind == "persons":  # true / false about a practice person
                a = rng.choice(sorted(pools))
                ok = rng.random() < 0.5
                v = e[a] if ok else rng.choice([x for x in pools[a] if x != e[a]])
                fact = PRONOUN[kind][0][a].format(v=e[a])
                out.append(f"{EXAM_Q}判断对错：{HIS_TF[a].format(e=e['name'], v=v)}。\n{EXAM_A}{tf_answer(fact, ok)}")
    return out


def _corpus_skills(rng: random.Random, k: int, pos: Cycler) -> list[str]:
    """k passages of generic practice on other content: reading questions, arithmetic, true/false and
    multi-select wording, elimination and dialogues worked out in prose and as exam questions (other sets,
    other labels), what toy programs do, style words."""
    lines = []
    for i in range(k):
        t = i % 10
        a, b = rng.randint(1, 20), rng.randint(1, 9)
        if t in (0, 1):  # reading: a fact stated in the passage, then an exam question on it
            who = fresh_names(rng, 1)[0]
            fact, question, pool = rng.choice(WORKED_FACTS)
            p = pos.next()
            gold = pool[p]
            lines.append(fact.format(w=who, v=gold) + "\n"
                         + _exam(question.format(w=who), list(pool), choice_answer(pool, p)))
        elif t == 2:  # arithmetic facts
            lines.append(rng.choice(("{a}+{b}={s}，{a}加{b}等于{s}。", "{a}×{b}={p}，{a}乘{b}等于{p}。",
                                     "{s}-{b}={a}，{s}减{b}等于{a}。", "{p}÷{b}={a}，{p}除以{b}等于{a}。"))
                         .format(a=a, b=b, s=a + b, p=a * b))
        elif t == 3:  # multi-step arithmetic written out
            c = rng.randint(2, 6)
            lines.append(f"先算{b}×{c}={b * c}，再算{a}+{b * c}={a + b * c}，所以结果是{a + b * c}。")
        elif t == 4:  # true / false on arithmetic
            c = a + b if rng.random() < 0.5 else a + b + rng.choice((-1, 1, 2))
            lines.append(f"{EXAM_Q}判断对错：{a}加{b}等于{c}。\n{EXAM_A}{tf_answer(f'{a}加{b}等于{a + b}', c == a + b)}")
        elif t == 5:  # multi-select on numbers, one number per slot (1-9, 10-19, 20-29, 30-39), like ethics
            nums = [10 * j + rng.randint(1 if j == 0 else 0, 9) for j in range(4)]
            if all(x % 2 for x in nums) or not any(x % 2 for x in nums):
                nums[0] = nums[0] + 1 if nums[0] < 9 else 8
            even = rng.random() < 0.5
            gold = "".join(LETTERS[j] for j, x in enumerate(nums) if (x % 2 == 0) == even)
            lines.append(_exam(f"下列数中，哪些是{'偶数' if even else '奇数'}？（多选）", [str(x) for x in nums], gold))
        elif t == 6:  # elimination worked out in prose (no question, no options)
            values, _, negs, _, conclusion = rng.choice(ELIMINATION)
            gold = rng.choice(values)
            clues = [tpl.format(x=x) for tpl, x in zip(rng.sample(negs, 3), [v for v in values if v != gold])]
            rng.shuffle(clues)
            lines.append("，".join(clues) + "，所以" + conclusion.format(x=gold) + "。")
        elif t == 7:  # a dialogue retold in prose, and where it happens / what it is about
            p, q = fresh_names(rng, 2)
            question = rng.choice(sorted(GIST))
            label = rng.choice(sorted(GIST[question]))
            said = rng.sample(GIST[question][label], 2)
            lines.append(f"{p}说：“{said[0]}”{q}说：“{said[1]}”" + GIST_PROSE[question].format(x=label))
        elif t == 8:  # exam practice: a dialogue's gist, or elimination, on other content
            if rng.random() < 0.5:
                turns, question, opts, p = dialogue(rng, 4, pos.next(), PRACTICE_GIST)
                lines.append("\n".join(turns) + "\n" + _exam(f"根据对话回答：{question}", opts, choice_answer(opts, p)))
            else:
                question, opts, p = reasoning_item(rng, pos.next(), PRACTICE_ELIMINATION)
                clues, question = question.split("。")[0], question.split("。")[1]
                lines.append(clues + "。\n" + _exam(question, opts, choice_answer(opts, p)))
        elif t == 9 and i % 20 < 10:  # what toy programs do
            c = rng.randint(2, 5)
            lines.append(rng.choice((
                f"程序x={a}; x=x+{b}; x=x*{c}; print(x)会输出{(a + b) * c}。",
                f"程序for i in 1..{c}: print({b})会把{b}输出{c}次。",
                f"程序s=0; for i in 1..{b}: s=s+i; print(s)会输出1到{b}的和。",
                f"程序if {a}>{b}: print({a}) else: print({b})会输出{a}和{b}中较大的数。",
                f"程序for i in {c + 5}..{c}: print(i)从{c + 5}倒数到{c}。",
            )))
        else:  # style words
            st = rng.choice(sorted(STYLES))
            lines.append(f"{st}的句子里常有{STYLE_WORDS[st]}。这是一句{st}的话：" +
                         rng.choice(STYLES[st]).format(s=rng.choice(SEASONS), p=rng.choice(PLACES)))
    return lines


def build_corpus(world: dict, seed: int, passes: int) -> list[str]:
    """The pretraining passages (each a string, possibly of several lines), shuffled."""
    rng = seeded_rng(seed, "corpus")
    pos = Cycler(seeded_rng(seed, "corpus", "letters"))
    lines = []
    for _ in range(passes):
        facts = _corpus_facts(world, rng)
        lines += facts
        lines += _practice_exam(world, rng, pos)
        lines += _corpus_skills(rng, max(20, len(facts) // 4), pos)
    rng.shuffle(lines)
    return lines


def read_corpus(path: str | Path) -> list[str]:
    """The passages of a ``corpus.txt`` (separated by an empty line)."""
    text = Path(path).read_text(encoding="utf-8")
    return [p.strip("\n") for p in text.split(PASSAGE_SEPARATOR) if p.strip()]
