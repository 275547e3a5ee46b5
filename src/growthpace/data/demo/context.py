"""Context abilities (understanding, reasoning): the answer needs the whole dialogue or every clue."""

from __future__ import annotations

import random

from .world import (COLORS, HOME_CITIES, HOURS, PETS, SEASONS, SUBJECTS, Cycler, assistant, choice_answer,
                    choice_record, fresh_names, options, user)


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


def dialogue(rng: random.Random, k: int, g: int, gist: dict = GIST):
    """(turns, question, options, gold index): a four-turn dialogue and a question about its gist."""
    p, q = fresh_names(rng, 2)
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


def gen_understanding(world, split, rng, n):
    pos = {3: Cycler(rng, 3), 4: Cycler(rng, 4)}
    for i in range(n * 20):
        k = 3 if i % 2 else 4
        turns, question, opts, p = dialogue(rng, k, pos[k].next())
        ctx = [(user if j % 2 == 0 else assistant)(t) for j, t in enumerate(turns)]
        yield {"messages": [*ctx, user(f"根据对话回答：{question}\n{options(opts)}"),
                            assistant(choice_answer(opts, p))],
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


def reasoning_item(rng: random.Random, g: int, puzzles=ELIMINATION):
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


def gen_reasoning(world, split, rng, n):
    pos = Cycler(rng)
    for i in range(n * 20):
        question, opts, p = reasoning_item(rng, pos.next())
        yield choice_record("reasoning", question, opts, p)
