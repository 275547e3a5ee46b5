# Jobs whose artifact is already in the store run here, where snakemake runs, instead of as cluster
# jobs (growthpace.reuse has the whole design). Each rule below is a local twin of a rule that builds an
# artifact, with the same input and params, and an output pattern whose first wildcard matches only the
# jobs that the study's plan (PLAN, rules/common.smk) found in the store, or being built by another run
# right now (reuse.only): for those jobs the ruleorder picks the twin, for every other job only the
# original matches. The twin runs the same script, which under a reuse_* rule only looks the artifact up
# (waiting for another run's build of it if need be: a local job holds no cluster allocation). Its log
# goes under logs/reuse/, so that the log of the job that built the artifact is kept.


use rule subset as reuse_subset with:
    localrule: True  # as subset is: `use rule` does not carry the flag over
    output:
        reuse.only(rules.subset.output[0], PLAN.reusable("subset")),
    log:
        f"{RESULTS}/logs/reuse/subset/{{cell}}.log",


use rule base_model as reuse_base_model with:
    localrule: True
    output:
        reuse.only(rules.base_model.output[0], PLAN.reusable("base_model")),
    log:
        f"{RESULTS}/logs/reuse/base_model/{{model_size}}.log",
    threads: 1


use rule train_cell as reuse_train_cell with:
    localrule: True
    output:
        reuse.only(rules.train_cell.output[0], PLAN.reusable("train_cell")),
    log:
        f"{RESULTS}/logs/reuse/train/{{model_size}}/{{cell}}.log",
    threads: 1
    resources:
        gpu=0,
        mem_mb=1000,
        runtime=10,


use rule evaluate_checkpoint as reuse_evaluate_checkpoint with:
    localrule: True
    output:
        reuse.only(rules.evaluate_checkpoint.output[0], PLAN.reusable("evaluate_checkpoint")),
    log:
        f"{RESULTS}/logs/reuse/evaluate/{{model_size}}/{{cell}}/epoch{{epoch}}.log",
    threads: 1
    resources:
        gpu=0,
        mem_mb=1000,
        runtime=10,


# The untuned base model's evaluation (grid.evaluate_base): on the paper's settings a 1-GPU, 200 GB,
# 6-hour job per model size, which a second study would otherwise submit only to find it in the store.
use rule evaluate_base as reuse_evaluate_base with:
    localrule: True
    output:
        reuse.only(rules.evaluate_base.output[0], PLAN.reusable("evaluate_base")),
    log:
        f"{RESULTS}/logs/reuse/evaluate/{{model_size}}/base/epoch0.log",
    threads: 1
    resources:
        gpu=0,
        mem_mb=1000,
        runtime=10,


ruleorder: reuse_subset > subset
ruleorder: reuse_base_model > base_model
ruleorder: reuse_train_cell > train_cell
ruleorder: reuse_evaluate_checkpoint > evaluate_checkpoint
ruleorder: reuse_evaluate_base > evaluate_base
