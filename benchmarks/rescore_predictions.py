"""Grade a finished study's stored predictions again with the careful scorer, and say what changed.

Reads ``RESULTS_DIR/tables/predictions.parquet`` (rows with their evidence, ``evaluate.scoring``) and
grades every row with this checkout's careful scorer and, with ``--before-src DIR``, with the careful
scorer of another checkout's ``src`` (in its own interpreter; without it, the verdicts stored in the
file are the "before"). Prints per ability how many verdicts changed (0 -> 1 and 1 -> 0), the share of
ambiguous outputs and the parse paths, then the conclusions drawn from each set of verdicts: the
checkpoint each cell selects and each ability's growth group (``analysis.sensitivity``, with the
study's ``analysis/settings.json`` when present), and whether any of them changed.

Usage: ``.venv/bin/python benchmarks/rescore_predictions.py results/demo [--before-src /path/to/main/src]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def careful_verdicts(predictions: pd.DataFrame) -> pd.DataFrame:
    from growthpace.evaluate.scoring import rescore

    return rescore(predictions, "careful")


def _before(src: str, path: Path) -> pd.DataFrame:
    """Careful verdicts of another checkout's scorer, in a fresh interpreter so the two never mix."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "before.parquet"
        code = (f"import sys; sys.path.insert(0, {str(Path(src).resolve())!r}); import pandas as pd;"
                "from growthpace.evaluate.scoring import rescore;"
                f"rescore(pd.read_parquet({str(path)!r}), 'careful')[['score']].to_parquet({str(out)!r})")
        subprocess.run([sys.executable, "-c", code], check=True)
        return pd.read_parquet(out)


def conclusions(predictions: pd.DataFrame, settings: dict, select_after: int) -> tuple[pd.DataFrame, pd.Series]:
    """(each cell's selected epoch, each in-domain ability's growth group) under these verdicts, as the
    ``tables`` and ``analysis`` rules draw them."""
    from growthpace.analysis import pipeline
    from growthpace.analysis.bootstrap import CELL_KEYS, bootstrap, order_model_sizes, selected_items
    from growthpace.analysis.sensitivity import TAU_DATA, TAU_MODEL, sensitivity
    from growthpace.analysis.tables import scores_table, select_epochs

    scores = scores_table(predictions)
    selection = select_epochs(scores, select_after)
    scores = scores.merge(selection[CELL_KEYS + ["selected_epoch"]], on=CELL_KEYS, how="left")
    scores["selected"] = scores["epoch"] == scores["selected_epoch"]
    items = selected_items(predictions, scores)
    boot = bootstrap(items, n_boot=int(settings.get("n_boot", 1000)), seed=int(settings.get("seed", 0)),
                     level=float(settings.get("level", 0.95)))
    abilities = settings.get("abilities") or pipeline.in_domain_abilities(items["ability"].unique())
    sizes = order_model_sizes(items["model_size"].unique(), settings.get("model_sizes"))
    groups = sensitivity(boot, abilities, "curated", sizes, len(abilities),
                         float(settings.get("tau_data", TAU_DATA)), float(settings.get("tau_model", TAU_MODEL)))
    return selection, groups.set_index("ability")["group"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="a finished study's results directory (holds tables/predictions.parquet)")
    ap.add_argument("--before-src", help="src directory of another checkout whose careful scorer gives 'before'")
    ap.add_argument("--n-boot", type=int, help="bootstrap replicates for the groups (default: the study's)")
    ap.add_argument("--select-after", type=int, default=0,
                    help="the study's evaluation.select_after_epoch (the demo's: 0)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    results = Path(args.results)
    path = results / "tables" / "predictions.parquet"
    if not path.exists():
        raise SystemExit(f"{path}: no predictions table (is {results} a finished study's results directory?)")
    predictions = pd.read_parquet(path)
    settings_path = results / "analysis" / "settings.json"
    settings = json.loads(settings_path.read_text()) if settings_path.exists() else {}
    if args.n_boot:
        settings["n_boot"] = args.n_boot
    before = predictions.copy()
    if args.before_src:
        before["score"] = _before(args.before_src, path)["score"].to_numpy()
    after = careful_verdicts(predictions)
    b, a = before["score"].to_numpy(dtype=float), after["score"].to_numpy(dtype=float)
    table = pd.DataFrame({"ability": after["ability"], "up": (a > b), "down": (a < b),
                          "ambiguous": after["ambiguous"].astype(bool), "path": after["parse_path"]})
    per = table.groupby("ability").agg(n=("up", "size"), up=("up", "sum"), down=("down", "sum"),
                                       ambiguous=("ambiguous", "mean"))
    paths = table.pivot_table(index="ability", columns="path", aggfunc="size", fill_value=0)
    print(f"{len(table)} rows; {int(per['up'].sum() + per['down'].sum())} verdicts changed "
          f"({int(per['up'].sum())} 0->1, {int(per['down'].sum())} 1->0)\n")
    print(per.join(paths).to_markdown())
    sel_b, groups_b = conclusions(before, settings, args.select_after)
    sel_a, groups_a = conclusions(after, settings, args.select_after)
    keys = ["model_size", "data_source", "data_size", "seed", "recipe"]
    moved = sel_b.merge(sel_a, on=keys, suffixes=("_before", "_after"))
    moved = moved[moved["selected_epoch_before"] != moved["selected_epoch_after"]]
    print(f"\nselected checkpoints that moved: {len(moved)} of {len(sel_a)} cells")
    if len(moved):
        print(moved[keys + ["selected_epoch_before", "selected_epoch_after"]].to_markdown(index=False))
    groups = pd.DataFrame({"before": groups_b, "after": groups_a})
    changed = groups[groups["before"] != groups["after"]]
    print(f"\ngrowth groups: {len(changed)} of {len(groups)} abilities changed group\n")
    print(groups.to_markdown())


if __name__ == "__main__":
    main()
