#!/usr/bin/env bash
# Compile the online pipeline into a Kubeflow Pipelines spec.
#   kubeflow/compile.sh IMAGE PIPELINE_ROOT DATA LABEL [OUT]
#   e.g. kubeflow/compile.sh gcr.io/my-project/tfx-tanas:0.1.0 gs://my-bucket/tanas gs://my-bucket/data region
# The spec runs every step in IMAGE, keeps artifacts under PIPELINE_ROOT, pushes models to
# PIPELINE_ROOT/serving/<version>/ and imports the evaluator from PIPELINE_ROOT/evaluator.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 4 ]; then
  sed -n '2,6p' "$0" >&2
  exit 2
fi
image=$1 root=$2 data=$3 label=$4 out=${5:-pipeline.yaml}
bash scripts/setup.sh
.venv/bin/tanas compile --out "$out" --image "$image" --pipeline-root "$root" --data "$data" --label "$label"
