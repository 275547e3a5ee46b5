from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.store import Store

artifacts.keep_selected_epochs(Store(snakemake.params.store), list(snakemake.input.cells), snakemake.params.keep,
                               snakemake.output[0])
