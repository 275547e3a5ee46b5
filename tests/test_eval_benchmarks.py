"""CMMLU, AGIEval and C-Eval-style out-of-domain sets: loaders on fixtures in the real layouts, prompts,
first-token scoring against a plain forward pass, summaries against an independent computation."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from growthpace.data.schema import RecordError
from growthpace.evaluate import agieval, cmmlu
from growthpace.evaluate.engine import HFEngine
from growthpace.evaluate.ood import load_ood_sets
from growthpace.evaluate.prompts import ChatPrompts
from growthpace.evaluate.run import evaluate_sets
from growthpace.models.chat import encode_continuation, encode_prompt

FIXTURES = Path(__file__).parent / "fixtures"
# AGIEval as released: data/v1/{task}.jsonl, data/few_shot_prompts.csv one folder up
CMMLU_DIR, AGIEVAL_DIR = FIXTURES / "cmmlu", FIXTURES / "agieval" / "data" / "v1"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """A tiny random model whose character tokenizer covers the fixture texts."""
    from growthpace.models.tiny import build_model
    from growthpace.models.tokenizer import train_char_tokenizer

    out = tmp_path_factory.mktemp("bench-model")
    texts = [line for d in (CMMLU_DIR, FIXTURES / "agieval") for f in sorted(d.rglob("*.*"))
             for line in f.read_text(encoding="utf-8").splitlines()]
    tok = train_char_tokenizer(texts + ["以下是关于的单项选择题，请直接给出正确答案的选项。题目答案是问题选项从到我们应选择"], out)
    arch = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 64}
    build_model(arch, len(tok), tok.pad_token_id, tok.eos_token_id, seed=5, max_positions=1024).save_pretrained(
        out, safe_serialization=True)
    return HFEngine(out, batch_size=4, progress=False)


# ------------------------------------------------------------------------------------------- CMMLU
def test_cmmlu_prompt_is_the_papers(engine):
    sets = cmmlu.load_cmmlu(CMMLU_DIR, shots=[0, 5])
    assert sorted(sets) == ["cmmlu_0shot_ancient_chinese_test", "cmmlu_0shot_high_school_biology_test",
                            "cmmlu_5shot_ancient_chinese_test", "cmmlu_5shot_high_school_biology_test"]
    zero = sets["cmmlu_0shot_high_school_biology_test"][1]
    assert zero["messages"] == [
        {"role": "user", "content": "以下是关于高中生物的单项选择题，请直接给出正确答案的选项。\n\n题目：光合作用主要发生在哪种细胞器中？"
                                    "\nA. 线粒体\nB. 核糖体\nC. 叶绿体\nD. 高尔基体\n答案是："},
        {"role": "assistant", "content": "C"}]
    assert zero["_line"] == 3 and zero["_file"].endswith("test/high_school_biology.csv")
    five = sets["cmmlu_5shot_high_school_biology_test"][1]["messages"][0]["content"]
    assert five.startswith("以下是关于高中生物的单项选择题，请直接给出正确答案的选项。\n\n题目：细胞的“动力车间”是：\nA. 叶绿体\nB. 线粒体"
                           "\nC. 液泡\nD. 中心体\n答案是：B\n\n题目：下列属于原核生物的是：")
    assert five.count("题目：") == 6 and five.endswith("D. 高尔基体\n答案是：")
    # A quoted field with a comma-free body and quotes in the question survive the CSV reader.
    assert sets["cmmlu_0shot_ancient_chinese_test"][3]["messages"][0]["content"].endswith(
        "题目：“温故而知新”的“故”指的是：\nA. 旧的知识\nB. 原因\nC. 所以\nD. 故意\n答案是：")


def test_cmmlu_drops_the_longest_demo_until_the_prompt_fits(engine):
    tok = engine.tokenizer
    full = cmmlu.load_cmmlu(CMMLU_DIR, shots=[5], subjects=["ancient_chinese"])
    n_full = len(encode_prompt(tok, full["cmmlu_5shot_ancient_chinese_test"][0]["messages"]))
    fit = cmmlu.load_cmmlu(CMMLU_DIR, shots=[5], subjects=["ancient_chinese"],
                           length=ChatPrompts(tok).prompt_length, max_tokens=n_full - 1)
    prompt = fit["cmmlu_5shot_ancient_chinese_test"][0]["messages"][0]["content"]
    assert prompt.count("题目：") == 5
    assert "“不亦说乎”" not in prompt  # the longest demo (dev row 0) went first


def test_cmmlu_scores_are_the_argmax_of_first_token_logits(engine):
    sets = cmmlu.load_cmmlu(CMMLU_DIR, shots=[0])
    df = evaluate_sets(engine, sets)
    tok = engine.tokenizer
    letters = {L: tok(L, add_special_tokens=False)["input_ids"][0] for L in "ABCD"}
    for (name, recs) in sets.items():
        rows = df[df["eval_set"] == name]
        for r, (_, row) in zip(recs, rows.iterrows()):
            prompt = encode_prompt(tok, r["messages"])
            gold = encode_continuation(tok, r["messages"][-1]["content"])
            with torch.no_grad():
                logits = engine.model(torch.tensor([prompt + gold])).logits[0]
            last = logits[len(prompt) - 1]
            want = max("ABCD", key=lambda L: float(last[letters[L]]))
            assert row["parsed"] == want
            # The gold's log-likelihood (read from the letters' forward) is the plain forward's.
            logp = torch.log_softmax(logits[len(prompt) - 1:-1], -1).gather(1, torch.tensor(gold)[:, None]).sum()
            assert row["gold_logprob"] == pytest.approx(float(logp), abs=1e-4) and row["gold_tokens"] == len(gold)
            assert row["kind"] == "first_token" and pd.isna(row["output"])
            assert row["score"] == float(want == r["messages"][-1]["content"])
            assert row["expected"] == 0.25


def test_cmmlu_summary_is_mean_of_subject_accuracies():
    rows = []
    for subject, scores in {"ancient_chinese": [1, 0, 0, 1], "high_school_biology": [1, 1, 0],
                            "chinese_history": [0, 0]}.items():
        rows += [{"eval_set": f"cmmlu_0shot_{subject}_test", "score": float(s)} for s in scores]
    summary = cmmlu.summarize(pd.DataFrame(rows + [{"eval_set": "biology_valid", "score": 1.0}])).set_index("name")
    assert summary.loc["ancient_chinese", "accuracy"] == 0.5
    assert summary.loc["Overall", "accuracy"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert summary.loc["STEM", "accuracy"] == pytest.approx(2 / 3)
    assert summary.loc["Humanities", "accuracy"] == 0.0  # chinese_history
    assert summary.loc["China specific", "accuracy"] == pytest.approx(0.25)  # ancient_chinese, chinese_history
    assert summary.loc["Social Science", "accuracy"] == 0.5


def test_cmmlu_errors_name_the_directory_or_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="CMMLU directory .*nowhere"):
        cmmlu.load_cmmlu(tmp_path / "nowhere")
    root = tmp_path / "c"
    shutil.copytree(CMMLU_DIR, root)
    (root / "test" / "ancient_chinese.csv").write_text(",Question,A,B,C,Answer\n0,问,甲,乙,丙,A\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"ancient_chinese.csv:1.*header"):
        cmmlu.load_cmmlu(root)
    (root / "test" / "ancient_chinese.csv").write_text(",Question,A,B,C,D,Answer\n0,问,甲,乙,丙,丁,E\n",
                                                       encoding="utf-8")
    with pytest.raises(RecordError, match=r"ancient_chinese.csv:2: Answer"):
        cmmlu.load_cmmlu(root)
    (root / "test" / "ancient_chinese.csv").write_text(",Question,A,B,C,D,Answer\n0,问,甲,乙,丙,丁,AB\n",
                                                       encoding="utf-8")
    with pytest.raises(RecordError, match=r"ancient_chinese.csv: rows: no usable question \(1 several answer"):
        cmmlu.load_cmmlu(root)
    (root / "test" / "ancient_chinese.csv").write_bytes(",Question,A,B,C,D,Answer\n0,“习”的意思是：,学习,温习,练习,习惯,B\n"
                                                        .encode("gbk"))
    with pytest.raises(ValueError, match=r"ancient_chinese.csv: not UTF-8 .*looks like GB18030"):
        cmmlu.load_cmmlu(root)
    (root / "test" / "ancient_chinese.csv").unlink()
    (root / "dev" / "high_school_biology.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"dev/high_school_biology.csv"):
        cmmlu.load_cmmlu(root, shots=[5])


def test_cmmlu_drops_multi_letter_and_empty_answers_and_logs_them(tmp_path, caplog):
    root = tmp_path / "c"
    shutil.copytree(CMMLU_DIR, root)
    test = root / "test" / "ancient_chinese.csv"
    n = len(cmmlu.read_csv(test))
    with test.open("a", encoding="utf-8") as f:
        f.write("90,两个答案的题目,甲,乙,丙,丁,AB\n91,没有答案的题目,甲,乙,丙,丁,\n92,逗号分开的答案,甲,乙,丙,丁,\"A,C\"\n")
    dev = root / "dev" / "ancient_chinese.csv"
    with dev.open("a", encoding="utf-8") as f:
        f.write("93,两个答案的例题,甲,乙,丙,丁,BD\n")
    with caplog.at_level("INFO", logger="growthpace.evaluate.cmmlu"):
        sets = cmmlu.load_cmmlu(root, shots=[0, 5], subjects=["ancient_chinese"])
    assert len(sets["cmmlu_0shot_ancient_chinese_test"]) == n  # never an unreachable gold
    assert all(r["messages"][-1]["content"] in "ABCD" for r in sets["cmmlu_5shot_ancient_chinese_test"])
    text = caplog.text
    assert f"dropped 3 of {n + 3} questions (1 empty answer, 2 several answer letters)" in text
    assert "dropped 1 dev questions as demos (1 several answer letters)" in text
    (root / "test" / "astrology.csv").write_text(",Question,A,B,C,D,Answer\n0,问,甲,乙,丙,丁,A\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown CMMLU subjects.*astrology"):
        cmmlu.load_cmmlu(root, shots=[0])


# ----------------------------------------------------------------------------------------- AGIEval
def test_agieval_keeps_single_answer_four_option_items_with_the_papers_prompts():
    sets = agieval.load_agieval(AGIEVAL_DIR, ["zero-shot", "few-shot"], ["logiqa-zh", "jec-qa-kd"])
    kd = sets["agieval_zero-shot_jec-qa-kd_test"]
    assert [r["_line"] for r in kd] == [1, 3]  # line 2 has two answers
    assert [r["_line"] for r in sets["agieval_zero-shot_logiqa-zh_test"]] == [1, 2, 3]  # 4: "AB", 5: empty
    assert [r["messages"][-1]["content"] for r in kd] == ["C", "A"]
    zero = sets["agieval_zero-shot_logiqa-zh_test"][2]["messages"]
    assert zero == [{"role": "user", "content": "小王比小李高，小李比小张高。问题：以下哪项一定正确？ 选项：(A)小张最高 (B)小李最矮 "
                                                "(C)小王比小张高 (D)小张比小王高\n答案：从A到D, 我们应选择"},
                    {"role": "assistant", "content": "C"}]
    few = sets["agieval_few-shot_jec-qa-kd_test"][0]["messages"]
    # demos 1, 3 and 4 of the CSV (demo 2 has three answers; demo 4's empty label is an empty answer, as
    # the authors keep it), as user/assistant turns, then the question
    assert [m["role"] for m in few] == ["user", "assistant"] * 4
    assert few[0]["content"] == ("问题 1.    我国的根本政治制度是：\n从以下选项中选择:    (A)人民代表大会制度 (B)民族区域自治制度 "
                                 "(C)基层群众自治制度 (D)政治协商制度\n答案：从A到D, 我们应选择")
    assert [few[k]["content"] for k in (1, 3, 5)] == ["A", "B", ""]
    # numbered as the authors do: by place in the CSV (1, 3, 4), the question after the 3 kept (4 again)
    assert few[2]["content"].startswith("问题 3.    民法典") and few[4]["content"].startswith("问题 4.    没有答案的示例")
    assert few[6]["content"].startswith("问题 4.    根据我国《宪法》")
    logiqa = sets["agieval_few-shot_logiqa-zh_test"][0]["messages"]
    # four demos: sample 5's label is the string "AB"; sample 4 has three options, worded as the authors do
    assert [m["content"] for m in logiqa[1:8:2]] == ["B", "B", "A", "C"]
    assert logiqa[6]["content"].startswith("问题 4.   甲说乙在说谎") and logiqa[6]["content"].endswith("答案：从A到C, 我们应选择")
    assert logiqa[8]["content"].startswith("问题 5.  ") and logiqa[8]["content"].endswith("答案：从A到D, 我们应选择")


def test_agieval_reads_the_released_layout_a_flat_copy_or_a_prompts_key(tmp_path, caplog):
    released = agieval.load_agieval(AGIEVAL_DIR, ["few-shot"], ["jec-qa-kd"])
    assert agieval.prompts_path(AGIEVAL_DIR) == FIXTURES / "agieval" / "data" / "few_shot_prompts.csv"
    flat = tmp_path / "flat"
    shutil.copytree(AGIEVAL_DIR, flat)
    shutil.copy(FIXTURES / "agieval" / "data" / "few_shot_prompts.csv", flat)
    elsewhere = tmp_path / "demos.csv"
    shutil.copy(FIXTURES / "agieval" / "data" / "few_shot_prompts.csv", elsewhere)
    bare = tmp_path / "bare" / "v1"
    shutil.copytree(AGIEVAL_DIR, bare)
    for got in (agieval.load_agieval(flat, ["few-shot"], ["jec-qa-kd"]),
                agieval.load_agieval(bare, ["few-shot"], ["jec-qa-kd"], prompts=elsewhere)):
        assert [r["messages"] for r in got["agieval_few-shot_jec-qa-kd_test"]] == \
            [r["messages"] for r in released["agieval_few-shot_jec-qa-kd_test"]]
    with pytest.raises(FileNotFoundError, match="bare/few_shot_prompts.csv"):
        agieval.load_agieval(bare, ["few-shot"], ["jec-qa-kd"])
    with caplog.at_level("INFO", logger="growthpace.evaluate.agieval"):
        agieval.load_agieval(AGIEVAL_DIR, ["zero-shot", "few-shot"], ["logiqa-zh", "jec-qa-kd"])
    assert "logiqa-zh.jsonl: dropped 2 of 5 items (1 empty label, 1 several answer letters)" in caplog.text
    assert "jec-qa-kd.jsonl: dropped 1 of 3 items (1 several answer letters)" in caplog.text
    assert "jec-qa-kd: dropped 1 demos (1 several answer letters)" in caplog.text
    assert "logiqa-zh: dropped 1 demos (1 several answer letters)" in caplog.text


def test_agieval_few_shot_demos_are_trimmed_to_fit(engine):
    tok = engine.tokenizer
    full = agieval.load_agieval(AGIEVAL_DIR, ["few-shot"], ["logiqa-zh"])["agieval_few-shot_logiqa-zh_test"][0]
    n = len(encode_prompt(tok, full["messages"]))
    assert len(full["messages"]) == 10
    fit = agieval.load_agieval(AGIEVAL_DIR, ["few-shot"], ["logiqa-zh"], length=ChatPrompts(tok).prompt_length,
                              max_tokens=n - 1 + 48)
    msgs = fit["agieval_few-shot_logiqa-zh_test"][0]["messages"]
    assert len(msgs) == 8  # the last demo went
    assert len(encode_prompt(tok, msgs)) <= n - 1
    tiny = agieval.load_agieval(AGIEVAL_DIR, ["few-shot"], ["logiqa-zh"], length=ChatPrompts(tok).prompt_length,
                               max_tokens=60)
    assert len(tiny["agieval_few-shot_logiqa-zh_test"][0]["messages"]) == 2  # no demo fits: the question alone


def test_agieval_scores_and_summary(engine):
    sets = agieval.load_agieval(AGIEVAL_DIR, ["zero-shot"], ["logiqa-zh", "jec-qa-kd"])
    df = evaluate_sets(engine, sets)
    assert len(df) == 5 and set(df["kind"]) == {"first_token"}
    s = agieval.summarize(df).set_index("name")
    per = df.groupby("eval_set")["score"].mean()
    assert s.loc["all examples", "accuracy"] == pytest.approx(df["score"].mean())
    assert s.loc["all tasks", "accuracy"] == pytest.approx(per.mean())
    assert s.loc["logiqa-zh", "accuracy"] == pytest.approx(per["agieval_zero-shot_logiqa-zh_test"])


def test_agieval_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="AGIEval directory .*missing"):
        agieval.load_agieval(tmp_path / "missing")
    root = tmp_path / "a"
    shutil.copytree(AGIEVAL_DIR, root)
    with pytest.raises(FileNotFoundError, match="gaokao-history.jsonl"):
        agieval.load_agieval(root, tasks=["gaokao-history"])
    logiqa = (root / "logiqa-zh.jsonl").read_text(encoding="utf-8")
    with (root / "logiqa-zh.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"passage": null, "question": "缺少选项", "label": "A"}\n')
    with pytest.raises(RecordError, match=r"logiqa-zh.jsonl:6: options: missing"):
        agieval.load_agieval(root, tasks=["logiqa-zh"])
    (root / "logiqa-zh.jsonl").write_text(logiqa + '{"passage": null, "question": "不在选项中的答案", '
                                          '"options": ["(A)甲", "(B)乙", "(C)丙", "(D)丁"], "label": "E"}\n',
                                          encoding="utf-8")
    with pytest.raises(RecordError, match=r"logiqa-zh.jsonl:6: label: expected one of A, B, C, D, got 'E'"):
        agieval.load_agieval(root, tasks=["logiqa-zh"])
    only_bad = "\n".join(line for line in logiqa.splitlines() if '"label": ""' in line or '"AB"' in line)
    (root / "logiqa-zh.jsonl").write_text(only_bad + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"logiqa-zh.jsonl: items: no single-answer item \(1 empty"):
        agieval.load_agieval(root, tasks=["logiqa-zh"])
    (root / "logiqa-zh.jsonl").write_text(logiqa, encoding="utf-16")
    with pytest.raises(ValueError, match=r"logiqa-zh.jsonl: not UTF-8 .*looks like UTF-16"):
        agieval.load_agieval(root, tasks=["logiqa-zh"])
    (root / "jec-qa-kd.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"jec-qa-kd.jsonl:1: json"):
        agieval.load_agieval(root, tasks=["jec-qa-kd"])
    with pytest.raises(RecordError, match=r"few_shot_prompts.csv:1: header: no column for task 'gaokao-chinese-x'"):
        agieval.read_demos(agieval.prompts_path(AGIEVAL_DIR), "gaokao-chinese-x")
    (root / "jec-qa-kd.jsonl").write_text((AGIEVAL_DIR / "jec-qa-kd.jsonl").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="few_shot_prompts.csv"):
        agieval.load_agieval(root, ["few-shot"], tasks=["jec-qa-kd"])


# ------------------------------------------------------------------------------------ C-Eval OOD
def test_ood_sets_are_five_shot_single_choice(tmp_path, engine):
    from growthpace.data.demo import generate_suite

    generate_suite(tmp_path, abilities=["biology"], n_train=4, n_valid=2, n_test=2, n_synthetic=4, n_ood=3,
                   corpus_passes=1)
    sets = load_ood_sets(tmp_path)
    assert sorted(sets) == ["ceval_physician_test", "ceval_teacher_qualification_test",
                            "ceval_urban_and_rural_planner_test"]
    for records in sets.values():
        assert len(records) == 3
        assert all(len(r["messages"]) == 12 for r in records)
    df = evaluate_sets(engine, sets)
    assert set(df["kind"]) == {"single_choice"} and (df["expected"] == 0.25).all()
    with pytest.raises(FileNotFoundError, match="no ceval_"):
        load_ood_sets(tmp_path, "valid")
    with pytest.raises(FileNotFoundError, match="curated/test"):
        load_ood_sets(tmp_path / "nowhere")
