from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
from growthpace import artifacts
from growthpace.gpus import claimed_gpus
from growthpace.store import Store, read_receipt

p = snakemake.params
with claimed_gpus(int(snakemake.resources.get("gpu", 0) or 0)):
    artifacts.evaluate_benchmarks(
        Store(p.store),
        suite=read_receipt(snakemake.input.suite),
        sft=read_receipt(snakemake.input.sft),
        prediction_files=list(snakemake.input.predictions),
        spec=p.spec,
        cell=artifacts.receipt_cell(snakemake.input.sft),
        out=snakemake.output[0],
        select_after=p.select_after,
        decide_on=p.decide_on,
        scoring=p.scoring["mode"],
        threads=snakemake.threads,
    )
