"""Host memory per training process, as a multiple of the model's bytes: the old loading against the new.

A LLaMA of about 100M parameters (fp16 ``.bin`` weights and a SentencePiece tokenizer, as LLaMA releases
ship them; built here) trains a few steps in 2 CPU processes (torchrun, gloo) through the project's own
path (``growthpace.train.sft.train_sft``), under ZeRO-2 and ZeRO-3, with two ways to load the model:

- ``before``: what every process did until now: the whole model in fp32, built before the Trainer's
  arguments exist, so that ZeRO-3 partitions it only when its engine starts;
- ``after``: ``sft.load_model`` after the arguments exist: ZeRO-3 builds the model under ``zero.Init``,
  each process materialising only its partition as the shards are read; the other stages read shard by
  shard onto the meta device, in the training dtype. The launcher's environment fixes glibc's mmap
  threshold (``launch.LOW_MEMORY_ENV``), so that the full parameters freed after partitioning leave
  the process;
- ``zero.Init only``: the new loading without that environment, to show what each part does.

Only the loading (``before`` replaces ``sft.load_model`` in the worker) and the environment differ.
Each process reports its peak resident set (``ru_maxrss``) once the model is loaded, once the DeepSpeed
engine has started (before the first step), and at the end (optimizer states and an epoch checkpoint
included); the ratio is the peak over the model's bytes in the training dtype (fp32 on a CPU). On a GPU
node the engine moves the model states to the GPUs, so the host peak there is the loading peak. A
process that imports the same libraries and joins the process group, without a model, gives the
libraries' share, printed beside.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--hidden 1024 --layers 8]`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
# mode: (loading, launcher environment)
MODES = {"before": ("before", {}), "zero.Init only": ("after", {}), "after": ("after", None)}


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def load_as_before(base_model_dir, tokenizer, added, settings, dtype, on_gpu):
    """The loading this project did before: every process builds the whole model in fp32 with no
    DeepSpeed config in effect (it was loaded before TrainingArguments existed), then resizes it."""
    import torch
    import transformers.integrations.deepspeed as hf_deepspeed
    from transformers import AutoModelForCausalLM

    kept = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed._hf_deepspeed_config_weak_ref = None  # as if TrainingArguments did not exist yet
    try:
        model = AutoModelForCausalLM.from_pretrained(base_model_dir, dtype=torch.float32)
        if added:
            torch.manual_seed(settings.seed)
            model.resize_token_embeddings(len(tokenizer))
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = kept
    return model


def worker(args) -> None:
    """One process of a launched run: train (or, mode ``libs``, only import and join), report peaks."""
    import torch

    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    report = {"rank": rank}
    from growthpace.data.loaders import load_jsonl
    from growthpace.train import sft

    if args.mode.startswith("load-bf16"):
        # Loading only, for bf16 training (a GPU's dtype; bf16 steps crawl on a CPU): ZeRO-2 keeps a
        # whole model per process, in the dtype it is loaded in.
        job = json.loads(Path(args.job).read_text())
        settings = sft.SFTSettings.from_dict({**job["settings"], "precision": "bf16"})
        tokenizer, added, _ = sft.prepare(job["base_model_dir"], load_jsonl(job["train_file"]), settings)
        sft.init_process_group(on_gpu=False)
        load = load_as_before if args.mode == "load-bf16-before" else sft.load_model
        model = load(Path(job["base_model_dir"]), tokenizer, added, settings,
                     sft.training_dtype(settings, "bf16"), False)
        report["peak_after_load"] = max_rss_bytes()
        report["dtype"] = str(next(model.parameters()).dtype)
    elif args.mode == "libs":
        import deepspeed  # noqa: F401  (what a training process imports)
        from transformers import Trainer  # noqa: F401

        sft.init_process_group(on_gpu=False)
        report["peak_end"] = max_rss_bytes()
    else:
        job = json.loads(Path(args.job).read_text())
        load = load_as_before if args.mode == "before" else sft.load_model
        from transformers import TrainerCallback

        class Engine(TrainerCallback):
            def on_train_begin(self, *a, **kw):
                report["peak_engine"] = max_rss_bytes()

        def load_and_measure(*a, **kw):
            model = load(*a, **kw)
            report["peak_after_load"] = max_rss_bytes()
            report["parameters"] = sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel()
                                       for p in model.parameters())
            return model
        sft.load_model = load_and_measure
        settings = sft.SFTSettings.from_dict(job["settings"])
        metrics = sft.train_sft(job["base_model_dir"], load_jsonl(job["train_file"]), job["out_dir"],
                                job["work_dir"], settings, callbacks=[Engine()])
        report["peak_end"] = max_rss_bytes()
        report["steps"] = metrics["steps"]
    (Path(args.out) / f"rank{rank}.json").write_text(json.dumps(report))
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def launch(loading: str, job: Path, out: Path, nproc: int, extra_env: dict | None) -> list[dict]:
    """Run ``nproc`` workers under torchrun; ``extra_env`` None: the training launcher's environment."""
    from growthpace.train.launch import LOW_MEMORY_ENV, launch_env

    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(HERE),
           "--worker", "--mode", loading, "--job", str(job), "--out", str(out)]
    env = launch_env(threads=1)
    if extra_env is not None:  # the environment of the loading before this project fixed it
        env = {**{k: v for k, v in env.items() if k not in LOW_MEMORY_ENV}, **extra_env}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{loading} run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(nproc)]


def build(root: Path, hidden: int, layers: int, vocab: int) -> tuple[Path, Path]:
    """The checkpoint (fp16 .bin in 2 shards, SentencePiece tokenizer) and 8 training records."""
    from growthpace.data import demo
    from growthpace.data.loaders import load_doit_split, strip_provenance
    from growthpace.models.llama import build_checkpoint

    demo.generate_suite(root / "suite", n_train=1, n_valid=1, n_test=1, n_synthetic=0, n_ood=0, corpus_passes=2)
    records = [strip_provenance(r) for pool in load_doit_split(root / "suite", "1000",
                                                               list(demo.ABILITIES)).values() for r in pool]
    train_file = root / "train.jsonl"
    train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:8]), encoding="utf-8")
    shape = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 64,
             "intermediate_size": int(hidden * 2.75) // 64 * 64}
    model_dir = build_checkpoint(root / "model", demo.read_corpus(root / "suite" / "pretrain" / "corpus.txt"),
                                 shape, fmt="bin", shards=2, vocab_size=vocab)
    return model_dir, train_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=2000)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("before", "after", "libs", "load-bf16-before", "load-bf16-after"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir, train_file = build(root, args.hidden, args.layers, args.vocab)
        libs = launch("libs", root / "none.json", root / "libs", args.nproc, None)
        lib_peak = max(r["peak_end"] for r in libs)
        print(f"libraries and process group alone: peak RSS {lib_peak / 2**20:.0f} MiB per process")
        rows = []
        for stage in (2, 3):
            for mode, (loading, env) in MODES.items():
                # 2 optimiser steps of 4 items (2 processes x micro-batch 1 x 2 accumulation), 64 tokens
                settings = {"engine": "deepspeed", "zero_stage": stage, "precision": "fp32", "epochs": 1,
                            "batch_size": 4, "micro_batch_size": 1, "max_len": 64, "lr": 1e-5, "end_lr": 1e-6}
                work = root / f"z{stage}-{mode.replace(' ', '-')}"
                job = work / "job.json"
                work.mkdir()
                job.write_text(json.dumps({"base_model_dir": str(model_dir), "train_file": str(train_file),
                                           "out_dir": str(work / "out"), "work_dir": str(work / "trainer"),
                                           "settings": settings}))
                start = time.perf_counter()
                ranks = launch(loading, job, work / "report", args.nproc, env)
                seconds = time.perf_counter() - start
                model_bytes = ranks[0]["parameters"] * 4  # fp32 on a CPU
                rows.append({"stage": stage, "mode": mode, "model_bytes": model_bytes, "seconds": seconds,
                             "load": max(r["peak_after_load"] for r in ranks),
                             "engine": max(r["peak_engine"] for r in ranks),
                             "end": max(r["peak_end"] for r in ranks)})
        params = rows[0]["model_bytes"] // 4
        print(f"model: {params / 1e6:.1f}M parameters, {rows[0]['model_bytes'] / 2**20:.0f} MiB in fp32; "
              f"{args.nproc} processes, 2 optimiser steps")
        mib = 2**20
        print(f"peak RSS per process, MiB, and / model bytes (in brackets: less the libraries' {lib_peak / mib:.0f} MiB)")
        print(f"{'ZeRO':>4}  {'loading':<15} {'model loaded':>22} {'engine started':>22} {'end of training':>22} "
              f"{'seconds':>8}")
        for r in rows:
            cols = [f"{r[k] / mib:6.0f} {r[k] / r['model_bytes']:5.2f} ({(r[k] - lib_peak) / r['model_bytes']:5.2f})"
                    for k in ("load", "engine", "end")]
            print(f"{r['stage']:>4}  {r['mode']:<15} {cols[0]:>22} {cols[1]:>22} {cols[2]:>22} {r['seconds']:>8.1f}")
        bf16 = {m: launch(f"load-bf16-{m}", root / "z2-after" / "job.json", root / f"bf16-{m}", args.nproc, None)
                for m in ("before", "after")}
        for m, ranks in bf16.items():
            peak = max(r["peak_after_load"] for r in ranks)
            print(f"ZeRO-2, bf16 training, {m:<6} loading: model loaded in {ranks[0]['dtype']}, peak RSS "
                  f"{peak / mib:.0f} MiB = {peak / rows[0]['model_bytes']:.2f} x fp32 model bytes "
                  f"({(peak - lib_peak) / rows[0]['model_bytes']:.2f} less the libraries)")
        for stage in (2, 3):
            before, after = (next(r for r in rows if r["stage"] == stage and r["mode"] == m) for m in ("before", "after"))
            print(f"ZeRO-{stage}: after / before, peak RSS per process once the engine has started: "
                  f"{after['engine'] / before['engine']:.2f} (less the libraries: "
                  f"{(after['engine'] - lib_peak) / (before['engine'] - lib_peak):.2f})")


if __name__ == "__main__":
    main()
