#!/usr/bin/env bash
# Run by snakemake in the environment it has just created from growthpace.yaml (`--sdm conda`).
# Paths are taken from this script's own location: snakemake runs it from the directory it was
# started in, which need not be the project's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DS_BUILD_OPS=0 python -m pip install -c "$here/requirements.lock" -e "$here/.."
