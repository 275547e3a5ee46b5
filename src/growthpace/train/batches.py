"""Training batches that N processes share exactly as one process with gradient accumulation takes them.

HF Trainer hands its sampler to accelerate, which deals each process every N-th micro-batch and, with
``even_batches`` (its default), fills the last round with copies of the first items, so that a cell
whose size the global batch does not divide trains on copies: a 10-item cell at a global batch of 64 on
8 GPUs sees 64 examples in its one step. ``GlobalBatches`` is the batch sampler of every process instead
(accelerate never re-shards it):

- one order per epoch, drawn as one process drew it before (length-grouped over the global batch, from
  the global torch RNG, which Trainer seeds, and restores on resume), rank 0's for every process;
- the order cut into global batches of ``global_batch`` items (the last one shorter), each global batch
  cut into micro-batches of ``micro_batch`` items exactly as one process cuts it, and micro-batch ``j``
  of a global batch going to process ``j mod N``;
- when a global batch has fewer micro-batches than processes times accumulation steps (only the last,
  short one), the missing ones are ``BLANK``: one padding token with no target. Every process then runs
  the same number of forward and backward passes (the collectives stay in step), and a blank adds nothing
  to the loss or its gradient: Trainer divides the summed token losses by the target tokens of the whole
  global batch, counted over all processes (``average_tokens_across_devices``), so N processes compute
  the loss one process computes.
"""

from __future__ import annotations

import math

import torch

from ..models.chat import IGNORE_INDEX

BLANK = -1  # the index of a blank row in a micro-batch


def step_sizes(n_examples: int, global_batch: int) -> list[int]:
    """Examples in each optimiser step of one epoch of ``n_examples`` (the last step takes the rest)."""
    full, rest = divmod(n_examples, global_batch)
    return [global_batch] * full + ([rest] if rest else [])


def micro_batches_per_step(global_batch: int, micro_batch: int, world: int) -> int:
    """Micro-batches each process takes per full step (gradient accumulation steps)."""
    if global_batch % (micro_batch * world):
        raise ValueError(f"batch_size {global_batch} is not a multiple of micro_batch_size {micro_batch} "
                         f"x {world} process(es): the global batch would silently change")
    return global_batch // (micro_batch * world)


def split_step(indices: list[int], micro_batch: int, world: int) -> list[list[list[int]]]:
    """One global batch as each process's micro-batches: ``[process][micro-step] -> indices``."""
    chunks = [indices[i:i + micro_batch] for i in range(0, len(indices), micro_batch)]
    rounds = math.ceil(len(chunks) / world)
    chunks += [[BLANK]] * (rounds * world - len(chunks))
    return [[chunks[r * world + p] for r in range(rounds)] for p in range(world)]


def epoch_order(lengths: list[int], global_batch: int, generator=None) -> list[int]:
    """One epoch's order: Trainer's length grouping over the global batch (from the global RNG)."""
    from transformers.trainer_pt_utils import get_length_grouped_indices

    return get_length_grouped_indices(lengths, global_batch, generator=generator)


class GlobalBatches(torch.utils.data.Sampler):
    """Batch sampler of process ``rank`` of ``world``: its micro-batches of each global batch, in order."""

    def __init__(self, lengths: list[int], global_batch: int, micro_batch: int, world: int = 1, rank: int = 0):
        self.lengths, self.global_batch, self.micro_batch = list(lengths), global_batch, micro_batch
        self.world, self.rank = world, rank
        self.accumulation = micro_batches_per_step(global_batch, micro_batch, world)

    def steps(self, order: list[int]) -> list[list[list[int]]]:
        """This process's micro-batches of each step of an epoch in ``order``."""
        return [split_step(order[s:s + self.global_batch], self.micro_batch, self.world)[self.rank]
                for s in range(0, len(order), self.global_batch)]

    def __iter__(self):
        order = epoch_order(self.lengths, self.global_batch)
        if self.world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            # Every process drew the same order from the same RNG state; rank 0's is used all the same, so
            # that a random number drawn on one process only can never make them train on other items.
            shared = [order]
            torch.distributed.broadcast_object_list(shared, src=0)
            order = shared[0]
        for step in self.steps(order):
            yield from step

    def __len__(self) -> int:
        sizes = step_sizes(len(self.lengths), self.global_batch)
        return sum(math.ceil(math.ceil(g / self.micro_batch) / self.world) for g in sizes)


class WithBlanks(torch.utils.data.Dataset):
    """A training set whose index ``BLANK`` is a blank row: one padding token, no target."""

    def __init__(self, data, pad_id: int):
        self.data, self.pad_id = data, pad_id

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        if i == BLANK:
            return {"input_ids": [self.pad_id], "labels": [IGNORE_INDEX]}
        return self.data[i]


def real_rows(labels: torch.Tensor) -> torch.Tensor:
    """Rows of a batch with a target (every training item has one; a blank has none)."""
    return (labels != IGNORE_INDEX).any(dim=-1)
