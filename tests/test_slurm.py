"""The smoke study on a real single-node SLURM cluster, through profiles/slurm.

The cluster (slurm-wlm, munge, slurmdbd and MariaDB so that ``sacct`` works) is brought up by
scripts/slurm/start-local-cluster.sh, which needs root and apt. Where that is impossible the test
skips and says why; with GROWTHPACE_REQUIRE_SLURM=1 (set by CI) it fails instead.
"""

import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from .conftest import ROOT, snakemake

pytestmark = pytest.mark.slurm


def unavailable(reason):
    if os.environ.get("GROWTHPACE_REQUIRE_SLURM") == "1":
        pytest.fail(f"SLURM cluster required but unavailable: {reason}")
    pytest.skip(f"no local SLURM cluster: {reason}")


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.geteuid() != 0:
        unavailable("starting one needs root")
    if not (shutil.which("slurmctld") or shutil.which("apt-get")):
        unavailable("neither SLURM nor apt-get is installed")
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "slurm" / "start-local-cluster.sh")],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        unavailable(f"start-local-cluster.sh failed: {proc.stderr[-2000:]}")
    info = subprocess.run(["sinfo", "-h", "-o", "%P %a"], capture_output=True, text=True)
    partition = info.stdout.split()[0].rstrip("*")
    return {"partition": partition, "account": "default"}


def on_slurm(workdir, cluster, *args, configfile=None):
    return snakemake(
        workdir,
        "--profile", str(ROOT / "profiles" / "slurm"),
        "--jobs", "2",
        "--default-resources", f"slurm_partition={cluster['partition']}",
        f"slurm_account={cluster['account']}", "runtime=30", "mem_mb=1000",
        # a local cluster answers at once: poll early instead of the profile's 20 s
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "3",
        *args,
        configfile=configfile,
        check=False,
    )


def jobs_of_run(out: str) -> list[str]:
    """The rule of every job that sacct knows for the SLURM run whose output is ``out`` (the plugin
    names each job by its run's ID and puts ``rule_{rule}`` in its comment)."""
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    acct = subprocess.run(["sacct", "-X", "-n", "-P", "--name", run_id, "-S", "now-1day", "-o", "JobID,Comment"],
                          capture_output=True, text=True, check=True)
    return [re.sub(r"^rule_(\w+?)(_wildcards_.*)?$", r"\1", line.split("|", 1)[1])
            for line in acct.stdout.splitlines() if line.strip()]


def test_smoke_study_on_slurm_matches_local_run(slurm_cluster, request, tmp_path):
    """The smoke study's cells of one model size, a curated and a synthetic one, trained and evaluated as
    SLURM jobs, score exactly as the local run's (one size and one data size per source keep the cluster's
    queue short; the others add jobs, not paths)."""
    workdir = tmp_path / "slurm"
    workdir.mkdir()
    config = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())
    config["grid"]["model_sizes"] = ["xs"]
    config["grid"]["data_sizes"] = {"curated": [10], "synthetic": [20]}
    config["grid"]["evaluate_base"] = True  # one more job here, and one the second study must not submit
    configfile = workdir / "slurm.yaml"
    configfile.write_text(yaml.safe_dump(config))
    proc = on_slurm(workdir, slurm_cluster, "--slurm-logdir", str(workdir / "logs" / "slurm"), configfile=configfile)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # The jobs really ran under SLURM: sacct knows them and their logs are SLURM's.
    slurm_logs = list((workdir / "logs" / "slurm").rglob("*.log"))
    # the plugin writes logs/slurm/rule_{rule}/{wildcards}/{jobid}.log
    assert any("rule_train_cell" in p.parts for p in slurm_logs), slurm_logs[:5]
    acct = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobName,State", "-S", "now-1hour"],
                          capture_output=True, text=True)
    assert "COMPLETED" in acct.stdout
    first = jobs_of_run(proc.stdout + proc.stderr)
    assert first.count("train_cell") == 2 and first.count("evaluate_checkpoint") == 4, first
    assert first.count("evaluate_base") == 1, first
    assert "subset" not in first  # drawing a cell's items is a local rule
    slurm = pd.read_parquet(workdir / "results" / "smoke" / "tables" / "scores.parquet")
    # the local run of the whole smoke study (built meanwhile by another test worker), its xs cells
    local = pd.read_parquet(request.getfixturevalue("smoke_run") / "results" / "smoke" / "tables" / "scores.parquet")
    cells = slurm[["data_source", "data_size"]].drop_duplicates()
    local = local[local["model_size"] == "xs"].merge(cells, on=["data_source", "data_size"])
    slurm = slurm[slurm["data_source"] != "base"]  # the smoke study evaluates no base model
    keys = ["model_size", "data_source", "data_size", "seed", "epoch", "split", "ability"]
    pd.testing.assert_frame_equal(slurm.sort_values(keys).reset_index(drop=True),
                                  local.sort_values(keys).reset_index(drop=True))

    # A second study sharing the store's trained cells (the same grid under another name): every cell
    # resolves from the store where snakemake runs, the base model's evaluation too; sacct knows no
    # base-model, training or evaluation job of it.
    again = on_slurm(workdir, slurm_cluster, "--config", "study=smoke-again",
                     "--slurm-logdir", str(workdir / "logs" / "slurm-again"), configfile=configfile)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    second = jobs_of_run(again.stdout + again.stderr)
    assert not {"base_model", "train_cell", "evaluate_checkpoint", "evaluate_base"} & set(second), second
    assert sorted(second) == ["analysis", "tables"], second  # the study's own tables, as cluster jobs
    out = again.stdout + again.stderr
    assert "reuse_train_cell" in out and "reuse_evaluate_checkpoint" in out and "reuse_evaluate_base" in out
    reused = pd.read_parquet(workdir / "results" / "smoke-again" / "tables" / "scores.parquet")
    first_scores = pd.read_parquet(workdir / "results" / "smoke" / "tables" / "scores.parquet")
    pd.testing.assert_frame_equal(reused, first_scores)
