#!/usr/bin/env bash
# The main job: pick an architecture for the bundled example with the bundled evaluator (no
# candidate is trained), then train it under the protocol and export it for TF Serving.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
out=${1:-out/demo}
.venv/bin/tanas search --data examples/chile.csv --label region --out "$out/search"
.venv/bin/tanas train --data examples/chile.csv --label region --architecture "$out/search/architecture.json" --out "$out/model"
