"""Artifact types of the tanas components.

Kubeflow Pipelines V2 accepts a custom artifact type only when its TYPE_NAME looks like
``namespace.TypeName``, and its container entrypoint recovers the Python class by importing
TYPE_NAME as a dotted path. So every TYPE_NAME here is this package's import path,
``components.<Class>``, which the container can resolve.

The same compiler rejects declared ``PROPERTIES`` on custom types (its generic artifact schema
has none), so what each artifact carries (versions, sizes, predicted score) is written by the
executors as *custom properties*; the names are the constants below.
"""

from __future__ import annotations

from tfx.types.artifact import Artifact


class MetaFeatures(Artifact):
    """``meta_features.json``: the task description the evaluator reads."""

    TYPE_NAME = "components.MetaFeatures"


class ArchitectureRecords(Artifact):
    """``records.jsonl``: (task, meta-features, architecture, score) triplets from offline training."""

    TYPE_NAME = "components.ArchitectureRecords"


class Evaluator(Artifact):
    """An evaluator directory (``evaluator.json`` + weights) as ``tfx_tanas.evaluator.ArchitectureEvaluator.save`` writes it."""

    TYPE_NAME = "components.Evaluator"


class Architecture(Artifact):
    """``architecture.json`` (the chosen architecture) and ``candidates.jsonl`` (every scored candidate)."""

    TYPE_NAME = "components.Architecture"


# Custom property names (set by the executors, read by people and tests through ML Metadata).
META_FEATURE_VERSION = "meta_feature_version"
NUM_EXAMPLES = "num_examples"
NUM_FEATURES = "num_features"
NUM_CLASSES = "num_classes"
RECORDS_VERSION = "records_version"
PROTOCOL_VERSION = "protocol_version"
NUM_RECORDS = "num_records"
NUM_TASKS = "num_tasks"
NUM_TASKS_SKIPPED = "num_tasks_skipped"
SEARCH_SPACE_FINGERPRINT = "search_space_fingerprint"
PREDICTED_SCORE = "predicted_score"
PREDICTED_SCORE_SPREAD = "predicted_score_spread"
SEARCH_METHOD = "search_method"
NUM_CANDIDATES = "num_candidates"
DESCRIPTION = "description"
ARCHITECTURE_KEY = "architecture_key"
CONTENT_FINGERPRINT = "content_fingerprint"  # of an imported evaluator directory, so edits in place are seen
