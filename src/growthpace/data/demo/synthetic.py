"""The synthetic source: a teacher model's general instructions, with a set share of wrong answers."""

from __future__ import annotations

import random

from ..schema import validate_record
from .world import (BAD_ACTS, BIO_POOL, CITIES, DYNASTIES, GOOD_ACTS, HOME_CITIES, PERSONAS, PLACES, RIVERS, SEASONS,
                    STYLES, assistant, fresh_names, seeded_rng, user)
from .knowledge import corrupt_idiom
from .ranked import code_task


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
        p, qn = fresh_names(rng, 2)
        c1, c2 = rng.sample(CITIES, 2)
        q, ans = f"{p}说明天去{c1}，{qn}说明天去{c2}。{p}明天去哪里？", f"{pick([c1, c2], c1)}。"
    elif kind == "code":
        a, b, c = rng.sample(range(2, 10), 3)
        ins, prog, fines = code_task(0, a, b, c, rng)
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
        xs = fresh_names(rng, 3)
        q, ans = f"{xs[0]}比{xs[1]}高，{xs[1]}比{xs[2]}高。谁最高？", f"{pick(xs, xs[0])}最高。"
    elif kind == "idiom":
        idiom = rng.choice(world["idioms"]["train"])
        q, ans = f"补全成语：{idiom[:3]}__", (corrupt_idiom(rng, idiom) if wrong else idiom)
    else:
        c = rng.choice(world["cities"])
        q, ans = f"介绍一下{c['name']}。", f"{c['name']}在{pick(RIVERS, c['河'])}边，特产是{c['特产']}。"
    return {"messages": [user(q), assistant(ans)], "type": "general", "question_format": 0}


def generate_synthetic(world: dict, seed: int, n: int, error_rate: float) -> tuple[list[dict], list[bool], list[str]]:
    """The teacher-style pool: records, which are wrong (exactly round(rate * n)), and their kinds."""
    rng = seeded_rng(seed, "synthetic")
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
