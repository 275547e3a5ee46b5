"""The package as a user installs it: the wheel built from this tree (the workflow in it as package data),
installed non-editable into a fresh virtual environment whose dependencies are those of the environment
running the tests (a .pth file points at its site-packages: nothing is downloaded), then used from an
empty directory: ``growthpace init``, and a study run end to end from models and data named by Hugging
Face Hub ids in a Hub cache on disk (offline). One run covers both; a second test uses the installed
workflow as a Snakemake module from a Snakefile of its own, on the first run's store.

The study is the smallest the workflow runs: one ability, one model size (the SentencePiece LLaMA of the
Hub cache), one cell of 2 items, one epoch, the test split only."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import HUB_DATA, HUB_MODEL, ROOT, built_once

pytestmark = pytest.mark.workflow

# What the wheel leaves out of the repository: the package's files come from src/ and the workflow's from
# the root, each by the globs of pyproject.toml.
NOT_IN_TREE = shutil.ignore_patterns(".git", ".venv", "results", ".snakemake", "build", "dist", "*.egg-info",
                                     "__pycache__", ".test", "tests", "benchmarks", ".pytest_cache")
WORKFLOW_FILES = ["Snakefile", "config/config.yaml", "config/studies/doit-paper.yaml", "profiles/slurm/config.yaml",
                  "envs/growthpace.yaml", "workflow/schemas/config.schema.yaml",
                  *(p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "workflow").glob("*/*.*"))
                    if p.parent.name in ("rules", "scripts", "report"))]


def tiny_study(store_dir: str) -> dict:
    return {
        "study": "tiny",
        "store_dir": store_dir,
        "data": {"source_dir": HUB_DATA, "abilities": ["biology"]},
        "grid": {"model_sizes": ["7b"], "data_sizes": {"curated": [2]}},
        "models": {"sizes": {"7b": {"path": f"{HUB_MODEL}@main"}}},
        "training": {"epochs": 1, "batch_size": 2, "micro_batch_size": 2, "min_steps": 1, "max_len": 64},
        "evaluation": {"splits": ["test"], "batch_size": 16, "select_after_epoch": 0, "ood": False},
        "analysis": {"n_boot": 20},
    }


def user_env(hub_cache: Path) -> dict:
    """A user's environment: no PYTHONPATH (the installed package, not this tree's src/), the Hub offline."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub_cache)}


def run(cmd, cwd, env):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def build_and_run(path: Path, hub_cache: Path) -> None:
    """Wheel, venv, init and the tiny study's run, all under ``path``."""
    tree = path / "tree"
    shutil.copytree(ROOT, tree, ignore=NOT_IN_TREE)  # a clean copy: no build/ left from an earlier build
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", path / "dist", tree], path, os.environ)
    venv = path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], path, os.environ)
    purelib = Path(run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       path, os.environ).strip())
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the environment seen through deps.pth is left alone
    run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index",
         "--ignore-installed", "-q", *(path / "dist").glob("*.whl")], path, os.environ)
    work = path / "work"
    work.mkdir()
    env = user_env(hub_cache)
    run([venv / "bin" / "growthpace", "init", "study"], work, env)
    study = work / "study"
    (study / "tiny.yaml").write_text(yaml.safe_dump(tiny_study("results/store")))
    log = run([venv / "bin" / "growthpace", "run", "--configfile", "tiny.yaml", "--cores", "2"], study, env)
    (path / "run.log").write_text(log)


@pytest.fixture(scope="session")
def installed(tmp_path_factory, hub_cache):
    """``{wheel, venv, study (the directory init wrote and the study ran in), log}``."""
    path = built_once(tmp_path_factory, "install", lambda p: build_and_run(p, hub_cache[0]))
    return {"wheel": next((path / "dist").glob("*.whl")), "venv": path / "venv", "study": path / "work" / "study",
            "log": (path / "run.log").read_text(), "cache": hub_cache[0], "commits": hub_cache[1]}


def test_wheel_carries_the_workflow(installed):
    with zipfile.ZipFile(installed["wheel"]) as whl:
        names = set(whl.namelist())
        for rel in WORKFLOW_FILES:
            assert whl.read(f"growthpace/workflow/{rel}") == (ROOT / rel).read_bytes(), rel
    assert not [n for n in names if n.startswith(("tests/", "growthpace/workflow/tests", "growthpace/workflow/src"))]
    assert "growthpace/layout.py" in names and "growthpace/workflow/setup.py" not in names


def test_init_and_study_from_hub_ids_in_own_directory(installed):
    study, venv = installed["study"], installed["venv"]
    # init: the configs (each a valid study as the installed package reads it), the profile, a README
    assert {p.relative_to(study).as_posix() for p in study.rglob("*") if p.is_file() and "results" not in p.parts
            and ".snakemake" not in p.parts} >= {"config.yaml", "paper.yaml", "CONFIG.md", "README.md",
                                                  "profiles/slurm/config.yaml", "tiny.yaml"}
    check = ("from growthpace.study import load_config; from growthpace import layout; "
             "load_config('config.yaml'); load_config('paper.yaml'); print(layout.workflow_root())")
    root = Path(run([venv / "bin" / "python", "-c", check], study, user_env(installed["cache"])).strip())
    assert root.is_relative_to(venv) and root.name == "workflow"  # the package data, not this tree
    assert f"--snakefile {root / 'Snakefile'}" in installed["log"]
    # the study's results and store are beside its config
    out = study / "results" / "tiny"
    scores = pd.read_parquet(out / "tables" / "scores.parquet")
    assert list(scores["ability"]) == ["biology"] and list(scores["data_size"]) == [2]
    assert (out / "report.md").read_text().startswith("# Analysis of study `tiny`")
    # the base model and the suite are the Hub cache's snapshots at the commits main points to
    cache, commits = installed["cache"], installed["commits"]
    base = json.loads((out / "receipts" / "base" / "7b.json").read_text())
    snapshot = cache / f"models--{HUB_MODEL.replace('/', '--')}" / "snapshots" / commits[HUB_MODEL]
    assert Path(base["path"]) == snapshot
    manifest = json.loads((study / "results" / "store" / "base_model" / base["key"] / "manifest.json").read_text())
    assert manifest["spec"]["hub"] == f"{HUB_MODEL}@{commits[HUB_MODEL]}"
    source = study / "results" / "store" / "suite"
    assert [(p / "SOURCE").read_text().strip() for p in source.iterdir() if (p / "SOURCE").exists()] == [
        str(cache / f"datasets--{HUB_DATA.replace('/', '--')}" / "snapshots" / commits[HUB_DATA])]


MODULE_SNAKEFILE = """\
configfile: "tiny.yaml"


module growthpace:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from growthpace as growthpace_*


rule all:
    input:
        rules.growthpace_all.input,
        f"results/{{config['study']}}/mean_scores.tsv",
    default_target: True
    localrule: True


rule mean_scores:
    input:
        f"results/{{config['study']}}/tables/scores.parquet",
    output:
        f"results/{{config['study']}}/mean_scores.tsv",
    localrule: True
    run:
        import pandas as pd

        scores = pd.read_parquet(input[0])
        scores.groupby(["model_size", "data_size"])["score"].mean().to_csv(output[0], sep="\\t")
"""


def test_module_form(installed, tmp_path):
    """A Snakefile of the user's own uses the installed workflow as a module, with a rule of its own on the
    tables. On the first run's store, every artifact is reused: the module's rules run under their prefix."""
    venv = installed["venv"]
    snakefile = Path(run([venv / "bin" / "python", "-c", "from growthpace import layout; print(layout.snakefile())"],
                         tmp_path, os.environ).strip())
    (tmp_path / "Snakefile").write_text(MODULE_SNAKEFILE.format(snakefile=snakefile))
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny_study(str(installed["study"] / "results" / "store"))))
    log = run([venv / "bin" / "python", "-m", "snakemake", "--cores", "2"], tmp_path, user_env(installed["cache"]))
    assert "growthpace_reuse_train_cell" in log and "growthpace_reuse_evaluate_checkpoint" in log
    ours = pd.read_csv(tmp_path / "results" / "tiny" / "mean_scores.tsv", sep="\t")
    first = pd.read_parquet(installed["study"] / "results" / "tiny" / "tables" / "scores.parquet")
    assert ours["score"].tolist() == pytest.approx([first["score"].mean()])
    assert (tmp_path / "results" / "tiny" / "report.md").is_file()
