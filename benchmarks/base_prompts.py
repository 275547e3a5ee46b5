"""How to prompt an untuned base model: the chat format against plain text with solved examples.

Each base model is evaluated on the suite's valid and test sets (and its out-of-domain sets) twice, with
``evaluate.run.evaluate_sets`` as the workflow runs it:

- ``chat``: the speaker-token format of every fine-tuned checkpoint; a tokenizer without the speaker
  tokens gets them, with embedding rows drawn around the mean (what ``artifacts.evaluate_base`` did);
- ``plain``: plain text with ``--question`` / ``--answer`` markers, each item after ``--shots`` solved items
  of its ability and kind from the training pool (``evaluate.prompts.PlainPrompts``), as lm-eval and
  OpenCompass prompt base models (several shot counts may be given).

Printed per model and format, over the generation items: how many outputs hold an answer the scorer
reads in the text (``answered``: no logit fallback), the mean score and the random-guess expectation;
over all items, the score's lift above chance; and per ability the lift, so that the knowledge-heavy
abilities (facts the base model read in pretraining) can be compared across model sizes.

The demo's base models start their speaker tokens as copies of the corpus's exam markers ("问", "答",
a newline; ``models.tiny.CHAT_TOKEN_INIT``), so for them the chat format is close to the layout they
were pretrained on; a real base model's tokenizer has no such tokens. ``--pretrain-sentencepiece``
pretrains stand-ins for real models on the same corpus with a LLaMA-style SentencePiece tokenizer that
lacks the speaker tokens (``models.llama``), the demo's architectures and budgets.

Run (after ``make demo``; about 20 minutes on 2 cores):
``.venv/bin/python benchmarks/base_prompts.py --store results/store --study demo --pretrain-sentencepiece s m``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch


def answered(record: dict, output: str | None) -> bool:
    """Whether the scorer reads an answer in the output text itself (no A-D logit fallback)."""
    from growthpace.evaluate import scorers

    kind, out = scorers.item_kind(record), output or ""
    if kind == "single_choice":
        letter, status = scorers._parse_choice(out, scorers._n_options(record))
        return letter is not None or status != "none"
    if kind == "true_false":
        return scorers.parse_true_false(out) != "E"
    if kind == "multi_select":
        return bool(scorers.parse_multi_select(out))
    if kind == "math":
        return scorers.score_math(out, record.get("answer", ""))[0] is not None
    return bool(scorers.parse_cloze(out))


def evaluate(model_dir: Path, suite_root: Path, fmt: str, shots: int, markers: dict) -> pd.DataFrame:
    from growthpace.data.loaders import load_doit_split
    from growthpace.data.schema import ABILITIES
    from growthpace.evaluate.engine import HFEngine
    from growthpace.evaluate.ood import load_ood_sets
    from growthpace.evaluate.run import evaluate_sets

    engine = HFEngine(model_dir, batch_size=64, progress=False, add_chat_tokens=fmt == "chat")
    sets = {f"{a}_{split}": recs for split in ("valid", "test")
            for a, recs in load_doit_split(suite_root, split, list(ABILITIES)).items()}
    sets.update(load_ood_sets(suite_root, "test"))
    plain = {"shots": shots, "seed": 0, **markers} if fmt == "plain" else None
    pools = load_doit_split(suite_root, "1000", list(ABILITIES)) if plain else None
    df = evaluate_sets(engine, sets, {"single_choice": 16, "true_false": 16, "math": 100},
                       plain=plain, shot_pools=pools)
    records = {(name, r["_hash"]): r for name, recs in sets.items() for r in recs}
    df["answered"] = [answered(records[(e, h)], o) if k not in ("ranking", "first_token") else None
                      for e, h, k, o in zip(df["eval_set"], df["item_hash"], df["kind"], df["output"])]
    return df


def summary(df: pd.DataFrame) -> dict:
    gen = df[df["answered"].notna()]
    return {"answered": gen["answered"].astype(bool).mean(), "gen_score": gen["score"].mean(),
            "gen_expected": gen["expected"].mean(), "lift": (df["score"] - df["expected"]).mean(),
            "gold_nll": (-df["gold_logprob"] / df["gold_tokens"]).mean()}


def pretrain_sentencepiece(suite_root: Path, work: Path, sizes: list[str], demo_config: dict) -> dict[str, Path]:
    """Tiny LLaMAs with a SentencePiece tokenizer (no speaker tokens), pretrained on the demo corpus."""
    from transformers import AutoTokenizer

    from growthpace.data import demo
    from growthpace.models.llama import train_sentencepiece
    from growthpace.models.tiny import pretrain

    corpus = demo.read_corpus(suite_root / "pretrain" / "corpus.txt")
    train_sentencepiece(corpus, work / "tokenizer", vocab_size=2000)
    tok = AutoTokenizer.from_pretrained(work / "tokenizer")
    out = {}
    for size in sizes:
        spec = demo_config["models"]["sizes"][size]
        target = work / f"sp-{size}"
        if not (target / "config.json").is_file():
            start = time.time()
            info = pretrain(tok, corpus, spec["arch"], target, work_dir=work / f".work-{size}", **spec["pretrain"])
            print(f"pretrained sp-{size}: loss {info['final_train_loss']}, {time.time() - start:.0f} s", flush=True)
        out[f"sp-{size}"] = target
    return out


def main() -> None:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=Path("results/store"))
    parser.add_argument("--study", default="demo", help="results/{study}/receipts name the suite and base models")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--shots", type=int, nargs="+", default=[3])
    parser.add_argument("--question", default="问：", help="marker of a question turn in the plain format")
    parser.add_argument("--answer", default="答：", help="marker of an answer turn")
    parser.add_argument("--models", nargs="*", default=None, help="only these (demo sizes, sp-SIZE)")
    parser.add_argument("--pretrain-sentencepiece", nargs="*", default=[], metavar="SIZE")
    parser.add_argument("--work", type=Path, default=None, help="where the SentencePiece stand-ins are kept")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write every prediction row here (parquet)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    receipts = args.results / args.study / "receipts"
    suite_root = Path(json.loads((receipts / "suite.json").read_text())["path"])
    models = {p.stem: Path(json.loads(p.read_text())["path"]) for p in sorted((receipts / "base").glob("*.json"))}
    if args.pretrain_sentencepiece:
        demo_config = yaml.safe_load(Path("config/config.yaml").read_text())
        work = args.work or Path(tempfile.mkdtemp(prefix="base-prompts-"))
        models.update(pretrain_sentencepiece(suite_root, work, args.pretrain_sentencepiece, demo_config))
    if args.models:
        models = {k: v for k, v in models.items() if k in args.models}
    markers = {"question": args.question, "answer": args.answer}
    formats = [("chat", 0)] + [("plain", k) for k in args.shots]
    rows, frames = [], []
    for name, model_dir in models.items():
        for fmt, shots in formats:
            start = time.time()
            df = evaluate(model_dir, suite_root, fmt, shots, markers)
            fmt = fmt if fmt == "chat" else f"{args.question}/{args.answer} {shots}-shot"
            df["model"], df["format"] = name, fmt
            frames.append(df)
            rows.append({"model": name, "format": fmt, **summary(df), "seconds": time.time() - start})
            print(f"{name:>6} {fmt:>8}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()
                                                       if isinstance(v, float)), flush=True)
    table = pd.DataFrame(rows)
    print("\nper model and prompt format (generation items: answered in the text, score, chance; all items: "
          "lift = score - chance; gold NLL per token):")
    print(table.round(3).to_string(index=False))
    everything = pd.concat(frames, ignore_index=True)
    lift = (everything.assign(lift=everything["score"] - everything["expected"])
            .groupby(["ability", "model", "format"])["lift"].mean().unstack(["model", "format"]))
    print("\nlift above chance per ability:")
    print(lift.round(2).to_string())
    if args.out:
        everything.to_parquet(args.out, index=False)


if __name__ == "__main__":
    main()
