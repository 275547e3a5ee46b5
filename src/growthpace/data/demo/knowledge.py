"""Knowledge abilities (biology, history, chinese): facts and idioms that only pretraining stores."""

from __future__ import annotations

import random
from collections.abc import Sequence

from .world import (ALL_IDIOMS, BIO_POOL, HIS_POOL, IDIOM_PAIRS, IDIOM_PATTERNS, IDIOM_SLOTS, Cycler, assistant,
                    choice_record, closed, idiom_slot, tf_answer, user)


BIO_Q = {"颜色": ("{e}是什么颜色的？", "{e}的身体是哪种颜色？"), "食物": ("{e}吃什么？", "{e}最爱吃的食物是？"),
         "住处": ("{e}生活在哪里？", "{e}的家在哪里？")}
HIS_Q = {"朝代": ("{e}是哪个朝代的人？", "{e}生活在哪个朝代？"), "出生地": ("{e}出生在哪座城？", "{e}的家乡是哪里？"),
         "职业": ("{e}是做什么的？", "{e}的身份是什么？")}
HIS_TF = {"朝代": "{e}是{v}人", "出生地": "{e}出生在{v}", "职业": "{e}是一位{v}"}
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


def gen_biology(world, split, rng, n):
    pairs = _fact_pairs(world["organisms"][split], list(BIO_Q))
    for i in range(n * 20):
        e, a = pairs[i % len(pairs)]
        q = BIO_Q[a][rng.randrange(2)].format(e=e["name"])
        yield choice_record("biology", q, *closed(BIO_POOL[a], e[a]), PRONOUN["organisms"][0][a].format(v=e[a]))


def gen_history(world, split, rng, n):
    pairs = _fact_pairs(world["persons"][split], list(HIS_Q))
    truth = Cycler(rng, 2)
    for i in range(n * 20):
        e, a = pairs[i % len(pairs)]
        fact = PRONOUN["persons"][0][a].format(v=e[a])
        if (i + i // len(pairs)) % 2 == 0:  # single choice (the kind alternates on each pass over the facts)
            q = HIS_Q[a][rng.randrange(2)].format(e=e["name"])
            yield choice_record("history", q, *closed(HIS_POOL[a], e[a]), fact)
        else:  # true / false: the answer states the stored fact, then the verdict
            ok = truth.next() == 1
            v = e[a] if ok else rng.choice([x for x in HIS_POOL[a] if x != e[a]])
            stmt = HIS_TF[a].format(e=e["name"], v=v)
            yield {"messages": [user(f"判断下面的说法是否正确：{stmt}。"), assistant(tf_answer(fact, ok))],
                   "type": "history", "question_format": 0}


def corrupt_idiom(rng: random.Random, idiom: str) -> str:
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


def _idiom_options(rng: random.Random, idiom: str) -> tuple[list[str], int]:
    """One candidate per slot: the idiom in its own slot, elsewhere another slot's pattern filled with a
    mismatched pair (a non-idiom)."""
    gold = idiom_slot(idiom)
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


def gen_chinese(world, split, rng, n):
    idioms = world["idioms"][split]
    for i in range(n * 20):
        idiom = idioms[(i // 2) % len(idioms)]
        if i % 2 == 0:  # choice: which idiom is written correctly
            q = rng.choice(("下列哪个成语是正确的？", "下列成语中，写对的是哪一个？"))
            yield choice_record("chinese", q, *_idiom_options(rng, idiom))
        else:  # cloze: one blank, gold is the missing character
            # test/valid blank a slot character (needs the pair); train also blanks pattern characters
            j = rng.choice((1, 3)) if split != "train" or rng.random() < 0.6 else rng.choice((0, 2))
            q = idiom[:j] + "____" + idiom[j + 1:]
            yield {"messages": [user(f"在横线上填一个字，使成语完整：{q}"), assistant(idiom[j])],
                   "type": "chinese", "question_format": 0}
