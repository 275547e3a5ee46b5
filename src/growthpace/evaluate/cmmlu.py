"""CMMLU from a local copy of its data directory, with the DoIT paper's prompt (paper.md 4.3).

Layout (as released): ``{root}/dev/{subject}.csv`` and ``{root}/test/{subject}.csv``, each with the
header ``,Question,A,B,C,D,Answer`` (an unnamed index column first). The subjects are the test files.

Prompt (the authors' ``evaluate/cmmlu``): ``以下是关于{科目}的单项选择题，请直接给出正确答案的选项。``, a
blank line, ``k`` solved dev examples (``题目：…`` + options ``A. …`` + ``答案是：X`` + blank line), then
the question ending in ``答案是：``. The whole prompt is one user turn (in the chat format: ``<user>``
… ``<assistant>``; an untuned base model gets it in plain text, ``evaluate.prompts``); the prediction
is the argmax of the A-D logits at the first answer position (no generation). When ``max_tokens`` is
given, the longest demo is dropped until the prompt fits, as the authors' ``gen_prompt`` does, but
measured on the prompt the model gets (theirs: the demos' text; two demos of the same longest length
go together there, one at a time here). Unlike the authors' script, test rows are not
shuffled (their ``sample(frac=1, random_state=42)`` only reorders them).

Answers are checked exactly: one letter ``A``-``D``. A row whose answer is empty or several letters
(``AB``: a multi-answer question in a single-answer set) is dropped, from the test set and from the
dev demos alike, and counted; any other answer is an error naming file and line. Each subject's dropped
rows and demos (and demos dropped to fit the prompt budget) are logged with their reasons; a subject
left with no question is an error, and so is a file that is not UTF-8 (naming the encoding it looks
like).

Summary (``summarize``): accuracy per subject, per category (the mean of its subjects' accuracies;
a subject can belong to two categories, e.g. ``China specific``), and ``Overall`` = the mean of the
per-subject accuracies.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..data.loaders import read_utf8
from ..data.schema import RecordError

log = logging.getLogger(__name__)

HEADER = ["", "Question", "A", "B", "C", "D", "Answer"]
# Several answer letters ("AB", "A,C"): a multi-answer question, dropped from a single-answer set.
SEVERAL_LETTERS = re.compile(r"[A-Za-z](?:[\s,，、;/]*[A-Za-z])+")
CHOICES = "ABCD"
INSTRUCTION = "以下是关于{}的单项选择题，请直接给出正确答案的选项。\n\n"

# The CMMLU release's ``src/categories.py``: Chinese names, subcategories and categories.
NAME_ZH = {
    "agronomy": "农学", "anatomy": "解剖学", "ancient_chinese": "古汉语", "arts": "艺术学", "astronomy": "天文学",
    "business_ethics": "商业伦理", "chinese_civil_service_exam": "中国公务员考试",
    "chinese_driving_rule": "中国驾驶规则", "chinese_food_culture": "中国饮食文化",
    "chinese_foreign_policy": "中国外交政策", "chinese_history": "中国历史", "chinese_literature": "中国文学",
    "chinese_teacher_qualification": "中国教师资格", "clinical_knowledge": "临床知识",
    "college_actuarial_science": "大学精算学", "college_education": "大学教育学",
    "college_engineering_hydrology": "大学工程水文学", "college_law": "大学法律", "college_mathematics": "大学数学",
    "college_medical_statistics": "大学医学统计", "college_medicine": "大学医学", "computer_science": "计算机科学",
    "computer_security": "计算机安全", "conceptual_physics": "概念物理学",
    "construction_project_management": "建设工程管理", "economics": "经济学", "education": "教育学",
    "electrical_engineering": "电气工程", "elementary_chinese": "小学语文", "elementary_commonsense": "小学常识",
    "elementary_information_and_technology": "小学信息技术", "elementary_mathematics": "初等数学",
    "ethnology": "民族学", "food_science": "食品科学", "genetics": "遗传学", "global_facts": "全球事实",
    "high_school_biology": "高中生物", "high_school_chemistry": "高中化学", "high_school_geography": "高中地理",
    "high_school_mathematics": "高中数学", "high_school_physics": "高中物理学", "high_school_politics": "高中政治",
    "human_sexuality": "人类性行为", "international_law": "国际法学", "journalism": "新闻学",
    "jurisprudence": "法理学", "legal_and_moral_basis": "法律与道德基础", "logical": "逻辑学",
    "machine_learning": "机器学习", "management": "管理学", "marketing": "市场营销",
    "marxist_theory": "马克思主义理论", "modern_chinese": "现代汉语", "nutrition": "营养学", "philosophy": "哲学",
    "professional_accounting": "专业会计", "professional_law": "专业法学", "professional_medicine": "专业医学",
    "professional_psychology": "专业心理学", "public_relations": "公共关系", "security_study": "安全研究",
    "sociology": "社会学", "sports_science": "体育学", "traditional_chinese_medicine": "中医中药",
    "virology": "病毒学", "world_history": "世界历史", "world_religions": "世界宗教",
}
SUBCATEGORIES = {
    "agronomy": ["other"], "anatomy": ["biology"], "ancient_chinese": ["linguistics", "china specific"],
    "arts": ["arts"], "astronomy": ["physics"], "business_ethics": ["business"],
    "chinese_civil_service_exam": ["politics", "china specific"], "chinese_driving_rule": ["other", "china specific"],
    "chinese_food_culture": ["culture", "china specific"], "chinese_foreign_policy": ["politics", "china specific"],
    "chinese_history": ["history", "china specific"], "chinese_literature": ["literature", "china specific"],
    "chinese_teacher_qualification": ["education", "china specific"], "college_actuarial_science": ["math"],
    "college_education": ["education"], "college_engineering_hydrology": ["engineering"], "college_law": ["law"],
    "college_mathematics": ["math"], "college_medical_statistics": ["statistics"], "clinical_knowledge": ["other"],
    "college_medicine": ["other"], "computer_security": ["other"], "conceptual_physics": ["physics"],
    "construction_project_management": ["other", "china specific"], "economics": ["economics"],
    "education": ["education"], "elementary_chinese": ["linguistics", "china specific"],
    "elementary_commonsense": ["other", "china specific"], "elementary_information_and_technology": ["other"],
    "electrical_engineering": ["engineering"], "elementary_mathematics": ["math"],
    "ethnology": ["culture", "china specific"], "food_science": ["other"], "genetics": ["biology"],
    "global_facts": ["global"], "high_school_biology": ["biology"], "high_school_chemistry": ["chemistry"],
    "computer_science": ["computer science"], "high_school_geography": ["geography"],
    "high_school_mathematics": ["math"], "high_school_physics": ["physics"],
    "high_school_politics": ["politics", "china specific"], "human_sexuality": ["other"],
    "international_law": ["law"], "journalism": ["sociology"], "jurisprudence": ["law"],
    "legal_and_moral_basis": ["other"], "logical": ["philosophy"], "machine_learning": ["computer science"],
    "management": ["business"], "marketing": ["business"], "marxist_theory": ["philosophy"],
    "modern_chinese": ["linguistics", "china specific"], "nutrition": ["other"], "philosophy": ["philosophy"],
    "professional_accounting": ["business"], "professional_law": ["law"], "professional_medicine": ["other"],
    "professional_psychology": ["psychology"], "public_relations": ["politics"], "security_study": ["politics"],
    "sociology": ["culture"], "sports_science": ["other"], "traditional_chinese_medicine": ["other", "china specific"],
    "virology": ["biology"], "world_history": ["history"], "world_religions": ["global"],
}
CATEGORIES = {
    "STEM": ["physics", "chemistry", "biology", "computer science", "math", "engineering", "statistics"],
    "Humanities": ["history", "philosophy", "law", "arts", "literature", "global"],
    "Social Science": ["linguistics", "business", "politics", "culture", "economics", "geography", "psychology",
                       "education", "sociology"],
    "Other": ["other"],
    "China specific": ["china specific"],
}


def categories_of(subject: str) -> list[str]:
    subs = SUBCATEGORIES[subject]
    return [cat for cat, members in CATEGORIES.items() if any(s in members for s in subs)]


def answer_problem(answer: str, letters: str) -> str | None:
    """Why a single-answer label is dropped (``empty``, ``several letters``), None when it is one of
    ``letters``; anything else raises ``ValueError``."""
    answer = answer.strip()
    if answer in letters and len(answer) == 1:
        return None
    if not answer:
        return "empty answer"
    if SEVERAL_LETTERS.fullmatch(answer):
        return "several answer letters"
    raise ValueError(f"expected one of {', '.join(letters)}, got {answer!r}")


def read_csv(path: Path, dropped: Counter | None = None) -> list[tuple[int, dict]]:
    """(line number, row) for every row of one CMMLU CSV file; checks the header and each answer. Rows
    with an empty or multi-letter answer are left out and counted in ``dropped`` by reason."""
    text = read_utf8(path, "CMMLU file")
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != HEADER:
        raise RecordError(f"{path}:1", "header", f"expected {','.join(HEADER)!r}, got {header!r}")
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            raise RecordError(where, "row", f"expected {len(HEADER)} columns, got {len(row)}")
        rec = dict(zip(HEADER[1:], row[1:]))
        if not rec["Question"].strip():
            raise RecordError(where, "Question", "empty question")
        try:
            problem = answer_problem(rec["Answer"], CHOICES)
        except ValueError as e:
            raise RecordError(where, "Answer", str(e)) from None
        if problem:
            if dropped is not None:
                dropped[problem] += 1
            continue
        rows.append((reader.line_num, rec))
    return rows


def drop_reasons(counts: Counter) -> str:
    """``1 empty answer, 2 several answer letters`` (a log line's reasons)."""
    return ", ".join(f"{n} {why}" for why, n in sorted(counts.items()))


def log_trimmed(what: str, trimmed: Counter, budget) -> None:
    """Log how many demos were dropped from how many prompts to fit ``budget`` tokens (``trimmed``: demos
    dropped -> prompts), when any were."""
    if set(trimmed) - {0}:
        log.warning("%s: demos dropped to fit %s tokens: %s", what, budget,
                    ", ".join(f"{n} demos from {c} prompts" for n, c in sorted(trimmed.items()) if n))


def format_example(row: dict, with_answer: bool) -> str:
    text = "题目：" + row["Question"] + "".join(f"\n{c}. {row[c]}" for c in CHOICES) + "\n答案是："
    return text + f"{row['Answer'].strip()}\n\n" if with_answer else text


def subjects_in(root: str | Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CMMLU directory {root} does not exist")
    test = root / "test"
    if not test.is_dir():
        raise FileNotFoundError(f"{test}: no such directory (CMMLU layout: {{root}}/dev, {{root}}/test)")
    subjects = sorted(p.stem for p in test.glob("*.csv"))
    if not subjects:
        raise FileNotFoundError(f"{test}: no subject CSV files")
    unknown = [s for s in subjects if s not in NAME_ZH]
    if unknown:
        raise ValueError(f"{test}: unknown CMMLU subjects {unknown} (no Chinese name or category for them)")
    return subjects


def load_cmmlu(root: str | Path, shots: Iterable[int] = (0, 5), subjects: Iterable[str] | None = None,
               length=None, max_tokens: int | None = None) -> dict[str, list[dict]]:
    """{``cmmlu_{k}shot_{subject}_test``: first-token records} for every subject and shot count;
    ``length``: the token count of the prompt a conversation gets (``prompts.ChatPrompts.prompt_length``
    or ``PlainPrompts.prompt_length``), which k-shot prompts must keep within ``max_tokens``."""
    from .run import first_token_record  # torch: not for the analysis, which reads summarize
    root = Path(root)
    subjects = list(subjects) if subjects is not None else subjects_in(root)
    out = {}
    for subject in subjects:
        if subject not in NAME_ZH:
            raise ValueError(f"unknown CMMLU subject {subject!r}")
        test_path = root / "test" / f"{subject}.csv"
        dropped: Counter = Counter()
        test = read_csv(test_path, dropped)
        if dropped:
            log.warning("%s: dropped %d of %d questions (%s)", test_path, sum(dropped.values()),
                        len(test) + sum(dropped.values()), drop_reasons(dropped))
        if not test:
            raise RecordError(str(test_path), "rows", "no usable question" + (f" ({drop_reasons(dropped)})" if dropped else ""))
        head = INSTRUCTION.format(NAME_ZH[subject])
        for k in shots:
            demos: list[str] = []
            if k > 0:
                dev_path = root / "dev" / f"{subject}.csv"
                dev_dropped: Counter = Counter()
                dev = read_csv(dev_path, dev_dropped)
                if dev_dropped:
                    log.warning("%s: dropped %d dev questions as demos (%s)", dev_path, sum(dev_dropped.values()),
                                drop_reasons(dev_dropped))
                if len(dev) < k:
                    raise ValueError(f"{dev_path}: {k}-shot needs {k} dev questions, the file has {len(dev)} usable")
                demos = [format_example(row, True) for _, row in dev[:k]]
            records, trimmed = [], Counter()
            for line, row in test:
                end = format_example(row, False)
                kept = _fit(head, demos, end, length, max_tokens)
                trimmed[len(demos) - len(kept)] += 1
                messages = [{"role": "user", "content": head + "".join(kept) + end}]
                records.append(first_token_record(messages, row["Answer"].strip(), f"cmmlu_{k}shot",
                                                  str(test_path), line))
            log_trimmed(f"cmmlu {subject} {k}-shot", trimmed, max_tokens)
            log.info("cmmlu %s %d-shot: %d questions", subject, k, len(records))
            out[f"cmmlu_{k}shot_{subject}_test"] = records
    return out


def _fit(head: str, demos: list[str], end: str, length, max_tokens: int | None) -> list[str]:
    """Drop the longest demo until the prompt, as ``length`` measures it, fits ``max_tokens`` (the
    authors' rule)."""
    kept = list(demos)
    if length is None or max_tokens is None:
        return kept
    while kept and length([{"role": "user", "content": head + "".join(kept) + end},
                           {"role": "assistant", "content": "A"}]) > max_tokens:
        longest = max(range(len(kept)), key=lambda i: len(kept[i]))
        kept.pop(longest)
    return kept


def parse_eval_set(name: str) -> tuple[int, str]:
    """(shots, subject) of ``cmmlu_{k}shot_{subject}_test``."""
    body = name.removeprefix("cmmlu_").removesuffix("_test")
    shots, subject = body.split("_", 1)
    return int(shots.removesuffix("shot")), subject


def summarize(predictions: pd.DataFrame) -> pd.DataFrame:
    """Rows (shots, level, name, accuracy, n): per subject, per category, and Overall."""
    df = predictions[predictions["eval_set"].str.startswith("cmmlu_")]
    rows = []
    for name, g in df.groupby("eval_set"):
        shots, subject = parse_eval_set(name)
        rows.append({"shots": shots, "level": "subject", "name": subject, "accuracy": float(g["score"].mean()),
                     "n": len(g)})
    per_subject = pd.DataFrame(rows, columns=["shots", "level", "name", "accuracy", "n"])
    out = [per_subject]
    for shots, g in per_subject.groupby("shots"):
        cats = []
        for cat in CATEGORIES:
            members = g[g["name"].map(lambda s: cat in categories_of(s))]
            if len(members):
                cats.append({"shots": shots, "level": "category", "name": cat,
                             "accuracy": float(members["accuracy"].mean()), "n": int(members["n"].sum())})
        cats.append({"shots": shots, "level": "overall", "name": "Overall", "accuracy": float(g["accuracy"].mean()),
                     "n": int(g["n"].sum())})
        out.append(pd.DataFrame(cats))
    return pd.concat(out, ignore_index=True)
