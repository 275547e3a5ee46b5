"""The demo world: its closed vocabularies, the entities of each split, and the helpers every item maker shares."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence

from ..schema import LETTERS, prompt_hash, validate_record


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

# The closed sets that knowledge questions ask about, per attribute.
BIO_POOL = {"颜色": COLORS, "食物": FOODS, "住处": HABITATS}
HIS_POOL = {"朝代": DYNASTIES, "出生地": HOME_CITIES, "职业": JOBS}
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


def seeded_rng(seed: int, *purpose) -> random.Random:
    return random.Random("/".join([str(seed), *map(str, purpose)]))


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def options(opts: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(opts))


def closed(pool: Sequence[str], gold: str, k: int = 4) -> tuple[list[str], int]:
    """The first k values of a closed set as options, in their fixed order, and the gold's index."""
    opts = list(pool[:k])
    return opts, opts.index(gold)


class Cycler:
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


def choice_record(ability: str, question: str, opts: list[str], pos: int, because: str = "") -> dict:
    return {"messages": [user(f"{question}\n{options(opts)}"), assistant(choice_answer(opts, pos, because))],
            "type": ability, "question_format": 0}


def ranked_record(ability: str, context: list[dict], gold: str, fine: str, coarse: str) -> dict:
    assert len({gold, fine, coarse}) == 3, (gold, fine, coarse)
    return {"messages": [*context, assistant(gold)], "type": ability, "question_format": 1,
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


def distinct_records(records: Iterable[dict], n: int, where: str, seen: set[str] | None = None,
                     key: Callable[[dict], str] = lambda rec: prompt_hash(rec["messages"])) -> list[dict]:
    """The first ``n`` valid records of ``records`` whose ``key`` (the prompt's hash) is unseen so far;
    ``seen`` may be shared by several calls (an ability's splits)."""
    seen = set() if seen is None else seen
    out = []
    for rec in records:
        if len(out) == n:
            break
        h = key(rec)
        if h in seen:
            continue
        seen.add(h)
        validate_record(rec, f"{where}[{len(out)}]")
        out.append(rec)
    if len(out) < n:
        raise ValueError(f"{where}: could only generate {len(out)} distinct items of {n}; "
                         "the demo world is too small for this size")
    return out


def fresh_names(rng: random.Random, k: int) -> list[str]:
    """k distinct names of people who exist only inside one prompt (never world entities)."""
    pool = [p + c for p in FRESH_PREFIXES for c in FRESH_CHARS]
    return rng.sample(pool, k)


def idiom_slot(idiom: str) -> int:
    pattern = idiom[0] + "X" + idiom[2] + "Y"
    return next(j for j, group in enumerate(IDIOM_SLOTS) if pattern in group)


def _split_counts(n_train: int, n_valid: int, n_test: int, per_item: int) -> dict[str, int]:
    """Entities per split: test/valid ask one question per (entity, attribute), train two."""
    return {"test": max(2, math.ceil(n_test / per_item)), "valid": max(2, math.ceil(n_valid / per_item)),
            "train": max(2, math.ceil(n_train / (2 * per_item))),
            "practice": max(2, math.ceil(n_test / per_item / 2))}


def build_world(seed: int = 0, n_train: int = 256, n_valid: int = 50, n_test: int = 100, n_ood: int = 40) -> dict:
    """The seeded world: entities with attributes, split into train/valid/test where it matters."""
    rng = seeded_rng(seed, "world")
    names = _Names(seeded_rng(seed, "names"))
    world: dict = {"seed": seed}
    kinds = {"organisms": BIO_POOL, "persons": HIS_POOL}

    def draw(split: str):
        for kind, attrs in kinds.items():
            n = _split_counts(n_train, n_valid, n_test, len(attrs))[split]
            ent_rng = seeded_rng(seed, "world", kind, split)
            # every value of an attribute equally often (within one): no answer letter to exploit
            cyc = {a: Cycler(ent_rng, len(v)) for a, v in attrs.items()}
            world.setdefault(kind, {})[split] = [
                {"name": nm, **{a: v[cyc[a].next()] for a, v in attrs.items()}} for nm in names.take(n)]

    # test, valid and out-of-domain entities are drawn before any train entity: they do not depend on n_train
    draw("test")
    draw("valid")
    # Practice entities: facts in prose AND worked exam questions in the corpus, never in any split.
    draw("practice")
    # Out-of-domain facts (C-Eval-style subjects), stated in the corpus but never trained on.
    ood_rng = seeded_rng(seed, "world", "ood")
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
    by_slot = [[i for i in idioms if idiom_slot(i) == j] for j in range(len(IDIOM_SLOTS))]
    idioms = [g[k] for k in range(max(map(len, by_slot))) for g in by_slot if k < len(g)]
    # Only as many idioms as the splits need (each idiom gives a choice and a cloze item; train reuses
    # each about twice), so that the corpus stays small enough for tiny models to memorise.
    n_te = min(math.ceil(n_test / 2), len(idioms) * 2 // 5)
    n_va = min(math.ceil(n_valid / 2), len(idioms) // 5)
    n_tr = min(math.ceil(n_train / 4), len(idioms) - n_te - n_va)
    world["idioms"] = {"test": idioms[:n_te], "valid": idioms[n_te:n_te + n_va],
                       "train": idioms[n_te + n_va:n_te + n_va + n_tr]}
    return world
