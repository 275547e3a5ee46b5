# growthpace: instruction-tuning dynamics studies.
#   snakemake --cores 2                                  # the embedded demo (config/config.yaml)
#   snakemake --cores 2 --configfile config/studies/X.yaml
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
