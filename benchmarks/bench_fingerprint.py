"""How long fingerprinting a study's input files takes, without and with the store's hash cache.

For each input tree, three timings in one process:

- cold: an empty cache (``growthpace.fingerprint.Fingerprints`` with a new cache directory): every file
  is read and hashed (its bytes may already be in the OS page cache: the first cold pass reads them);
- warm: the same cache directory, in a new ``Fingerprints`` object as a new planning process would
  have: every file is only stat'ed;
- the ratio warm / cold.

Trees: the demo's inputs (the suite the demo generates, ``config/config.yaml``'s ``data.demo``), the
DoIT-layout fixture (``tests/fixtures/doit``), and ``--weights-gb`` GB of weight-like files (random
bytes in 1 GB shards, like a sharded safetensors model) generated in a temporary directory.

Run: ``.venv/bin/python benchmarks/bench_fingerprint.py [--weights-gb 4] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from growthpace.data.demo import generate_suite
from growthpace.fingerprint import Fingerprints, labelled, tree_files

ROOT = Path(__file__).resolve().parents[1]


def timed(root: Path, cache: Path | None) -> float:
    start = time.perf_counter()
    Fingerprints(cache).fingerprint(labelled(root, tree_files(root)))
    return time.perf_counter() - start


def measure(name: str, root: Path, tmp: Path, repeats: int) -> tuple:
    files = tree_files(root)
    size = sum(f.stat().st_size for f in files)
    cold = min(timed(root, tmp / f"cache-{name}-{i}") for i in range(repeats))  # a new, empty cache each time
    warm = min(timed(root, tmp / f"cache-{name}-0") for _ in range(repeats))
    return name, len(files), size, cold, warm


def weight_like(root: Path, gb: float) -> Path:
    root.mkdir(parents=True)
    shard = 1 << 30
    n = max(1, round(gb))
    for i in range(n):
        with open(root / f"model-{i + 1:05d}-of-{n:05d}.safetensors", "wb") as f:
            for _ in range(shard // (64 << 20)):
                f.write(os.urandom(64 << 20))
    (root / "config.json").write_text("{}\n")
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-gb", type=float, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]["demo"]
    with tempfile.TemporaryDirectory(prefix="bench-fingerprint-") as tmp:
        tmp = Path(tmp)
        suite = tmp / "demo-suite"
        generate_suite(suite, **demo)
        rows = [measure("demo suite", suite, tmp, args.repeats),
                measure("DoIT fixture", ROOT / "tests" / "fixtures" / "doit", tmp, args.repeats)]
        if args.weights_gb > 0:
            rows.append(measure(f"{args.weights_gb:g} GB weights", weight_like(tmp / "weights", args.weights_gb),
                                tmp, 1))
    print(f"{'inputs':<16} {'files':>6} {'MB':>9} {'cold s':>8} {'warm s':>8} {'warm/cold':>10} {'cold MB/s':>10}")
    for name, n, size, cold, warm in rows:
        print(f"{name:<16} {n:>6} {size / 1e6:>9.1f} {cold:>8.3f} {warm:>8.4f} {warm / cold:>10.4f} "
              f"{size / 1e6 / cold:>10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
