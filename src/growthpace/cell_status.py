"""``growthpace status``: the grid of a study and the state of each training cell (guideline cells too).

A cell is
- ``done``: trained and every epoch evaluated;
- ``evaluating``: trained, some epochs not yet evaluated;
- ``running``: its SFT artifact is being built right now (the store's build lock is held);
- ``failed``: its training log ends in an error and it has no result;
- ``missing``: nothing yet.

In an adaptive study (``grid.adaptive``) a cell no round has chosen is not missing: it is
- ``unchosen``: the rounds are still deciding (it may be chosen later);
- ``skipped``: the rounds have stopped without it (the study does not train it).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from . import study
from .store import Store, artifact_key

def _building(store: Store, results: Path, cell: study.Cell, config: dict) -> bool:
    base = results / "receipts" / "base" / f"{cell.model_size}.json"
    subset = results / "receipts" / "subset" / f"{cell.name}.json"
    if not (base.exists() and subset.exists()):
        return False
    inputs = {"base": json.loads(base.read_text())["key"], "subset": json.loads(subset.read_text())["key"]}
    key = artifact_key("sft", study.sft_spec(config, cell.model_size, cell.seed), inputs)
    return store.state("sft", key) == "building"


def _failed(log: Path) -> bool:
    if not log.exists():
        return False
    tail = log.read_text(errors="replace")[-5000:]
    return "Traceback (most recent call last)" in tail or "Error:" in tail


def adaptive_rounds(results: Path) -> tuple[set[str], bool]:
    """The cells (``{model_size}/{name}``) the adaptive rounds on disk chose, and whether a round stopped."""
    chosen, stopped = set(), False
    for f in sorted((results / "analysis" / "adaptive").glob("round*.json")):
        record = json.loads(f.read_text())
        chosen.update(record["chosen"])
        stopped = stopped or bool(record["stop"])
    return chosen, stopped


def cell_states(config: dict, workdir: str | Path = ".") -> list[dict]:
    workdir = Path(workdir)
    results = workdir / "results" / config["study"]
    store = Store(workdir / config.get("store_dir", "results/store"))
    adaptive = study.adaptive_settings(config) is not None
    chosen, stopped = adaptive_rounds(results) if adaptive else (set(), False)
    rows = []
    # The grid's cells, then the cells of the recipe derived from them (analysis.guideline).
    for cell in study.training_cells(config) + study.guideline_cells(config):
        receipt = results / "receipts" / "sft" / cell.model_size / f"{cell.name}.json"
        epochs = study.epochs(config, cell.model_size)
        evaluated = sum((results / "predictions" / cell.model_size / cell.name / f"epoch{e}.parquet").exists()
                        for e in epochs)
        if receipt.exists():
            state = "done" if evaluated == len(epochs) else "evaluating"
        elif _building(store, results, cell, config):
            state = "running"
        elif _failed(results / "logs" / "train" / cell.model_size / f"{cell.name}.log"):
            state = "failed"
        elif adaptive and f"{cell.model_size}/{cell.name}" not in chosen:
            state = "skipped" if stopped else "unchosen"
        else:
            state = "missing"
        rows.append({**cell.as_dict(), "state": state, "epochs_evaluated": f"{evaluated}/{len(epochs)}"})
    return rows


def print_status(configfiles: list[str | Path], workdir: str | Path = ".") -> int:
    config = study.load_config(*configfiles)
    rows = cell_states(config, workdir)
    guideline = sum(r["recipe"] in study.GUIDELINE_RECIPES and r["data_source"] == study.RECIPE for r in rows)
    print(f"study {config['study']!r}: {len(rows)} training cells"
          + (f" ({guideline} of them train the derived recipes, analysis.guideline)" if guideline else ""))
    print(f"{'model_size':<11} {'data_source':<14} {'data_size':>9} {'seed':>4}  {'state':<10} {'evaluated':<9} recipe")
    for r in rows:
        size = r["data_size"] if r["data_source"] != study.RECIPE else "-"  # known once the recipe is resolved
        print(f"{r['model_size']:<11} {r['data_source']:<14} {size:>9} {r['seed']:>4}  "
              f"{r['state']:<10} {r['epochs_evaluated']:<9} {r['recipe']}")
    counts = Counter(r["state"] for r in rows)
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 0
