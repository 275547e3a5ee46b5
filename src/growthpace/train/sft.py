"""Supervised fine-tuning of one training cell through HF Trainer, plain or with DeepSpeed ZeRO.

- Loss on assistant content plus its ``<eot>`` only (``models.chat.encode_for_training``).
- The paper's optimiser and schedule by default: AdamW (0.9, 0.95), weight decay 0.1, learning rate
  decaying linearly from ``lr`` to ``end_lr``; a study overrides them per model size. Under DeepSpeed
  the optimiser and the schedule are still HF Trainer's: the DeepSpeed config has no ``optimizer`` or
  ``scheduler`` block (the authors' one replaced both, see ``deepspeed_config``).
- Tiny data sizes still get at least ``min_steps`` optimiser steps (the authors' epoch override never
  fired; their 10-item runs took 15 steps): the data is repeated within each epoch, so every cell keeps
  the same number of epochs (and of checkpoints to evaluate) whatever its size.
- Length-grouped batches (little padding), grouped over the global batch and shared out by
  ``batches.GlobalBatches``: every optimiser step sees the same items whatever the number of processes,
  with no copies, so 2 or 3 processes train the model 1 process trains (``tests/test_train_distributed.py``).
- Loading (``load_model``): after ``TrainingArguments`` exist, so that under ZeRO-3 transformers builds
  the model inside DeepSpeed's ``zero.Init`` and no process ever holds all of it; otherwise shard by shard
  in the training dtype, on a GPU straight to the process's device. Safetensors or PyTorch ``.bin``
  weights, one file or sharded; gradient checkpointing is a setting.
- One weights-only snapshot per epoch (``epochs/epoch-{k}/``, safetensors), hard-linked from the
  Trainer checkpoint of that epoch once it is complete. Trainer's checkpoints (with optimizer state)
  live in ``work_dir`` while the cell runs, for resume, and are deleted by the caller when it completes.
- ``engine="deepspeed"`` needs a process group: start it under ``torchrun``/``deepspeed`` (see
  ``launch``); a lone process without a launcher gets a one-process group of its own. The group is made
  before ``TrainingArguments`` (gloo on a CPU, NCCL on GPUs), or a CPU run would count one process.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

from ..devices import Device, check_running, running_device, training_precision
from ..files import atomic_dir, tree_bytes
from ..models.chat import IGNORE_INDEX, add_chat_tokens
from .batches import GlobalBatches, WithBlanks, micro_batches_per_step, real_rows, step_sizes
from .checks import NoTrainableTokens, check_model_dir, encode_records  # noqa: F401 (NoTrainableTokens: re-exported)
from .deepspeed_config import deepspeed_config
from .rendezvous import ensure_process_group_env
from .schedule import linear_to_end_lr
# Re-exported: the settings live in a torch-free module so that planning a study does not import torch.
from .settings import ENGINES, PRECISIONS, SFTSettings, plan_repeats  # noqa: F401

log = logging.getLogger(__name__)

class SFTDataset(torch.utils.data.Dataset):
    def __init__(self, tokenizer, records: list[dict], max_len: int):
        self.items = encode_records(tokenizer, records, max_len)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def lengths(self) -> list[int]:
        return [len(x["input_ids"]) for x in self.items]


class PadCollator:
    """Right-pads a batch to its longest sequence (multiple of 8); labels padded with -100."""

    def __init__(self, pad_id: int, multiple: int = 8):
        self.pad_id, self.multiple = pad_id, multiple

    def __call__(self, batch):
        n = max(len(x["input_ids"]) for x in batch)
        n = math.ceil(n / self.multiple) * self.multiple
        ids = torch.full((len(batch), n), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), n), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        for i, x in enumerate(batch):
            k = len(x["input_ids"])
            ids[i, :k] = torch.tensor(x["input_ids"])
            labels[i, :k] = torch.tensor(x["labels"])
            mask[i, :k] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


# Files of a Trainer checkpoint that make a loadable model directory (no optimizer, RNG or DeepSpeed state).
SNAPSHOT_SUFFIXES = (".safetensors", ".json", ".jinja", ".txt", ".model")
NOT_SNAPSHOT = ("trainer_state.json",)


def snapshot_checkpoint(checkpoint: Path, target: Path) -> None:
    """Make ``target`` a weights-only copy of a complete Trainer checkpoint (hard links where possible)."""
    # An epoch trained again after an interruption: its new weights replace the old snapshot.
    with atomic_dir(target) as tmp:
        for f in sorted(checkpoint.iterdir()):
            if f.is_file() and f.suffix in SNAPSHOT_SUFFIXES and f.name not in NOT_SNAPSHOT:
                try:
                    os.link(f, tmp / f.name)
                except OSError:
                    shutil.copy2(f, tmp / f.name)
        if not (tmp / "model.safetensors").is_file() and not list(tmp.glob("model-*.safetensors")):
            raise RuntimeError(f"{checkpoint} has no safetensors weights to snapshot")


def complete_checkpoints(work_dir: Path) -> list[Path]:
    """Trainer checkpoints in ``work_dir`` that were written to the end (``trainer_state.json`` comes last)."""
    if not work_dir.is_dir():
        return []
    found = [p for p in work_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return sorted((p for p in found if (p / "trainer_state.json").is_file()), key=lambda p: int(p.name.split("-")[-1]))


def checkpoint_epoch(checkpoint: Path) -> int:
    return round(json.loads((checkpoint / "trainer_state.json").read_text())["epoch"])


class EpochSnapshots(TrainerCallback):
    """After each epoch's checkpoint is saved, keeps its weights as ``epochs/epoch-{k}``."""

    def __init__(self, snapshots: Path):
        self.snapshots = snapshots

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            snapshot_checkpoint(checkpoint, self.snapshots / f"epoch-{round(state.epoch)}")


class OptimizerProbe(TrainerCallback):
    """Records the learning rate and AdamW settings in the innermost torch optimizer at each real step.

    DeepSpeed wraps the optimizer (and steps it inside ``backward``), so the probe patches the step of
    the torch optimizer itself: what it records is what the update actually used.
    """

    def __init__(self):
        self.trainer = None
        self.steps: list[dict] = []
        self.optimizer_class = None

    def on_train_begin(self, args, state, control, **kwargs):
        opt = self.trainer.optimizer
        while not isinstance(opt, torch.optim.Optimizer) or hasattr(opt, "optimizer"):
            opt = opt.optimizer
        self.optimizer_class = f"{type(opt).__module__}.{type(opt).__name__}"
        original = opt.step

        def step(*a, **kw):
            g = opt.param_groups[0]
            if not self.steps or self.steps[-1]["step"] != self.trainer.state.global_step + 1:
                self.steps.append({"step": self.trainer.state.global_step + 1, "lr": g["lr"],
                                   "betas": list(g["betas"]), "weight_decay": g["weight_decay"]})
            return original(*a, **kw)
        opt.step = step


class PhaseClock(TrainerCallback):
    """Seconds spent in each phase of a cell (``phase_seconds`` in its metrics): where a short cell's time
    goes is mostly not the training loop."""

    def __init__(self):
        self.marks = [("begin", time.perf_counter())]

    def mark(self, name: str) -> None:
        self.marks.append((name, time.perf_counter()))

    def on_train_begin(self, args, state, control, **kwargs):
        self.mark("engine_setup")  # Trainer: optimizer, DeepSpeed initialisation, resumed state

    def on_train_end(self, args, state, control, **kwargs):
        self.mark("loop")  # every step, log and epoch checkpoint

    def seconds(self) -> dict[str, float]:
        return {name: round(t - prev, 3) for (_, prev), (name, t) in zip(self.marks, self.marks[1:])}


class SFTTrainer(Trainer):
    """HF Trainer with the paper's schedule (linear from lr to end_lr), whatever the engine, and the
    batches of ``batches.GlobalBatches``: every optimiser step sees the items one process sees, whatever
    the number of processes, with no copies. Counts the examples and tokens each step really trained on
    (blank rows left out), summed over the processes by ``seen_per_step``."""

    def __init__(self, *a, end_lr: float, global_batch: int, **kw):
        super().__init__(*a, **kw)
        self.end_lr = end_lr
        self.global_batch = global_batch
        self.seen: dict[int, list[int]] = {}  # optimiser step (0-based) -> [examples, tokens], this process

    def get_train_dataloader(self):
        # Not through accelerator.prepare: it would deal the micro-batches out again and pad the last
        # round with copies. Trainer moves each batch to the device itself (_prepare_inputs).
        data = self.train_dataset
        sampler = GlobalBatches(data.lengths(), self.global_batch, self.args.per_device_train_batch_size,
                                self.args.world_size, self.args.process_index)
        pad_id = getattr(self.processing_class, "pad_token_id", None) or 0  # a blank row's one token
        return torch.utils.data.DataLoader(WithBlanks(data, pad_id),
                                           batch_sampler=sampler, collate_fn=self.data_collator,
                                           num_workers=0, pin_memory=self.args.dataloader_pin_memory)

    def _track_num_input_tokens(self, inputs):
        """Trainer's count of non-padding input tokens (all processes), blank rows left out."""
        rows = real_rows(inputs["labels"])
        examples, tokens = int(rows.sum()), int(inputs["attention_mask"][rows].sum())
        counts = self.seen.setdefault(self.state.global_step, [0, 0])
        counts[0] += examples
        counts[1] += tokens
        tokens = torch.as_tensor(tokens, device=self.args.device, dtype=torch.int64)
        self.state.num_input_tokens_seen += self.accelerator.gather(tokens).sum().item()

    def seen_per_step(self) -> list[list[int]]:
        """[examples, tokens] of each optimiser step of this run, all processes together."""
        steps = sorted(self.seen)
        counts = torch.tensor([self.seen[s] for s in steps] or [[0, 0]], dtype=torch.int64)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            counts = counts.to(self.args.device)
            torch.distributed.all_reduce(counts)
        return counts.cpu().tolist() if steps else []

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            self.lr_scheduler = linear_to_end_lr(optimizer or self.optimizer, self.args.learning_rate, self.end_lr,
                                                 num_training_steps)
            self._created_lr_scheduler = True
        return self.lr_scheduler


class Repeated(torch.utils.data.Dataset):
    def __init__(self, data: SFTDataset, repeats: int):
        self.data, self.repeats = data, repeats

    def __len__(self):
        return len(self.data) * self.repeats

    def __getitem__(self, i):
        if not 0 <= i < len(self):  # iteration by index (the length-grouped sampler) stops here
            raise IndexError(i)
        return self.data[i % len(self.data)]

    def lengths(self) -> list[int]:
        return self.data.lengths() * self.repeats


def prepare(base_model_dir: str | Path, records: list[dict], settings: SFTSettings):
    """Tokenizer with the chat tokens and the encoded data set; raises before any model is loaded."""
    base_model_dir = check_model_dir(base_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    added = add_chat_tokens(tokenizer)
    return tokenizer, added, SFTDataset(tokenizer, records, settings.max_len)


def init_process_group(on_gpu: bool) -> None:
    """The process group, before TrainingArguments exist: built later by accelerate, a CPU group would
    count one process, and DeepSpeed's batch sizes would not add up ("8 != 4 * 1 * 1")."""
    ensure_process_group_env()
    import deepspeed

    skip_shm_op()
    deepspeed.init_distributed(dist_backend="nccl" if on_gpu else "gloo")


def skip_shm_op() -> None:
    """Keep DeepSpeed from compiling its CPU shared-memory all-reduce op when it starts its process group.

    The op serves only ``inference_all_reduce`` (tensor-parallel inference); training's collectives go
    through torch.distributed (gloo), so it is never used here. Compiling it costs tens of seconds on a
    fresh environment, and a compile killed half-way leaves a ``lock`` file in ``TORCH_EXTENSIONS_DIR``
    that makes every later start wait on it forever.
    """
    import importlib

    # By name: the attribute ``deepspeed.comm.torch`` is torch itself (a star import shadows the module).
    backend = importlib.import_module("deepspeed.comm.torch")
    backend.build_shm_op = lambda: None  # tests/test_train_deepspeed.py checks that nothing is compiled


def hidden_size(model_dir: Path) -> int:
    """The model's hidden size (DeepSpeed's bucket sizes follow it)."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_dir).hidden_size


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def resolved_precision(settings: SFTSettings, on_gpu: bool) -> str:
    """``auto`` is bf16 on a GPU that supports it and fp32 elsewhere (a study's keys hold it resolved
    already: ``study.sft_spec``)."""
    return training_precision(settings.precision, running_device() if on_gpu else Device("cpu"))


def training_dtype(settings: SFTSettings, precision: str) -> torch.dtype:
    """The dtype the model's parameters are loaded in. DeepSpeed keeps bf16/fp16 parameters and an fp32
    master copy of its own partition only; the plain Trainer's mixed precision wants fp32 parameters."""
    if settings.engine == "deepspeed" and precision in ("bf16", "fp16"):
        return torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.float32


def load_model(base_model_dir: Path, tokenizer, added: int, settings: SFTSettings, dtype: torch.dtype,
               on_gpu: bool):
    """The base model, loaded so that no process holds more of it than it trains.

    Call it after ``TrainingArguments`` exist: under ZeRO-3 transformers then builds the model inside
    DeepSpeed's ``zero.Init``, so each process materialises only its partition of every parameter as the
    checkpoint's shards are read (``is_deepspeed_zero3_enabled``). Otherwise the weights are read shard
    by shard into a model on the meta device, in the training dtype (no fp32 copy of a bf16 model), and on
    a GPU straight to this process's device. Safetensors and PyTorch ``.bin`` files, one or sharded, are
    read (``.bin`` with ``weights_only=True``); the snapshots written later are safetensors.
    """
    from transformers.integrations import is_deepspeed_zero3_enabled

    kwargs = {"dtype": dtype, "weights_only": True}
    if on_gpu and not is_deepspeed_zero3_enabled():
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    model = AutoModelForCausalLM.from_pretrained(base_model_dir, **kwargs)
    if added:
        # New embedding rows are sampled around the mean of the others (under ZeRO-3 from gathered
        # rows): the same seed on every process gives the same rows whatever the number of processes.
        torch.manual_seed(settings.seed)
        model.resize_token_embeddings(len(tokenizer))
    return model


def peak_memory_bytes() -> tuple[int, str]:
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated()), "cuda_max_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "cpu_max_rss"  # Linux: KiB


def train_sft(base_model_dir: str | Path, records: list[dict], out_dir: str | Path, work_dir: str | Path,
              settings: SFTSettings, callbacks: list | None = None, device: str | None = None) -> dict:
    """Fine-tune the model in ``base_model_dir`` on ``records``; epoch snapshots go to ``out_dir/epochs``.

    Resumes from the last complete Trainer checkpoint in ``work_dir`` if one exists. Every process of
    a launched run calls this; the returned metrics are meaningful on the main process. ``callbacks``:
    more ``TrainerCallback``s (measurements). ``device``: the kind of device the cell's key was computed
    for (``devices``); another one stops it before the model is loaded.
    """
    base_model_dir, out_dir, work_dir = Path(base_model_dir), Path(out_dir), Path(work_dir)
    clock = PhaseClock()
    tokenizer, added, data = prepare(base_model_dir, records, settings)
    clock.mark("tokenize")
    on_gpu = torch.cuda.is_available()
    if device is not None:
        check_running(device, settings.precision, running_device(), f"training of {out_dir}")
    if settings.engine == "deepspeed":
        init_process_group(on_gpu)
    clock.mark("process_group")
    repeats = plan_repeats(len(data), settings)
    train_data = Repeated(data, repeats)
    world = world_size()
    micro = min(settings.micro_batch_size, settings.batch_size)
    accum = micro_batches_per_step(settings.batch_size, micro, world)
    snapshots = out_dir / "epochs"
    snapshots.mkdir(parents=True, exist_ok=True)
    precision = resolved_precision(settings, on_gpu)
    args = TrainingArguments(
        output_dir=str(work_dir),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accum,
        learning_rate=settings.lr,
        warmup_steps=0,  # the schedule itself is SFTTrainer's (linear to end_lr)
        optim="adamw_torch",
        adam_beta1=settings.adam_beta1,
        adam_beta2=settings.adam_beta2,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        train_sampling_strategy="group_by_length",
        save_strategy="epoch",
        save_total_limit=1,
        logging_steps=1,
        report_to=[],
        use_cpu=not on_gpu,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        activation_checkpointing=settings.gradient_checkpointing,  # transformers' newer name for it
        seed=settings.seed,
        data_seed=settings.seed,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        deepspeed=deepspeed_config(settings.zero_stage, hidden_size(base_model_dir), settings.offload_optimizer)
        if settings.engine == "deepspeed" else None,
        disable_tqdm=False,
    )
    clock.mark("training_arguments")
    model = load_model(base_model_dir, tokenizer, added, settings, training_dtype(settings, precision), on_gpu)
    clock.mark("load_model")
    probe = OptimizerProbe()
    trainer = SFTTrainer(
        end_lr=settings.end_lr,
        model=model,
        args=args,
        train_dataset=train_data,
        data_collator=PadCollator(tokenizer.pad_token_id),
        global_batch=settings.batch_size,
        processing_class=tokenizer,
        callbacks=[EpochSnapshots(snapshots), probe, clock, *(callbacks or [])],
    )
    probe.trainer = trainer
    if world > 1 and not getattr(trainer, "model_accepts_loss_kwargs", True):
        # Blank rows need the loss summed over the global batch's target tokens (num_items_in_batch);
        # averaged per micro-batch, an all-blank one would be 0/0.
        raise ValueError(f"{type(model).__name__} takes no loss kwargs: it cannot train in {world} processes")
    clock.mark("trainer")
    done = complete_checkpoints(work_dir)
    resume = done[-1] if done else None
    if args.should_save:  # checkpoints and snapshots cut short by a kill are of no use
        for partial in (set(work_dir.glob("checkpoint-*")) - set(done)) | set(snapshots.glob(".epoch-*.tmp-*")):
            shutil.rmtree(partial, ignore_errors=True)
    resumed_epoch = 0
    if resume is not None:
        resumed_epoch = checkpoint_epoch(resume)
        log.info("resuming from %s (epoch %d)", resume, resumed_epoch)
        if args.should_save and not (snapshots / f"epoch-{resumed_epoch}").is_dir():  # killed before its snapshot
            snapshot_checkpoint(resume, snapshots / f"epoch-{resumed_epoch}")
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    log.info("engine %s, %d process(es), %d torch threads", settings.engine, world, torch.get_num_threads())
    start = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    wall = time.time() - start
    clock.mark("after_loop")
    peak, peak_kind = peak_memory_bytes()
    seen = trainer.seen_per_step()
    steps_per_epoch = len(step_sizes(len(train_data), settings.batch_size))
    per_epoch = [seen[i:i + steps_per_epoch] for i in range(0, len(seen), steps_per_epoch)]
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    lrs = [h["learning_rate"] for h in history if "learning_rate" in h]
    tokens_per_epoch = sum(train_data.lengths())
    tokens_this_run = tokens_per_epoch * (settings.epochs - resumed_epoch)
    last = complete_checkpoints(work_dir)
    checkpoint_bytes = tree_bytes(last[-1]) if last else None
    snapshot_bytes = tree_bytes(snapshots)
    return {
        "settings": asdict(settings),
        "engine": settings.engine,
        "zero_stage": settings.zero_stage if settings.engine == "deepspeed" else None,
        "precision": precision,
        "gradient_checkpointing": bool(getattr(trainer.model, "is_activation_checkpointing", False)),
        "world_size": world,
        "device": "cuda" if on_gpu else "cpu",
        "n_items": len(data),
        "epochs": settings.epochs,
        "repeats_per_epoch": repeats,
        "steps": trainer.state.global_step,
        # What the steps of this run trained on, all processes together (blank rows left out).
        "examples_per_step": [e for e, _ in seen],
        "examples_per_epoch": [sum(e for e, _ in epoch) for epoch in per_epoch],
        "tokens_per_epoch_seen": [sum(t for _, t in epoch) for epoch in per_epoch],
        "tokens_seen": int(trainer.state.num_input_tokens_seen),  # non-padding input tokens, all processes
        "tokens_per_epoch": tokens_per_epoch,
        "trainable_tokens_per_epoch": sum(sum(1 for y in x["labels"] if y != IGNORE_INDEX) for x in data.items)
        * repeats,
        "wall_seconds": round(wall, 2),
        "tokens_per_second": round(tokens_this_run / wall, 1) if wall > 0 else None,
        "peak_memory_bytes": peak,
        "peak_memory_kind": peak_kind,
        "losses": losses,  # the training loss at each optimiser step of this run
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "first_lr": lrs[0] if lrs else None,
        "last_lr": lrs[-1] if lrs else None,
        "final_scheduler_lr": trainer.lr_scheduler.get_last_lr()[0],
        "optimizer_class": probe.optimizer_class,
        "optimizer_steps": probe.steps,  # lr, betas and weight decay in the optimizer at each step of this run
        "train_loss": round(float(result.training_loss), 5),
        "resumed_from_epoch": resumed_epoch,
        # What resume costs on disk while the cell runs, against keeping such a checkpoint every epoch.
        "checkpoint_bytes_with_optimizer": checkpoint_bytes,
        "bytes_if_every_epoch_with_optimizer": checkpoint_bytes * settings.epochs if checkpoint_bytes else None,
        "snapshot_bytes": snapshot_bytes,
        "phase_seconds": clock.seconds(),
    }
