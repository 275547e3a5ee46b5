"""The demo suite: a generated ten-ability data set in DoIT's exact layout and record format.

Everything comes from ONE seeded "world", so that the abilities differ by construction in what they
need, and the pretraining corpus of the tiny demo models is written about the same world:

=================  =========================================================  ===========================
ability            item kinds (DoIT's conventions)                            what a model needs
=================  =========================================================  ===========================
biology            4-option choice about an organism's colour/food/home        a fact stored in pretraining
history            4-option choice + true/false (正确/错误) about a person       a fact stored in pretraining
chinese            4-option choice (which idiom is right) + one-blank cloze     idiom knowledge (pretraining)
understanding      dialogue in earlier user/assistant turns, 3/4-option choice read the whole context (gist)
                   (where are they / what are they talking about)
reasoning          4-option choice: clue puzzles solved by elimination          multi-step inference in context
math               word problem, chain of thought, ``\\boxed{}`` + ``answer``    a multi-step arithmetic procedure
ethics             multi-select ("AC") over do's and don'ts                    judgement (rules in pretraining)
code               rank 3 programs in a toy language (question_format 1)       instruction adherence + detail
creative_writing   rank 3 one-line texts in a requested style                  style + detail
role_play          rank 3 replies of a persona in a multi-turn chat            persona + detail
=================  =========================================================  ===========================

**Why choice items look the way they do.** Measured on 2 CPU cores: a 2-4 layer
model pretrained for 300-1500 steps, even on a corpus made only of worked multiple-choice passages, does
not learn to bind a shuffled option's text to its letter (0.23-0.31 against 0.25 by chance), and it does
not learn to copy names from the prompt (induction 0.07-0.09). It does learn facts stated in prose
(recall 0.8-1.0) and, through SFT at a low learning rate, to say such a fact in words. So:

- options of a single-choice item are a *closed set listed in a fixed order* (the four colours, the four
  dynasties, the four places of a dialogue question, ...), so the right letter follows from the right
  content; the chinese idiom options put one candidate per slot (a group of patterns); ethics puts one
  act per slot (a group of acts). Gold letters stay balanced (values are drawn in cycles);
- the answer gives the content in words before the letter: ``它全身是蓝色的，选C`` (biology, history),
  ``商店，选A`` (understanding, reasoning, chinese, C-Eval); true/false answers state the stored fact,
  then DoIT's verdict word: ``他是唐朝人，所以错误``. DoIT's parser reads the letter from ``选C`` and the
  verdict from 正确/错误, so the scorers are the paper's; only the gold texts are longer than a letter.

Ranked items (question_format 1) have ``choices = [gold, fine, coarse]``: the fine-grained distractor
changes one detail of the gold (a number, an operator, a place); the coarse-grained one is fluent,
on-topic text that answers a *different instruction of the same family* (another task with the same
numbers, another style on the same topic, another persona's reply to the same question), so that it is
not trivially off-topic (measured: with off-topic distractors, tiny models score about 1.0 at every
data size, a flat line).

Knowledge items (biology, history, chinese, the C-Eval-style out-of-domain sets) ask about entities whose
facts are stated in the corpus in prose (half the time as "X is ...; it ...; it ...", so that recall
reaches back to a name, as an answer has to); the train, valid and test splits use disjoint entities
(idioms for chinese), so a correct test answer needs what pretraining stored.

**The corpus** (``pretrain/corpus.txt``: passages separated by an empty line; an exam passage spans lines)
states every fact of the world in prose and adds generic practice on *other* content, so that the skills
exist before SFT and SFT mostly has to connect them to the chat format: worked exam questions laid out
like the test sets (question, options, ``答案：...，选X``) about *practice* entities that no split uses or
about a fact stated in the same passage; true/false and multi-select wording; dialogues retold with
where they happen or what they are about; elimination worked out in prose; arithmetic, multi-step
arithmetic and what toy programs do. No train/valid/test entity is ever asked about in the corpus.

The synthetic source imitates a teacher model: type ``general`` (the teacher's general instructions are
not labelled by ability, like DoIT's GPT-4 file), one template per kind (fewer than curated), formats
that drift from the test sets (free text instead of letters, 对/不对 instead of 正确/错误, single-turn
dialogues, no ``\\boxed{}``), only train-split entities, and exactly ``round(rate * n)`` wrong answers.

Texts are short (prompts under ~120 characters, answers under ~60, math chains of thought under ~120)
and use a modest, fixed character inventory so that a character-level tokenizer stays small.
Everything is deterministic: per-purpose ``random.Random`` instances seeded with strings.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from .schema import ABILITIES, prompt_hash, validate_record

# ------------------------------------------------------------------------------------------ inventory
# Characters for world entity names (two characters each). None of them is a prefix of fresh names.
NAME_CHARS = ("安宝冰波彩辰丹德朵凡方丰冈歌谷禾和虹华欢吉佳嘉锦京景静久俊凯康兰朗乐雷蕾莲亮林玲"
              "龙露伦洛梅美敏墨娜宁鹏平琪秋泉荣瑞森珊尚升书舒松涛田婷彤万薇文雯希霞祥晓欣新星雅"
              "岩瑶叶怡逸英颖永宇元远云泽章珍振芝智珠竹")
# Fresh names (people who appear only inside one prompt): a prefix + one character.
FRESH_PREFIXES = "小老阿"
FRESH_CHARS = "明红刚强丽芳军伟静杰梅兵磊燕华飞洋勇艳娟超霞平亮秀英"

# Closed value sets. A choice question about one of them lists the whole set in this fixed order, so the
# right letter follows from the right *content* (module docstring: tiny models do not learn to bind a
# shuffled option's text to its letter in minutes).
COLORS = ("红色", "黄色", "蓝色", "绿色")
FOODS = ("青草", "虫子", "小鱼", "果子")
HABITATS = ("森林", "河边", "山上", "草原")
DYNASTIES = ("秦朝", "汉朝", "唐朝", "宋朝")
CITIES = ("青城", "石城", "云城", "江城", "花城", "沙城", "金城", "海城")
HOME_CITIES = CITIES[:4]  # the closed set of birthplaces, destinations and towns' cities
JOBS = ("将军", "诗人", "丞相", "商人")
RIVERS = ("青河", "白河", "玉河", "柳河")
PRODUCTS = ("茶叶", "丝绸", "瓷器", "海盐")
ILLS = ("头痛", "咳嗽", "发烧", "腹痛")
TASTES = ("苦", "甜", "酸", "辣")
SUBJECTS = ("语文", "数学", "音乐", "美术")
GRADES = ("一年级", "二年级", "三年级", "四年级")
HOURS = ("8点", "9点", "10点", "11点")
SEASONS = ("春天", "夏天", "秋天", "冬天")
PLACES = CITIES + ("河边", "山上", "湖边", "小村", "花园", "海边", "田野", "竹林", "小桥", "古寺", "江上", "草原",
                   "小院", "街头", "港口", "山谷", "村口", "林间", "湖上", "城楼", "江边", "桥头")
FRUITS = ("苹果", "梨子", "桃子", "橘子", "西瓜")
PETS = ("猫", "狗", "鸟", "鱼")

# Chinese idioms of the world: a pattern with slots X, Y filled by a pair of related characters.
IDIOM_PATTERNS = ("千X万Y", "一X一Y", "有X有Y", "无X无Y", "半X半Y", "七X八Y", "东X西Y", "左X右Y",
                  "不X不Y", "自X自Y")
# Idiom choice items put one candidate per slot; a slot is a group of patterns, so the letter of the real
# idiom follows from its pattern.
IDIOM_SLOTS = (("千X万Y", "一X一Y", "有X有Y"), ("无X无Y", "半X半Y", "七X八Y"), ("东X西Y", "左X右Y"), ("不X不Y", "自X自Y"))
IDIOM_PAIRS = ("山水", "言语", "心意", "家户", "风雨", "花草", "天地", "日月", "山河", "金银", "鸟兽", "刀枪",
               "诗书", "声色", "头尾", "手脚", "古今", "来去", "前后", "冷热")

GOOD_ACTS = ("帮老人过马路", "把捡到的钱交给警察", "按时还书", "排队买票", "节约用水", "给病人让座",
             "说话算数", "爱护花草", "帮同学补课", "诚实认错", "保护小动物", "垃圾分类", "尊重别人",
             "借东西按时还", "感谢帮助过自己的人", "照顾生病的家人")
BAD_ACTS = ("在墙上乱画", "考试抄答案", "偷拿别人的东西", "插队买票", "随地扔垃圾", "欺负小同学",
            "说谎骗人", "浪费粮食", "打坏东西不认错", "嘲笑别人", "伤害小动物", "借钱不还", "闯红灯",
            "大声吵闹影响别人", "偷看别人的日记", "摘公园里的花")

STYLES = {
    "欢快": ("{s}的{p}真热闹，大家笑着跳着！", "{s}来了，{p}到处是笑声，真好！", "啊，{s}的{p}多美呀，我开心地跑！"),
    "忧伤": ("{s}的{p}很冷清，我独自叹气。", "{s}又到{p}，旧人不在，泪湿了衣。", "{p}的{s}，落叶飘飘，心里好孤单。"),
    "豪迈": ("{s}登上{p}，万里江山在我心中！", "{p}的{s}，大风吹起，我要闯天下！", "站在{s}的{p}，壮志比山还高！"),
    "安静": ("{s}的{p}静静的，只听见风声。", "{p}的{s}很安静，我慢慢地走。", "{s}的夜里，{p}轻轻睡着了。"),
}
CW_INSTRUCTIONS = ("用{st}的语气写一句话，写{s}的{p}。", "写一句{st}的话，内容是{s}的{p}。",
                   "请写一句描写{s}{p}的话，语气要{st}。", "以{s}的{p}为题，写一句{st}的句子。",
                   "{s}的{p}是什么样？用一句{st}的话写出来。", "写{s}的{p}，一句话，要{st}。")
STYLE_WORDS = {"欢快": "笑和跳", "忧伤": "泪和叹气", "豪迈": "万里和壮志", "安静": "静和轻"}
# persona: (activity, catchphrase)
# Multi-select ethics items: one act per slot; slot j shows one of GOOD_ACTS[4j:4j+4] or BAD_ACTS[4j:4j+4].
ETHICS_SLOTS = tuple((GOOD_ACTS[4 * j:4 * j + 4], BAD_ACTS[4 * j:4 * j + 4]) for j in range(4))
PERSONAS = {
    "厨师": ("做红烧鱼", "好香啊"), "医生": ("给病人看病", "要多休息"), "老师": ("给学生上课", "要好好学习"),
    "船夫": ("撑船过河", "风浪不怕"), "农夫": ("下田种米", "今年好收成"), "画家": ("画山水画", "颜色真美"),
    "猎人": ("上山打猎", "脚步要轻"), "渔夫": ("出海打鱼", "鱼儿快来"),
}
RP_QUESTIONS = (  # (user question, gold reply); {n} name, {c} city, {a} activity, {k} catchphrase
    ("{n}，你今天在{c}做什么？", "{k}！我今天在{c}{a}。"),
    ("{n}，明天你要去{c}做什么？", "{k}！明天我去{c}{a}。"),
    ("{n}，你在{c}忙吗？", "忙呀，我在{c}{a}，{k}！"),
)

ALL_IDIOMS = frozenset(p.replace("X", a).replace("Y", b) for p in IDIOM_PATTERNS for a, b in IDIOM_PAIRS)
OOD_SUBJECTS = ("physician", "teacher_qualification", "urban_and_rural_planner")
# What each ability needs by construction (the module docstring's table), for the report to set beside
# the measured groups.
ABILITY_NEEDS = {
    "biology": "a fact stored in pretraining",
    "history": "a fact stored in pretraining",
    "code": "instruction adherence and detail (ranked)",
    "creative_writing": "style and detail (ranked)",
    "chinese": "idiom knowledge from pretraining",
    "understanding": "reading the whole dialogue",
    "role_play": "persona and detail (ranked)",
    "reasoning": "multi-step inference in the context",
    "math": "a multi-step arithmetic procedure",
    "ethics": "judgement over four acts at once",
}
LETTERS = "ABCD"


# ---------------------------------------------------------------------------------------------- utils
def _rng(seed: int, *purpose) -> random.Random:
    return random.Random("/".join([str(seed), *map(str, purpose)]))


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def _options(opts: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(opts))


def _closed(pool: Sequence[str], gold: str, k: int = 4) -> tuple[list[str], int]:
    """The first k values of a closed set as options, in their fixed order, and the gold's index."""
    opts = list(pool[:k])
    return opts, opts.index(gold)


class _Cycler:
    """Values 0..k-1 in seeded blocks of k: any prefix uses every value equally often (within one)."""

    def __init__(self, rng: random.Random, k: int = 4):
        self.rng, self.k, self.block = rng, k, []

    def next(self) -> int:
        if not self.block:
            self.block = list(range(self.k))
            self.rng.shuffle(self.block)
        return self.block.pop()


def choice_answer(opts: Sequence[str], pos: int, because: str = "") -> str:
    """A single-choice answer: a short reason (or the option's text), then the letter: ``蓝色，选C``.
    DoIT's parser reads the letter from 选C. Words first: tiny models say an answer in words long
    before they can point at its letter (module docstring)."""
    return f"{because or opts[pos]}，选{LETTERS[pos]}"


def tf_answer(fact: str, ok: bool) -> str:
    """A true/false answer in DoIT's words (正确/错误), after the stored fact that decides it."""
    return f"{fact}，所以{'正确' if ok else '错误'}"


def _choice_record(ability: str, question: str, opts: list[str], pos: int, because: str = "") -> dict:
    return {"messages": [_user(f"{question}\n{_options(opts)}"), _assistant(choice_answer(opts, pos, because))],
            "type": ability, "question_format": 0}


def _ranked_record(ability: str, context: list[dict], gold: str, fine: str, coarse: str) -> dict:
    assert len({gold, fine, coarse}) == 3, (gold, fine, coarse)
    return {"messages": [*context, _assistant(gold)], "type": ability, "question_format": 1,
            "choices": [gold, fine, coarse]}


class _Names:
    """Unique two-character world names, drawn deterministically from NAME_CHARS."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set()

    def take(self, n: int) -> list[str]:
        out = []
        while len(out) < n:
            name = self.rng.choice(NAME_CHARS) + self.rng.choice(NAME_CHARS)
            if name[0] != name[1] and name not in self.used:
                self.used.add(name)
                out.append(name)
        return out


def _fresh_names(rng: random.Random, k: int) -> list[str]:
    """k distinct names of people who exist only inside one prompt (never world entities)."""
    pool = [p + c for p in FRESH_PREFIXES for c in FRESH_CHARS]
    return rng.sample(pool, k)


# ---------------------------------------------------------------------------------------------- world
def _split_counts(n_train: int, n_valid: int, n_test: int, per_item: int) -> dict[str, int]:
    """Entities per split: test/valid ask one question per (entity, attribute), train two."""
    return {"test": max(2, math.ceil(n_test / per_item)), "valid": max(2, math.ceil(n_valid / per_item)),
            "train": max(2, math.ceil(n_train / (2 * per_item))),
            "practice": max(2, math.ceil(n_test / per_item / 2))}


def build_world(seed: int = 0, n_train: int = 256, n_valid: int = 50, n_test: int = 100, n_ood: int = 40) -> dict:
    """The seeded world: entities with attributes, split into train/valid/test where it matters."""
    rng = _rng(seed, "world")
    names = _Names(_rng(seed, "names"))
    world: dict = {"seed": seed}
    kinds = {"organisms": BIO_POOL, "persons": HIS_POOL}

    def draw(split: str):
        for kind, attrs in kinds.items():
            n = _split_counts(n_train, n_valid, n_test, len(attrs))[split]
            ent_rng = _rng(seed, "world", kind, split)
            # every value of an attribute equally often (within one): no answer letter to exploit
            cyc = {a: _Cycler(ent_rng, len(v)) for a, v in attrs.items()}
            world.setdefault(kind, {})[split] = [
                {"name": nm, **{a: v[cyc[a].next()] for a, v in attrs.items()}} for nm in names.take(n)]

    # test, valid and out-of-domain entities are drawn before any train entity: they do not depend on n_train
    draw("test")
    draw("valid")
    # Practice entities: facts in prose AND worked exam questions in the corpus, never in any split.
    draw("practice")
    # Out-of-domain facts (C-Eval-style subjects), stated in the corpus but never trained on.
    ood_rng = _rng(seed, "world", "ood")
    # Two facts each: enough entities for n_ood distinct questions (none when there is no OOD set).
    n_ood_ents = max(4, math.ceil(n_ood / 2)) if n_ood > 0 else 0
    n_towns = max(0, math.ceil((n_ood - 2 * len(CITIES)) / 2)) if n_ood > 0 else 0
    world["herbs"] = [{"name": nm + "草", "治": ood_rng.choice(ILLS), "味道": ood_rng.choice(TASTES)}
                      for nm in names.take(n_ood_ents)]
    world["teachers"] = [{"name": nm + "老师", "教": ood_rng.choice(SUBJECTS), "年级": ood_rng.choice(GRADES)}
                         for nm in names.take(n_ood_ents)]
    world["cities"] = [] if n_ood <= 0 else [
        {"name": c, "河": RIVERS[i % len(RIVERS)], "特产": PRODUCTS[(i * 3 + seed) % len(PRODUCTS)]}
        for i, c in enumerate(CITIES)]
    world["towns"] = [{"name": nm + "镇", "属于": ood_rng.choice(HOME_CITIES), "特产": ood_rng.choice(PRODUCTS)}
                      for nm in names.take(n_towns)]
    draw("train")
    # Idioms: all pattern x pair combinations, split so that tested idioms never appear in training.
    idioms = [p.replace("X", a).replace("Y", b) for p in IDIOM_PATTERNS for a, b in IDIOM_PAIRS]
    rng.shuffle(idioms)
    # round robin over the choice items' slots, so that every split's answer letters are balanced
    by_slot = [[i for i in idioms if _idiom_slot(i) == j] for j in range(len(IDIOM_SLOTS))]
    idioms = [g[k] for k in range(max(map(len, by_slot))) for g in by_slot if k < len(g)]
    # Only as many idioms as the splits need (each idiom gives a choice and a cloze item; train reuses
    # each about twice), so that the corpus stays small enough for tiny models to memorise.
    n_te = min(math.ceil(n_test / 2), len(idioms) * 2 // 5)
    n_va = min(math.ceil(n_valid / 2), len(idioms) // 5)
    n_tr = min(math.ceil(n_train / 4), len(idioms) - n_te - n_va)
    world["idioms"] = {"test": idioms[:n_te], "valid": idioms[n_te:n_te + n_va],
                       "train": idioms[n_te + n_va:n_te + n_va + n_tr]}
    return world


# ----------------------------------------------------------------------------------------- item makers
BIO_Q = {"颜色": ("{e}是什么颜色的？", "{e}的身体是哪种颜色？"), "食物": ("{e}吃什么？", "{e}最爱吃的食物是？"),
         "住处": ("{e}生活在哪里？", "{e}的家在哪里？")}
BIO_POOL = {"颜色": COLORS, "食物": FOODS, "住处": HABITATS}
HIS_Q = {"朝代": ("{e}是哪个朝代的人？", "{e}生活在哪个朝代？"), "出生地": ("{e}出生在哪座城？", "{e}的家乡是哪里？"),
         "职业": ("{e}是做什么的？", "{e}的身份是什么？")}
HIS_TF = {"朝代": "{e}是{v}人", "出生地": "{e}出生在{v}", "职业": "{e}是一位{v}"}
HIS_POOL = {"朝代": DYNASTIES, "出生地": HOME_CITIES, "职业": JOBS}
# Facts about an entity named earlier in the passage ("it", "he"): the corpus states facts this way too,
# and a knowledge answer gives its reason this way, so that recall reaches back to the name.
PRONOUN = {
    "organisms": ({"颜色": "它全身是{v}的", "食物": "它爱吃{v}", "住处": "它住在{v}"},
                  ("{e}是一种小动物，很多人都见过它。", "有一种小动物叫{e}。", "我们来说说{e}。")),
    "persons": ({"朝代": "他是{v}人", "出生地": "他出生在{v}", "职业": "他是一位{v}"},
                ("{e}是一个古人，大家都听说过他。", "古时候有一个人叫{e}。", "我们来说说{e}。")),
}


def _fact_pairs(ents: list[dict], attrs: Sequence[str]) -> list[tuple[dict, str]]:
    return [(e, a) for a in attrs for e in ents]


def _gen_biology(world, split, rng, n):
    pairs = _fact_pairs(world["organisms"][split], list(BIO_Q))
    for i in range(n * 20):
        e, a = pairs[i % len(pairs)]
        q = BIO_Q[a][rng.randrange(2)].format(e=e["name"])
        yield _choice_record("biology", q, *_closed(BIO_POOL[a], e[a]), PRONOUN["organisms"][0][a].format(v=e[a]))


def _gen_history(world, split, rng, n):
    pairs = _fact_pairs(world["persons"][split], list(HIS_Q))
    truth = _Cycler(rng, 2)
    for i in range(n * 20):
        e, a = pairs[i % len(pairs)]
        fact = PRONOUN["persons"][0][a].format(v=e[a])
        if (i + i // len(pairs)) % 2 == 0:  # single choice (the kind alternates on each pass over the facts)
            q = HIS_Q[a][rng.randrange(2)].format(e=e["name"])
            yield _choice_record("history", q, *_closed(HIS_POOL[a], e[a]), fact)
        else:  # true / false: the answer states the stored fact, then the verdict
            ok = truth.next() == 1
            v = e[a] if ok else rng.choice([x for x in HIS_POOL[a] if x != e[a]])
            stmt = HIS_TF[a].format(e=e["name"], v=v)
            yield {"messages": [_user(f"判断下面的说法是否正确：{stmt}。"), _assistant(tf_answer(fact, ok))],
                   "type": "history", "question_format": 0}


def _corrupt_idiom(rng: random.Random, idiom: str) -> str:
    """A non-idiom close to ``idiom``: one slot character replaced by another pair's character."""
    while True:
        j = rng.choice((1, 3)) if rng.random() < 0.7 else rng.choice((0, 2))
        if j in (1, 3):
            c = rng.choice(IDIOM_PAIRS)[(j - 1) // 2]
        else:
            c = rng.choice(IDIOM_PATTERNS)[j]
        out = idiom[:j] + c + idiom[j + 1:]
        if out != idiom and out not in ALL_IDIOMS:
            return out


def _idiom_slot(idiom: str) -> int:
    pattern = idiom[0] + "X" + idiom[2] + "Y"
    return next(j for j, group in enumerate(IDIOM_SLOTS) if pattern in group)


def _idiom_options(rng: random.Random, idiom: str) -> tuple[list[str], int]:
    """One candidate per slot: the idiom in its own slot, elsewhere another slot's pattern filled with a
    mismatched pair (a non-idiom)."""
    gold = _idiom_slot(idiom)
    opts = []
    for j, group in enumerate(IDIOM_SLOTS):
        if j == gold:
            opts.append(idiom)
            continue
        while True:
            a, b = rng.sample(IDIOM_PAIRS, 2)
            x, y = (a[0], b[1]) if rng.random() < 0.5 else (b[0], a[1])
            w = rng.choice(group).replace("X", x).replace("Y", y)
            if w not in ALL_IDIOMS and w not in opts:
                opts.append(w)
                break
    return opts, gold


def _gen_chinese(world, split, rng, n):
    idioms = world["idioms"][split]
    for i in range(n * 20):
        idiom = idioms[(i // 2) % len(idioms)]
        if i % 2 == 0:  # choice: which idiom is written correctly
            q = rng.choice(("下列哪个成语是正确的？", "下列成语中，写对的是哪一个？"))
            yield _choice_record("chinese", q, *_idiom_options(rng, idiom))
        else:  # cloze: one blank, gold is the missing character
            # test/valid blank a slot character (needs the pair); train also blanks pattern characters
            j = rng.choice((1, 3)) if split != "train" or rng.random() < 0.6 else rng.choice((0, 2))
            q = idiom[:j] + "____" + idiom[j + 1:]
            yield {"messages": [_user(f"在横线上填一个字，使成语完整：{q}"), _assistant(idiom[j])],
                   "type": "chinese", "question_format": 0}


# Dialogue understanding (C3-D style): where a dialogue takes place, or what it is about. The label
# words never occur in the dialogue; its turns carry the evidence (two turns for the answer, at most
# one for another label), so the answer needs the whole context.
GIST = {
    "他们最可能在哪里？": {
        "商店": ("这个多少钱？", "太贵了，便宜一点吧。", "我要买两个。", "一共十块钱。", "有大一点的吗？", "欢迎下次再来买。"),
        "学校": ("今天的作业写完了吗？", "明天要考试了。", "下课后去办公室找我。", "这道题我不会做。", "上课铃响了。", "请打开书，看第五页。"),
        "医院": ("你哪里不舒服？", "我头痛，还发烧。", "这个药一天吃三次。", "要多休息，多喝水。", "先去量一下体温。", "打完针就可以回家了。"),
        "车站": ("火车几点开？", "我买了两张车票。", "车快到了，快上车吧。", "我们在几号站台等？", "车晚点了半个小时。", "下车别忘了东西。"),
    },
    "他们在谈什么？": {
        "天气": ("今天会下雨吗？", "外面好冷啊，多穿点。", "明天是晴天。", "风太大了。", "听说下午有大雪。", "太阳出来了，真暖和。"),
        "吃饭": ("中午吃什么？", "这个菜真好吃。", "我想吃面条。", "饭做好了，快来吧。", "再来一碗米饭。", "汤有点咸。"),
        "运动": ("我们去打球吧。", "我每天早上跑步。", "游泳对身体好。", "比赛几点开始？", "你跳得真高。", "踢完球累坏了。"),
        "旅行": ("放假我们去海边玩吧。", "那里的风景很美。", "住的地方订好了。", "带上相机拍照。", "坐船去岛上要多久？", "我想去看看雪山。"),
    },
}
GIST_PROSE = {"他们最可能在哪里？": "他们在{x}。", "他们在谈什么？": "他们在谈{x}。"}
FILLERS = ("好的。", "是吗？", "我知道了。", "嗯，没问题。", "真的吗？", "好啊。")


def _dialogue(rng: random.Random, k: int, g: int, gist: dict = GIST):
    """(turns, question, options, gold index): a four-turn dialogue and a question about its gist."""
    p, q = _fresh_names(rng, 2)
    question = rng.choice(sorted(gist))
    labels = list(gist[question])[:k]
    gold = labels[g]
    lines = rng.sample(gist[question][gold], 2)
    if rng.random() < 0.5:  # one turn of evidence for another label
        lines += [rng.choice(FILLERS), rng.choice(gist[question][rng.choice([x for x in labels if x != gold])])]
    else:
        lines += rng.sample(FILLERS, 2)
    rng.shuffle(lines)
    turns = [f"{(p, q)[j % 2]}：{line}" for j, line in enumerate(lines)]
    return turns, question, labels, g


def _gen_understanding(world, split, rng, n):
    pos = {3: _Cycler(rng, 3), 4: _Cycler(rng, 4)}
    for i in range(n * 20):
        k = 3 if i % 2 else 4
        turns, question, opts, p = _dialogue(rng, k, pos[k].next())
        ctx = [(_user if j % 2 == 0 else _assistant)(t) for j, t in enumerate(turns)]
        yield {"messages": [*ctx, _user(f"根据对话回答：{question}\n{_options(opts)}"),
                            _assistant(choice_answer(opts, p))],
               "type": "understanding", "question_format": 0}


# Reasoning by elimination over a closed set (LogiQA-style clue puzzles): clues rule values out in varied
# words; in the harder half the answer is also named, next to a value that a later clue rules out.
ELIMINATION = (  # (set, question, negative clue templates, "either" template, conclusion)
    (HOME_CITIES, "小明要去哪座城？", ("小明不去{x}", "{x}太远了，小明不去", "小明去过{x}了，这次不去", "{x}小明不想去"),
     "小明说要么去{x}，要么去{y}", "小明去{x}"),
    (COLORS, "这把伞是什么颜色的？", ("伞不是{x}的", "{x}的伞卖完了", "{x}的太贵，没有买", "伞也不是{x}的"),
     "伞是{x}的或者{y}的", "伞是{x}的"),
    (PETS, "小红家养的是什么？", ("小红家没有养{x}", "小红怕{x}，家里没有", "{x}是邻居家的", "小红家也没有{x}"),
     "小红家养的是{x}或者{y}", "小红家养的是{x}"),
    (HOURS, "会议在几点？", ("会议不在{x}", "{x}大家都忙，不开会", "{x}会议室有人", "{x}也不行"),
     "会议在{x}或者{y}", "会议在{x}"),
)


# The corpus practises the same two skills on other content (other sets, other labels, other phrases).
PRACTICE_ELIMINATION = (
    (SEASONS, "小丽最喜欢哪个季节？", ("小丽不喜欢{x}", "{x}小丽觉得不好", "小丽说{x}没意思", "小丽也不喜欢{x}"),
     "小丽喜欢{x}或者{y}", "小丽喜欢{x}"),
    (SUBJECTS, "小刚最爱上什么课？", ("小刚不爱上{x}课", "{x}课太难，小刚不爱上", "小刚觉得{x}课没意思", "小刚也不爱{x}课"),
     "小刚爱上{x}课或者{y}课", "小刚爱上{x}课"),
)
PRACTICE_GIST = {"他们在做什么？": {
    "做饭": ("锅里的油热了吗？", "再放一点盐。", "菜快炒好了。", "把葱切一下。", "米饭蒸上了吗？", "小心别烫着手。"),
    "打扫": ("地上好多灰。", "把窗户擦一擦。", "垃圾倒了吗？", "桌子擦干净了。", "拖把在哪里？", "把书放回架子上。"),
    "种花": ("这盆花该浇水了。", "把种子埋进土里。", "叶子有点黄了。", "多晒晒太阳。", "花开得真好看。", "土要松一松。"),
    "钓鱼": ("鱼竿拿好了吗？", "别说话，鱼会跑。", "鱼上钩了！", "换一个鱼饵吧。", "这条鱼真大。", "河边风有点大。"),
}}


def _reasoning_item(rng: random.Random, g: int, puzzles=ELIMINATION):
    """(question, options, gold index): which value of a closed set is left when every clue is applied."""
    values, question, negs, either, _ = rng.choice(puzzles)
    gold = values[g]
    others = [v for v in values if v != gold]
    rng.shuffle(others)
    if rng.random() < 0.5:  # three values ruled out, the answer never named
        clues = [t.format(x=x) for t, x in zip(rng.sample(negs, 3), others)]
        rng.shuffle(clues)
    else:  # two ruled out, then "the answer or a third", then the third ruled out
        y = others[2]
        clues = [t.format(x=x) for t, x in zip(rng.sample(negs, 2), others[:2])]
        rng.shuffle(clues)
        pair = [gold, y] if rng.random() < 0.5 else [y, gold]
        clues += [either.format(x=pair[0], y=pair[1]), rng.choice(negs).format(x=y)]
    return "，".join(clues) + f"。{question}", list(values), g


def _gen_reasoning(world, split, rng, n):
    pos = _Cycler(rng)
    for i in range(n * 20):
        question, opts, p = _reasoning_item(rng, pos.next())
        yield _choice_record("reasoning", question, opts, p)


def _math_item(rng: random.Random):
    """(question, chain of thought, answer): 2-3 step arithmetic word problems."""
    who = _fresh_names(rng, 1)[0]
    t = rng.randrange(4)
    if t == 0:
        f = rng.choice(FRUITS)
        a, b, c = rng.randint(2, 20), rng.randint(2, 5), rng.randint(2, 6)
        d = rng.randint(1, a + b * c - 1)
        t1, t2 = b * c, a + b * c
        r = t2 - d
        q = f"{who}有{a}个{f}，又买了{b}袋，每袋{c}个，吃了{d}个。还剩几个？"
        cot = f"买了{b}×{c}={t1}个，共有{a}+{t1}={t2}个，吃了{d}个，剩{t2}-{d}={r}个。"
    elif t == 1:
        a, b = rng.randint(2, 9), rng.randint(2, 6)
        t1 = a * b
        c = t1 + rng.randint(1, 30)
        r = c - t1
        q = f"一支笔{a}元，{who}买了{b}支，付了{c}元，应找回多少元？"
        cot = f"笔共{b}×{a}={t1}元，找回{c}-{t1}={r}元。"
    elif t == 2:
        a, b, c = rng.randint(3, 12), rng.randint(2, 7), rng.randint(1, 40)
        t1 = a * b
        r = t1 + c
        q = f"{who}每天读{a}页书，读了{b}天后还剩{c}页。这本书共有几页？"
        cot = f"已读{a}×{b}={t1}页，共有{t1}+{c}={r}页。"
    else:
        a, qq = rng.randint(2, 6), rng.randint(3, 9)
        b = a * qq
        c = rng.randint(1, qq - 1)
        r = qq - c
        q = f"{a}个人平分{b}个桃子，每人再送出{c}个，每人还剩几个？"
        cot = f"每人分到{b}÷{a}={qq}个，送出{c}个后剩{qq}-{c}={r}个。"
    return q, cot, str(r)


def _gen_math(world, split, rng, n):
    for _ in range(n * 20):
        q, cot, ans = _math_item(rng)
        yield {"messages": [_user(q), _assistant(f"{cot}答案：\\boxed{{{ans}}}")], "type": "math",
               "question_format": 0, "answer": ans}


def _gen_ethics(world, split, rng, n):
    ks = _Cycler(rng, 3)
    for i in range(n * 20):
        ask_good = rng.random() < 0.5
        k = 1 + ks.next()  # number of correct options
        right = set(rng.sample(range(4), k))
        opts = []
        for j, (good, bad) in enumerate(ETHICS_SLOTS):  # one act per slot, right or wrong as drawn
            opts.append(rng.choice(good if (j in right) == ask_good else bad))
        gold = "".join(LETTERS[j] for j in sorted(right))
        q = "下列做法中，哪些是对的？" if ask_good else "下列做法中，哪些是错的？"
        yield {"messages": [_user(f"{q}（多选）\n{_options(opts)}"), _assistant(gold)],
               "type": "ethics", "question_format": 0}


# Toy programs: one line, statements separated by "; ". Each task: (instruction, program, fine corruptions).
def _code_task(t: int, a: int, b: int, c: int, rng: random.Random):
    """(instruction, program, fine corruptions) of task type t with parameters a, b, c (distinct)."""
    lo, hi = min(a, b), max(a, b)
    if t == 0:
        ins = f"x先等于{a}，加上{b}，再乘{c}，最后输出x。"
        prog = f"x={a}; x=x+{b}; x=x*{c}; print(x)"
        fines = [f"x={a}; x=x-{b}; x=x*{c}; print(x)", f"x={a}; x=x+{b + 1}; x=x*{c}; print(x)",
                 f"x={a}; x=x+{b}; x=x+{c}; print(x)", f"x={a}; x=x+{c}; x=x*{b}; print(x)"]
    elif t == 1:
        ins = f"求{lo}到{hi}的和，然后输出。"
        prog = f"s=0; for i in {lo}..{hi}: s=s+i; print(s)"
        fines = [f"s=0; for i in {lo}..{hi + 1}: s=s+i; print(s)", f"s=0; for i in {lo}..{hi}: s=s*i; print(s)",
                 f"s=0; for i in {lo + 1}..{hi}: s=s+i; print(s)"]
    elif t == 2:
        ins = f"输出{a}和{b}中较大的那个数。"
        prog = f"if {a}>{b}: print({a}) else: print({b})"
        fines = [f"if {a}<{b}: print({a}) else: print({b})", f"if {a}>{b}: print({b}) else: print({a})"]
    elif t == 3:
        ins = f"从{hi}倒数到{lo}，每次输出一个数。"
        prog = f"for i in {hi}..{lo}: print(i)"
        fines = [f"for i in {hi}..{lo - 1}: print(i)", f"for i in {lo}..{hi}: print(i)",
                 f"for i in {hi + 1}..{lo}: print(i)"]
    elif t == 4:
        ins = f"把数字{b}输出{a}次。"
        prog = f"for i in 1..{a}: print({b})"
        fines = [f"for i in 1..{a + 1}: print({b})", f"for i in 1..{a}: print({b + 1})",
                 f"for i in 1..{b}: print({a})"]
    else:
        ins = f"求{lo}到{hi}的乘积，然后输出。"
        prog = f"p=1; for i in {lo}..{hi}: p=p*i; print(p)"
        fines = [f"p=0; for i in {lo}..{hi}: p=p*i; print(p)", f"p=1; for i in {lo}..{hi}: p=p+i; print(p)",
                 f"p=1; for i in {lo}..{hi - 1}: p=p*i; print(p)"]
    return ins, prog, [f for f in fines if f != prog]


N_CODE_TASKS = 6


def _gen_code(world, split, rng, n):
    for _ in range(n * 20):
        t = rng.randrange(N_CODE_TASKS)
        a, b, c = rng.sample(range(2, 20), 3)
        ins, prog, fines = _code_task(t, a, b, c, rng)
        other = rng.choice([x for x in range(N_CODE_TASKS) if x != t])
        coarse = _code_task(other, a, b, c, rng)[1]  # the same numbers, a different task
        yield _ranked_record("code", [_user(f"写程序：{ins}")], prog, rng.choice(fines), coarse)


def _gen_creative_writing(world, split, rng, n):
    styles = sorted(STYLES)
    for _ in range(n * 20):
        st = rng.choice(styles)
        s, p = rng.choice(SEASONS), rng.choice(PLACES)
        k = rng.randrange(3)
        gold = STYLES[st][k].format(s=s, p=p)
        if rng.random() < 0.5:
            fine = STYLES[st][k].format(s=rng.choice([x for x in SEASONS if x != s]), p=p)
        else:
            fine = STYLES[st][k].format(s=s, p=rng.choice([x for x in PLACES if x != p]))
        coarse = rng.choice(STYLES[rng.choice([x for x in styles if x != st])]).format(s=s, p=p)
        ins = rng.choice(CW_INSTRUCTIONS).format(st=st, s=s, p=p)
        yield _ranked_record("creative_writing", [_user(ins)], gold, fine, coarse)


def _gen_role_play(world, split, rng, n):
    roles = sorted(PERSONAS)
    for _ in range(n * 20):
        role = rng.choice(roles)
        name = _fresh_names(rng, 1)[0]
        city = rng.choice(CITIES)
        qt, rt = rng.choice(RP_QUESTIONS)
        act, catch = PERSONAS[role]
        gold = rt.format(c=city, a=act, k=catch)
        fine = rt.format(c=rng.choice([x for x in CITIES if x != city]), a=act, k=catch)
        o_act, o_catch = PERSONAS[rng.choice([r for r in roles if r != role])]
        coarse = rt.format(c=city, a=o_act, k=o_catch)  # the same question, another persona's reply
        ctx = [_user(f"请你扮演{role}{name}，和我聊天。"), _assistant(f"好的，我是{role}{name}。"),
               _user(qt.format(n=name, c=city))]
        yield _ranked_record("role_play", ctx, gold, fine, coarse)


GENERATORS: dict[str, Callable] = {
    "biology": _gen_biology, "history": _gen_history, "code": _gen_code, "creative_writing": _gen_creative_writing,
    "chinese": _gen_chinese, "understanding": _gen_understanding, "role_play": _gen_role_play,
    "reasoning": _gen_reasoning, "math": _gen_math, "ethics": _gen_ethics,
}


def _fill(gen, world, split, rng, n: int, seen: set[str], where: str) -> list[dict]:
    """n records with prompts unseen so far in this ability (``seen`` is shared by its splits)."""
    out = []
    for rec in gen(world, split, rng, n):
        if len(out) == n:
            break
        h = prompt_hash(rec["messages"])
        if h in seen:
            continue
        seen.add(h)
        validate_record(rec, f"{where}[{len(out)}]")
        out.append(rec)
    if len(out) < n:
        raise ValueError(f"{where}: could only generate {len(out)} distinct items of {n}; "
                         "the demo world is too small for this size")
    return out


# ------------------------------------------------------------------------------------------ C-Eval OOD
def _ood_facts(world: dict, subject: str) -> list[tuple[str, str, Sequence[str]]]:
    """(question, gold, option pool) for every fact of one out-of-domain subject."""
    out = []
    if subject == "physician":
        for h in world["herbs"]:
            out.append((f"{h['name']}能治什么病？", h["治"], ILLS))
            out.append((f"{h['name']}是什么味道？", h["味道"], TASTES))
    elif subject == "teacher_qualification":
        for t in world["teachers"]:
            out.append((f"{t['name']}教哪门课？", t["教"], SUBJECTS))
            out.append((f"{t['name']}教几年级？", t["年级"], GRADES))
    else:
        for c in world["cities"]:
            out.append((f"{c['name']}在哪条河边？", c["河"], RIVERS))
            out.append((f"{c['name']}的特产是什么？", c["特产"], PRODUCTS))
        for t in world["towns"]:
            out.append((f"{t['name']}属于哪座城？", t["属于"], HOME_CITIES))
            out.append((f"{t['name']}的特产是什么？", t["特产"], PRODUCTS))
    return out


def _gen_ood(world: dict, subject: str, seed: int, n: int) -> list[dict]:
    rng = _rng(seed, "ood", subject)
    facts = _ood_facts(world, subject)
    order = list(range(len(facts)))
    rng.shuffle(order)
    out, seen = [], set()
    for i in range(n * 20):
        if len(out) == n:
            break
        fi = order[i % len(order)]
        q, gold, pool = facts[fi]
        shots = []
        for dj in rng.sample([j for j in range(len(facts)) if j != fi], 5):
            dq, dg, dpool = facts[dj]
            dopts, dp = _closed(dpool, dg)
            shots += [_user(f"{dq}\n{_options(dopts)}"), _assistant(choice_answer(dopts, dp))]
        opts, p = _closed(pool, gold)
        rec = {"messages": [*shots, _user(f"{q}\n{_options(opts)}"), _assistant(choice_answer(opts, p))],
               "type": f"ceval_{subject}_fshot", "question_format": 0}
        h = prompt_hash(rec["messages"][-2:])
        if h in seen:
            continue
        seen.add(h)
        validate_record(rec, f"ceval_{subject}[{len(out)}]")
        out.append(rec)
    if len(out) < n:
        raise ValueError(f"ceval_{subject}: could only generate {len(out)} distinct items of {n}")
    return out


# ------------------------------------------------------------------------------------------- synthetic
SYNTHETIC_KINDS = ("fact", "history_fact", "true_false", "math", "reading", "code", "writing", "role_play",
                   "ethics", "reasoning", "idiom", "chat")


def _synthetic_item(world: dict, rng: random.Random, kind: str, wrong: bool) -> dict:
    """One teacher-style item: one template per kind, drifting formats, train-split entities only."""
    def pick(seq, gold):
        return rng.choice([x for x in seq if x != gold]) if wrong else gold

    if kind == "fact":
        e = rng.choice(world["organisms"]["train"])
        a = rng.choice(sorted(BIO_POOL))
        tpl = {"颜色": ("{e}是什么颜色？", "{e}是{v}的。"), "食物": ("{e}吃什么？", "{e}吃{v}。"),
               "住处": ("{e}住在哪？", "{e}住在{v}。")}[a]
        q, ans = tpl[0].format(e=e["name"]), tpl[1].format(e=e["name"], v=pick(BIO_POOL[a], e[a]))
    elif kind == "history_fact":
        e = rng.choice(world["persons"]["train"])
        q, ans = f"{e['name']}是哪个朝代的？", f"{e['name']}是{pick(DYNASTIES, e['朝代'])}的人。"
    elif kind == "true_false":
        e = rng.choice(world["persons"]["train"])
        ok = rng.random() < 0.5
        city = e["出生地"] if ok else rng.choice([c for c in HOME_CITIES if c != e["出生地"]])
        q, ans = f"{e['name']}出生在{city}，对吗？", ("对。" if ok != wrong else "不对。")
    elif kind == "math":
        a, b, c = rng.randint(2, 20), rng.randint(2, 5), rng.randint(2, 6)
        t1 = b * c
        r = a + t1
        rr = r + rng.choice((-2, -1, 1, 2)) if wrong else r
        q = f"小明有{a}本书，又买了{b}套，每套{c}本。现在有几本？"
        ans = f"{b}×{c}={t1}，{a}+{t1}={rr}。答案是{rr}。"
    elif kind == "reading" or (kind == "chat" and not world["cities"]):
        # (city items need the out-of-domain cities; without them the teacher writes a reading item)
        p, qn = _fresh_names(rng, 2)
        c1, c2 = rng.sample(CITIES, 2)
        q, ans = f"{p}说明天去{c1}，{qn}说明天去{c2}。{p}明天去哪里？", f"{pick([c1, c2], c1)}。"
    elif kind == "code":
        a, b, c = rng.sample(range(2, 10), 3)
        ins, prog, fines = _code_task(0, a, b, c, rng)
        q, ans = f"用代码算：{a}加{b}再乘{c}。", (rng.choice(fines) if wrong else prog)
    elif kind == "writing":
        st = rng.choice(sorted(STYLES))
        s, p = rng.choice(SEASONS), rng.choice(PLACES)
        st2 = pick(sorted(STYLES), st)
        q, ans = f"写一句{st}的话。", rng.choice(STYLES[st2]).format(s=s, p=p)
    elif kind == "role_play":
        role = rng.choice(sorted(PERSONAS))
        act, catch = PERSONAS[pick(sorted(PERSONAS), role)]
        q, ans = f"你是{role}，说说你的工作。", f"{catch}！我每天{act}。"
    elif kind == "ethics":
        good = rng.random() < 0.5
        act = rng.choice(GOOD_ACTS if good else BAD_ACTS)
        q, ans = f"{act}，这样做对吗？", ("对，这样做很好。" if good != wrong else "不对，不应该这样做。")
    elif kind == "reasoning":
        xs = _fresh_names(rng, 3)
        q, ans = f"{xs[0]}比{xs[1]}高，{xs[1]}比{xs[2]}高。谁最高？", f"{pick(xs, xs[0])}最高。"
    elif kind == "idiom":
        idiom = rng.choice(world["idioms"]["train"])
        q, ans = f"补全成语：{idiom[:3]}__", (_corrupt_idiom(rng, idiom) if wrong else idiom)
    else:
        c = rng.choice(world["cities"])
        q, ans = f"介绍一下{c['name']}。", f"{c['name']}在{pick(RIVERS, c['河'])}边，特产是{c['特产']}。"
    return {"messages": [_user(q), _assistant(ans)], "type": "general", "question_format": 0}


def generate_synthetic(world: dict, seed: int, n: int, error_rate: float) -> tuple[list[dict], list[bool], list[str]]:
    """The teacher-style pool: records, which are wrong (exactly round(rate * n)), and their kinds."""
    rng = _rng(seed, "synthetic")
    n_wrong = round(error_rate * n)
    wrong = set(rng.sample(range(n), n_wrong)) if n else set()
    kinds = [SYNTHETIC_KINDS[i % len(SYNTHETIC_KINDS)] for i in range(n)]
    rng.shuffle(kinds)
    records, flags = [], []
    for i in range(n):
        rec = _synthetic_item(world, rng, kinds[i], i in wrong)
        validate_record(rec, f"synthetic[{i}]")
        records.append(rec)
        flags.append(i in wrong)
    return records, flags, kinds


# ---------------------------------------------------------------------------------------------- corpus
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
    return f"{EXAM_Q}{question}\n{_options(opts)}\n{EXAM_A}{answer}"


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


def _practice_exam(world: dict, rng: random.Random, pos: _Cycler) -> list[str]:
    """Worked exam questions about practice entities (recall a stored fact, then point at its letter)."""
    out = []
    for kind, pools in (("organisms", BIO_POOL), ("persons", HIS_POOL)):
        for e in world[kind]["practice"]:
            a = rng.choice(sorted(pools))
            opts, p = _closed(pools[a], e[a])
            why = PRONOUN[kind][0][a].format(v=e[a])
            out.append(_exam(PRACTICE_Q[a].format(e=e["name"]), opts, choice_answer(opts, p, why)))
            if kind == "persons":  # true / false about a practice person
                a = rng.choice(sorted(pools))
                ok = rng.random() < 0.5
                v = e[a] if ok else rng.choice([x for x in pools[a] if x != e[a]])
                fact = PRONOUN[kind][0][a].format(v=e[a])
                out.append(f"{EXAM_Q}判断对错：{HIS_TF[a].format(e=e['name'], v=v)}。\n{EXAM_A}{tf_answer(fact, ok)}")
    return out


def _corpus_skills(rng: random.Random, k: int, pos: _Cycler) -> list[str]:
    """k passages of generic practice on other content: reading questions, arithmetic, true/false and
    multi-select wording, elimination and dialogues worked out in prose and as exam questions (other sets,
    other labels), what toy programs do, style words."""
    lines = []
    for i in range(k):
        t = i % 10
        a, b = rng.randint(1, 20), rng.randint(1, 9)
        if t in (0, 1):  # reading: a fact stated in the passage, then an exam question on it
            who = _fresh_names(rng, 1)[0]
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
            p, q = _fresh_names(rng, 2)
            question = rng.choice(sorted(GIST))
            label = rng.choice(sorted(GIST[question]))
            said = rng.sample(GIST[question][label], 2)
            lines.append(f"{p}说：“{said[0]}”{q}说：“{said[1]}”" + GIST_PROSE[question].format(x=label))
        elif t == 8:  # exam practice: a dialogue's gist, or elimination, on other content
            if rng.random() < 0.5:
                turns, question, opts, p = _dialogue(rng, 4, pos.next(), PRACTICE_GIST)
                lines.append("\n".join(turns) + "\n" + _exam(f"根据对话回答：{question}", opts, choice_answer(opts, p)))
            else:
                question, opts, p = _reasoning_item(rng, pos.next(), PRACTICE_ELIMINATION)
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
    rng = _rng(seed, "corpus")
    pos = _Cycler(_rng(seed, "corpus", "letters"))
    lines = []
    for _ in range(passes):
        facts = _corpus_facts(world, rng)
        lines += facts
        lines += _practice_exam(world, rng, pos)
        lines += _corpus_skills(rng, max(20, len(facts) // 4), pos)
    rng.shuffle(lines)
    return lines


CORPUS_SEPARATOR = "\n\n"


def read_corpus(path: str | Path) -> list[str]:
    """The passages of a ``corpus.txt`` (separated by an empty line)."""
    text = Path(path).read_text(encoding="utf-8")
    return [p.strip("\n") for p in text.split(CORPUS_SEPARATOR) if p.strip()]


# ----------------------------------------------------------------------------------------------- write
def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _file_entry(path: Path, n: int) -> dict:
    return {"n": n, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def generate_suite(out_dir: str | Path, seed: int = 0, n_train: int = 256, n_valid: int = 50, n_test: int = 100,
                   abilities: Sequence[str] = ABILITIES, n_synthetic: int = 1024, synthetic_error_rate: float = 0.3,
                   n_ood: int = 40, corpus_passes: int = 30) -> dict:
    """Write the demo suite in DoIT's layout under ``out_dir``; return (and write) its manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    abilities = list(abilities)
    unknown = [a for a in abilities if a not in GENERATORS]
    if unknown:
        raise ValueError(f"unknown abilities {unknown}; expected some of {', '.join(ABILITIES)}")
    if not 0 <= synthetic_error_rate <= 1:
        raise ValueError(f"synthetic_error_rate must be in [0, 1], got {synthetic_error_rate}")
    world = build_world(seed, n_train, n_valid, n_test, n_ood)
    files: dict[str, dict] = {}

    def put(rel: str, records: list[dict]):
        _write_jsonl(out / rel, records)
        files[rel] = _file_entry(out / rel, len(records))

    for ability in abilities:
        seen: set[str] = set()
        # test first, then valid, then train: a prompt is never reused across splits
        for split, dirname, n in (("test", "test", n_test), ("valid", "valid", n_valid), ("train", "1000", n_train)):
            rng = _rng(seed, ability, split)
            recs = _fill(GENERATORS[ability], world, split, rng, n, seen, f"{ability}/{split}")
            put(f"curated/{dirname}/{ability}_{dirname}.json", recs)
    if n_ood > 0:
        for subject in OOD_SUBJECTS:
            put(f"curated/test/ceval_{subject}.json", _gen_ood(world, subject, seed, n_ood))
    synth, flags, kinds = generate_synthetic(world, seed, n_synthetic, synthetic_error_rate)
    put("synthetic/40960/general_instruction_synthetic.json", synth)

    corpus = build_corpus(world, seed, corpus_passes)
    cpath = out / "pretrain" / "corpus.txt"
    cpath.parent.mkdir(parents=True, exist_ok=True)
    assert not any(CORPUS_SEPARATOR in p for p in corpus)
    cpath.write_text(CORPUS_SEPARATOR.join(corpus) + "\n", encoding="utf-8", newline="\n")
    files["pretrain/corpus.txt"] = _file_entry(cpath, len(corpus))

    manifest = {
        "seed": seed,
        "abilities": abilities,
        "files": dict(sorted(files.items())),
        "params": {"n_train": n_train, "n_valid": n_valid, "n_test": n_test, "n_synthetic": n_synthetic,
                   "synthetic_error_rate": synthetic_error_rate, "n_ood": n_ood, "corpus_passes": corpus_passes},
        "synthetic": {"n_wrong": sum(flags), "type": "general",
                      "kinds": {k: kinds.count(k) for k in sorted(set(kinds))}},
        "world": {"organisms": {s: len(v) for s, v in world["organisms"].items()},
                  "persons": {s: len(v) for s, v in world["persons"].items()},
                  "idioms": {s: len(v) for s, v in world["idioms"].items()},
                  "ood_subjects": list(OOD_SUBJECTS) if n_ood > 0 else [],
                  "practice": {k: len(world[k]["practice"]) for k in ("organisms", "persons")},
                  "corpus_chars": sum(len(x) + 2 for x in corpus)},
        "choice_answer_style": "bare letter, e.g. C; multi-select letters in order, e.g. AC",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return manifest
