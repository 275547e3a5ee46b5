"""The smoke study on a real single-node SLURM cluster, through profiles/slurm.

The cluster (slurm-wlm, munge, slurmdbd and MariaDB so that ``sacct`` works) is brought up by
scripts/slurm/start-local-cluster.sh, which needs root and apt. Where that is impossible the test
skips and says why; with GROWTHPACE_REQUIRE_SLURM=1 (set by CI) it fails instead.
"""

import os
import shutil
import subprocess

import pandas as pd
import pytest

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


def test_smoke_study_on_slurm_matches_local_run(slurm_cluster, smoke_run, tmp_path):
    workdir = tmp_path / "slurm"
    workdir.mkdir()
    proc = snakemake(
        workdir,
        "--profile", str(ROOT / "profiles" / "slurm"),
        "--jobs", "2",
        "--default-resources", f"slurm_partition={slurm_cluster['partition']}",
        f"slurm_account={slurm_cluster['account']}", "runtime=30", "mem_mb=1000",
        # a local cluster answers at once: poll early instead of the profile's 20 s
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "3",
        "--slurm-logdir", str(workdir / "logs" / "slurm"),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # The jobs really ran under SLURM: sacct knows them and their logs are SLURM's.
    slurm_logs = list((workdir / "logs" / "slurm").rglob("*.log"))
    # the plugin writes logs/slurm/rule_{rule}/{wildcards}/{jobid}.log
    assert any("rule_train_cell" in p.parts for p in slurm_logs), slurm_logs[:5]
    acct = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobName,State", "-S", "now-1hour"],
                          capture_output=True, text=True)
    assert "COMPLETED" in acct.stdout
    slurm = pd.read_parquet(workdir / "results" / "smoke" / "tables" / "scores.parquet")
    local = pd.read_parquet(smoke_run / "results" / "smoke" / "tables" / "scores.parquet")
    keys = ["model_size", "data_source", "data_size", "seed", "epoch", "split", "ability"]
    pd.testing.assert_frame_equal(slurm.sort_values(keys).reset_index(drop=True),
                                  local.sort_values(keys).reset_index(drop=True))
