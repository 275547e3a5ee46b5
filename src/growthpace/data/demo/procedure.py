"""Procedure and judgement abilities (math, ethics): multi-step arithmetic, judging four acts at once."""

from __future__ import annotations

import random

from ..schema import LETTERS
from .world import ETHICS_SLOTS, FRUITS, Cycler, assistant, fresh_names, options, user


def _math_item(rng: random.Random):
    """(question, chain of thought, answer): 2-3 step arithmetic word problems."""
    who = fresh_names(rng, 1)[0]
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


def gen_math(world, split, rng, n):
    for _ in range(n * 20):
        q, cot, ans = _math_item(rng)
        yield {"messages": [user(q), assistant(f"{cot}答案：\\boxed{{{ans}}}")], "type": "math",
               "question_format": 0, "answer": ans}


def gen_ethics(world, split, rng, n):
    ks = Cycler(rng, 3)
    for i in range(n * 20):
        ask_good = rng.random() < 0.5
        k = 1 + ks.next()  # number of correct options
        right = set(rng.sample(range(4), k))
        opts = []
        for j, (good, bad) in enumerate(ETHICS_SLOTS):  # one act per slot, right or wrong as drawn
            opts.append(rng.choice(good if (j in right) == ask_good else bad))
        gold = "".join(LETTERS[j] for j in sorted(right))
        q = "下列做法中，哪些是对的？" if ask_good else "下列做法中，哪些是错的？"
        yield {"messages": [user(f"{q}（多选）\n{options(opts)}"), assistant(gold)],
               "type": "ethics", "question_format": 0}
