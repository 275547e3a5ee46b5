# The two commands of the README, plus a few for developers.
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
# Test workers (pytest-xdist): the SLURM test mostly waits on its cluster, so one worker more than
# the cores keeps both cores busy around it.
TEST_WORKERS ?= 3

.PHONY: env demo test test-matrix lint dry-run clean-demo

env:
	@bash scripts/setup-env.sh

demo: env  ## run the embedded demo study end to end
	$(BIN)/growthpace demo --cores $(CORES)

test: env  ## run the test suite (unit tests and real snakemake workflow tests)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

test-matrix: env  ## run a tiny study for each combination of the pairwise feature matrix (CI runs it too)
	$(BIN)/python -m pytest -m matrix -n $(TEST_WORKERS) --durations=15

lint: env  ## snakemake's linter on the demo config
	$(BIN)/snakemake --lint

dry-run: env
	$(BIN)/snakemake -n --cores $(CORES)

clean-demo:  ## remove the demo's results (the shared artifact store is kept)
	rm -rf results/demo
