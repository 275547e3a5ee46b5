# growthpace: instruction-tuning dynamics studies.
#   snakemake --cores 2                                  # the embedded demo (config/config.yaml)
#   snakemake --cores 2 --configfile config/studies/X.yaml
#   snakemake --cores 2 --configfile config/config.yaml config/studies/demo-transfer.yaml  # later files update earlier ones
from snakemake.utils import min_version

min_version("9.0")


# The demo study is the default; a study given with --configfile replaces it (instead of being
# merged into it, which would leak the demo's keys into every other study). --config alone edits the
# demo (e.g. --config study=demo-b).
# Snakemake has no public way to say this. A `configfile:` directive is always merged under the
# command line's files; the public --replace-workflow-config flag drops it for --config too (so
# --config study=demo-b would lose the demo); the command line's config files are visible only as the
# attribute below (Snakemake 9: config_settings.configfiles behind it). tests/test_config_layers.py
# pins the three behaviours, so a Snakemake that changes it fails there first.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/adaptive_inputs.smk"
include: "workflow/rules/adaptive.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/reuse.smk"
include: "workflow/rules/keep.smk"


# Cheap steps run where snakemake runs, not as cluster jobs, each marked `localrule: True` (the suite: a
# pointer to a DoIT directory, or under a second to generate the demo's; the character tokenizer: about
# a second; a cell's subset: drawing its items from the pools and checking them for leakage, seconds
# even at the paper's 2,560 items, where a cluster job would wait in the queue for each cell). A flag
# per rule, not a `localrules:` list: the list is not carried into a Snakefile that uses this workflow
# as a module (README: "As a Snakemake module").


rule all:
    localrule: True
    input:
        final_outputs(),
        adaptive_outputs(),
    default_target: True
