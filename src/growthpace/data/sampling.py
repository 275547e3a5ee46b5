"""Nested, order-independent subsets.

For each (source, ability) pool the records are ordered by a seeded hash of their content, and a
subset of size n is the first n of that order. So the 16-item subset contains the 4-item subset, and
the result does not depend on the order of records in the files (the authors' ``random.sample``
over glob order was neither nested nor order-independent).
"""

from __future__ import annotations

import hashlib


def _rank(seed: int, source: str, ability: str, rec_hash: str) -> str:
    return hashlib.sha256(f"{seed}\0{source}\0{ability}\0{rec_hash}".encode()).hexdigest()


def seeded_order(records: list[dict], seed: int, source: str, ability: str) -> list[dict]:
    """The pool in its seeded permutation (ties between identical records broken by hash)."""
    return sorted(records, key=lambda r: (_rank(seed, source, ability, r["_hash"]), r["_hash"]))


class PoolTooSmall(ValueError):
    pass


def nested_subset(records: list[dict], n: int, seed: int, source: str, ability: str,
                  cap: bool = False) -> list[dict]:
    """The first ``n`` records of the pool's seeded permutation.

    A request larger than the pool raises ``PoolTooSmall`` unless ``cap`` is true.
    """
    if n > len(records) and not cap:
        raise PoolTooSmall(f"{source}/{ability}: asked for {n} items but the pool has {len(records)} "
                           "(set data.cap_to_pool: true to take the whole pool instead)")
    return seeded_order(records, seed, source, ability)[:n]
