# Config validation, grid expansion and input helpers. All logic lives in growthpace.study.
import os
import re

from growthpace import gpus, hub, reuse, study
from growthpace.store import CODE_VERSIONS, hold_plan, release_plan

# The schema (defaults filled in) and the study checks: every problem of the config in one message.
study.check_config(config, workflow.source_path("../schemas/config.schema.yaml"))
# Hub ids (org/name@revision) replaced by their snapshot directories in the Hub cache; those that
# cannot be resolved stop a real run in onstart, with the paths that are missing.
HUB_UNRESOLVED = hub.resolve_config(config)

# A job that a cluster executor submitted (Snakemake parses the workflow again inside it, in remote
# mode; its scripts inherit this) has an allocation of its own: it uses its GPUs as they are, while
# jobs that run side by side where snakemake runs, even inside an salloc, claim theirs (growthpace.gpus).
if workflow.remote_exec:
    os.environ[gpus.SUBMITTED_ENV] = "1"

RESULTS = f"results/{config['study']}"
STORE = config["store_dir"]
ENV = "../../envs/growthpace.yaml"
# Training cells by (model size, name) and by name (a training set does not depend on the model size),
# guideline cells included.
CELLS = study.cell_index(config)
SUBSETS = study.subset_cells(config)
GUIDELINE = study.guideline_settings(config)["enabled"]
ANALYSIS = f"{RESULTS}/analysis"
# The study planned against the store (growthpace.reuse): the key each job's artifact will have, so
# that jobs whose artifact is already there run here instead of on a cluster (rules/reuse.smk), and the
# content digest of what each job reads from outside the store. Each rule that builds an artifact has
# its kind's code version and that digest among its params: Snakemake re-runs a job when its params
# change, so raising a version in growthpace.store.CODE_VERSIONS, or fixing a record or a weight file
# in place, re-runs exactly the jobs that depend on it.
PLAN = reuse.Plan(config)
HOLD = []  # the plan's hold in the store while this run runs (onstart)


# One {cell} wildcard names a training cell: curated-40-seed0, synthetic-640-seed0,
# recipe-mix-2560-seed0, only-math-64-seed0 (study.CELL_PATTERN). Base-model evaluations have rules
# of their own (literal "base" in their paths), which the pattern never matches.
wildcard_constraints:
    model_size="|".join(re.escape(ms) for ms in study.model_sizes(config)),
    cell=study.CELL_PATTERN,
    epoch=r"\d+",


# Paths and data are checked only when jobs are about to run: `onstart` is not called by dry runs
# (-n), by runs with nothing to do, or inside cluster jobs (Snakemake starts those with --no-hooks),
# so `snakemake -n` builds the DAG of a study whose data lives elsewhere, and a real run stops
# before its first job with every missing path listed.
onstart:
    study.check_inputs(config, HUB_UNRESOLVED)
    # What this run will read from the store stays there while it runs (`store gc` reads the hold).
    HOLD.append(hold_plan(PLAN.store, config["study"], PLAN.keys()))


onsuccess:
    for path in HOLD:
        release_plan(path)


onerror:
    for path in HOLD:
        release_plan(path)


# The grid's cells only: guideline cells train the recipe derived from the grid's tables, so they
# have tables of their own (rule guideline_tables) and must stay out of these (or the DAG has a cycle).
def sft_receipts():
    return [
        f"{RESULTS}/receipts/sft/{c.model_size}/{c.name}.json"
        for c in study.training_cells(config)
    ]


def selected_benchmark_files(cells):
    """evaluation.benchmarks.epochs: selected: each benchmarked cell's benchmarks at its selected epoch."""
    return [
        f"{RESULTS}/predictions/{c.model_size}/{c.name}/benchmarks.parquet"
        for c in cells
        if study.selected_benchmark_spec(config, c)
    ]


def prediction_files():
    return [
        f"{RESULTS}/predictions/{cell.model_size}/{cell.name}/epoch{epoch}.parquet"
        for cell, epoch in study.evaluations(config)
    ] + selected_benchmark_files(study.training_cells(config))


def guideline_receipts():
    return [
        f"{RESULTS}/receipts/sft/{c.model_size}/{c.name}.json"
        for c in study.guideline_cells(config)
    ]


def guideline_prediction_files():
    return [
        f"{RESULTS}/predictions/{cell.model_size}/{cell.name}/epoch{epoch}.parquet"
        for cell, epoch in study.guideline_evaluations(config)
    ] + selected_benchmark_files(study.guideline_cells(config))


def analysis_tables(kind):
    """The grid's table of a kind (scores, predictions), and the guideline cells' when they exist."""
    return [f"{RESULTS}/tables/{kind}.parquet"] + (
        [f"{RESULTS}/tables/guideline/{kind}.parquet"] if GUIDELINE else []
    )


def base_receipts():
    """{model size: base-model receipt}: the analysis counts each size's parameters from its config."""
    return {ms: f"{RESULTS}/receipts/base/{ms}.json" for ms in study.model_sizes(config)}


def recipe_subset_receipts():
    """{recipe: the subset receipt of one of its cells}: the analysis reads the per-ability counts."""
    return {
        recipe: f"{RESULTS}/receipts/subset/{name}.json"
        for recipe, name in study.recipe_cell_names(config).items()
    }


def final_outputs():
    return [
        f"{RESULTS}/tables/scores.parquet",
        f"{RESULTS}/tables/cells.parquet",
        f"{RESULTS}/plots/growth.png",
        f"{RESULTS}/summary.md",
        f"{ANALYSIS}/recipe.yaml",
        f"{RESULTS}/report.md",
    ] + ([f"{RESULTS}/receipts/keep_epochs.json"] if study.keep_plan(config) else [])


def cell_of(wildcards):
    return study.lookup(CELLS, (wildcards.model_size, wildcards.cell), "training cell")


def base_inputs(wildcards):
    inputs = {"suite": f"{RESULTS}/receipts/suite.json"}
    if study.needs_tokenizer(config, wildcards.model_size):
        inputs["tokenizer"] = f"{RESULTS}/receipts/tokenizer.json"
    return inputs


def base_params(wildcards):
    return study.base_spec(config, wildcards.model_size)


def pretrain_priority(wildcards):
    """The largest pretraining first (steps x tokens x layers x hidden^2): it heads the longest chain
    of jobs, so its cells start while the smaller sizes' pretraining and cells fill the cores."""

    def cost(spec):
        if "pretrain" not in spec:  # a local HF model: nothing to train
            return 0
        p, a = spec["pretrain"], spec["arch"]
        return p["steps"] * p["batch_size"] * p["seq_len"] * a["num_hidden_layers"] * a["hidden_size"] ** 2

    costs = {ms: cost(config["models"]["sizes"][ms]) for ms in study.model_sizes(config)}
    return sorted(costs.values()).index(costs[wildcards.model_size])


def subset_cell(wildcards):
    return study.lookup(SUBSETS, wildcards.cell, "training cell")


def subset_inputs(wildcards):
    inputs = {"suite": f"{RESULTS}/receipts/suite.json"}
    # A guideline cell's counts are those of the recipe derived from the grid's results.
    if study.is_guideline(subset_cell(wildcards)):
        inputs["recipe"] = f"{ANALYSIS}/derived/recipe.yaml"
    return inputs


def subset_params(wildcards):
    return study.subset_spec(config, subset_cell(wildcards))


def subset_external(wildcards):
    return PLAN.subset_inputs(wildcards.cell)


def base_external(wildcards):
    return PLAN.base_inputs(wildcards.model_size)


def eval_external(wildcards):
    return PLAN.eval_inputs(eval_params(wildcards))


def base_eval_external(wildcards):
    return PLAN.eval_inputs(base_eval_params(wildcards))


def train_inputs(wildcards):
    inputs = {
        "base": f"{RESULTS}/receipts/base/{wildcards.model_size}.json",
        "subset": f"{RESULTS}/receipts/subset/{wildcards.cell}.json",
    }
    # A recipe equal by definition to a plain cell of the grid (baseline = curated-10000) trains
    # after it, and so finds its fine-tuned model in the store instead of training it twice at once.
    twin = study.equivalent_plain_cell(config, cell_of(wildcards))
    if twin is not None:
        inputs["twin"] = f"{RESULTS}/receipts/sft/{twin.model_size}/{twin.name}.json"
    if config["evaluation"].get("in_training_job"):
        inputs["suite"] = f"{RESULTS}/receipts/suite.json"
    return inputs


def sft_params(wildcards):
    return study.sft_spec(config, wildcards.model_size, cell_of(wildcards).seed)


def train_eval_params(wildcards):
    """evaluation.in_training_job: {epoch: predictions spec} of the cell's epochs, which its training job
    builds once it has trained (the evaluate jobs then find them in the store); None otherwise."""
    if not config["evaluation"].get("in_training_job"):
        return None
    cell = cell_of(wildcards)
    return {str(e): study.eval_spec(config, cell, e) for e in study.epochs(config, wildcards.model_size)}


def cell_params(wildcards):
    return cell_of(wildcards).as_dict()


def eval_params(wildcards):
    return study.eval_spec(config, cell_of(wildcards), int(wildcards.epoch))


def base_cell_params(wildcards):
    return study.Cell(wildcards.model_size, study.BASE, 0, 0).as_dict()


def cell_epoch_predictions(wildcards):
    """The predictions of every epoch of one training cell (its epoch is selected from them)."""
    return [
        f"{RESULTS}/predictions/{wildcards.model_size}/{wildcards.cell}/epoch{e}.parquet"
        for e in study.epochs(config, wildcards.model_size)
    ]


def selected_benchmark_params(wildcards):
    return study.selected_benchmark_spec(config, cell_of(wildcards))


def selected_benchmark_external(wildcards):
    return PLAN.eval_inputs(selected_benchmark_params(wildcards))


def base_eval_params(wildcards):
    return study.eval_spec(config, study.Cell(wildcards.model_size, study.BASE, 0, 0), 0)


# Cluster resources per model size (models.sizes.{size}.resources.{train,evaluate}, defaults filled in
# by study.job_resources); memory and runtime double with each retry, so a job that ran out of either
# gets more the next time, up to the profile's ceilings: default resources `mem_mb_max` and
# `runtime_max` (profiles/slurm/config.yaml says why they are per profile, not per partition).
def profile_ceiling(name):
    defaults = workflow.resource_settings.default_resources
    if defaults is None or f"{name}_max" not in defaults:
        return None
    value = defaults[f"{name}_max"]
    if value.is_evaluable() or not isinstance(value.value, int):
        raise ValueError(f"default resource {name}_max: give a number of {'MB' if name == 'mem_mb' else 'minutes'}")
    return value.value


def job_resource(stage, name):
    """What Snakemake calls for one resource (cpus, gpus, mem_mb, runtime) of a train or evaluate job."""
    ceiling = profile_ceiling(name)

    def value(wildcards, attempt):
        given = study.job_resources(config, wildcards.model_size, stage)[name]
        return study.on_attempt(name, given, attempt, ceiling)

    return value
