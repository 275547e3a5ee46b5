"""The paper's study (config/studies/doit-paper.yaml): its whole DAG builds without its data, and a
real run without the data stops before any job, naming every missing path."""

import re

import pytest
import yaml

from .conftest import ROOT, snakemake

PAPER = ROOT / "config" / "studies" / "doit-paper.yaml"


def expected_jobs(cfg: dict) -> dict:
    """Jobs per rule, counted from the YAML by hand (independently of growthpace.study)."""
    grid, epochs = cfg["grid"], cfg["training"]["epochs"]
    sizes_of = {**{s: grid["model_sizes"] for s in ("curated", "synthetic", "recipe")},
                **grid.get("model_sizes_by_source", {})}
    cells = sum(len(sizes_of[source]) * len(sizes) for source, sizes in grid["data_sizes"].items())
    cells += len(sizes_of["recipe"]) * len(grid["recipes"])
    cells *= len(grid["seeds"])
    used_sizes = set(grid["model_sizes"]).union(*sizes_of.values())
    subsets = (sum(len(v) for v in grid["data_sizes"].values()) + len(grid["recipes"])) * len(grid["seeds"])
    # benchmarks at the selected epoch: one evaluation per recipe cell of the benchmarked sizes
    bench = cfg["evaluation"]["benchmarks"]
    assert bench["epochs"] == "selected" and bench["cells"] == "recipes"
    benchmarked = len(set(sizes_of["recipe"]) & set(bench["model_sizes"])) * len(grid["recipes"]) * len(grid["seeds"])
    return {"evaluate_benchmarks": benchmarked, "suite": 1, "base_model": len(used_sizes), "subset": subsets, "train_cell": cells,
            "evaluate_checkpoint": cells * epochs, "evaluate_base": len(used_sizes) if grid["evaluate_base"] else 0,
            "tables": 1, "plot_growth": 1, "summary": 1, "analysis": 1, "analysis_plots": 1, "report_md": 1,
            "all": 1}


def job_stats(out: str) -> dict:
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M) if rule != "total"}


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper")
    proc = snakemake(tmp, "-n", configfile=PAPER)
    return tmp, proc.stdout + proc.stderr


def test_dag_builds_without_the_data(paper_dry_run):
    tmp_path, out = paper_dry_run
    jobs = job_stats(out)
    expected = {rule: n for rule, n in expected_jobs(yaml.safe_load(PAPER.read_text())).items() if n}
    assert jobs == expected
    # 6 curated sizes x 3 models + 7 synthetic sizes x 2 models + 5 recipes on 7b; 15 epochs each
    assert jobs["train_cell"] == 37 and jobs["evaluate_checkpoint"] == 555
    assert "tokenizer" not in jobs  # real models bring their own tokenizers
    assert not (tmp_path / "results").exists()


class Job:
    """What the SLURM executor plugin reads of a job: its resources (as attributes and by get) and threads."""

    class Resources(dict):
        __getattr__ = dict.__getitem__

    def __init__(self, resources: dict, threads: int):
        self.resources, self.threads = self.Resources(resources), threads


def job_resources(out: str, rule: str, model_size: str) -> dict:
    """The resources snakemake gave the first job of ``rule`` for ``model_size`` (from the dry run)."""
    for block in out.split("\nrule ")[1:]:
        if block.startswith(f"{rule}:") and f"model_size={model_size}," in block:
            line = re.search(r"^\s+resources: (.*)$", block, re.M).group(1)
            pairs = (kv.split("=", 1) for kv in line.split(", "))
            return {k: int(v) if v.isdigit() else v for k, v in pairs}
    raise AssertionError(f"no {rule} job for {model_size}")


@pytest.mark.parametrize("model_size", ["7b", "13b", "33b"])
def test_slurm_jobs_ask_for_one_node_and_the_sizes_gpus(paper_dry_run, model_size):
    """The sbatch and srun options that snakemake-executor-plugin-slurm builds from each rule's
    resources: a training job is one node with all of its size's GPUs (torchrun --standalone sees one
    machine), one task with the job's CPUs; an evaluation job one node and one GPU."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string
    from snakemake_executor_plugin_slurm_jobstep import get_gpu_setting, get_node_setting

    _, out = paper_dry_run
    sizes = yaml.safe_load(PAPER.read_text())["models"]["sizes"][model_size]["resources"]
    params = {"run_uuid": "x", "slurm_logfile": "x.log", "comment_str": "x", "account": "-A lab", "partition": "-p gpu",
              "workdir": "."}
    for rule, stage in (("train_cell", "train"), ("evaluate_checkpoint", "evaluate")):
        resources = job_resources(out, rule, model_size)
        assert resources["nodes"] == 1 and resources["gpu"] == sizes[stage]["gpus"]
        job = Job(resources, threads=sizes[stage]["cpus"])
        sbatch = get_submit_command(job, params) + set_gres_string(job)
        assert "--nodes=1" in sbatch.split() and f"--gpus={sizes[stage]['gpus']}" in sbatch.split()
        assert f"--cpus-per-task={sizes[stage]['cpus']}" in sbatch.split()
        assert f"--mem {sizes[stage]['mem_mb']}" in sbatch and "--ntasks-per-gpu" not in sbatch
        # The job step inside the allocation: one task on that node, with every GPU of the job.
        assert get_node_setting(job) == "--nodes=1" and get_gpu_setting(job) == f"--gpus={sizes[stage]['gpus']}"


def test_dag_with_the_guideline_on(tmp_path):
    """analysis.guideline on: the recipe derived from the grid trains on 7b after the grid's tables, is
    evaluated at every epoch and its benchmarks at its selected epoch (as a recipe cell), and has tables of
    its own."""
    cfg = yaml.safe_load(PAPER.read_text())
    assert cfg["analysis"]["guideline"] == {"enabled": False, "budget": 10000, "model_sizes": ["7b"]}
    cfg["analysis"]["guideline"]["enabled"] = True
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", configfile=path)
    jobs = job_stats(proc.stdout + proc.stderr)
    off = {rule: n for rule, n in expected_jobs(cfg).items() if n}
    assert jobs == {**off, "subset": off["subset"] + 1, "train_cell": off["train_cell"] + 1,
                    "evaluate_checkpoint": off["evaluate_checkpoint"] + 15, "derive_recipe": 1, "guideline_tables": 1,
                    "evaluate_benchmarks": off["evaluate_benchmarks"] + 1}
    assert "recipe-guideline-seed0" in proc.stdout + proc.stderr


def test_real_run_without_the_data_stops_listing_every_missing_path(tmp_path):
    cfg = yaml.safe_load(PAPER.read_text())
    cfg["store_dir"] = str(tmp_path / "store")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, configfile=path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "study 'doit-paper': 6 input path(s) missing; nothing was started" in out
    for line in ["data.source_dir: /data/DoIT (no such directory)",
                 "models.sizes.7b.path: /models/chinese-llama-plus-7b (no such directory)",
                 "models.sizes.13b.path: /models/chinese-llama-plus-13b (no such directory)",
                 "models.sizes.33b.path: /models/chinese-llama-plus-33b (no such directory)",
                 "evaluation.benchmarks.cmmlu.dir: /data/cmmlu (no such directory)",
                 "evaluation.benchmarks.agieval.dir: /data/AGIEval/data/v1 (no such directory)"]:
        assert f"  - {line}" in out
    assert not (tmp_path / "results").exists() and not (tmp_path / "store").exists()
