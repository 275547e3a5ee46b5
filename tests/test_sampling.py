"""Nested, order-independent subsets."""

import random

import pytest

from growthpace.data.sampling import PoolTooSmall, nested_subset
from growthpace.data.schema import record_hash


def pool(n, ability="biology"):
    recs = [{"messages": [{"role": "user", "content": f"问题{i}"}, {"role": "assistant", "content": "A"}],
             "type": ability, "question_format": 0} for i in range(n)]
    return [{**r, "_hash": record_hash(r)} for r in recs]


def hashes(records):
    return [r["_hash"] for r in records]


def test_subsets_are_nested():
    p = pool(300)
    sizes = [1, 4, 16, 64, 256]
    subsets = [hashes(nested_subset(p, n, 0, "curated", "biology")) for n in sizes]
    for small, big in zip(subsets, subsets[1:]):
        assert big[:len(small)] == small
    assert [len(s) for s in subsets] == sizes
    assert len(set(subsets[-1])) == 256


def test_independent_of_file_order():
    p = pool(100)
    shuffled = p[:]
    random.Random(7).shuffle(shuffled)
    assert hashes(nested_subset(p, 16, 0, "curated", "biology")) == \
        hashes(nested_subset(shuffled, 16, 0, "curated", "biology"))


def test_seed_and_pool_change_the_draw():
    p = pool(100)
    a = hashes(nested_subset(p, 16, 0, "curated", "biology"))
    assert a != hashes(nested_subset(p, 16, 1, "curated", "biology"))
    assert a != hashes(nested_subset(p, 16, 0, "curated", "history"))
    # not simply the first records of the file
    assert a != hashes(p[:16])


def test_too_large_request_is_an_error_unless_capped():
    p = pool(10)
    with pytest.raises(PoolTooSmall, match="curated/biology: asked for 16 items but the pool has 10"):
        nested_subset(p, 16, 0, "curated", "biology")
    assert len(nested_subset(p, 16, 0, "curated", "biology", cap=True)) == 10
