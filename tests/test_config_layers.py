"""How a study's config is put together: the demo by default, --config edits it, several --configfile
files merge in order (config/studies/demo-transfer.yaml is layered on the demo)."""

import re
import subprocess
import sys

import yaml

from growthpace.study import load_config

from .conftest import ROOT

DEMO = ROOT / "config" / "config.yaml"
TRANSFER = ROOT / "config" / "studies" / "demo-transfer.yaml"


def dry_run(workdir, *args) -> tuple[dict[str, int], str]:
    """Jobs per rule that ``snakemake -n`` plans (its job-stats table) and its output, with no config but
    ``args``."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", "-n", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}, proc.stdout


def test_config_alone_edits_the_default_demo(tmp_path):
    """--config without --configfile changes the demo's keys instead of replacing the whole config."""
    demo, out = dry_run(tmp_path, "--config", "study=demo-b")
    assert "results/demo-b/receipts/suite.json" in out and "results/demo/" not in out
    cfg = yaml.safe_load(DEMO.read_text())
    cells = sum(len(cfg["grid"]["model_sizes_by_source"].get(src, cfg["grid"]["model_sizes"])) * len(sizes)
                for src, sizes in cfg["grid"]["data_sizes"].items())
    g = cfg["analysis"]["guideline"]
    methods = [g["method"]] if isinstance(g.get("method", "paper"), str) else g["method"]
    assert demo["train_cell"] == cells + len(g["model_sizes"]) * len(methods)  # one guideline cell per method


def test_layered_study_is_the_demo_plus_single_ability_cells(tmp_path):
    demo, layered = yaml.safe_load(DEMO.read_text()), load_config(DEMO, TRANSFER)
    extra = yaml.safe_load(TRANSFER.read_text())
    assert layered["study"] == extra["study"] != demo["study"]
    assert layered["grid"]["single_ability"] == extra["grid"]["single_ability"]
    assert layered["grid"]["data_sizes"] == demo["grid"]["data_sizes"]  # kept from the demo
    assert layered["models"]["sizes"]["m"]["sft"] == demo["models"]["sizes"]["m"]["sft"]

    base, _ = dry_run(tmp_path / "demo", "--configfile", str(DEMO))
    both, _ = dry_run(tmp_path / "layered", "--configfile", str(DEMO), str(TRANSFER))
    sa = extra["grid"]["single_ability"]
    new_cells = len(sa["sizes"]) * len(sa["model_sizes"]) * len(demo["data"]["abilities"])
    assert both["train_cell"] == base["train_cell"] + new_cells
    assert both["evaluate_checkpoint"] == base["evaluate_checkpoint"] + new_cells * demo["training"]["epochs"]
