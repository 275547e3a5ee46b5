#!/usr/bin/env bash
# Create (or bring up to date) everything growthpace needs on this machine; idempotent, and quick
# when nothing changed. Called by `make demo`, `make test` and .ci/run.
#   - system packages (as root, via apt): a CJK font for the plots
#   - .venv: the pinned Python stack (envs/requirements.lock) and growthpace itself (editable)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${GROWTHPACE_VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}

apt_install() {  # apt_install PACKAGE... : install missing Debian packages when we can
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: warning: please install ${missing[*]} (needs root and apt)" >&2
  fi
}

if command -v dpkg >/dev/null; then
  apt_install fonts-wqy-microhei
fi

want=$(cat pyproject.toml envs/requirements.lock | sha256sum | cut -c1-16)
stamp="$VENV/.growthpace-env"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "setup: creating the Python environment in $VENV (a few minutes the first time)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
# DS_BUILD_OPS=0: DeepSpeed installs as pure Python; its ops compile on first use.
# Byte-compiling every installed module took 60 of the install's 100 s, one file at a time: pip
# installs without it, and compileall does it on every core. (The .pyc files must exist: where
# PYTHONDONTWRITEBYTECODE is set, Python never caches what it compiles, and every job start would
# compile torch and transformers again, seconds each.)
DS_BUILD_OPS=0 "$VENV/bin/python" -m pip install -q --no-compile -c envs/requirements.lock -e '.[dev]' 2>&1 \
  | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m compileall -q -j 0 "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
  >/dev/null 2>&1 || true
"$VENV/bin/python" -c "import growthpace, torch, transformers, snakemake, deepspeed" \
  || { echo "setup: the environment in $VENV is broken" >&2; exit 1; }
echo "$want" > "$stamp"
echo "setup: environment ready ($VENV)"
