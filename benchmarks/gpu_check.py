"""GPU check: the real training and evaluation path on a CUDA machine, in a few minutes.

On a machine with one or more CUDA GPUs, with nothing downloaded:

1. measures the bf16 matrix-multiply peak of one GPU (8192 x 8192 products), the reference for MFU;
2. builds a LLaMA of about 0.6B parameters with random weights and a SentencePiece tokenizer trained on
   the generated demo corpus (``models.llama``), saved as bf16 safetensors;
3. trains one cell on demo-suite records through the project's own path (``train.sft.train_sft`` in one
   process per GPU under torchrun, as ``train.launch`` starts it): bf16, gradient checkpointing, once
   under DeepSpeed ZeRO-2 and once under ZeRO-3 (built under ``zero.Init``);
4. evaluates the ZeRO-3 cell's checkpoint with the batched engine (``evaluate.run.evaluate_sets``) on the
   suite's valid and test sets;
5. prints, per run: training tokens per second (non-padding tokens of the steady-state steps, every GPU
   together), seconds per step, peak GPU memory per process, and model FLOPs utilisation
   (6 x parameters per token, plus attention, over the measured peak of all GPUs; the hardware does
   about a third more with gradient checkpointing), and for the evaluation items per second and peak
   GPU memory. ``--out FILE`` writes the same as JSON, which ``growthpace plan --rates FILE`` reads (the
   matmul peak, and the ZeRO-2 run's MFU for training).

Run: ``.venv/bin/python benchmarks/gpu_check.py`` (at most about 8 minutes; needs a CUDA build of torch).
``--cpu-smoke`` runs the same steps on a CPU with a tiny model in fp32 (2 processes, gloo): it checks the
script end to end where there is no GPU; its figures say nothing about a GPU.
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
GPU_SHAPE = {"hidden_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 16, "intermediate_size": 5504}
CPU_SHAPE = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 172}
WARMUP_STEPS = 3


def gemm_peak(cpu: bool) -> dict:
    """Best throughput of square matrix products: bf16 8192 on a GPU, fp32 1024 on a CPU (TFLOP/s)."""
    import torch

    n, dtype, device = (1024, torch.float32, "cpu") if cpu else (8192, torch.bfloat16, "cuda")
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    sync = (lambda: None) if cpu else torch.cuda.synchronize
    for _ in range(3):
        a @ b
    sync()
    best = float("inf")
    for _ in range(5):
        reps = 5 if cpu else 50
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync()
        best = min(best, (time.perf_counter() - start) / reps)
    return {"n": n, "dtype": str(dtype).removeprefix("torch."), "tflops": 2 * n**3 / best / 1e12}


def worker(args) -> None:
    """One training process: ``train_sft`` with a callback timing each optimiser step."""
    import torch
    from transformers import TrainerCallback

    from growthpace.data.loaders import load_jsonl
    from growthpace.train import sft

    rank = int(os.environ.get("RANK", "0"))
    job = json.loads(Path(args.job).read_text())
    on_gpu = torch.cuda.is_available()
    if on_gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    steps: list[dict] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if on_gpu:
                torch.cuda.synchronize()
            self.start, self.tokens = time.perf_counter(), state.num_input_tokens_seen

        def on_step_end(self, args, state, control, **kw):
            if on_gpu:
                torch.cuda.synchronize()
            steps.append({"seconds": time.perf_counter() - self.start,
                          "tokens": int(state.num_input_tokens_seen - self.tokens)})

    settings = sft.SFTSettings.from_dict(job["settings"])
    metrics = sft.train_sft(job["base_model_dir"], load_jsonl(job["train_file"]), job["out_dir"], job["work_dir"],
                            settings, callbacks=[StepTimer()])
    peak = torch.cuda.max_memory_allocated() if on_gpu else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report = {"rank": rank, "steps": steps, "peak_memory_bytes": int(peak), "world_size": metrics["world_size"],
              "precision": metrics["precision"], "gradient_checkpointing": metrics["gradient_checkpointing"],
              "zero_stage": metrics["zero_stage"], "losses": metrics["losses"]}
    (Path(args.report_dir) / f"rank{rank}.json").write_text(json.dumps(report))
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def train(model_dir: Path, train_file: Path, work: Path, settings: dict, nproc: int) -> list[dict]:
    from growthpace.train.launch import launch_env

    work.mkdir(parents=True, exist_ok=True)
    job = work / "job.json"
    job.write_text(json.dumps({"base_model_dir": str(model_dir), "train_file": str(train_file),
                               "out_dir": str(work / "out"), "work_dir": str(work / "trainer"), "settings": settings}))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(HERE),
           "--worker", "--job", str(job), "--report-dir", str(work)]
    proc = subprocess.run(cmd, env=launch_env(), capture_output=True, text=True)
    (work / "train.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"training failed (log: {work / 'train.log'}):\n{proc.stderr[-4000:]}")
    return [json.loads((work / f"rank{r}.json").read_text()) for r in range(nproc)]


def model_flops_per_token(params: int, shape: dict, seq_len: float) -> float:
    """Training FLOPs per token: 6 per parameter, plus attention scores and values (12 x layers x
    hidden x sequence length, the PaLM paper's accounting)."""
    return 6 * params + 12 * shape["num_hidden_layers"] * shape["hidden_size"] * seq_len


def summarise_training(ranks: list[dict], params: int, shape: dict, peak_tflops: float, nproc: int,
                       batch: int) -> dict:
    steady = ranks[0]["steps"][WARMUP_STEPS:] or ranks[0]["steps"]
    seconds = sum(s["seconds"] for s in steady)
    tokens = sum(s["tokens"] for s in steady)
    tokens_per_second = tokens / seconds
    seq_len = tokens / len(steady) / batch  # mean tokens per sequence
    flops = model_flops_per_token(params, shape, seq_len) * tokens_per_second
    return {"zero_stage": ranks[0]["zero_stage"], "processes": nproc, "precision": ranks[0]["precision"],
            "gradient_checkpointing": ranks[0]["gradient_checkpointing"], "steps_timed": len(steady),
            "seconds_per_step": seconds / len(steady), "tokens_per_second": tokens_per_second,
            "peak_memory_gib_per_process": max(r["peak_memory_bytes"] for r in ranks) / 2**30,
            "mfu": flops / (peak_tflops * 1e12 * nproc),
            "hfu_with_recompute": flops * 8 / 6 / (peak_tflops * 1e12 * nproc),
            "first_loss": ranks[0]["losses"][0], "last_loss": ranks[0]["losses"][-1]}


def evaluate(model_dir: Path, suite: Path, cpu: bool) -> dict:
    import torch

    from growthpace.data.loaders import load_doit_split
    from growthpace.data.schema import ABILITIES
    from growthpace.evaluate.engine import HFEngine
    from growthpace.evaluate.run import evaluate_sets

    if not cpu:
        torch.cuda.reset_peak_memory_stats()
    engine = HFEngine(model_dir, dtype="auto", batch_size="auto", progress=False)
    sets = {f"{a}_{split}": r for split in ("valid", "test")
            for a, r in load_doit_split(suite, split, list(ABILITIES)).items()}
    start = time.perf_counter()
    df = evaluate_sets(engine, sets, {"math": 64})
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 if cpu else torch.cuda.max_memory_allocated()
    return {"items": len(df), "seconds": seconds, "items_per_second": len(df) / seconds,
            "dtype": str(engine.dtype).removeprefix("torch."), "batch_size": engine.batch_size,
            "token_limits": engine.token_limits or None,
            "peak_memory_gib": peak / 2**30, "mean_score": float(df["score"].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny model on the CPU: check the script only")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here (JSON)")
    parser.add_argument("--keep", type=Path, default=None, help="build in this directory and keep it")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--report-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import torch

    from growthpace.data import demo
    from growthpace.data.loaders import load_doit_split, strip_provenance
    from growthpace.models.llama import build_checkpoint
    from growthpace.train.checks import weight_files

    cpu = args.cpu_smoke
    if not cpu and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA GPU visible to torch (torch.cuda.is_available() is False); "
                 "use --cpu-smoke to check the script on a CPU")
    started = time.perf_counter()
    nproc = 2 if cpu else torch.cuda.device_count()
    device = "cpu" if cpu else torch.cuda.get_device_name(0)
    print(f"device: {device} x {nproc}; torch {torch.__version__}", flush=True)
    peak = gemm_peak(cpu)
    print(f"matmul peak ({peak['dtype']}, n={peak['n']}): {peak['tflops']:.3g} TFLOP/s per device", flush=True)

    root = args.keep or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    root.mkdir(parents=True, exist_ok=True)
    per_ability = 8 if cpu else 64
    demo.generate_suite(root / "suite", n_train=per_ability, n_valid=4 if cpu else 20,
                              n_test=4 if cpu else 20, n_synthetic=0, n_ood=0, corpus_passes=2)
    records = [strip_provenance(r) for pool in load_doit_split(root / "suite", "1000",
                                                               list(demo.ABILITIES)).values() for r in pool]
    train_file = root / "train.jsonl"
    train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    shape = CPU_SHAPE if cpu else GPU_SHAPE
    start = time.perf_counter()
    model_dir = build_checkpoint(root / "model", demo.read_corpus(root / "suite" / "pretrain" / "corpus.txt"),
                                 shape, fmt="safetensors", shards=1 if cpu else 2,
                                 dtype=torch.float32 if cpu else torch.bfloat16, vocab_size=2000)
    params = sum(t.numel() for f in weight_files(model_dir) for t in _tensors(f))
    print(f"model: LLaMA, {params / 1e6:,.1f}M parameters ({shape}), built in {time.perf_counter() - start:.0f} s",
          flush=True)

    micro = 2 if cpu else 16
    batch = micro * nproc
    results = {"device": device, "devices": nproc, "gemm": peak, "parameters": params, "train": [], "evaluate": None}
    for stage in (2, 3):
        settings = {"engine": "deepspeed", "zero_stage": stage, "precision": "fp32" if cpu else "bf16",
                    "gradient_checkpointing": True, "epochs": 1, "batch_size": batch, "micro_batch_size": micro,
                    "min_steps": 8 if cpu else 30, "max_len": 512, "lr": 3e-4, "end_lr": 3e-5}
        start = time.perf_counter()
        ranks = train(model_dir, train_file, root / f"zero{stage}", settings, nproc)
        row = summarise_training(ranks, params, shape, peak["tflops"], nproc, batch)
        row["wall_seconds"] = time.perf_counter() - start
        results["train"].append(row)
        print(f"ZeRO-{stage}: {row['tokens_per_second']:,.0f} tokens/s, {row['seconds_per_step']:.3f} s/step "
              f"({row['steps_timed']} steps timed), peak memory {row['peak_memory_gib_per_process']:.2f} GiB per "
              f"process, MFU {row['mfu']:.1%} (with recompute {row['hfu_with_recompute']:.1%}); loss "
              f"{row['first_loss']:.3f} -> {row['last_loss']:.3f}; {row['wall_seconds']:.0f} s in all", flush=True)
    snapshot = root / "zero3" / "out" / "epochs" / "epoch-1"
    results["evaluate"] = evaluate(snapshot, root / "suite", cpu)
    e = results["evaluate"]
    print(f"evaluation ({e['dtype']}): {e['items']} items in {e['seconds']:.1f} s = {e['items_per_second']:.1f} "
          f"items/s, batch size {e['batch_size']}, tokens per forward after back-off {e['token_limits']}, "
          f"peak memory {e['peak_memory_gib']:.2f} GiB", flush=True)
    results["total_seconds"] = time.perf_counter() - started
    print(f"total: {results['total_seconds']:.0f} s" + ("  (CPU smoke run: the figures say nothing about a GPU)"
                                                        if cpu else ""))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


def _tensors(path: Path):
    import torch
    from safetensors.torch import load_file

    return (load_file(path) if path.suffix == ".safetensors" else torch.load(path, weights_only=True)).values()


if __name__ == "__main__":
    main()
