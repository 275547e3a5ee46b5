"""The names of the analysis tables and plots.

Kept apart from the modules that build them so the workflow can list its outputs without importing
scipy, matplotlib and seaborn each time snakemake parses the Snakefile (every job does).
"""

TABLES = ["curves", "overall", "curve_fits", "sensitivity", "sources", "ceilings", "transfer", "transference",
          "complexity", "predictiveness", "allocation", "recipes", "extrapolation", "extrapolation_validation",
          "grading", "benchmarks"]
PLOTS = ["overall", "abilities", "sources", "transfer", "recipes", "extrapolation"]
