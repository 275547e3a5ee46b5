"""Ranked abilities (code, creative_writing, role_play): DoIT's 3-way perplexity ranking (question_format 1)."""

from __future__ import annotations

import random

from .world import (CITIES, CW_INSTRUCTIONS, PERSONAS, PLACES, RP_QUESTIONS, SEASONS, STYLES, assistant, fresh_names,
                    ranked_record, user)


# Toy programs: one line, statements separated by "; ". Each task: (instruction, program, fine corruptions).
def code_task(t: int, a: int, b: int, c: int, rng: random.Random):
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


def gen_code(world, split, rng, n):
    for _ in range(n * 20):
        t = rng.randrange(N_CODE_TASKS)
        a, b, c = rng.sample(range(2, 20), 3)
        ins, prog, fines = code_task(t, a, b, c, rng)
        other = rng.choice([x for x in range(N_CODE_TASKS) if x != t])
        coarse = code_task(other, a, b, c, rng)[1]  # the same numbers, a different task
        yield ranked_record("code", [user(f"写程序：{ins}")], prog, rng.choice(fines), coarse)


def gen_creative_writing(world, split, rng, n):
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
        yield ranked_record("creative_writing", [user(ins)], gold, fine, coarse)


def gen_role_play(world, split, rng, n):
    roles = sorted(PERSONAS)
    for _ in range(n * 20):
        role = rng.choice(roles)
        name = fresh_names(rng, 1)[0]
        city = rng.choice(CITIES)
        qt, rt = rng.choice(RP_QUESTIONS)
        act, catch = PERSONAS[role]
        gold = rt.format(c=city, a=act, k=catch)
        fine = rt.format(c=rng.choice([x for x in CITIES if x != city]), a=act, k=catch)
        o_act, o_catch = PERSONAS[rng.choice([r for r in roles if r != role])]
        coarse = rt.format(c=city, a=o_act, k=o_catch)  # the same question, another persona's reply
        ctx = [user(f"请你扮演{role}{name}，和我聊天。"), assistant(f"好的，我是{role}{name}。"),
               user(qt.format(n=name, c=city))]
        yield ranked_record("role_play", ctx, gold, fine, coarse)
