from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.gpus import claimed_gpus
from growthpace.store import Store, read_receipt, reuse_only

from_store = reuse_only(snakemake.rule)  # reuse_evaluate_base: planned to be found in the store
with claimed_gpus(0 if from_store else int(snakemake.resources.get("gpu", 0) or 0)):
    artifacts.evaluate_base(
        Store(snakemake.params.store),
        suite=read_receipt(snakemake.input.suite),
        base=read_receipt(snakemake.input.base),
        spec=snakemake.params.spec,
        cell=snakemake.params.cell,
        out=snakemake.output[0],
        reuse_only=from_store,
        threads=snakemake.threads,  # set only if built: torch takes seconds to import, a lookup needs none of it
    )
