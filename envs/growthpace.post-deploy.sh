#!/usr/bin/env bash
# Run by snakemake in the environment it has just created from growthpace.yaml (`--sdm conda`).
# Paths are taken from this script's own location: snakemake runs it from the directory it was
# started in, which need not be the project's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -f "$here/../pyproject.toml" ]; then
  # a clone: the project itself, editable, with its pinned dependencies
  DS_BUILD_OPS=0 python -m pip install -c "$here/requirements.lock" -e "$here/.."
else
  # the workflow as package data of an installed growthpace (envs/ is in growthpace/workflow/): the
  # pinned dependencies, and a copy of the package this workflow came with
  DS_BUILD_OPS=0 python -m pip install -r "$here/requirements.lock"
  cp -r "$(cd "$here/../.." && pwd)" "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/"
fi
