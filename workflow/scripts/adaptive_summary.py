from growthpace.logs import to_rule_log

to_rule_log(snakemake.log[0])
import json
from pathlib import Path

import pandas as pd

from growthpace.analysis import adaptive
from growthpace.files import write_parquet_atomic

p = snakemake.params
records = [json.loads(Path(f).read_text()) for f in snakemake.input.rounds]
write_parquet_atomic(adaptive.rounds_table(records), snakemake.output.rounds)
measured = adaptive.cells_of([k for r in records for k in r["chosen"]])
hours = adaptive.cell_hours(pd.read_parquet(snakemake.input.cells), adaptive.cells_of(p.candidates), measured)
result = None
if p.validate_against:  # a full grid's results: replay the same rules on its stored tables
    tables = Path(p.validate_against) / "tables"
    result = adaptive.replay(pd.read_parquet(tables / "predictions.parquet"), pd.read_parquet(tables / "scores.parquet"),
                             adaptive.spec_from(p.spec, p.settings))
adaptive.write_note(records, hours, snakemake.output.note, result, p.validate_against)
