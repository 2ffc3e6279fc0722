#!/usr/bin/env bash
# Idempotent set-up: a Python 3.10 venv in .venv with the package and every extra, pinned by
# constraints.txt. Re-running is a no-op unless setup.py or constraints.txt changed.
# The installer is uv (installed into the venv first: it resolves and installs the TFX family
# about twice as fast as pip), with bytecode compiled up front, since these machines set
# PYTHONDONTWRITEBYTECODE=1 and TensorFlow would otherwise recompile on every import. pip is the
# fallback when uv cannot be installed. Progress is printed, never hidden.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  # a pyenv shim named python3.10 may exist without a 3.10 selected: check that it runs
  if python3.10 -c 'import sys' >/dev/null 2>&1; then command -v python3.10; return; fi
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  local candidate
  candidate=$(ls -d "$root"/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then echo "$candidate"; return; fi
  echo "setup: Python 3.10 not found (TFX 1.16 needs it); install python3.10 or pyenv's 3.10.x" >&2
  exit 2
}

# Runs a command while printing a line every 30 s, so a quiet download never looks like a hang.
with_heartbeat() {
  "$@" &
  local pid=$! elapsed=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5; elapsed=$((elapsed + 5))
    if [ $((elapsed % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then echo "setup: still installing (${elapsed} s)"; fi
  done
  wait "$pid"
}

stamp_value=$(cat setup.py constraints.txt | sha1sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.tanas-stamp 2>/dev/null)" = "$stamp_value" ]; then
  exit 0
fi
started=$(date +%s)
if [ ! -x .venv/bin/python ]; then
  python=$(find_python)
  echo "setup: creating .venv with $python"
  "$python" -m venv .venv
fi
echo "setup: installing the installer (uv)"
if .venv/bin/python -m pip install --progress-bar off --disable-pip-version-check "uv>=0.4" && [ -x .venv/bin/uv ]; then
  echo "setup: installing tfx-tanas and the pinned TFX 1.16 family with uv (several minutes on a slow registry)"
  VIRTUAL_ENV="$PWD/.venv" with_heartbeat .venv/bin/uv pip install --python .venv/bin/python --compile-bytecode \
    -c constraints.txt -e ".[pipelines,meta,dev]"
else
  echo "setup: uv unavailable; installing with pip (slower)"
  .venv/bin/python -m pip install --progress-bar off --upgrade "pip<25" wheel
  with_heartbeat .venv/bin/python -m pip install --progress-bar off -c constraints.txt -e ".[pipelines,meta,dev]"
fi
echo "$stamp_value" > .venv/.tanas-stamp
echo "setup: .venv ready ($(.venv/bin/python --version)) in $(( $(date +%s) - started )) s"
