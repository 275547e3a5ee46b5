"""Evaluation speed, each part on one model and the same items for every side, in one process.

1. Our engine (``evaluate_sets``: batched generation, batched log-likelihood, rows written to a
   chunked parquet log) against a batch-1 loop like the authors' ``pred.py`` (fp32, one item at a
   time, ``generate`` with batch 1 keeping the vocabulary scores, one forward with labels per ranking
   candidate, each prediction appended to a JSON-lines file) on the demo's valid sets, with the same
   generation budgets: time ratio, and the per-item scores must be identical.
2. The two log-likelihood strategies (``flat``: one forward over every context + candidate;
   ``shared``: one forward per context, its KV cache expanded to the candidates) on the demo's ranking
   items, and on the same items with a 5-shot history in the context.
3. Our log-likelihoods against lm-evaluation-harness's ``HFLM`` (pointed at the saved model directory,
   offline, ``add_bos_token=False``) on the same ranking requests: largest per-candidate difference
   (must be < 1e-4) and time ratio.

Times are the best of three (five for part 3), the two sides' runs alternating; each ratio is also
given in process CPU time, which other jobs on a shared machine disturb less than wall time. Part 1
also times the model forwards of one more run of each side: the speed-up our forwards alone would
allow bounds what the rest of our code can gain.

4. ``--model-size 50m``: instead of 1-3, a LLaMA of 50.1M parameters (hidden 768, 7 layers, 12 heads,
   MLP 2048; random weights, a character tokenizer trained here on the texts below, nothing downloaded)
   on three workloads shaped like the study's:

   - CMMLU-style 5-shot first-token items: a CMMLU-layout directory written here (2 subjects, corpus
     text as questions and options), loaded by ``evaluate.cmmlu`` with the paper's prompt (~690 tokens);
   - DoIT generation items with the study's default budgets (single choice and multi-select 8 new
     tokens, cloze 12, math 160), the demo's items after a 60-200 character reading passage (~170 tokens);
   - three-candidate ranking items, the same way (~160-token prompts).

   Four sides per workload, runs alternating, best of ``--repeat``: ours (``evaluate_sets`` with its
   parquet log, everything a study row holds: gold log-likelihoods, letter logits) against the batch-1
   loop (model loaded once, outside the time), and the engine's own call on the very requests lm-eval
   makes (CMMLU as lm-eval's task: a one-letter continuation per option; ``generate_until`` with the
   engine's stop tokens (speaker tokens, ``<unk>``) as stop strings and the budget as
   ``max_gen_toks``; the ranking log-likelihoods) against ``HFLM``. Each side's model forwards are
   timed (a hook on the model's top forward, ``generate``'s steps included) and the token positions
   they ran are counted, padding included.
   Bars: every score and parsed answer as the batch-1 loop's; against HFLM the same letter and letter
   log-probability gaps within 1e-4, the same generated text (or, where ours stopped on a special
   token that HFLM's decoding drops, ours the start of HFLM's), log-likelihoods within 1e-4.

   Measured (2-core CPU shared with other jobs, 1 thread, fp32, ``--n-items 8 --repeat 2``; x = the
   other side's time over ours, wall (CPU time); two runs: A under load ~15-18 (~20 min), B under
   load ~6-9 (~7 min); on a shared machine CPU time is the steadier figure):

   workload               vs batch-1 loop, A / B          vs HFLM (same requests), A / B  positions b1, HFLM
                                                                                          over ours
   CMMLU 5-shot, 8 items  0.81x (0.85x) / 0.67x (0.78x)   0.93x (0.92x) / 1.24x (0.98x)   0.95x, 1.00x
   DoIT generation, 26    1.24x (1.18x) / 1.37x (1.10x)   0.83x (0.94x) / 1.36x (1.01x)   0.72x, 1.00x
   ranking, 8 x 3         1.81x (1.83x) / 1.86x (1.86x)   2.48x (2.35x) / 2.22x (2.28x)   1.86x, 2.36x

   Scores identical to the batch-1 loop on every item of both runs; against HFLM the same letters
   (logit-gap differences <= 1.0e-6), the same 26 texts, log-likelihoods within 1.6e-5.

   Forwards are 98-100% of every side's time, ours included: what is left of our code (tokenising,
   scoring, the parquet log) is 1% at 50M parameters, so every ratio is the ratio of forward time,
   and on a CPU running one thread a forward's time follows its token positions (the matrix
   multiplies of a 170-token prompt are already large at batch 1: batching gains little per
   position here). Hence what bounds each figure:

   - against HFLM the positions are equal for CMMLU (its one-token logits cache runs each context
     once, as ours) and for generation (both greedy with a KV cache): parity, the wall ratios of
     0.83-1.36x being load (CPU-time ratios 0.92-1.01x); the gain is on ranking, where ours runs a
     context once for its three candidates and HFLM three times: 2.2-2.5x for 2.36x fewer positions.
     2x holds there only: on CMMLU and generation nothing but the forwards is left to cut.
   - against the batch-1 loop the positions are what each side runs: about equal on CMMLU (ours pads
     a batch to its longest prompt: 0.95x; its 8 x 727-token batch also runs 15-30% slower per
     position than single rows on this CPU), fewer for the batch-1 loop on generation
     (ours also scores each gold answer in the prefill and pads batches of prompts 100-260 tokens
     long: 0.72x) and 1.86x more for it on ranking (a context per candidate). Batching pays per
     position only where a batch-1 forward is far from compute-bound: its decode steps (one token per
     forward), here ~525 of the batch-1 loop's 4995 generation positions; the other ~4470 are prompt
     positions, which cost the same one row at a time as batched, and ours runs ~6400 prefill
     positions. So the ratio cannot pass the batch-1 loop's time over ours' prefill time, whatever
     batching does; it is 1.1-1.4x measured. 10x needs a device where a forward of one row or one
     token is far from compute-bound, as a GPU's for a 7b-33b model (memory- and launch-bound); where
     prompt compute is the cost, as on this CPU, the bar falls short, bounded by the forwards'
     positions, not by our code.
   - CMMLU before this run's engine change was 0.42x (4 items, one run): a first-token item's gold
     log-likelihood ran the 690-token prompt a second time; it now comes from the forward that reads
     the letters.

Usage: ``.venv/bin/python benchmarks/bench_eval.py [--n-valid 50] [--steps 200] [--threads 1] [--device cpu]
[--model-size tiny|50m] [--n-items 8] [--repeat 2]`` (the 50m run: 7-20 minutes on the shared CPU).
Exit status 1 when a correctness bar fails (scores differ, log-likelihoods disagree).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from growthpace.data.demo import ABILITIES, generate_suite  # noqa: E402
from growthpace.data.loaders import load_doit_split, load_jsonl  # noqa: E402
from growthpace.evaluate import grading, scorers, scoring  # noqa: E402
from growthpace.evaluate.engine import HFEngine  # noqa: E402
from growthpace.evaluate.predictions import PredictionLog  # noqa: E402
from growthpace.evaluate.scoring import FIRST_TOKEN  # noqa: E402
from growthpace.evaluate.run import DEFAULT_MAX_NEW_TOKENS, eval_settings, evaluate_sets, letter_token_ids  # noqa: E402
from growthpace.models.chat import encode_continuation, encode_continuations, encode_prompt, encode_prompts  # noqa: E402
from growthpace.models.tiny import ARCHITECTURES, pretrain  # noqa: E402
from growthpace.models.tokenizer import train_char_tokenizer  # noqa: E402


def build(work: Path, n_valid: int, steps: int) -> tuple[Path, Path]:
    suite = work / "suite"
    generate_suite(suite, n_train=16, n_valid=n_valid, n_test=4, n_synthetic=16, n_ood=8)
    corpus = [line for line in (suite / "pretrain" / "corpus.txt").read_text(encoding="utf-8").splitlines() if line]
    texts = corpus + [line for f in sorted(suite.rglob("*.json")) if f.name != "manifest.json"
                      for line in f.read_text(encoding="utf-8").splitlines()]
    model_dir = work / "model"
    tok = train_char_tokenizer(texts, model_dir)
    t = time.perf_counter()
    pretrain(tok, corpus, ARCHITECTURES["xs"], model_dir, steps=steps, batch_size=16, seq_len=128, lr=3e-3,
             work_dir=work / "pretrain-work")
    print(f"pretrained the xs model for {steps} steps in {time.perf_counter() - t:.1f}s")
    return suite, model_dir


# ------------------------------------------------------------------------ the authors' way, batch 1
def baseline(model_dir: Path, sets: dict[str, list[dict]], device: str, out_dir: Path,
             on_model=None, loaded=None) -> dict[tuple[str, str], dict]:
    """One item at a time, as pred.py: fp32, generate with batch 1, a labelled forward per candidate,
    each prediction appended to a JSON-lines file (with the vocabulary scores it keeps); a first-token
    item (CMMLU) is one forward, its A-D logits read at the last position, as the authors' CMMLU script.
    ``on_model(model)``: called once the model is loaded (the time breakdown hooks it); ``loaded``:
    (tokenizer, model) already loaded, so that the time is the evaluation's alone."""
    if loaded is None:
        tok = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    else:
        tok, model = loaded
    if on_model is not None:
        on_model(model)
    letters = letter_token_ids(tok)
    stop = [tok.convert_tokens_to_ids(t) for t in ("<eot>", "<user>", "<assistant>")]
    stop += [t for t in (tok.eos_token_id, tok.unk_token_id) if t is not None]
    out = {}
    for name, records in sets.items():
        for r in records:
            kind = scorers.item_kind(r)
            prompt = encode_prompt(tok, r["messages"])
            if r.get("_score_by") == FIRST_TOKEN:
                with torch.no_grad():
                    last = model(input_ids=torch.tensor([prompt], device=device)).logits[0, -1].float()
                logits = {L: float(last[t]) for L, t in letters.items()}
                res = scoring.score_row({"kind": FIRST_TOKEN, "gold": r["messages"][-1]["content"],
                                         "letter_logits": logits})
                kept = {"generated_score": logits}
            elif kind == "ranking":
                lps, lens = [], []
                for choice in r["choices"]:
                    cont = encode_continuation(tok, choice)
                    ids = torch.tensor([prompt + cont], device=device)
                    labels = ids.clone()
                    labels[0, :len(prompt)] = -100
                    with torch.no_grad():
                        loss = model(input_ids=ids, labels=labels).loss  # mean over the candidate's tokens
                    lps.append(-float(loss) * len(cont))
                    lens.append(len(cont))
                res = grading.score_item(r, choice_logprobs=lps, choice_lengths=lens)
                kept = {"generated_ppl": [math.exp(-lp / n) for lp, n in zip(lps, lens)]}
            else:
                ids = torch.tensor([prompt], device=device)
                with torch.no_grad():
                    gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                         max_new_tokens=DEFAULT_MAX_NEW_TOKENS[kind], do_sample=False,
                                         eos_token_id=stop, pad_token_id=tok.pad_token_id,
                                         return_dict_in_generate=True, output_scores=True)
                new = gen.sequences[0, len(prompt):].tolist()
                cut = next((k for k, t in enumerate(new) if t in stop), len(new))
                text = tok.decode(new[:cut], skip_special_tokens=False)
                first = gen.scores[0][0].float()
                res = grading.score_item(r, output=text, letter_logits={L: float(first[t]) for L, t in letters.items()})
                kept = {"generated_response": text, "generated_score": first.tolist()}
            with open(out_dir / f"pred_{name}.json", "a", encoding="utf-8") as f:
                f.write(json.dumps({**{k: v for k, v in r.items() if not k.startswith("_")}, **kept},
                                   ensure_ascii=False) + "\n")
            out[(name, r["_hash"])] = res
    return out


class Clock:
    """Seconds spent inside the wrapped calls (model forwards), summed."""

    def __init__(self):
        self.seconds, self._start = 0.0, None

    def hook(self, model) -> list:
        """Time the top module's forward, however it is called (generate included); the hooks' handles."""
        return [model.register_forward_pre_hook(lambda *_: setattr(self, "_start", time.perf_counter())),
                model.register_forward_hook(lambda *_: setattr(self, "seconds",
                                                               self.seconds + time.perf_counter() - self._start))]


def breakdown(engine: HFEngine, sets, model_dir: Path, device: str, work: Path, t_ours: float, t_base: float) -> None:
    """Where the time goes, from one more run of each side with its model forwards timed: what the
    speed-up could reach if everything but our forwards (tokenising, scoring, writing, Python
    around the forwards) cost nothing. The model is the bound where that figure is near the ratio."""
    ours_fw, base_fw = Clock(), Clock()
    hooks = ours_fw.hook(engine.model)
    t = time.perf_counter()
    evaluate_sets(engine, sets, log=PredictionLog(Path(tempfile.mkdtemp(dir=work)), "bench", eval_settings(engine)))
    t_o = time.perf_counter() - t
    for h in hooks:
        h.remove()
    t = time.perf_counter()
    baseline(model_dir, sets, device, Path(tempfile.mkdtemp(dir=work)), on_model=base_fw.hook)
    t_b = time.perf_counter() - t
    print(f"[eval] time in model forwards: ours {ours_fw.seconds:.2f}s of {t_o:.2f}s "
          f"({100 * ours_fw.seconds / t_o:.0f}%), batch-1 loop {base_fw.seconds:.2f}s of {t_b:.2f}s "
          f"({100 * base_fw.seconds / t_b:.0f}%); speed-up with our forwards alone: "
          f"{t_base / (ours_fw.seconds * t_ours / t_o):.1f}x")


def _text(value) -> str | None:
    """A parsed answer as text; missing (None, or NaN from a pandas string column) is None."""
    return None if value is None or value != value else str(value)


CPU = {}  # fn -> the least process CPU time of its runs in ``timed`` (less disturbed by other jobs)


def timed(fn, repeat: int = 1):
    best, value, cpu = float("inf"), None, float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        value = fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    CPU[fn] = cpu
    return best, value


def timed_pair(fa, fb, repeat: int):
    """``timed`` of two functions with their runs alternating, so that a burst of load from other
    jobs falls on both sides rather than on whichever ran then."""
    best = {fa: (float("inf"), None, float("inf")), fb: (float("inf"), None, float("inf"))}
    for _ in range(repeat):
        for fn in (fa, fb):
            t, c = time.perf_counter(), time.process_time()
            value = fn()
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            best[fn] = (min(best[fn][0], wall), value, min(best[fn][2], cpu))
    for fn in (fa, fb):
        CPU[fn] = best[fn][2]
    return best[fa][:2], best[fb][:2]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-valid", type=int, default=50)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--skip-lm-eval", action="store_true")
    ap.add_argument("--model-size", choices=["tiny", "50m"], default="tiny",
                    help="tiny: parts 1-3 on the demo's xs model; 50m: part 4, a 50M LLaMA on study-shaped workloads")
    ap.add_argument("--n-items", type=int, default=8, help="50m: items per workload kind (math: a quarter)")
    ap.add_argument("--repeat", type=int, default=2, help="50m: runs of each side (the best counts)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model_size == "50m":
        ok = study_scale(args)
        print("all correctness bars met" if ok else "A CORRECTNESS BAR FAILED")
        return 0 if ok else 1
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        suite, model_dir = build(work, args.n_valid, args.steps)
        sets = {f"{a}_valid": r for a, r in load_doit_split(suite, "valid", ABILITIES).items()}
        n_items = sum(len(r) for r in sets.values())
        engine = HFEngine(model_dir, device=args.device, dtype="float32", batch_size=args.batch_size, progress=False)
        print(f"device {args.device}, {torch.get_num_threads()} thread(s), {n_items} valid items, "
              f"batch size {args.batch_size}")

        # 1. ours vs the batch-1 loop
        evaluate_sets(engine, {k: v[:4] for k, v in sets.items()})  # warm-up
        # Both sides write their predictions: ours in parquet chunks (a fresh log), theirs line by line.
        settings = eval_settings(engine)
        # Best of three each, alternating: the machines are noisy, and the minimum is the least disturbed run.
        run_ours = lambda: evaluate_sets(engine, sets, log=PredictionLog(  # noqa: E731
            Path(tempfile.mkdtemp(dir=work)), "bench", settings))
        run_base = lambda: baseline(model_dir, sets, args.device, Path(tempfile.mkdtemp(dir=work)))  # noqa: E731
        (t_ours, ours), (t_base, base) = timed_pair(run_ours, run_base, 3)
        diffs = [(row.eval_set, row.item_hash) for row in ours.itertuples()
                 if base[(row.eval_set, row.item_hash)]["score"] != row.score
                 or _text(base[(row.eval_set, row.item_hash)]["parsed"]) != _text(row.parsed)]
        for key in diffs[:int(os.environ.get("BENCH_SHOW_DIFFS", "0"))]:
            row = ours[(ours.eval_set == key[0]) & (ours.item_hash == key[1])].iloc[0]
            print("  differs:", key, dict(row), base[key])
        print(f"[eval] ours {t_ours:.2f}s  batch-1 loop {t_base:.2f}s  speed-up {t_base / t_ours:.1f}x "
              f"(CPU time {CPU[run_base] / CPU[run_ours]:.1f}x)  "
              f"identical scores: {not diffs} ({len(diffs)} of {n_items} items differ)")
        breakdown(engine, sets, model_dir, args.device, work, t_ours, t_base)
        per = ours.groupby("ability")["score"].mean().round(3).to_dict()
        print(f"[eval] mean score per ability: {per}")
        ok &= not diffs

        # 2. log-likelihood strategies
        tok = engine.tokenizer
        ranked = [r for recs in sets.values() for r in recs if scorers.item_kind(r) == "ranking"]
        ood = sorted((suite / "curated" / "test").glob("ceval_*.json"))[0]
        shots = load_jsonl(ood)[0]["messages"][:10]  # the 5-shot history of a C-Eval-style item
        variants = {
            "demo ranking items": [(encode_prompt(tok, r["messages"]), encode_continuation(tok, c))
                                   for r in ranked for c in r["choices"]],
            "same, 5-shot history": [(encode_prompt(tok, shots + r["messages"]), encode_continuation(tok, c))
                                     for r in ranked for c in r["choices"]],
        }
        for label, reqs in variants.items():
            engine.loglikelihood(reqs[:6], strategy="flat")
            engine.loglikelihood(reqs[:6], strategy="shared")
            t_flat, flat = timed(lambda: engine.loglikelihood(reqs, strategy="flat"), 3)
            t_shared, shared = timed(lambda: engine.loglikelihood(reqs, strategy="shared"), 3)
            diff = max(abs(a[0] - b[0]) for a, b in zip(flat, shared))
            ctx = sum(len(c) for c, _ in reqs) / len(reqs)
            cont = sum(len(k) for _, k in reqs) / len(reqs)
            print(f"[loglik] {label}: {len(reqs)} requests, context {ctx:.0f} / candidate {cont:.0f} tokens: "
                  f"flat {t_flat:.3f}s  shared {t_shared:.3f}s  flat/shared {t_flat / t_shared:.2f}x  "
                  f"max |diff| {diff:.1e}  auto -> {_auto(reqs)}")
            ok &= diff < 1e-4

        # 3. lm-evaluation-harness
        if not args.skip_lm_eval:
            ok &= compare_lm_eval(engine, model_dir, ranked, args)
    print("all correctness bars met" if ok else "A CORRECTNESS BAR FAILED")
    return 0 if ok else 1


def _auto(reqs) -> str:
    from growthpace.evaluate.engine import choose_strategy
    return choose_strategy(reqs)


def compare_lm_eval(engine: HFEngine, model_dir: Path, ranked: list[dict], args) -> bool:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    tok = engine.tokenizer
    pairs, ids = [], []
    for r in ranked:
        for c in r["choices"]:
            # The chat format as text: speaker tokens are special tokens, content is stripped.
            context = "".join(f"{'<user>' if m['role'] == 'user' else '<assistant>'}{m['content'].strip()}<eot>"
                              for m in r["messages"][:-1]) + "<assistant>"
            pairs.append((context, c.strip() + "<eot>"))
            ids.append((encode_prompt(tok, r["messages"]), encode_continuation(tok, c)))
    assert all(tok(a + b, add_special_tokens=False)["input_ids"] == x + y for (a, b), (x, y) in zip(pairs, ids)), \
        "the text form does not tokenise to the engine's ids"
    lm = HFLM(pretrained=str(model_dir), device=args.device, batch_size=args.batch_size, dtype="float32",
              add_bos_token=False, max_length=engine.max_positions)

    def theirs():
        reqs = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i) for i, p in enumerate(pairs)]
        return lm.loglikelihood(reqs, disable_tqdm=True)

    def ours():  # tokenisation included, as lm-eval's time includes its own
        contexts = encode_prompts(tok, [r["messages"] for r in ranked])
        candidates = iter(encode_continuations(tok, [c for r in ranked for c in r["choices"]]))
        return engine.loglikelihood([(ctx, next(candidates)) for ctx, r in zip(contexts, ranked) for _ in r["choices"]])

    theirs(), ours()  # warm-up
    (t_theirs, lm_out), (t_ours, our_out) = timed_pair(theirs, ours, 5)
    diff = max(abs(a[0] - b[0]) for a, b in zip(lm_out, our_out))
    greedy_same = all(bool(a[1]) == b[2] for a, b in zip(lm_out, our_out))
    print(f"[lm-eval] {len(pairs)} requests: HFLM {t_theirs:.3f}s  ours {t_ours:.3f}s  "
          f"speed-up {t_theirs / t_ours:.2f}x (CPU time {CPU[theirs] / CPU[ours]:.2f}x)  max |loglik diff| {diff:.1e}  "
          f"is_greedy agrees: {greedy_same}")
    # What bounds the ratio: one more run of each with its model forwards timed.
    spent = {}
    for name, fn, model in (("HFLM", theirs, lm.model), ("ours", ours, engine.model)):
        clock = Clock()
        hooks = clock.hook(model)
        t = time.perf_counter()
        fn()
        spent[name] = (clock.seconds, time.perf_counter() - t)
        for h in hooks:
            h.remove()
    (f_theirs, all_theirs), (f_ours, all_ours) = spent["HFLM"], spent["ours"]
    print(f"[lm-eval] time in model forwards: HFLM {f_theirs:.3f}s of {all_theirs:.3f}s, ours {f_ours:.3f}s of "
          f"{all_ours:.3f}s; speed-up with our forwards alone: {t_theirs / (f_ours * t_ours / all_ours):.2f}x")
    return diff < 1e-4 and greedy_same


# ------------------------------------------------------------ a 50M LLaMA on study-shaped workloads
# hidden 768, 7 layers, 12 heads (multi-head attention as LLaMA-1), MLP 2048: 49.6M parameters in the
# layers, ~52M with the (tied) embeddings of a character vocabulary.
ARCH_50M = {"hidden_size": 768, "num_hidden_layers": 7, "num_attention_heads": 12, "num_key_value_heads": 12,
            "intermediate_size": 2048}
CMMLU_SUBJECTS = ("ancient_chinese", "high_school_biology")


def _text_of(rng, sentences: list[str], low: int, high: int) -> str:
    """Corpus sentences joined until the text reaches a length drawn from [low, high] characters."""
    want, out = rng.randint(low, high), ""
    while len(out) < want:
        out += rng.choice(sentences)
    return out[:want]


def write_cmmlu(root: Path, sentences: list[str], n_test: int, rng) -> None:
    """A CMMLU-layout directory (dev: 5 demos, test: ``n_test`` questions per subject) whose questions
    (30-70 characters) and options (4-12) are corpus text: a 5-shot prompt of ~450 characters."""
    import csv

    for split, n in (("dev", 5), ("test", n_test)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for subject in CMMLU_SUBJECTS:
            with open(root / split / f"{subject}.csv", "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["", "Question", "A", "B", "C", "D", "Answer"])
                for i in range(n):
                    w.writerow([i, _text_of(rng, sentences, 30, 70), *(_text_of(rng, sentences, 4, 12) for _ in "ABCD"),
                                rng.choice("ABCD")])


def with_material(records: list[dict], sentences: list[str], rng, low: int, high: int) -> list[dict]:
    """The records with a reading passage of ``low``-``high`` characters before the question, as the
    real study's items carry (material, then the question and its options); kinds unchanged."""
    out = []
    for r in records:
        msgs = [dict(m) for m in r["messages"]]
        msgs[-2]["content"] = "阅读材料：" + _text_of(rng, sentences, low, high) + "\n" + msgs[-2]["content"]
        new = {**r, "messages": msgs}
        if scorers.item_kind(new) == scorers.item_kind(r):
            out.append(new)
    return out


def build_50m(work: Path, n: int) -> tuple[Path, dict[str, dict[str, list[dict]]]]:
    """The model directory (character tokenizer trained here, random weights) and three workloads:
    {workload: {eval set: records}}."""
    import random

    from growthpace.evaluate.cmmlu import load_cmmlu
    from growthpace.models.tiny import build_model

    rng = random.Random(0)
    suite = work / "suite"
    generate_suite(suite, n_train=16, n_valid=max(n, 8), n_test=4, n_synthetic=16, n_ood=8)
    sentences = [line for line in (suite / "pretrain" / "corpus.txt").read_text(encoding="utf-8").splitlines()
                 if len(line) > 4]
    write_cmmlu(work / "cmmlu", sentences, n // 2, rng)
    valid = load_doit_split(suite, "valid", ABILITIES)
    by_kind: dict[str, list[dict]] = {}
    for recs in valid.values():
        for r in recs:
            by_kind.setdefault(scorers.item_kind(r), []).append(r)
    # Generation: the short-answer kinds n items each, math (160 new tokens) n // 4; budgets as the study's.
    gen = {k: with_material(by_kind[k][:n if k != "math" else max(1, n // 4)], sentences, rng, 60, 200)
           for k in ("single_choice", "cloze", "multi_select", "math")}
    ranking = with_material(by_kind["ranking"][:n], sentences, rng, 60, 200)
    texts = sentences + [m["content"] for recs in gen.values() for r in recs for m in r["messages"]] \
        + [c for r in ranking for c in r["choices"]] + [m["content"] for r in ranking for m in r["messages"]]
    texts += [f.read_text(encoding="utf-8") for f in sorted((work / "cmmlu").rglob("*.csv"))]
    from growthpace.evaluate.cmmlu import INSTRUCTION, NAME_ZH

    texts += [INSTRUCTION.format(NAME_ZH[s]) + "题目：答案是" for s in CMMLU_SUBJECTS]
    model_dir = work / "model50m"
    tok = train_char_tokenizer(texts, model_dir)
    model = build_model(ARCH_50M, len(tok), tok.pad_token_id, tok.eos_token_id, max_positions=2048)
    model.save_pretrained(model_dir, safe_serialization=True)
    cm = load_cmmlu(work / "cmmlu", shots=[5])
    workloads = {
        "CMMLU 5-shot first-token": cm,
        "DoIT generation": {f"{k}_valid": recs for k, recs in gen.items()},
        "3-candidate ranking": {"ranking_valid": ranking},
    }
    return model_dir, workloads


def chat_text(messages: list[dict]) -> str:
    """The chat prompt as text (speaker tokens are special tokens, content stripped), for lm-eval."""
    return "".join(f"{'<user>' if m['role'] == 'user' else '<assistant>'}{m['content'].strip()}<eot>"
                   for m in messages[:-1]) + "<assistant>"


class Side:
    """One way of answering a workload, timed over alternating runs: best wall and CPU time, and the
    seconds in model forwards of the best run (the model's top forward, hooked: generate included),
    and the token positions those forwards ran (padding included: what a compute-bound device pays)."""

    def __init__(self, name: str, fn, model):
        self.name, self.fn, self.clock = name, fn, Clock()
        self.wall = self.cpu = self.forwards = float("inf")
        self.value, self.positions, self._positions = None, 0, 0
        self.hooks = [*self.clock.hook(model), model.register_forward_pre_hook(self._count, with_kwargs=True)]

    def _count(self, _module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        self._positions += ids.numel()

    def run(self):
        self.clock.seconds, self._positions = 0.0, 0
        t, c = time.perf_counter(), time.process_time()
        self.value = self.fn()
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if wall < self.wall:
            self.wall, self.forwards = wall, self.clock.seconds
        self.cpu, self.positions = min(self.cpu, cpu), self._positions

    def share(self) -> str:
        return f"{100 * self.forwards / self.wall:.0f}%"


def study_scale(args) -> bool:
    """Ours against the batch-1 loop and against HFLM on each study-shaped workload (see the docstring)."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir, workloads = build_50m(work, args.n_items)
        engine = HFEngine(model_dir, device=args.device, dtype="float32", batch_size=args.batch_size, progress=False)
        tok, model = engine.tokenizer, engine.model
        n_params = sum(p.numel() for p in model.parameters())
        print(f"[50m] LLaMA {ARCH_50M}, vocabulary {model.config.vocab_size}: {n_params / 1e6:.1f}M parameters; "
              f"device {args.device}, {torch.get_num_threads()} thread(s), batch size {args.batch_size}, "
              f"best of {args.repeat}")
        base_model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(args.device).eval()
        lm = HFLM(pretrained=str(model_dir), device=args.device, batch_size=args.batch_size, dtype="float32",
                  add_bos_token=False, max_length=engine.max_positions)
        letters = letter_token_ids(tok)
        budgets = eval_settings(engine)["max_new_tokens"]
        # The engine's stop tokens (the speaker tokens, <unk>) as lm-eval's stop strings: the same requests.
        stops = tok.convert_ids_to_tokens(engine.stop_ids)
        for label, sets in workloads.items():
            records = [r for recs in sets.values() for r in recs]
            kinds = [scorers.item_kind(r) if r.get("_score_by") != FIRST_TOKEN else FIRST_TOKEN for r in records]
            prompts = encode_prompts(tok, [r["messages"] for r in records])
            assert all(tok(chat_text(r["messages"]), add_special_tokens=False)["input_ids"] == p
                       for r, p in zip(records, prompts)), "the text form does not tokenise to the engine's ids"
            settings = eval_settings(engine)
            ours = Side("ours", lambda: evaluate_sets(engine, sets, log=PredictionLog(  # noqa: B023
                Path(tempfile.mkdtemp(dir=work)), "bench", settings)), model)
            base = Side("batch-1", lambda: baseline(model_dir, sets, args.device,  # noqa: B023
                                                    Path(tempfile.mkdtemp(dir=work)), loaded=(tok, base_model)),
                        base_model)
            # The same requests as lm-eval would make them, answered by HFLM and by the engine.
            if kinds[0] == FIRST_TOKEN:  # lm-eval's CMMLU: a one-token continuation per letter
                reqs = [Instance(request_type="loglikelihood", doc={}, arguments=(chat_text(r["messages"]), L), idx=i)
                        for i, r in enumerate(records) for L in letters]
                theirs_fn = lambda: lm.loglikelihood(reqs, disable_tqdm=True)  # noqa: E731, B023
                req_fn = lambda: engine.next_token_logits(  # noqa: E731
                    encode_prompts(tok, [r["messages"] for r in records]), letters)  # noqa: B023
            elif kinds[0] == "ranking":
                pairs = [(chat_text(r["messages"]), c.strip() + "<eot>") for r in records for c in r["choices"]]
                reqs = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i) for i, p in enumerate(pairs)]
                theirs_fn = lambda: lm.loglikelihood(reqs, disable_tqdm=True)  # noqa: E731, B023

                def req_fn():
                    ctx = encode_prompts(tok, [r["messages"] for r in records])  # noqa: B023
                    cands = iter(encode_continuations(tok, [c for r in records for c in r["choices"]]))  # noqa: B023
                    return engine.loglikelihood([(c, next(cands))
                                                 for c, r in zip(ctx, records) for _ in r["choices"]])  # noqa: B023
            else:
                reqs = [Instance(request_type="generate_until", doc={}, idx=i, arguments=(
                    chat_text(r["messages"]), {"until": stops, "max_gen_toks": budgets[k], "do_sample": False}))
                    for i, (r, k) in enumerate(zip(records, kinds))]
                theirs_fn = lambda: lm.generate_until(reqs, disable_tqdm=True)  # noqa: E731, B023
                req_fn = lambda: engine.generate(encode_prompts(tok, [r["messages"] for r in records]),  # noqa: E731
                                                 [budgets[k] for k in kinds])  # noqa: B023
            theirs, req = Side("HFLM", theirs_fn, lm.model), Side("ours, same requests", req_fn, model)
            sides = (ours, base, req, theirs)
            for _ in range(args.repeat):
                for side in sides:
                    side.run()
            # Scores: ours against the batch-1 loop (every item's score and parsed answer) ...
            got, want = ours.value, base.value
            diffs = [k for k, row in zip(zip(got.eval_set, got.item_hash), got.itertuples())
                     if (want[k]["score"], _text(want[k]["parsed"])) != (row.score, _text(row.parsed))]
            # ... and the engine's answers to lm-eval's requests against HFLM's.
            if kinds[0] == FIRST_TOKEN:  # the letters' log-probabilities differ from their logits by a constant
                lp = [x[0] for x in theirs.value]
                gaps = [abs((lp[4 * i + j] - lp[4 * i]) - (d[L] - d["A"])) for i, d in enumerate(req.value)
                        for j, L in enumerate(letters)]
                order = list(letters)
                agree = sum(max(order, key=lambda L: lp[4 * i + order.index(L)]) == max(d, key=d.get)  # noqa: B023
                            for i, d in enumerate(req.value))
                check = f"max |logit gap diff| {max(gaps):.1e}, same letter {agree}/{len(records)}"
                ok &= max(gaps) < 1e-4 and agree == len(records)
            elif kinds[0] == "ranking":
                diff = max(abs(a[0] - b[0]) for a, b in zip(theirs.value, req.value))
                same = sum(bool(a[1]) == b[2] for a, b in zip(theirs.value, req.value))
                check = f"max |loglik diff| {diff:.1e}, is_greedy agrees {same}/{len(reqs)}"
                ok &= diff < 1e-4 and same == len(reqs)
            else:
                texts = [g.text for g in req.value]
                for s in stops:
                    texts = [t.split(s)[0] for t in texts]
                same = sum(a == b for a, b in zip(theirs.value, texts))
                # HFLM decodes a batch's rows with special tokens dropped, then cuts at its stop strings:
                # a row that stopped on a special token (<eot>, <unk>) while others went on keeps the
                # tokens after it. Such a row agrees when ours (stopped before its budget) is its start.
                past = sum(a != b and len(g.token_ids) < budgets[k] and a.startswith(b)
                           for a, b, g, k in zip(theirs.value, texts, req.value, kinds))
                check = f"same generated text {same}/{len(records)}, HFLM's going on past a special stop token {past}"
                same += past
                for a, b in [(a, b) for a, b in zip(theirs.value, texts) if a != b][:2]:
                    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                    check += (f"\n    HFLM's text differs from character {at} (lengths {len(a)}, {len(b)}): "
                              f"{a[max(0, at - 3):at + 5]!r} vs {b[max(0, at - 3):at + 5]!r}")
                ok &= same == len(records)
            ok &= not diffs
            n_tok = sum(map(len, prompts))
            print(f"[50m] {label}: {len(records)} items, prompts {n_tok / len(records):.0f} tokens on average")
            for a, b in ((base, ours), (theirs, req)):
                print(f"    {b.name} {b.wall:.2f}s vs {a.name} {a.wall:.2f}s: {a.wall / b.wall:.2f}x "
                      f"(CPU time {a.cpu / b.cpu:.2f}x); forwards {b.share()} of {b.name}'s time, "
                      f"{a.share()} of {a.name}'s; with {b.name}'s forwards alone {a.wall / b.forwards:.2f}x; "
                      f"forward time {a.forwards / b.forwards:.2f}x; token positions through the model "
                      f"{b.positions} vs {a.positions} ({a.positions / b.positions:.2f}x)")
            for h in (h for side in sides for h in side.hooks):
                h.remove()
            for k in diffs[:int(os.environ.get("BENCH_SHOW_DIFFS", "3"))]:
                row = got[(got.eval_set == k[0]) & (got.item_hash == k[1])].iloc[0]
                print("    differs:", k, {c: row[c] for c in ("kind", "output", "parsed", "score")}, want[k])
            print(f"    scores identical to the batch-1 loop: {not diffs} ({len(diffs)} differ); vs HFLM: {check}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
