#!/usr/bin/env bash
# The test suite, from a fresh clone: set-up (idempotent), lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q --durations=15 "$@"
