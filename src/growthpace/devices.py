"""What a training or evaluation job will compute on, resolved when the study is planned, so that the
artifact keys say what was built: a CPU artifact in fp32 never has the key of a GPU one in bf16.

``precision: auto`` (training) and ``dtype: auto`` (evaluation) depend on the device. Keys are computed
where snakemake plans the study, often a login node without GPUs, so the device is the one the job asks
for (``resources.{train,evaluate}.gpus``), not this machine's. The job itself checks, before it trains
or loads a model, that it got what its key says (``check_running``). Torch-free: planning imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

CPU, CUDA = "cpu", "cuda"


class DeviceMismatch(RuntimeError):
    """A job runs on another kind of device, or in another precision, than its artifact's key says."""


@dataclass(frozen=True)
class Device:
    kind: str  # "cpu" or "cuda"
    bf16: bool = False  # computes in bf16 (every CUDA GPU since Ampere: A100, H100)

    @classmethod
    def planned(cls, gpus: int) -> "Device":
        """The device of a job asking for ``gpus`` GPUs. A GPU is assumed to have bf16 (checked when
        the job runs: a V100 stops with the setting to use)."""
        return cls(CUDA, bf16=True) if gpus > 0 else cls(CPU)


def planned_device(config: dict, model_size: str, stage: str) -> Device:
    """The device of a model size's ``train`` or ``evaluate`` jobs."""
    from .study.resources import job_resources

    return Device.planned(job_resources(config, model_size, stage)["gpus"])


def training_precision(precision: str, device: Device) -> str:
    """``auto`` is bf16 on a GPU that has it and fp32 elsewhere (bf16 matmul crawls on CPUs)."""
    if precision != "auto":
        return precision
    return "bf16" if device.kind == CUDA and device.bf16 else "fp32"


def evaluation_dtype(dtype: str, device: Device) -> str:
    """``auto`` is float32 on the CPU and bfloat16 on a GPU (``evaluate.engine.resolve_dtype``)."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.kind == CUDA else "float32"


def running_device() -> Device:
    """The device this process computes on."""
    import torch

    if torch.cuda.is_available():
        return Device(CUDA, bf16=bool(torch.cuda.is_bf16_supported()))
    return Device(CPU)


def check_running(expected_kind: str, precision: str | None, running: Device, what: str) -> None:
    """Stop a job keyed for GPUs that has none, or whose GPU lacks the bf16 its key says. (A job keyed
    for the CPU runs there whatever this machine has: its caller hides the GPUs or names the device.)"""
    if expected_kind == CUDA and running.kind != CUDA:
        raise DeviceMismatch(f"{what}: keyed for {CUDA} but no GPU is visible here; its artifact would be stored "
                             f"under the key of a GPU build. Run it where the job's resources (gpus > 0) hold GPUs.")
    if precision in ("bf16", "bfloat16") and running.kind == CUDA and not running.bf16:
        raise DeviceMismatch(f"{what}: keyed for {precision}, but this GPU has no bf16; set the precision to "
                             "fp16 (training.precision) or float16 (evaluation.dtype)")
