#!/usr/bin/env bash
# Idempotent set-up: a Python 3.10 venv in .venv with the package and every extra, pinned by
# constraints.txt. Re-running is a no-op unless setup.py or constraints.txt changed.
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

stamp_value=$(cat setup.py constraints.txt | sha1sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.tanas-stamp 2>/dev/null)" = "$stamp_value" ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  "$(find_python)" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade "pip<25" wheel >/dev/null
.venv/bin/python -m pip install -q -c constraints.txt -e ".[pipelines,meta,dev]"
echo "$stamp_value" > .venv/.tanas-stamp
echo "setup: .venv ready ($(.venv/bin/python --version))"
