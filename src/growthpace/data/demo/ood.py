"""The C-Eval-style out-of-domain test sets, about facts of the world that no in-domain split asks."""

from __future__ import annotations

from collections.abc import Sequence

from ..schema import prompt_hash
from .world import (GRADES, HOME_CITIES, ILLS, PRODUCTS, RIVERS, SUBJECTS, TASTES, assistant, choice_answer, closed,
                    distinct_records, options, seeded_rng, user)


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


def gen_ood(world: dict, subject: str, seed: int, n: int) -> list[dict]:
    rng = seeded_rng(seed, "ood", subject)
    facts = _ood_facts(world, subject)
    order = list(range(len(facts)))
    rng.shuffle(order)
    # Distinct by the question asked (the last two turns), whatever the shots before it.
    return distinct_records(_items(facts, order, rng, n, subject), n, f"ceval_{subject}",
                            key=lambda rec: prompt_hash(rec["messages"][-2:]))


def _items(facts, order: list[int], rng, n: int, subject: str):
    """Five-shot choice items about ``facts`` in ``order`` (cycled), the shots drawn from the other facts."""
    for i in range(n * 20):
        fi = order[i % len(order)]
        q, gold, pool = facts[fi]
        shots = []
        for dj in rng.sample([j for j in range(len(facts)) if j != fi], 5):
            dq, dg, dpool = facts[dj]
            dopts, dp = closed(dpool, dg)
            shots += [user(f"{dq}\n{options(dopts)}"), assistant(choice_answer(dopts, dp))]
        opts, p = closed(pool, gold)
        yield {"messages": [*shots, user(f"{q}\n{options(opts)}"), assistant(choice_answer(opts, p))],
               "type": f"ceval_{subject}_fshot", "question_format": 0}
