"""The generated demo suite: DoIT's layout and record format, item kinds, determinism, no leakage."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from growthpace.data import demo
from growthpace.data.demo import context, generate_suite, world
from growthpace.data.demo import corpus as demo_corpus
from growthpace.data.schema import ABILITIES, RANKED_ABILITIES, prompt_hash, record_hash, validate_record

SPLIT_DIRS = {"train": "1000", "valid": "valid", "test": "test"}
SMALL = dict(n_train=16, n_valid=8, n_test=12, n_synthetic=120, n_ood=10, corpus_passes=2)
LETTER_LINE = re.compile(r"^([A-D])\. (.+)$")
CJK = re.compile(r"^[\u4e00-\u9fff]+$")
CHOICE_ANSWER = re.compile(r"^(.+)，选([A-D])$")  # "它全身是蓝色的，选C": a short reason, then the letter
TF_ANSWER = re.compile(r"^(.+)，所以(正确|错误)$")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_file(root: Path, ability: str, split: str) -> Path:
    d = SPLIT_DIRS[split]
    return root / "curated" / d / f"{ability}_{d}.json"


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("suite")
    t0 = time.perf_counter()
    manifest = generate_suite(root)
    elapsed = time.perf_counter() - t0
    sizes = {rel: (root / rel).stat().st_size for rel in manifest["files"]}
    print(f"\ndefault generate_suite: {elapsed:.2f} s, {sum(sizes.values()) / 1e6:.2f} MB in {len(sizes)} files; "
          f"corpus {manifest['files']['pretrain/corpus.txt']['n']} lines, {manifest['world']['corpus_chars']} chars")
    return root, manifest


def letter(rec: dict) -> str:
    """The gold letter of a single-choice record (its answer ends with 选X)."""
    m = CHOICE_ANSWER.match(rec["messages"][-1]["content"])
    assert m, rec
    return m.group(2)


def gold_option(rec: dict) -> str:
    return options(rec)["ABCD".index(letter(rec))]


def options(rec: dict) -> list[str]:
    """Option texts of a choice item (lines 'A. ...' of the last user turn), in letter order."""
    lines = rec["messages"][-2]["content"].split("\n")
    opts = [LETTER_LINE.match(x) for x in lines[1:]]
    assert all(opts), rec
    assert [m.group(1) for m in opts] == list("ABCD"[:len(opts)]), rec
    return [m.group(2) for m in opts]


def kind(rec: dict) -> str:
    """The item kind as DoIT's scorer would see it."""
    gold = rec["messages"][-1]["content"]
    prompt = rec["messages"][-2]["content"]
    if rec.get("question_format") == 1:
        return "ranking"
    if rec["type"] == "math":
        return "math"
    if TF_ANSWER.match(gold):
        return "true_false"
    if "____" in prompt:
        return "cloze"
    if rec["type"] == "ethics":
        return "multi_select"
    return "single_choice"


# ------------------------------------------------------------------------------------------ validity
def test_every_record_is_valid_and_files_match_manifest(suite):
    root, manifest = suite
    json_files = sorted(p for p in root.rglob("*.json") if p.name != "manifest.json")
    listed = {rel for rel in manifest["files"] if rel.endswith(".json")}
    assert {str(p.relative_to(root)) for p in json_files} == listed
    for p in json_files:
        for i, rec in enumerate(read_jsonl(p)):
            validate_record(rec, f"{p}:{i + 1}")
    for rel, entry in manifest["files"].items():
        data = (root / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], rel
        if rel == "pretrain/corpus.txt":  # passages, separated by an empty line
            assert len(demo.read_corpus(root / rel)) == entry["n"]
        else:
            assert len([x for x in data.decode("utf-8").splitlines() if x.strip()]) == entry["n"], rel
    on_disk = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["files"] == manifest["files"] and on_disk["seed"] == 0
    assert on_disk["abilities"] == list(ABILITIES)


def test_sizes_match_arguments(suite):
    root, manifest = suite
    for ability in ABILITIES:
        for split, n in (("train", 256), ("valid", 50), ("test", 100)):
            recs = read_jsonl(split_file(root, ability, split))
            assert len(recs) == n, (ability, split)
            assert {r["type"] for r in recs} == {ability}
            assert {r.get("question_format", 0) for r in recs} == ({1} if ability in RANKED_ABILITIES else {0})
    assert len(read_jsonl(root / "synthetic/40960/general_instruction_synthetic.json")) == 1024
    assert manifest["params"]["n_train"] == 256 and manifest["params"]["corpus_passes"] == 30


def test_other_sizes_and_subset_of_abilities(tmp_path):
    m = generate_suite(tmp_path, seed=3, abilities=["math", "ethics"], **SMALL)
    names = {Path(rel).name for rel in m["files"]}
    assert "math_1000.json" in names and "ethics_test.json" in names and "biology_test.json" not in names
    assert len(read_jsonl(split_file(tmp_path, "math", "train"))) == 16
    assert len(read_jsonl(split_file(tmp_path, "ethics", "valid"))) == 8
    assert len(read_jsonl(tmp_path / "curated/test/ceval_physician.json")) == 10
    m1 = generate_suite(tmp_path / "one", n_train=1, n_valid=1, n_test=1, n_synthetic=0, n_ood=0, corpus_passes=1)
    assert not [rel for rel in m1["files"] if "ceval" in rel]
    assert m1["files"]["synthetic/40960/general_instruction_synthetic.json"]["n"] == 0
    # A synthetic pool without out-of-domain sets (no cities in the world) still generates.
    m2 = generate_suite(tmp_path / "two", n_train=4, n_valid=4, n_test=6, n_synthetic=40, n_ood=0, corpus_passes=1)
    assert m2["files"]["synthetic/40960/general_instruction_synthetic.json"]["n"] == 40
    with pytest.raises(ValueError):
        generate_suite(tmp_path / "bad", abilities=["astrology"], **SMALL)


def test_texts_are_short(suite):
    root, _ = suite
    for ability in ABILITIES:
        for split in SPLIT_DIRS:
            for r in read_jsonl(split_file(root, ability, split)):
                prompt = sum(len(m["content"]) for m in r["messages"][:-1])
                answer = max([len(r["messages"][-1]["content"])] + [len(c) for c in r.get("choices", [])])
                assert prompt <= 120, r
                assert answer <= (120 if ability == "math" else 60), r


# ------------------------------------------------------------------------------------------ item kinds
def test_item_kinds_per_ability(suite):
    root, _ = suite
    for split in SPLIT_DIRS:
        kinds = {a: Counter(kind(r) for r in read_jsonl(split_file(root, a, split))) for a in ABILITIES}
        n = sum(kinds["biology"].values())
        assert kinds["biology"] == {"single_choice": n}
        assert set(kinds["history"]) == {"single_choice", "true_false"}
        assert set(kinds["chinese"]) == {"single_choice", "cloze"}
        for a in ("history", "chinese"):
            assert min(kinds[a].values()) >= 0.3 * n, (a, kinds[a])
        assert kinds["understanding"] == {"single_choice": n}
        assert kinds["reasoning"] == {"single_choice": n}
        assert kinds["math"] == {"math": n}
        assert kinds["ethics"] == {"multi_select": n}
        for a in RANKED_ABILITIES:
            assert kinds[a] == {"ranking": n}


def test_choice_items(suite):
    root, _ = suite
    for ability in ("biology", "history", "chinese", "understanding", "reasoning"):
        recs = [r for r in read_jsonl(split_file(root, ability, "test")) if kind(r) == "single_choice"]
        golds = Counter()
        for r in recs:
            opts = options(r)
            gold = letter(r)
            assert gold in "ABCD"[:len(opts)]
            assert len(set(opts)) == len(opts), r
            # the answer says the right option in words before its letter
            assert gold_option(r) in CHOICE_ANSWER.match(r["messages"][-1]["content"]).group(1), r
            golds[gold] += 1
        share = max(golds.values()) / len(recs)
        assert share < 0.4, (ability, golds)  # letters are balanced: no letter bias to exploit
    # understanding: a dialogue in earlier turns, options 3 or 4; the label words are not in the dialogue
    recs = read_jsonl(split_file(root, "understanding", "test"))
    assert all(len(r["messages"]) >= 4 for r in recs)
    assert {len(options(r)) for r in recs} == {3, 4}
    for r in recs:
        dialogue = "".join(m["content"] for m in r["messages"][:-2])
        question = r["messages"][-2]["content"].split("\n")[0].removeprefix("根据对话回答：")
        labels = context.GIST[question]
        assert not [x for x in options(r) if x in dialogue], r
        evidence = Counter(lab for lab, lines in labels.items() for line in lines if line in dialogue)
        assert evidence.most_common(1)[0] == (gold_option(r), 2) and sum(evidence.values()) <= 3, r


def test_closed_option_sets(suite):
    """Knowledge, reasoning, understanding and C-Eval-style options list a closed set in a fixed order, so
    the letter follows from the answer's content (tiny models cannot bind shuffled options to letters)."""
    root, _ = suite
    closed = {tuple(v) for v in (*world.BIO_POOL.values(), *world.HIS_POOL.values(),
                                 *(e[0] for e in context.ELIMINATION))}
    closed |= {tuple(list(g)[:k]) for g in context.GIST.values() for k in (3, 4)}
    for ability in ("biology", "history", "understanding", "reasoning"):
        for r in read_jsonl(split_file(root, ability, "test")):
            if kind(r) == "single_choice":
                assert tuple(options(r)) in closed, r
    for f in (root / "curated" / "test").glob("ceval_*.json"):
        for r in read_jsonl(f):
            assert len(options(r)) == 4 and letter(r) in "ABCD"
    # chinese: one candidate per slot (pattern group); only the slot's candidate is a real idiom
    for r in read_jsonl(split_file(root, "chinese", "test")):
        if kind(r) == "single_choice":
            opts = options(r)
            assert [o in world.ALL_IDIOMS for o in opts].count(True) == 1, r
            assert opts["ABCD".index(letter(r))] in world.ALL_IDIOMS
            for j, o in enumerate(opts):
                assert o[0] + "X" + o[2] + "Y" in world.IDIOM_SLOTS[j], r


def test_true_false_and_cloze(suite):
    root, _ = suite
    tf = [r for r in read_jsonl(split_file(root, "history", "test")) if kind(r) == "true_false"]
    c = Counter(TF_ANSWER.match(r["messages"][-1]["content"]).group(2) for r in tf)
    assert abs(c["正确"] - c["错误"]) <= 2, c
    for r in tf:  # the verdict follows from the stated fact: the same value, or another one
        stmt = r["messages"][-2]["content"].split("：", 1)[1]
        fact, verdict = TF_ANSWER.match(r["messages"][-1]["content"]).groups()
        value = re.search("|".join(v for pool in world.HIS_POOL.values() for v in pool), fact).group(0)
        assert (value in stmt) == (verdict == "正确"), r
    cloze = [r for r in read_jsonl(split_file(root, "chinese", "test")) if kind(r) == "cloze"]
    for r in cloze:
        assert r["messages"][-2]["content"].count("____") == 1
        assert CJK.match(r["messages"][-1]["content"]), r
        idiom = r["messages"][-2]["content"].split("：")[-1].replace("____", r["messages"][-1]["content"])
        assert idiom in world.ALL_IDIOMS


def test_math_items(suite):
    root, _ = suite
    step = re.compile(r"(\d+)([+\-×÷])(\d+)=(\d+)")
    ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "×": lambda a, b: a * b, "÷": lambda a, b: a / b}
    for split in SPLIT_DIRS:
        for r in read_jsonl(split_file(root, "math", split)):
            out = r["messages"][-1]["content"]
            boxed = re.findall(r"\\boxed\{([^{}]*)\}", out)
            assert boxed == [r["answer"]] and "答案" in out, r
            steps = step.findall(out)
            assert len(steps) >= 2, r  # a multi-step procedure
            for a, op, b, res in steps:
                assert ops[op](int(a), int(b)) == int(res), (r, a, op, b, res)
            assert int(steps[-1][3]) == int(r["answer"]) and int(r["answer"]) >= 0


def test_ethics_multi_select(suite):
    root, _ = suite
    recs = read_jsonl(split_file(root, "ethics", "test"))
    sizes = Counter()
    for r in recs:
        gold = r["messages"][-1]["content"]
        opts = options(r)
        assert len(opts) == 4 and re.fullmatch(r"A?B?C?D?", gold) and gold
        want_good = "对的" in r["messages"][-2]["content"]
        right = set(world.GOOD_ACTS if want_good else world.BAD_ACTS)
        assert gold == "".join(L for L, o in zip("ABCD", opts) if o in right), r
        for j, o in enumerate(opts):  # one act per slot
            assert o in world.ETHICS_SLOTS[j][0] + world.ETHICS_SLOTS[j][1], r
        sizes[len(gold)] += 1
    assert set(sizes) == {1, 2, 3}  # never all four (degenerate expectation 1.0)


def test_reasoning_answers_follow_from_the_prompt(suite):
    """Elimination: every clause but an "either" clause rules out the values it names; one value is left."""
    root, _ = suite
    named = 0
    recs = read_jsonl(split_file(root, "reasoning", "test"))
    for r in recs:
        clues = r["messages"][-2]["content"].split("\n")[0].split("。")[0].split("，")
        values = options(r)
        ruled_out = {v for c in clues if "要么" not in c and "或者" not in c for v in values if v in c}
        left = [v for v in values if v not in ruled_out]
        assert left == [gold_option(r)], r
        named += any(gold_option(r) in c for c in clues)  # the harder half names the answer too
    assert 0.25 * len(recs) <= named <= 0.75 * len(recs), named


def test_ranked_items(suite):
    root, _ = suite
    for ability in RANKED_ABILITIES:
        for split in SPLIT_DIRS:
            for r in read_jsonl(split_file(root, ability, split)):
                gold, fine, coarse = r["choices"]
                assert r["messages"][-1]["content"] == gold
                assert len({gold, fine, coarse}) == 3
                # fine-grained: one detail differs (same length up to a digit or two, mostly the same text)
                assert abs(len(fine) - len(gold)) <= 2 and SequenceMatcher(None, fine, gold).ratio() >= 0.75, r
    # coarse-grained distractors stay on topic (hard), they answer another instruction of the same family
    for r in read_jsonl(split_file(root, "creative_writing", "test")):
        gold, _, coarse = r["choices"]
        topic = re.search(r"(春天|夏天|秋天|冬天)", r["messages"][0]["content"]).group(1)
        assert topic in gold and topic in coarse
    for r in read_jsonl(split_file(root, "role_play", "test")):
        city = re.search(r"(\w城)", r["messages"][-2]["content"]).group(1)
        assert city in r["choices"][0] and city in r["choices"][2] and city not in r["choices"][1]
    for r in read_jsonl(split_file(root, "code", "test")):
        nums = re.findall(r"\d+", r["messages"][0]["content"])
        assert any(n in r["choices"][2] for n in nums)


# ---------------------------------------------------------------------------------------- determinism
def test_deterministic_and_seed_dependent(tmp_path):
    a = generate_suite(tmp_path / "a", seed=5, **SMALL)
    b = generate_suite(tmp_path / "b", seed=5, **SMALL)
    c = generate_suite(tmp_path / "c", seed=6, **SMALL)
    assert a["files"] == b["files"]
    for rel in [*a["files"], "manifest.json"]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    differ = [rel for rel in a["files"] if a["files"][rel]["sha256"] != c["files"][rel]["sha256"]]
    assert len(differ) == len(a["files"])


def test_abilities_do_not_depend_on_which_others_are_generated(tmp_path):
    a = generate_suite(tmp_path / "all", **SMALL)
    b = generate_suite(tmp_path / "two", abilities=["math", "biology"], **SMALL)
    for rel, entry in b["files"].items():
        assert a["files"][rel] == entry, rel


# ------------------------------------------------------------------------------------------- leakage
def test_train_valid_test_are_disjoint(suite):
    root, _ = suite
    for ability in ABILITIES:
        recs = {s: read_jsonl(split_file(root, ability, s)) for s in SPLIT_DIRS}
        prompts = {s: [prompt_hash(r["messages"]) for r in rs] for s, rs in recs.items()}
        for s in SPLIT_DIRS:
            assert len(set(prompts[s])) == len(prompts[s]), (ability, s)  # no duplicate prompts in a file
        for s1, s2 in (("train", "test"), ("train", "valid"), ("valid", "test")):
            assert not set(prompts[s1]) & set(prompts[s2]), (ability, s1, s2)
            assert not {record_hash(r) for r in recs[s1]} & {record_hash(r) for r in recs[s2]}
            # single-turn items: the question text itself is never reused (multi-turn ones differ in context)
            single = {s: {r["messages"][0]["content"] for r in recs[s] if len(r["messages"]) == 2} for s in recs}
            assert not single[s1] & single[s2], (ability, s1, s2)


def entity(rec: dict) -> str:
    return re.match(r"(?:判断下面的说法是否正确：)?(\w{2})", rec["messages"][-2]["content"]).group(1)


def test_knowledge_entities_are_disjoint_across_splits(suite):
    root, _ = suite
    for ability in ("biology", "history"):
        ents = {s: {entity(r) for r in read_jsonl(split_file(root, ability, s))} for s in SPLIT_DIRS}
        assert not ents["train"] & ents["test"] and not ents["train"] & ents["valid"]
        assert not ents["valid"] & ents["test"]
        assert len(ents["test"]) >= 30
    # chinese: the idioms of test items never occur in training items
    def idioms(split):
        out = set()
        for r in read_jsonl(split_file(root, "chinese", split)):
            text = r["messages"][-2]["content"]
            if kind(r) == "cloze":
                out.add(text.split("：")[-1].replace("____", r["messages"][-1]["content"]))
            else:
                out.add(gold_option(r))
        return out
    assert not idioms("train") & idioms("test")


def test_corpus_states_facts_in_prose_but_not_the_questions(suite):
    root, _ = suite
    corpus = (root / "pretrain" / "corpus.txt").read_text(encoding="utf-8")
    lines = demo.read_corpus(root / "pretrain" / "corpus.txt")
    assert all(p.strip() and "\n\n" not in p for p in lines) and len(lines) == manifest_n(root)
    by_entity: dict[str, list[str]] = {}
    for ability in ("biology", "history"):
        for r in read_jsonl(split_file(root, ability, "test")):
            if kind(r) != "single_choice":
                continue
            e = entity(r)
            gold = gold_option(r)
            hits = by_entity.setdefault(e, [x for x in lines if e in x])
            assert any(gold in x for x in hits), (e, gold)  # the fact is stated in pretraining
            assert not any("？" in x or "\nA." in x for x in hits)  # ... in prose, never as a question
    for ability in ABILITIES:
        for r in read_jsonl(split_file(root, ability, "test")):
            question = r["messages"][-2]["content"]
            assert question not in corpus
            assert question.split("\n")[0] not in corpus, question
    # the skills the base model needs are in the corpus too
    assert any("\nA. " in x and "\n答" in x and "，选" in x for x in lines) and any("×" in x for x in lines)
    assert any("所以正确" in x for x in lines) and any("print(" in x for x in lines)


def manifest_n(root: Path) -> int:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))["files"]["pretrain/corpus.txt"]["n"]


def test_exam_passages_in_the_corpus_never_ask_about_split_entities(suite):
    """Worked exam questions in the corpus (the letter format exists before SFT) ask only about practice
    entities, which no split uses, or about a fact stated in the same passage; split entities appear in
    prose only. The tested idioms, dialogues and puzzles never appear as questions either."""
    root, manifest = suite
    world = demo.build_world(0, 256, 50, 100, 40)
    split_names = {e["name"] for k in ("organisms", "persons") for s in ("train", "valid", "test")
                   for e in world[k][s]}
    practice = {e["name"] for k in ("organisms", "persons") for e in world[k]["practice"]}
    assert practice and not practice & split_names
    assert manifest["world"]["practice"] == {"organisms": len(world["organisms"]["practice"]),
                                              "persons": len(world["persons"]["practice"])}
    passages = demo.read_corpus(root / "pretrain" / "corpus.txt")
    exams = [p for p in passages if "\n" + demo_corpus.EXAM_A in p]
    assert len(exams) > 0.05 * len(passages)
    asked = Counter()
    for p in exams:
        assert not [n for n in split_names if n in p], p
        asked.update(n for n in practice if n in p)
    assert set(asked) == practice  # every practice entity is asked about
    # no split record mentions a practice entity
    for ability in ("biology", "history"):
        for s in SPLIT_DIRS:
            text = "".join(m["content"] for r in read_jsonl(split_file(root, ability, s)) for m in r["messages"])
            assert not [n for n in practice if n in text]
    # no test or valid prompt (its question line) occurs anywhere in the corpus
    corpus = "\n\n".join(passages)
    for ability in ABILITIES:
        for s in ("valid", "test"):
            for r in read_jsonl(split_file(root, ability, s)):
                assert r["messages"][-2]["content"].split("\n")[0] not in corpus, r


# ----------------------------------------------------------------------------------------- synthetic
def test_synthetic_error_rate_and_drift(tmp_path, suite):
    root, manifest = suite
    recs = read_jsonl(root / "synthetic/40960/general_instruction_synthetic.json")
    assert {r["type"] for r in recs} == {"general"}
    assert manifest["synthetic"]["n_wrong"] == round(0.3 * 1024)
    # check wrong answers independently on the kinds whose truth is easy to recompute
    world = demo.build_world(0, 256, 50, 100, 40)
    persons = {e["name"]: e for s in ("train", "valid", "test") for e in world["persons"][s]}
    checked = wrong = 0
    for r in recs:
        q, a = r["messages"][0]["content"], r["messages"][1]["content"]
        m = re.fullmatch(r"小明有(\d+)本书，又买了(\d+)套，每套(\d+)本。现在有几本？", q)
        if m:
            x, y, z = map(int, m.groups())
            wrong += int(a.split("答案是")[-1].rstrip("。")) != x + y * z
            checked += 1
        m = re.fullmatch(r"(\w{2})是哪个朝代的？", q)
        if m:
            wrong += persons[m.group(1)]["朝代"] not in a
            checked += 1
    assert checked > 100
    assert abs(wrong / checked - 0.3) < 0.12, (wrong, checked)
    # train-split entities only: no test entity occurs in the synthetic pool
    test_names = {e["name"] for e in world["organisms"]["test"] + world["persons"]["test"]}
    text = "".join(m["content"] for r in recs for m in r["messages"])
    assert not [n for n in test_names if n in text]
    # drift: fewer templates than curated, free-text answers, no \boxed{} and no 正确/错误
    assert not any("\\boxed" in r["messages"][1]["content"] for r in recs)
    assert not any(r["messages"][1]["content"] in ("正确", "错误") for r in recs)
    for rate in (0.0, 1.0):
        _, flags, _ = demo.generate_synthetic(world, 0, 200, rate)
        assert sum(flags) == round(rate * 200)


# --------------------------------------------------------------------------------------------- C-Eval
def test_ceval_files_are_five_shot(suite):
    root, manifest = suite
    files = sorted((root / "curated" / "test").glob("ceval_*.json"))
    assert 2 <= len(files) <= 3
    for f in files:
        recs = read_jsonl(f)
        assert len(recs) == 40
        subject = f.stem[len("ceval_"):]
        for r in recs:
            assert len(r["messages"]) == 12
            assert r["type"] == f"ceval_{subject}_fshot"
            for i in range(0, 12, 2):
                shot = {"messages": r["messages"][i:i + 2]}
                assert len(options(shot)) == 4
                assert gold_option(shot) in r["messages"][i + 1]["content"]
            assert r["messages"][-2]["content"] not in [m["content"] for m in r["messages"][:-2]]
            assert sum(len(m["content"]) for m in r["messages"]) <= 300
        assert len({r["messages"][-2]["content"] for r in recs}) == 40


def test_character_inventory_is_modest(suite):
    root, manifest = suite
    chars = set((root / "pretrain" / "corpus.txt").read_text(encoding="utf-8"))
    for rel in manifest["files"]:
        if rel.endswith(".json"):
            for r in read_jsonl(root / rel):
                for m in r["messages"]:
                    chars.update(m["content"])
    assert len(chars) < 800, len(chars)


def test_test_sets_do_not_depend_on_the_training_pool_size(tmp_path):
    a = generate_suite(tmp_path / "a", **SMALL)
    b = generate_suite(tmp_path / "b", **{**SMALL, "n_train": 40, "n_synthetic": 50})
    for rel, entry in a["files"].items():
        if rel.startswith("curated/test/") or rel.startswith("curated/valid/"):
            assert b["files"][rel] == entry, rel
        if rel.startswith("curated/1000/"):
            assert b["files"][rel]["n"] == 40


# ------------------------------------------------------------------------------------ tiny base models
def test_speaker_tokens_start_as_the_corpus_exam_markers(tmp_path):
    """After pretraining, <user>/<assistant>/<eot> (never in the corpus) are copies of 问/答/newline, the
    markers of the corpus's exam passages; the output rows follow (tied embeddings)."""
    import torch

    from growthpace.models.chat import ASSISTANT, EOT, USER
    from growthpace.models.tiny import CHAT_TOKEN_INIT, build_model, init_chat_tokens
    from growthpace.models.tokenizer import train_char_tokenizer

    assert CHAT_TOKEN_INIT == {USER: demo_corpus.EXAM_Q, ASSISTANT: demo_corpus.EXAM_A, EOT: "\n"}
    tok = train_char_tokenizer(["问：今天\n答：好"], tmp_path)
    arch = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
            "intermediate_size": 32}
    model = build_model(arch, len(tok), tok.pad_token_id, tok.eos_token_id)
    assert init_chat_tokens(model, tok) == CHAT_TOKEN_INIT
    emb, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    for token, marker in CHAT_TOKEN_INIT.items():
        t, m = tok.convert_tokens_to_ids(token), tok(marker, add_special_tokens=False)["input_ids"][0]
        assert torch.equal(emb[t], emb[m]) and torch.equal(out[t], out[m])
