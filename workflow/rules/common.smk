# Config validation, grid expansion and input helpers. All logic lives in growthpace.study.
from snakemake.utils import validate

from growthpace import study

validate(config, schema="../schemas/config.schema.yaml")
study.check_study(config)

RESULTS = f"results/{config['study']}"
STORE = config["store_dir"]
CELLS = study.training_cells(config)
ENV = "../../envs/growthpace.yaml"


wildcard_constraints:
    model_size="|".join(config["grid"]["model_sizes"]),
    source="|".join(study.SOURCES),
    data_size=r"\d+",
    seed=r"\d+",
    epoch=r"\d+",


def sft_receipts():
    return [f"{RESULTS}/receipts/sft/{c.model_size}/{c.name}.json" for c in CELLS]


def prediction_files():
    return [
        f"{RESULTS}/predictions/{c.model_size}/{c.name}/epoch{e}.parquet"
        for c in CELLS
        for e in study.epochs(config, c.model_size)
    ]


def final_outputs():
    return [
        f"{RESULTS}/tables/scores.parquet",
        f"{RESULTS}/tables/cells.parquet",
        f"{RESULTS}/plots/growth.png",
        f"{RESULTS}/summary.md",
    ]


def base_params(wildcards):
    return study.base_spec(config, wildcards.model_size)


def subset_params(wildcards):
    return study.subset_spec(config, wildcards.source, wildcards.data_size, wildcards.seed)


def sft_params(wildcards):
    return study.sft_spec(config, wildcards.model_size, wildcards.seed)


def cell_params(wildcards):
    return study.Cell(
        wildcards.model_size, wildcards.source, int(wildcards.data_size), int(wildcards.seed)
    ).as_dict()


# Cluster resources per model size (models.sizes.{size}.resources.{train,evaluate}); memory and
# runtime double with each retry, so a job that ran out of either gets more the next time.
def _job_resources(stage, wildcards):
    return study.job_resources(config, wildcards.model_size, stage)


def train_gpus(wildcards):
    return _job_resources("train", wildcards)["gpus"]


def train_mem_mb(wildcards, attempt):
    return _job_resources("train", wildcards)["mem_mb"] * 2 ** (attempt - 1)


def train_runtime(wildcards, attempt):
    return _job_resources("train", wildcards)["runtime"] * 2 ** (attempt - 1)


def train_cpus(wildcards):
    return _job_resources("train", wildcards)["cpus"]


def eval_cpus(wildcards):
    return _job_resources("evaluate", wildcards)["cpus"]


def eval_gpus(wildcards):
    return _job_resources("evaluate", wildcards)["gpus"]


def eval_mem_mb(wildcards, attempt):
    return _job_resources("evaluate", wildcards)["mem_mb"] * 2 ** (attempt - 1)


def eval_runtime(wildcards, attempt):
    return _job_resources("evaluate", wildcards)["runtime"] * 2 ** (attempt - 1)
