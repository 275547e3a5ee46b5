"""The demo suite: a generated ten-ability data set in DoIT's exact layout and record format.

Everything comes from ONE seeded "world", so that the abilities differ by construction in what they
need, and the pretraining corpus of the tiny demo models is written about the same world:

=================  =========================================================  ===========================
ability            item kinds (DoIT's conventions)                            what a model needs
=================  =========================================================  ===========================
biology            4-option choice about an organism's colour/food/home        a fact stored in pretraining
history            4-option choice + true/false (正确/错误) about a person       a fact stored in pretraining
chinese            4-option choice (which idiom is right) + one-blank cloze     idiom knowledge (pattern + pair)
understanding      dialogue in earlier user/assistant turns, 3/4-option choice read the context
reasoning          4-option choice: order chains, rule chains, elimination     multi-step inference in context
math               word problem, chain of thought, ``\\boxed{}`` + ``answer``    a multi-step arithmetic procedure
ethics             multi-select ("AC") over do's and don'ts                    judgement (rules in pretraining)
code               rank 3 programs in a toy language (question_format 1)       instruction adherence + detail
creative_writing   rank 3 one-line texts in a requested style                  style + detail
role_play          rank 3 replies of a persona in a multi-turn chat            persona + detail
=================  =========================================================  ===========================

Ranked items (question_format 1) have ``choices = [gold, fine, coarse]``: the fine-grained distractor
changes one detail of the gold (a number, an operator, a place); the coarse-grained one is fluent,
on-topic text that answers a *different instruction of the same family* (another task with the same
numbers, another style on the same topic, another persona's reply to the same question), so that it is
not trivially off-topic (see ``reference/demo-feasibility.md``: off-topic distractors score ~1.0 flat).

Knowledge items (biology, history, chinese, the C-Eval-style out-of-domain sets) ask about entities whose
facts are stated in the corpus in prose; the train, valid and test splits use disjoint entities (idioms
for chinese), so a correct test answer needs what pretraining stored. Choice answers are a bare letter
(``"C"``), so DoIT's parser reads them as text. The corpus also teaches the skills that the feasibility
study found missing in tiny models: worked multiple-choice text in prose (the letter pointer), true/false
wording, multi-select wording, arithmetic written out, and what toy programs do.

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

COLORS = ("红色", "黄色", "蓝色", "绿色", "白色", "黑色", "紫色", "灰色")
FOODS = ("青草", "虫子", "小鱼", "果子", "树叶", "种子", "花蜜", "米粒")
HABITATS = ("森林", "河边", "山上", "草原", "海里", "沙漠", "湖中", "洞里")
DYNASTIES = ("秦朝", "汉朝", "唐朝", "宋朝", "元朝", "明朝", "晋朝", "隋朝")
CITIES = ("青城", "石城", "云城", "江城", "花城", "沙城", "金城", "海城")
JOBS = ("将军", "诗人", "丞相", "商人", "工匠", "史官", "乐师", "谋士")
RIVERS = ("青河", "白河", "玉河", "柳河", "沙河", "金河", "明河", "镜河")
PRODUCTS = ("茶叶", "丝绸", "瓷器", "海盐", "白纸", "米酒", "大米", "铁器")
ILLS = ("头痛", "咳嗽", "发烧", "腹痛", "牙痛", "失眠", "眼痛", "腿痛")
TASTES = ("苦", "甜", "酸", "辣", "咸", "涩", "淡", "香")
SUBJECTS = ("语文", "数学", "音乐", "美术", "体育", "科学", "书法", "外语")
GRADES = ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级")
SEASONS = ("春天", "夏天", "秋天", "冬天")
PLACES = CITIES + ("河边", "山上", "湖边", "小村", "花园", "海边", "田野", "竹林", "小桥", "古寺", "江上", "草原",
                   "小院", "街头", "港口", "山谷", "村口", "林间", "湖上", "城楼", "江边", "桥头")
FRUITS = ("苹果", "梨子", "桃子", "橘子", "西瓜")
PETS = ("猫", "狗", "鸟", "鱼", "兔")
SKILLS = ("画画", "唱歌", "下棋", "游泳", "写诗", "种花")
TRAITS = (("高", "最高", "最矮"), ("重", "最重", "最轻"), ("年长", "最年长", "最年轻"), ("快", "最快", "最慢"))

# Chinese idioms of the world: a pattern with slots X, Y filled by a pair of related characters.
IDIOM_PATTERNS = ("千X万Y", "一X一Y", "有X有Y", "无X无Y", "半X半Y", "七X八Y", "东X西Y", "左X右Y",
                  "不X不Y", "自X自Y")
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


def _place_gold(rng: random.Random, gold: str, pool: Sequence[str], pos: int, k: int = 4,
                must: Sequence[str] = ()) -> list[str]:
    """k distinct options with ``gold`` at index ``pos``; ``must`` distractors are used first."""
    distract = [d for d in dict.fromkeys(must) if d != gold]
    rest = [x for x in pool if x != gold and x not in distract]
    rng.shuffle(rest)
    distract = (distract + rest)[:k - 1]
    rng.shuffle(distract)
    return distract[:pos] + [gold] + distract[pos:]


class _Cycler:
    """Values 0..k-1 in seeded blocks of k: any prefix uses every value equally often (within one)."""

    def __init__(self, rng: random.Random, k: int = 4):
        self.rng, self.k, self.block = rng, k, []

    def next(self) -> int:
        if not self.block:
            self.block = list(range(self.k))
            self.rng.shuffle(self.block)
        return self.block.pop()


def _choice_record(ability: str, question: str, opts: list[str], pos: int, context: list[dict] = ()) -> dict:
    return {"messages": [*context, _user(f"{question}\n{_options(opts)}"), _assistant(LETTERS[pos])],
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
            "train": max(2, math.ceil(n_train / (2 * per_item)))}


def build_world(seed: int = 0, n_train: int = 256, n_valid: int = 50, n_test: int = 100, n_ood: int = 40) -> dict:
    """The seeded world: entities with attributes, split into train/valid/test where it matters."""
    rng = _rng(seed, "world")
    names = _Names(_rng(seed, "names"))
    world: dict = {"seed": seed}
    kinds = {"organisms": {"颜色": COLORS, "食物": FOODS, "住处": HABITATS},
             "persons": {"朝代": DYNASTIES, "出生地": CITIES, "职业": JOBS}}

    def draw(split: str):
        for kind, attrs in kinds.items():
            n = _split_counts(n_train, n_valid, n_test, len(attrs))[split]
            ent_rng = _rng(seed, "world", kind, split)
            world.setdefault(kind, {})[split] = [
                {"name": nm, **{a: ent_rng.choice(v) for a, v in attrs.items()}} for nm in names.take(n)]

    # test, valid and out-of-domain entities are drawn before any train entity: they do not depend on n_train
    draw("test")
    draw("valid")
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
        {"name": c, "河": RIVERS[i], "特产": PRODUCTS[(i * 3 + seed) % len(PRODUCTS)]} for i, c in enumerate(CITIES)]
    world["towns"] = [{"name": nm + "镇", "属于": ood_rng.choice(CITIES), "特产": ood_rng.choice(PRODUCTS)}
                      for nm in names.take(n_towns)]
    draw("train")
    # Idioms: all pattern x pair combinations, split so that tested idioms never appear in training.
    idioms = [p.replace("X", a).replace("Y", b) for p in IDIOM_PATTERNS for a, b in IDIOM_PAIRS]
    rng.shuffle(idioms)
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
HIS_TF = {"朝代": "{e}是{v}人。", "出生地": "{e}出生在{v}。", "职业": "{e}是一位{v}。"}
HIS_POOL = {"朝代": DYNASTIES, "出生地": CITIES, "职业": JOBS}


def _fact_pairs(ents: list[dict], attrs: Sequence[str]) -> list[tuple[dict, str]]:
    return [(e, a) for a in attrs for e in ents]


def _gen_biology(world, split, rng, n):
    pairs = _fact_pairs(world["organisms"][split], list(BIO_Q))
    pos = _Cycler(rng)
    for i in range(n * 20):
        e, a = pairs[i % len(pairs)]
        q = BIO_Q[a][rng.randrange(2)].format(e=e["name"])
        p = pos.next()
        yield _choice_record("biology", q, _place_gold(rng, e[a], BIO_POOL[a], p), p)


def _gen_history(world, split, rng, n):
    pairs = _fact_pairs(world["persons"][split], list(HIS_Q))
    pos, truth = _Cycler(rng), _Cycler(rng, 2)
    for i in range(n * 20):
        e, a = pairs[i % len(pairs)]
        if (i + i // len(pairs)) % 2 == 0:  # single choice (the kind alternates on each pass over the facts)
            q = HIS_Q[a][rng.randrange(2)].format(e=e["name"])
            p = pos.next()
            yield _choice_record("history", q, _place_gold(rng, e[a], HIS_POOL[a], p), p)
        else:  # true / false
            ok = truth.next() == 1
            v = e[a] if ok else rng.choice([x for x in HIS_POOL[a] if x != e[a]])
            stmt = HIS_TF[a].format(e=e["name"], v=v)
            yield {"messages": [_user(f"判断下面的说法是否正确：{stmt}"), _assistant("正确" if ok else "错误")],
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


def _gen_chinese(world, split, rng, n):
    idioms = world["idioms"][split]
    pos = _Cycler(rng)
    for i in range(n * 20):
        idiom = idioms[(i // 2) % len(idioms)]
        if i % 2 == 0:  # choice: which idiom is written correctly
            p = pos.next()
            wrong = []
            while len(wrong) < 3:
                w = _corrupt_idiom(rng, idiom)
                if w not in wrong:
                    wrong.append(w)
            opts = wrong[:p] + [idiom] + wrong[p:]
            q = rng.choice(("下列哪个成语是正确的？", "下列成语中，写对的是哪一个？"))
            yield _choice_record("chinese", q, opts, p)
        else:  # cloze: one blank, gold is the missing character
            # test/valid blank a slot character (needs the pair); train also blanks pattern characters
            j = rng.choice((1, 3)) if split != "train" or rng.random() < 0.6 else rng.choice((0, 2))
            q = idiom[:j] + "____" + idiom[j + 1:]
            yield {"messages": [_user(f"在横线上填一个字，使成语完整：{q}"), _assistant(idiom[j])],
                   "type": "chinese", "question_format": 0}


def _dialogue(rng: random.Random):
    """(turns, question, gold, must-distractors, pool): a short two-person dialogue and a question."""
    p, q = _fresh_names(rng, 2)
    t = rng.randrange(4)
    if t == 0:
        c1, c2 = rng.sample(CITIES, 2)
        turns = [f"{p}：{q}，明天我们去{c1}还是{c2}？", f"{q}：去{c2}吧，{c1}太远了。"]
        return turns, "他们明天去哪里？", c2, [c1], CITIES
    if t == 1:
        f = rng.choice(FRUITS)
        k, m = rng.sample(range(2, 10), 2)
        turns = [f"{p}：你买了几个{f}？", f"{q}：我买了{k}个，你呢？", f"{p}：我买了{m}个。", f"{q}：那我们一共有{k + m}个。"]
        pool = [f"{x}个" for x in range(2, 20)]
        return turns, f"{p}买了几个{f}？", f"{m}个", [f"{k}个", f"{k + m}个"], pool
    if t == 2:
        c1, c2 = rng.sample(COLORS, 2)
        turns = [f"{p}：我想买{c1}的伞。", f"{q}：{c1}的卖完了，只有{c2}的。", f"{p}：那就买{c2}的吧。", f"{q}：好的。"]
        return turns, f"{p}最后买了什么颜色的伞？", c2, [c1], COLORS
    city = rng.choice(CITIES)
    h1, h2 = rng.sample(range(1, 12), 2)
    turns = [f"{p}：你几点去{city}？", f"{q}：我{h1}点去，你呢？", f"{p}：我{h2}点去。", f"{q}：好，到时见。"]
    return turns, f"{q}几点去{city}？", f"{h1}点", [f"{h2}点"], [f"{x}点" for x in range(1, 12)]


def _gen_understanding(world, split, rng, n):
    pos = {3: _Cycler(rng, 3), 4: _Cycler(rng, 4)}
    for i in range(n * 20):
        turns, question, gold, must, pool = _dialogue(rng)
        k = 3 if i % 2 else 4
        p = pos[k].next()
        opts = _place_gold(rng, gold, pool, p, k=k, must=must)
        ctx = [(_user if j % 2 == 0 else _assistant)(t) for j, t in enumerate(turns)]
        yield {"messages": [*ctx, _user(f"根据对话回答：{question}\n{_options(opts)}"), _assistant(LETTERS[p])],
               "type": "understanding", "question_format": 0}


def _reasoning_item(rng: random.Random):
    t = rng.randrange(3)
    if t == 0:  # order chain: x1 > x2 > x3 > x4 stated as three shuffled comparisons
        xs = _fresh_names(rng, 4)
        adj, top, bottom = rng.choice(TRAITS)
        facts = [f"{xs[0]}比{xs[1]}{adj}", f"{xs[1]}比{xs[2]}{adj}", f"{xs[2]}比{xs[3]}{adj}"]
        rng.shuffle(facts)
        ask_top = rng.random() < 0.5
        gold = xs[0] if ask_top else xs[3]
        return "，".join(facts) + f"。谁{top if ask_top else bottom}？", gold, xs, xs
    if t == 1:  # rule chain: city -> skill -> colour, with a distracting second chain
        c1, c2 = rng.sample(CITIES, 2)
        s1, s2 = rng.sample(SKILLS, 2)
        k1, k2 = rng.sample(COLORS, 2)
        who = _fresh_names(rng, 1)[0]
        rules = [f"{c1}人都会{s1}", f"会{s1}的人都爱{k1}", f"{c2}人都会{s2}", f"会{s2}的人都爱{k2}"]
        rng.shuffle(rules)
        return "；".join(rules) + f"。{who}是{c1}人，{who}爱什么颜色？", k1, [k2], COLORS
    # elimination: three people, three pets, one negative and one positive clue
    xs = _fresh_names(rng, 3)
    pets = rng.sample(PETS, 3)
    owner = dict(zip(xs, pets))
    a, b, c = xs
    return (f"{a}、{b}、{c}各养了{'、'.join(sorted(pets))}中的一种。{a}不养{pets[2]}，{b}养{pets[1]}。{a}养什么？",
            owner[a], pets, PETS)


def _gen_reasoning(world, split, rng, n):
    pos = _Cycler(rng)
    for i in range(n * 20):
        question, gold, must, pool = _reasoning_item(rng)
        p = pos.next()
        yield _choice_record("reasoning", question, _place_gold(rng, gold, pool, p, must=must), p)


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
        right, wrong = (GOOD_ACTS, BAD_ACTS) if ask_good else (BAD_ACTS, GOOD_ACTS)
        opts = [(a, True) for a in rng.sample(right, k)] + [(a, False) for a in rng.sample(wrong, 4 - k)]
        rng.shuffle(opts)
        gold = "".join(LETTERS[j] for j, (_, ok) in enumerate(opts) if ok)
        q = "下列做法中，哪些是对的？" if ask_good else "下列做法中，哪些是错的？"
        yield {"messages": [_user(f"{q}（多选）\n{_options([a for a, _ in opts])}"), _assistant(gold)],
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
            out.append((f"{t['name']}属于哪座城？", t["属于"], CITIES))
            out.append((f"{t['name']}的特产是什么？", t["特产"], PRODUCTS))
    return out


def _gen_ood(world: dict, subject: str, seed: int, n: int) -> list[dict]:
    rng = _rng(seed, "ood", subject)
    facts = _ood_facts(world, subject)
    order = list(range(len(facts)))
    rng.shuffle(order)
    pos = _Cycler(rng)
    out, seen = [], set()
    for i in range(n * 20):
        if len(out) == n:
            break
        fi = order[i % len(order)]
        q, gold, pool = facts[fi]
        p = pos.next()
        shots = []
        for dj in rng.sample([j for j in range(len(facts)) if j != fi], 5):
            dq, dg, dpool = facts[dj]
            dp = rng.randrange(4)
            shots += [_user(f"{dq}\n{_options(_place_gold(rng, dg, dpool, dp))}"), _assistant(LETTERS[dp])]
        rec = {"messages": [*shots, _user(f"{q}\n{_options(_place_gold(rng, gold, pool, p))}"),
                            _assistant(LETTERS[p])],
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
        city = e["出生地"] if ok else rng.choice([c for c in CITIES if c != e["出生地"]])
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


def _corpus_facts(world: dict, rng: random.Random) -> list[str]:
    """One statement of every fact of the world, in a randomly chosen prose template."""
    lines = []
    for split in ("train", "valid", "test"):
        for e in world["organisms"][split]:
            if rng.random() < 0.25:
                lines.append(f"{e['name']}是一种{e['颜色']}的动物，住在{e['住处']}，爱吃{e['食物']}。")
            else:
                for a in sorted(BIO_PROSE):
                    lines.append(rng.choice(BIO_PROSE[a]).format(e=e["name"], v=e[a]))
        for e in world["persons"][split]:
            if rng.random() < 0.25:
                lines.append(f"{e['name']}是{e['朝代']}的{e['职业']}，出生在{e['出生地']}。")
            else:
                for a in sorted(HIS_PROSE):
                    lines.append(rng.choice(HIS_PROSE[a]).format(e=e["name"], v=e[a]))
        for idiom in world["idioms"][split]:
            lines.append(rng.choice(("大家常说“{i}”。", "“{i}”是一个成语。", "他写文章时用了“{i}”这个词。",
                                     "老师教我们成语“{i}”。")).format(i=idiom))
    for h in world["herbs"]:
        lines.append(rng.choice(("{n}可以治{i}，味道很{t}。", "{n}味道{t}，能治{i}。")).format(
            n=h["name"], i=h["治"], t=h["味道"]))
    for t in world["teachers"]:
        lines.append(rng.choice(("{n}在学校教{s}。", "{n}是{g}的{s}老师。")).format(n=t["name"], s=t["教"], g=t["年级"]))
        lines.append(f"{t['name']}教{t['年级']}。")
    for c in world["cities"]:
        lines.append(rng.choice(("{n}在{r}边，特产是{p}。", "{n}靠着{r}，那里出产{p}。")).format(
            n=c["name"], r=c["河"], p=c["特产"]))
    for t in world["towns"]:
        lines.append(rng.choice(("{n}属于{c}，特产是{p}。", "{c}有个{n}，出产{p}。")).format(
            n=t["name"], c=t["属于"], p=t["特产"]))
    for a, b in IDIOM_PAIRS:
        lines.append(f"“{a}”和“{b}”常常一起用。")
    for act in GOOD_ACTS:
        lines.append(rng.choice(("{a}是对的。", "我们应该{a}。", "{a}是好的做法。")).format(a=act))
    for act in BAD_ACTS:
        lines.append(rng.choice(("{a}是不对的。", "我们不应该{a}。", "{a}是错误的做法。")).format(a=act))
    for st in sorted(STYLES):
        lines.append(f"{st}的句子里常有{STYLE_WORDS[st]}。")
        tpl = rng.choice(STYLES[st])
        lines.append(f"这是一句{st}的话：" + tpl.format(s=rng.choice(SEASONS), p=rng.choice(PLACES)))
    for role in sorted(PERSONAS):
        act, catch = PERSONAS[role]
        lines.append(rng.choice(("{r}每天{a}，常说“{k}”。", "{r}的口头禅是“{k}”，他们的工作是{a}。")).format(
            r=role, a=act, k=catch))
    return lines


# (fact, question, -, option pool) with {w} a fresh person and {v} the value
WORKED_FACTS = (
    ("{w}住在{v}", "{w}住在哪座城？", None, CITIES),
    ("{w}养的鸟是{v}的", "{w}的鸟是什么颜色的？", None, COLORS),
    ("{w}的鸟爱吃{v}", "{w}的鸟吃什么？", None, FOODS),
    ("{w}是{v}人", "{w}是哪个朝代的人？", None, DYNASTIES),
    ("{w}是一位{v}", "{w}是做什么的？", None, JOBS),
    ("{w}的家在{v}", "{w}的家在哪里？", None, HABITATS),
)


def _corpus_skills(rng: random.Random, k: int) -> list[str]:
    """k passages teaching skills: arithmetic, worked choice questions, true/false, multi-select, code."""
    lines = []
    for i in range(k):
        t = i % 8
        a, b = rng.randint(1, 20), rng.randint(1, 9)
        if t == 0:
            lines.append(rng.choice(("{a}加{b}等于{s}，写作{a}+{b}={s}。", "{a}乘{b}等于{p}，写作{a}×{b}={p}。",
                                     "{s}减{b}等于{a}，写作{s}-{b}={a}。", "{p}除以{b}等于{a}，写作{p}÷{b}={a}。"))
                         .format(a=a, b=b, s=a + b, p=a * b))
        elif t == 1:  # worked multiple choice on arithmetic: the letter pointer
            pos = rng.randrange(4)
            opts = _place_gold(rng, str(a + b), [str(x) for x in range(2, 30)], pos)
            inline = " ".join(f"{LETTERS[j]}. {o}" for j, o in enumerate(opts))
            lines.append(f"有道选择题问{a}加{b}等于几，选项是{inline}。{a}加{b}等于{a + b}，"
                         f"{a + b}在选项{LETTERS[pos]}，所以选{LETTERS[pos]}。")
        elif t == 2:  # worked multiple choice on a fact stated in the same passage (fresh people only)
            who = _fresh_names(rng, 1)[0]
            fact, question, gold, pool = rng.choice(WORKED_FACTS)
            gold = rng.choice(pool)
            pos = rng.randrange(4)
            opts = _place_gold(rng, gold, pool, pos)
            if rng.random() < 0.5:
                inline = "，".join(f"{LETTERS[j]}是{o}" for j, o in enumerate(opts))
            else:
                inline = " ".join(f"{LETTERS[j]}. {o}" for j, o in enumerate(opts))
            lines.append(f"{fact}。题目问：{question}选项{inline}。{gold}是{LETTERS[pos]}，所以答案是{LETTERS[pos]}。"
                         .format(w=who, v=gold))
        elif t == 3:  # true / false wording
            c = a + b if rng.random() < 0.5 else a + b + rng.choice((-1, 1, 2))
            word = "正确" if c == a + b else "错误"
            lines.append(rng.choice((f"“{a}加{b}等于{c}”这个说法是{word}的。",
                                     f"判断“{a}加{b}等于{c}”是否正确，答案是{word}。")))
        elif t == 4:  # multi-select wording
            nums = rng.sample(range(1, 30), 4)
            if all(x % 2 for x in nums) or not any(x % 2 for x in nums):
                nums[0] += 1
            inline = " ".join(f"{LETTERS[j]}. {x}" for j, x in enumerate(nums))
            gold = "".join(LETTERS[j] for j, x in enumerate(nums) if x % 2 == 0)
            lines.append(f"在{inline}中，偶数是{'和'.join(gold)}，所以选{gold}。")
        elif t == 5:  # multi-step arithmetic written out
            c = rng.randint(2, 6)
            lines.append(f"先算{b}×{c}={b * c}，再算{a}+{b * c}={a + b * c}，所以结果是{a + b * c}。")
        elif t == 6:  # what toy programs do
            c = rng.randint(2, 5)
            lines.append(rng.choice((
                f"程序x={a}; x=x+{b}; x=x*{c}; print(x)会输出{(a + b) * c}。",
                f"让x等于{a}再加{b}然后输出，可以写成x={a}; x=x+{b}; print(x)。",
                f"程序for i in 1..{c}: print({b})会把{b}输出{c}次。",
                f"程序s=0; for i in 1..{b}: s=s+i; print(s)会输出{b * (b + 1) // 2}。",
                f"程序if {a}>{b}: print({a}) else: print({b})会输出{max(a, b)}。",
            )))
        else:  # a dialogue reported in prose (reading who said what)
            p, q = _fresh_names(rng, 2)
            c1, c2 = rng.sample(CITIES, 2)
            lines.append(f"{p}说：“我明天去{c1}。”{q}说：“我去{c2}。”所以{p}去{c1}，{q}去{c2}。")
    return lines


def build_corpus(world: dict, seed: int, passes: int) -> list[str]:
    rng = _rng(seed, "corpus")
    lines = []
    for _ in range(passes):
        facts = _corpus_facts(world, rng)
        lines += facts
        lines += _corpus_skills(rng, max(16, len(facts) // 8))
    rng.shuffle(lines)
    return lines


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
    cpath.write_text("".join(line + "\n" for line in corpus), encoding="utf-8", newline="\n")
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
                  "corpus_chars": sum(len(x) + 1 for x in corpus)},
        "choice_answer_style": "bare letter, e.g. C; multi-select letters in order, e.g. AC",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return manifest
