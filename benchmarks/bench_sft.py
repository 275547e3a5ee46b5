"""SFT speed on a demo-like cell, as ratios against baselines run in the same process.

1. Batching: our length-grouped batches (grouped over the global batch, padded to the longest
   sequence, multiple of 8) against what HF Trainer does by default: the plain ``Trainer`` with its
   random sampler and ``DataCollatorForSeq2Seq`` padding each batch to its longest sequence (labels
   with -100). Same data (repeated to ``min_steps`` as a cell does), model and the demo study's
   settings (``config/config.yaml``: training block and the size's ``sft`` block), in this process;
   throughput counts non-padding tokens only.
2. Engine: the cell launched as the workflow launches it (torchrun, one process) with DeepSpeed
   ZeRO-2 against the plain Trainer. Reported twice: the training loop alone (inside the worker) and
   the whole cell (launcher start-up, DeepSpeed initialisation and checkpoints included).

Measured (xs, 160 items, 1 thread, 2 shared cores): batching 1.22x (best of 2) and 1.43x (one run) over
HF's default, below the 1.5x aimed at: padding falls from 32% to 8% of the batch, worth at most ~1.35x
in tokens, and an xs step is bound by per-operation overhead more than by its padded tokens.
DeepSpeed ZeRO-2 against the plain Trainer: whole cell 0.97-1.40x, noisy.
Again with the default 2 threads: batching 1.12x (xs) and 1.14x (m, one run); DeepSpeed costs 1.22-1.40x
the plain Trainer's loop and 1.14-1.16x its whole cell.

Run: ``.venv/bin/python benchmarks/bench_sft.py [--size xs] [--items 160]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def demo_records(root: Path, n_items: int) -> tuple[list[dict], Path]:
    """Curated training records of the generated demo suite (all ten abilities) and its tokenizer."""
    from growthpace.data import demo
    from growthpace.data.loaders import load_doit_split, strip_provenance
    from growthpace.models.tokenizer import train_char_tokenizer

    per_ability = max(1, n_items // len(demo.ABILITIES))
    demo.generate_suite(root / "suite", n_train=per_ability, n_valid=1, n_test=1, n_synthetic=0, n_ood=0,
                              corpus_passes=1)
    pools = load_doit_split(root / "suite", "1000", list(demo.ABILITIES))
    records = [strip_provenance(r) for pool in pools.values() for r in pool]
    texts = [m["content"] for r in records for m in r["messages"]]
    texts += (root / "suite" / "pretrain" / "corpus.txt").read_text(encoding="utf-8").splitlines()
    train_char_tokenizer(texts, root / "tok")
    return records, root / "tok"


def base_model(root: Path, tok_dir: Path, size: str) -> Path:
    from transformers import AutoTokenizer

    from growthpace.models.tiny import ARCHITECTURES, build_model

    tok = AutoTokenizer.from_pretrained(tok_dir)
    out = root / f"base-{size}"
    build_model(ARCHITECTURES[size], len(tok), tok.pad_token_id, tok.eos_token_id, seed=0).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def batching_run(model_dir: Path, records: list[dict], settings, ours: bool, work: Path) -> dict:
    """Train in this process without DeepSpeed; returns non-padding tokens per second of the loop and
    the share of padding in the batches it trained on."""
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from growthpace.train.sft import IGNORE_INDEX, PadCollator, Repeated, SFTTrainer, plan_repeats, prepare

    tokenizer, added, data = prepare(model_dir, records, settings)
    data = Repeated(data, plan_repeats(len(data), settings))
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if added:
        model.resize_token_embeddings(len(tokenizer))
    args = TrainingArguments(
        output_dir=str(work), num_train_epochs=settings.epochs, per_device_train_batch_size=settings.micro_batch_size,
        gradient_accumulation_steps=settings.batch_size // settings.micro_batch_size,
        learning_rate=settings.lr, optim="adamw_torch", save_strategy="no", report_to=[], use_cpu=True,
        seed=0, logging_steps=1000, disable_tqdm=True, include_num_input_tokens_seen="non_padding",
        train_sampling_strategy="group_by_length" if ours else "random",
    )
    counted = {"real": 0, "padded": 0}

    def counting(collate):
        def run(batch):
            out = collate(batch)
            counted["real"] += int(out["attention_mask"].sum())
            counted["padded"] += out["input_ids"].numel()
            return out
        return run

    if ours:
        trainer = SFTTrainer(end_lr=settings.end_lr, model=model, args=args, train_dataset=data,
                             data_collator=counting(PadCollator(tokenizer.pad_token_id)),
                             global_batch=settings.batch_size)
    else:  # HF's defaults: random order, each batch padded to its longest sequence
        collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=IGNORE_INDEX)
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=counting(collator))
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    real = trainer.state.num_input_tokens_seen
    return {"tokens": real, "seconds": wall, "tokens_per_second": real / wall, "steps": trainer.state.global_step,
            "last_loss": trainer.state.log_history[-1].get("train_loss"),
            "padded_share": 1 - counted["real"] / counted["padded"]}


def engine_run(model_dir: Path, train_file: Path, settings: dict, work: Path) -> dict:
    from growthpace.train.launch import run_cell

    job = {"base_model_dir": str(model_dir), "train_file": str(train_file), "out_dir": str(work / "out"),
           "work_dir": str(work / "trainer"), "settings": settings}
    return run_cell(job, work, nproc=1, threads=torch.get_num_threads())  # cell_seconds: launch to exit


def demo_settings(size: str) -> dict:
    """The training settings a demo cell of ``size`` gets: config/config.yaml's ``training`` block with
    the size's ``sft`` overrides."""
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    return {**config["training"], **config["models"]["sizes"][size].get("sft", {})}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="xs", help="demo model size (xs, s, m)")
    parser.add_argument("--items", type=int, default=160, help="training items (demo grid: 10 to 640)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs per method; the best is kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from growthpace.train.sft import SFTSettings

    demo = demo_settings(args.size)
    print(f"the demo study's settings for size {args.size}: {demo}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        records, tok_dir = demo_records(root, args.items)
        model_dir = base_model(root, tok_dir, args.size)
        lengths = sorted(len(m["content"]) for r in records for m in r["messages"])
        print(f"data: {len(records)} demo records, model {args.size}, max_len {demo['max_len']}, "
              f"message chars median {lengths[len(lengths) // 2]}, max {lengths[-1]}")

        settings = SFTSettings.from_dict({**demo, "engine": "trainer"})
        batching_run(model_dir, records[:32], SFTSettings.from_dict({**demo, "epochs": 1, "min_steps": 4}), True,
                     root / "warm")
        # Best of `repeats` interleaved runs: the 2 cores are shared, and a busy moment hits one run, not a method.
        best: dict[str, dict] = {}
        for i in range(args.repeats):
            for name, ours in (("hf", False), ("ours", True)):
                r = batching_run(model_dir, records, settings, ours, root / f"b-{name}-{i}")
                if name not in best or r["tokens_per_second"] > best[name]["tokens_per_second"]:
                    best[name] = r
        base, ours = best["hf"], best["ours"]
        print(f"[batching] HF default (random order, pad to longest in batch): {base['tokens_per_second']:8.0f} tok/s "
              f"({base['padded_share']:.0%} padding, {base['steps']} steps, loss {base['last_loss']:.3f})")
        print(f"[batching] ours (length-grouped, pad to longest):              {ours['tokens_per_second']:8.0f} tok/s "
              f"({ours['padded_share']:.0%} padding, {ours['steps']} steps, loss {ours['last_loss']:.3f})")
        print(f"[batching] ratio ours / HF default: {ours['tokens_per_second'] / base['tokens_per_second']:.2f}x "
              "(aim >= 1.5x)")

        train_file = root / "train.jsonl"
        train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        runs: dict[str, dict] = {}
        for i in range(args.repeats):
            for name, extra in (("trainer", {"engine": "trainer"}), ("deepspeed", {"engine": "deepspeed", "zero_stage": 2})):
                r = engine_run(model_dir, train_file, {**demo, **extra}, root / f"e-{name}-{i}")
                print(f"[engine] {name:9s} run {i + 1}: {r['steps']} steps, loop {r['wall_seconds']:.2f} s "
                      f"({r['tokens_per_second']:.0f} tok/s), whole cell {r['cell_seconds']:.2f} s, "
                      f"peak RSS {r['peak_memory_bytes'] / 2**20:.0f} MiB, last loss {r['last_loss']:.3f}")
                print("         phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in r["phase_seconds"].items())
                      + f"; launcher exit {r['cell_seconds'] - sum(r['phase_seconds'].values()):.2f}")
                if name not in runs or r["cell_seconds"] < runs[name]["cell_seconds"]:
                    runs[name] = r
        ds, tr = runs["deepspeed"], runs["trainer"]
        loop = ds["wall_seconds"] / tr["wall_seconds"]
        cell = ds["cell_seconds"] / tr["cell_seconds"]
        print(f"[engine] cost DeepSpeed ZeRO-2 / plain Trainer (best runs): training {loop:.2f}x, whole cell "
              f"{cell:.2f}x (the demo uses DeepSpeed unless > 1.5x)")
        print(f"[storage] per cell: weights-only snapshots {ds['snapshot_bytes'] / 2**20:.2f} MiB vs one checkpoint "
              f"with optimizer every epoch {ds['bytes_if_every_epoch_with_optimizer'] / 2**20:.2f} MiB "
              f"({ds['bytes_if_every_epoch_with_optimizer'] / ds['snapshot_bytes']:.1f}x)")


if __name__ == "__main__":
    main()
