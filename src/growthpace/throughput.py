"""The rate model of ``growthpace plan``: seconds of a device for the tokens a job trains on or evaluates.

Model FLOPs, as MFU is usually counted (Kaplan et al. 2020; PaLM's MFU without the attention term):

- training: 6 x parameters per token (forward and backward; the recomputation of gradient
  checkpointing is not counted: it lowers the MFU a run reaches instead);
- scoring (prompts, gold outputs, ranked candidates: one forward pass): 2 x parameters per token;
- generation: 2 x parameters per generated token, at an efficiency of its own (``mfu_decode``): each
  step reads every weight for a batch of a few dozen tokens, so decoding is bound by memory bandwidth,
  not by the matrix units.

A device's seconds for F model FLOPs are F / (peak x MFU). Each job also holds its device for a fixed
``overhead_seconds`` (process start, imports, model load, writes), which no FLOP count sees.

Rates come from a measurement file (``Rates.load``): ``benchmarks/gpu_check.py --out`` writes one on a
GPU machine (its bf16 matrix-multiply peak and the ZeRO-2 run's MFU), ``benchmarks/calibrate_cpu.py``
writes one for the CPU from a finished run. Without one, ``DEFAULT_RATES`` holds: an A100 80GB (312
TFLOP/s bf16 dense), 40% MFU for training (what Megatron and DeepSpeed report for 7-70b models with
ZeRO and gradient checkpointing), 40% for scoring and 5% for generation (batch ~32, 2 TB/s of HBM
against 312 TFLOP/s). They are assumptions, and the plan prints them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass
class Rates:
    device: str = "A100 80GB (assumed)"
    peak_tflops: float = 312.0  # per device, bf16 dense (fp32 matrix products on a CPU)
    mfu_train: float = 0.40
    mfu_score: float = 0.40
    mfu_decode: float = 0.05
    # seconds a job holds its devices besides the model work, per rule (start, imports, load, writes)
    overhead_seconds: dict = field(default_factory=lambda: {"train_cell": 120.0, "evaluate_checkpoint": 60.0,
                                                            "evaluate_base": 60.0})
    source: str = "default"

    @classmethod
    def load(cls, path: str | Path) -> "Rates":
        """A rates file (this class's fields as JSON) or ``benchmarks/gpu_check.py``'s ``--out`` file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: cannot read a rates file: {e}") from None
        if "gemm" in data and "train" in data:  # gpu_check.py's figures: its matmul peak, ZeRO-2's MFU
            zero2 = [r for r in data["train"] if r.get("zero_stage") == 2] or data["train"]
            return cls(device=f"{data['device']} (measured)", peak_tflops=data["gemm"]["tflops"],
                       mfu_train=zero2[0]["mfu"], source=str(path))
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                             f"expected {', '.join(sorted(known))}")
        return cls(**{**data, "source": str(path)})

    def save(self, path: str | Path) -> None:
        from .files import write_json_atomic

        write_json_atomic(Path(path), {k: v for k, v in asdict(self).items() if k != "source"})

    def seconds(self, flops: float, mfu: float) -> float:
        return flops / (self.peak_tflops * 1e12 * mfu)

    def train_seconds(self, parameters: int, tokens: float) -> float:
        return self.seconds(6 * parameters * tokens, self.mfu_train)

    def eval_seconds(self, parameters: int, scored_tokens: float, generated_tokens: float) -> float:
        return (self.seconds(2 * parameters * scored_tokens, self.mfu_score)
                + self.seconds(2 * parameters * generated_tokens, self.mfu_decode))

    def overhead(self, rule: str) -> float:
        """A base model's evaluation costs what a checkpoint's does when it was not measured apart."""
        fallback = self.overhead_seconds.get("evaluate_checkpoint", 0.0) if rule == "evaluate_base" else 0.0
        return float(self.overhead_seconds.get(rule, fallback))


DEFAULT_RATES = Rates()
