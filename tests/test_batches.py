"""``train.batches``: N processes share out each global batch exactly as one process takes it, with no
copies, on sizes that divide nothing; accelerate's sharding (what Trainer did before) copies items."""

import pytest
import torch

from growthpace.train.batches import BLANK, GlobalBatches, micro_batches_per_step, step_sizes


def epoch(n, global_batch, micro, world, rank, seed=0):
    torch.manual_seed(seed)  # Trainer seeds the global RNG identically on every process
    sampler = GlobalBatches([(7 * i) % 23 + 1 for i in range(n)], global_batch, micro, world, rank)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    return batches


@pytest.mark.parametrize("n,global_batch,micro,world", [
    (13, 8, 2, 2), (13, 8, 2, 1), (26, 6, 2, 3), (25, 6, 1, 3), (10, 64, 8, 8), (40, 64, 8, 8),
    (160, 64, 8, 8), (1, 8, 1, 8), (101, 16, 2, 4)])
def test_processes_share_each_step_as_one_process_takes_it(n, global_batch, micro, world):
    one = epoch(n, global_batch, micro, 1, 0)
    accumulation = global_batch // micro
    # One process: consecutive micro-batches of the order, ``accumulation`` per step, the last step short.
    one_steps = [one[i:i + accumulation] for i in range(0, len(one), accumulation)]
    sizes = [sum(len(b) for b in s) for s in one_steps]
    assert sizes == step_sizes(n, global_batch) and sum(sizes) == n
    assert sorted(i for b in one for i in b) == list(range(n))
    per_process = [epoch(n, global_batch, micro, world, r) for r in range(world)]
    # Every process runs the same number of micro-batches, none empty.
    assert len({len(b) for b in per_process}) == 1 and all(b for p in per_process for b in p)
    k = global_batch // (micro * world)
    start = 0
    for step in one_steps:  # the same items in each step, each once, no copies
        rounds = -(-len(step) // world)
        assert rounds <= k
        items = [i for p in per_process for b in p[start:start + rounds] for i in b if i != BLANK]
        assert sorted(items) == sorted(i for b in step for i in b)
        blanks = [b for p in per_process for b in p[start:start + rounds] if BLANK in b]
        assert all(b == [BLANK] for b in blanks) and len(blanks) == rounds * world - len(step)
        start += rounds
    assert start == len(per_process[0])


def test_a_global_batch_that_does_not_split_is_refused():
    with pytest.raises(ValueError, match="batch_size 8 is not a multiple of micro_batch_size 2 x 3"):
        micro_batches_per_step(8, 2, 3)


def test_accelerate_sharding_copies_items_that_global_batches_does_not():
    """The paper's 10-item 7b cell (global batch 64, micro-batch 8, 8 GPUs) through accelerate's own
    BatchSamplerShard (even_batches, its default under Trainer) sees 64 examples, 54 of them copies."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler, SequentialSampler

    seen = [i for r in range(8) for b in BatchSamplerShard(BatchSampler(SequentialSampler(range(10)), 8, False),
                                                           num_processes=8, process_index=r) for i in b]
    assert len(seen) == 64 and len(set(seen)) == 10
    ours = [i for r in range(8) for b in epoch(10, 64, 8, 8, r) for i in b if i != BLANK]
    assert sorted(ours) == list(range(10))
