"""Model FLOPs utilisation: how close SFT, log-likelihood scoring and greedy generation come to what this
machine's matrix multiply can do, measured in one process.

1. Peak: torch matmul of square matrices at sizes where it saturates (fp32 on a CPU; bf16 and fp32 on a
   GPU), best of several runs; the largest rate is the peak. It is measured again right before each
   workload (on a shared machine the rate moves), and the highest rate seen in the run is the peak.
2. A LLaMA built here (default ~70M parameters: hidden 768, 12 layers, 12 heads, 4 KV heads, MLP 2048,
   vocabulary ~600 characters like the demo's tokenizer), saved as a model directory.
3. Model FLOPs per second, as a share of the peak, with the same model and dtype:
   - SFT: forward, backward and AdamW step at the study's micro-batch and length (8 x 256 tokens);
   - scoring: ``HFEngine.loglikelihood`` (the evaluation path) on batches of 64 requests of
     96 context + 32 continuation tokens;
   - generation: ``HFEngine.generate``, 64 prompts of 64 tokens, 32 new tokens each (greedy, KV cache).

FLOPs are counted as in PaLM's MFU: per token 2N for a forward (N: parameters in matrix multiplies,
the output layer included, the embedding lookup not) plus 4·layers·hidden·context for attention
(context: the positions attended, on average); training is 3x the forward. Only useful work counts:
padding, recomputation and the optimizer's element-wise work are not model FLOPs.

Measured (2-core CPU, shared, 1 thread, ``--repeat 1``; peak 63.7 GFLOP/s fp32 in the run): SFT step 49%
(forward+backward alone 52%; AdamW's element-wise update is the rest), scoring 72%, greedy generation
71% (the 64-token prefill is most of its FLOPs; 99 new tokens/s). On the demo's tiny models the same
loops are bound by per-operation overhead instead: a 3M-parameter model reached 39-84% depending on load.
Again with the default 2 threads (peak 192.5 GFLOP/s, the highest rate seen in the run; 141 at its
start): SFT 48%, scoring 74%, generation 46%.

Run: ``.venv/bin/python benchmarks/bench_mfu.py [--threads 2] [--device cpu|cuda] [--small]``
(``--small``: a 4-layer, 256-wide model, for a quick check). On a GPU the model runs in bf16 and the
share is of the bf16 matmul peak.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_time(fn, device: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def matmul_peak(device: str, dtype: torch.dtype, sizes: list[int], repeat: int) -> tuple[float, dict[int, float]]:
    """The best FLOP/s of ``a @ b`` over ``sizes`` (n x n by n x n: 2n^3 FLOPs)."""
    rates = {}
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        a @ b  # warm-up
        reps = max(1, int(2e11 // (2 * n**3))) if device.startswith("cuda") else 1
        t = best_time(lambda: [a @ b for _ in range(reps)], device, repeat)
        rates[n] = 2 * n**3 * reps / t
    return max(rates.values()), rates


def build(root: Path, arch: dict) -> Path:
    from growthpace.models.tiny import build_model
    from growthpace.models.tokenizer import train_char_tokenizer

    # About as many characters as the demo's tokenizer has (a few hundred).
    tok = train_char_tokenizer(["".join(chr(0x4E00 + i) for i in range(500))], root / "model")
    model = build_model(arch, len(tok), tok.pad_token_id, tok.eos_token_id, max_positions=512)
    model.save_pretrained(root / "model", safe_serialization=True)
    return root / "model"


def matmul_params(model) -> int:
    """Parameters that take part in a matrix multiply: every Linear, the (tied) output layer included."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def forward_flops(n_matmul: int, layers: int, hidden: int, tokens: int, context: float) -> float:
    return tokens * (2 * n_matmul + 4 * layers * hidden * context)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--small", action="store_true", help="a 4-layer, 256-wide model (quick check)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device, on_gpu = args.device, args.device.startswith("cuda")
    dtype = torch.bfloat16 if on_gpu else torch.float32

    sizes = [1024, 2048, 4096, 8192] if on_gpu else [256, 512, 1024, 2048]
    peaks = {}
    for d in ([torch.bfloat16, torch.float32] if on_gpu else [torch.float32]):
        peaks[d], rates = matmul_peak(device, d, sizes, args.repeat)
        print(f"[peak] {str(d).replace('torch.', '')} matmul on {device} ({torch.get_num_threads()} threads): "
              + ", ".join(f"n={n} {r / 1e9:.1f}" for n, r in rates.items()) + f" GFLOP/s -> peak {peaks[d] / 1e9:.1f}")
    peak = peaks[dtype]

    arch = ({"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 688} if args.small else
            {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 4,
             "intermediate_size": 2048})
    layers, hidden = arch["num_hidden_layers"], arch["hidden_size"]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build(Path(tmp), arch)
        from growthpace.evaluate.engine import HFEngine

        engine = HFEngine(model_dir, device=device, dtype="bfloat16" if on_gpu else "float32", batch_size=64,
                          progress=False)
        model = engine.model
        n_all = sum(p.numel() for p in model.parameters())
        n_mm = matmul_params(model)
        print(f"[model] LLaMA {arch}: {n_all / 1e6:.1f}M parameters, {n_mm / 1e6:.1f}M in matrix multiplies, "
              f"vocabulary {model.config.vocab_size}, {str(dtype).replace('torch.', '')}")
        g = torch.Generator().manual_seed(0)
        vocab = model.config.vocab_size

        def rand_ids(n: int) -> list[int]:
            return torch.randint(10, vocab, (n,), generator=g).tolist()  # no special tokens (no early stop)

        results = {}

        def remeasure():  # the peak, again, right before a workload; the run keeps the highest
            nonlocal peak
            peak = max(peak, matmul_peak(device, dtype, sizes[-2:], args.repeat)[0])

        remeasure()
        # SFT step: micro-batch 8 x 256, forward + backward + AdamW.
        rows, length = 8, 256
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1)
        ids = torch.randint(10, vocab, (rows, length), generator=g).to(device)

        def sft_step():
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        sft_step()
        steps = 2 if not on_gpu else 10
        t = best_time(lambda: [sft_step() for _ in range(steps)], device, args.repeat) / steps
        flops = 3 * forward_flops(n_mm, layers, hidden, rows * length, (length + 1) / 2)
        t_fwd = best_time(lambda: model(input_ids=ids, labels=ids).loss.backward(), device, args.repeat)
        results["SFT step (8 x 256)"] = (flops / t, "forward+backward alone", flops / t_fwd)
        del opt
        model.zero_grad(set_to_none=True)
        model.eval()

        remeasure()
        # Scoring: 64 (context 96, continuation 32) requests per batch, two batches.
        reqs = [(rand_ids(96), rand_ids(32)) for _ in range(128)]
        engine.loglikelihood(reqs[:64], strategy="flat")
        t = best_time(lambda: engine.loglikelihood(reqs, strategy="flat"), device, args.repeat)
        flops = forward_flops(n_mm, layers, hidden, len(reqs) * 127, 64)
        with torch.inference_mode():
            x = torch.tensor([c + k[:-1] for c, k in reqs[:64]], device=device)
            t_raw = best_time(lambda: model(input_ids=x), device, args.repeat)
        results["log-likelihood scoring (64 x 128)"] = (flops / t, "a bare forward of one batch", flops / 2 / t_raw)

        remeasure()
        # Greedy generation: 64 prompts of 64 tokens, 32 new tokens.
        prompts = [rand_ids(64) for _ in range(64)]
        engine.generate(prompts[:8], 4)
        t, gens = None, None

        def gen():
            nonlocal gens
            gens = engine.generate(prompts, 32)

        t = best_time(gen, device, args.repeat)
        new = max(len(x.token_ids) for x in gens)
        # The prefill, then one token per row and step (attending to the prompt and what came before).
        flops = forward_flops(n_mm, layers, hidden, 64 * 64, 32.5)
        flops += sum(forward_flops(n_mm, layers, hidden, 64, 64 + s + 1) for s in range(new - 1))
        results[f"greedy generation (64 x 64 + {new})"] = (flops / t, f"{64 * new / t:.0f} new tokens/s", None)

    aims = {"SFT": 0.40, "log-likelihood": 0.50, "greedy": 0.10}
    print(f"[mfu] peak {peak / 1e9:.1f} GFLOP/s ({str(dtype).replace('torch.', '')}, {device})")
    for name, (rate, note, other) in results.items():
        aim = next(v for k, v in aims.items() if name.startswith(k))
        note = note if other is None else f"{note} {other / peak:.0%}"
        print(f"[mfu] {name:38s} {rate / 1e9:8.1f} GFLOP/s = {rate / peak:5.1%} of peak "
              f"(aim {aim:.0%}; {note})")


if __name__ == "__main__":
    main()
