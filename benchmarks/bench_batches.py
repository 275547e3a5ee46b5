"""Examples per epoch of the paper's 7b cells on 8 GPUs, before and after ``train.batches``.

The paper's study (config/studies/doit-paper.yaml): global batch 64, micro-batch 8 on 8 GPUs (no
accumulation), 15 epochs, at least 25 optimiser steps (so 2 steps an epoch: the data is repeated
within each epoch, ``plan_repeats``). For each curated 7b cell size, 8 processes are simulated:

- before: Trainer's length-grouped sampler in a DataLoader prepared by accelerate's own
  ``prepare_data_loader`` for process r of 8 (``BatchSamplerShard``, ``even_batches=True``, Trainer's
  default), which is what each training process iterated;
- after: ``GlobalBatches`` of process r of 8 (blank rows not counted).

Run: PYTHONPATH=src python benchmarks/bench_batches.py

Measured 2026-12-06 (CPU, this sampler code; the counts do not depend on the machine):

    cell    items x repeats = planned  before: examples (distinct)  after: examples (distinct)  steps
    10         10 x 7 =    70               128 (10)                      70 (10)               2
    40         40 x 2 =    80               128 (40)                      80 (40)               2
    160       160 x 1 =   160               192 (160)                    160 (160)              3
    640       640 x 1 =   640               640 (640)                    640 (640)             10
    2560     2560 x 1 =  2560              2560 (2560)                  2560 (2560)            40
    10000   10000 x 1 = 10000             10048 (10000)                10000 (10000)          157
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import torch
import yaml

from growthpace.train.batches import BLANK, GlobalBatches
from growthpace.train.settings import SFTSettings, plan_repeats

ROOT = Path(__file__).resolve().parents[1]
WORLD = 8


def paper_settings() -> tuple[SFTSettings, list[int]]:
    config = yaml.safe_load((ROOT / "config" / "studies" / "doit-paper.yaml").read_text())
    training = {**config["training"], **config["models"]["sizes"]["7b"]["sft"]}
    return SFTSettings.from_dict(training), config["grid"]["data_sizes"]["curated"]


def before(lengths: list[int], settings: SFTSettings, rank: int) -> list[int]:
    """What process ``rank`` iterated: Trainer's sampler and DataLoader, prepared by accelerate."""
    from accelerate.data_loader import prepare_data_loader
    from transformers.trainer_pt_utils import LengthGroupedSampler

    torch.manual_seed(0)  # every process: the same seed (accelerate seeds the sampler's generator from it)
    loader = torch.utils.data.DataLoader(list(range(len(lengths))), batch_size=settings.micro_batch_size,
                                         sampler=LengthGroupedSampler(settings.batch_size, lengths=lengths))
    loader = prepare_data_loader(loader, device=torch.device("cpu"), num_processes=WORLD, process_index=rank,
                                 put_on_device=False, even_batches=True)
    return [int(i) for batch in loader for i in batch]


def after(lengths: list[int], settings: SFTSettings, rank: int) -> list[int]:
    torch.manual_seed(0)
    sampler = GlobalBatches(lengths, settings.batch_size, settings.micro_batch_size, WORLD, rank)
    return [i for batch in sampler for i in batch if i != BLANK]


def main() -> None:
    settings, sizes = paper_settings()
    assert settings.batch_size == settings.micro_batch_size * WORLD, "the paper's 7b cells: no accumulation"
    print(f"global batch {settings.batch_size}, micro-batch {settings.micro_batch_size} x {WORLD} GPUs, "
          f"min_steps {settings.min_steps} over {settings.epochs} epochs")
    print(f"{'cell':<8}{'items x repeats = planned':>26}  {'before: examples (distinct)':>28}  "
          f"{'after: examples (distinct)':>27}  {'steps':>5}")
    rng = random.Random(0)
    for n in sizes:
        repeats = plan_repeats(n, settings)
        lengths = [rng.randint(50, 2048) for _ in range(n)] * repeats
        old = [i for r in range(WORLD) for i in before(lengths, settings, r)]
        new = [i for r in range(WORLD) for i in after(lengths, settings, r)]
        assert Counter(new) == Counter(range(len(lengths)))  # each planned example exactly once
        steps = -(-len(lengths) // settings.batch_size)
        print(f"{n:<8}{f'{n} x {repeats} = {n * repeats}':>26}  {f'{len(old)} ({len(set(old))})':>28}  "
              f"{f'{len(new)} ({len(set(new))})':>27}  {steps:>5}")


if __name__ == "__main__":
    main()
