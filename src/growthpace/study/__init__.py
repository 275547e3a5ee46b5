"""A study: its config expanded into a grid of cells (``grid``), the checks a schema cannot make
(``checks``), the specs that key each artifact (``specs``), the resources of its jobs (``resources``),
the adaptive part (``adaptive``) and its config files read as the workflow reads them (``config``).

Callers use ``from growthpace import study`` and ``study.<name>``: the names below are the package's API.
"""

from .grid import (BASE, BASE_NAME, CELL_PATTERN, GUIDELINE, GUIDELINE_METHODS, GUIDELINE_POOL, GUIDELINE_RECIPES,
                   PATH_MODEL_DEFAULTS, RECIPE, RECIPE_OPTIONS, SINGLE, SOURCES, base_cells, canonical, Cell,
                   cell_index, cell_recipe, ConfigError, definition_spec, epochs, equivalent_plain_cell,
                   evaluations, guideline_cells, guideline_evaluations, guideline_recipe, guideline_settings,
                   keep_epochs,
                   is_guideline, lookup, model_sizes, model_sizes_for, recipe_cell_names, recipe_definition,
                   recipe_names, sft_settings, single_ability_recipes, subset_cells, training_cells)  # noqa: F401
from .specs import (BASE_PROMPT_DEFAULTS, EVAL_DEFAULTS, analysis_spec, base_spec, benchmark_spec, eval_spec,
                    keep_plan, kept_epochs,
                    extrapolate_spec, leakage_mode, needs_tokenizer, ood_enabled, scoring_spec,
                    selected_benchmark_spec, SELECTED, sft_spec, subset_spec, suite_spec, tokenizer_spec,
                    untrained_spec)  # noqa: F401
from .checks import (ConfigProblems, MissingInputs, check_inputs, check_study, missing_benchmark_paths,  # noqa: F401
                     missing_inputs, study_problems)
from .adaptive import adaptive_candidates, adaptive_settings, check_adaptive  # noqa: F401
from .config import check_config, load_config, schema_problems  # noqa: F401
from .resources import DEFAULT_RESOURCES, GROWS_ON_RETRY, job_resources, on_attempt  # noqa: F401
