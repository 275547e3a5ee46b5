# The study's analysis (growthpace.analysis), and the closed loop of analysis.guideline: a recipe derived
# from the grid's tables by each method, trained as recipe-guideline-seed{seed} cells (the paper's rules)
# and recipe-guideline-{method}-seed{seed} cells (method optimize), and compared with the uniform
# curated-{budget} cell of the same model size:
#
#   tables (grid) -> derive_recipe -> subset/train_cell/evaluate_checkpoint (guideline cells)
#                 -> guideline_tables -> analysis (grid + guideline tables) -> analysis_plots, report_md
from growthpace.analysis.outputs import PLOTS, TABLES


# The grid's tables only: what the guideline cells train depends on them. It writes the analysis
# tables of the grid alone too (the recipe is derived from them).
rule derive_recipe:
    input:
        suite=rules.suite.output[0],
        scores=[rules.tables.output.scores],
        predictions=[rules.tables.output.predictions],
    output:
        tables=expand(f"{ANALYSIS}/derived/{{name}}.parquet", name=TABLES),
        recipe=f"{ANALYSIS}/derived/recipe.yaml",
        settings=f"{ANALYSIS}/derived/settings.json",
    params:
        spec=study.analysis_spec(config),
        external=PLAN.analysis_inputs(),
    log:
        f"{RESULTS}/logs/derive_recipe.log",
    conda:
        ENV
    script:
        "../scripts/derive_recipe.py"


# The recipe cells' tables: the grid's tables rule (one script) on the guideline cells' files.
use rule tables as guideline_tables with:
    input:
        predictions=guideline_prediction_files(),
        sft=guideline_receipts(),
    output:
        predictions=f"{RESULTS}/tables/guideline/predictions.parquet",
        scores=f"{RESULTS}/tables/guideline/scores.parquet",
        cells=f"{RESULTS}/tables/guideline/cells.parquet",
    log:
        f"{RESULTS}/logs/guideline_tables.log",


# Also given the base models (their parameter counts, recorded when pretrained here or else counted from
# their configs, give the growth model over model size) and one training set of each recipe (its
# per-ability counts); and the model sizes not trained that it derives a recipe for
# (analysis.guideline.untrained_model_sizes: derived only, never trained, so derive_recipe does not take
# them and the guideline cells do not depend on them).
rule analysis:
    input:
        suite=rules.suite.output[0],
        scores=analysis_tables("scores"),
        predictions=analysis_tables("predictions"),
        base=list(base_receipts().values()),
        recipe_subsets=list(recipe_subset_receipts().values()),
    output:
        tables=expand(f"{ANALYSIS}/{{name}}.parquet", name=TABLES),
        recipe=f"{ANALYSIS}/recipe.yaml",
        settings=f"{ANALYSIS}/settings.json",
    params:
        spec=study.analysis_spec(config),
        base=base_receipts(),
        recipe_subsets=recipe_subset_receipts(),
        extrapolate=study.extrapolate_spec(config),
        untrained=study.untrained_spec(config),
        external=PLAN.analysis_inputs(),
    log:
        f"{RESULTS}/logs/analysis.log",
    conda:
        ENV
    script:
        "../scripts/analysis.py"


rule analysis_plots:
    localrule: True
    input:
        tables=rules.analysis.output.tables,
        settings=rules.analysis.output.settings,
    output:
        **{
            name: report(
                f"{RESULTS}/plots/{name}.png",
                caption=f"../report/{name}.rst",
                category="Analysis",
            )
            for name in PLOTS
        },
    log:
        f"{RESULTS}/logs/analysis_plots.log",
    conda:
        ENV
    script:
        "../scripts/analysis_plots.py"


rule report_md:
    localrule: True
    input:
        tables=rules.analysis.output.tables,
        settings=rules.analysis.output.settings,
        recipe=rules.analysis.output.recipe,
        plots=rules.analysis_plots.output,
        # an adaptive study's rounds, skipped cells and cell-hours (rules/adaptive.smk)
        adaptive=[f"{RESULTS}/adaptive.md"] if ADAPTIVE else [],
    output:
        f"{RESULTS}/report.md",
    params:
        study=config["study"],
    log:
        f"{RESULTS}/logs/report_md.log",
    conda:
        ENV
    script:
        "../scripts/report_md.py"
