"""Artifact types of the tanas components.

Kubeflow Pipelines V2 accepts a custom artifact type only when its TYPE_NAME is exactly
``namespace.TypeName`` (one dot), and its container entrypoint recovers the Python class by
importing TYPE_NAME as a dotted path. So every TYPE_NAME here is ``tfx_tanas.<Class>``: the
top-level package resolves these names lazily (:mod:`tfx_tanas`), so the core still imports no
TFX until an artifact type is asked for. The class names say they are artifacts, so they are not
confused with the core's ``MetaFeatures`` or ``Architecture`` next to them.

The same compiler rejects declared ``PROPERTIES`` on custom types (its generic artifact schema
has none), so what each artifact carries (versions, sizes, predicted score) is written by the
executors as *custom properties*; the names are the constants below.
"""

from __future__ import annotations

from tfx.types.artifact import Artifact


class MetaFeaturesArtifact(Artifact):
    """``meta_features.json``: the task description the evaluator reads."""

    TYPE_NAME = "tfx_tanas.MetaFeaturesArtifact"


class RecordsArtifact(Artifact):
    """``records.jsonl``: (task, meta-features, architecture, score) triplets from offline training."""

    TYPE_NAME = "tfx_tanas.RecordsArtifact"


class EvaluatorArtifact(Artifact):
    """An evaluator directory (``evaluator.json`` + weights) as ``ArchitectureEvaluator.save`` writes it."""

    TYPE_NAME = "tfx_tanas.EvaluatorArtifact"


class ArchitectureArtifact(Artifact):
    """``architecture.json`` (the chosen architecture) and ``candidates.jsonl`` (every scored candidate)."""

    TYPE_NAME = "tfx_tanas.ArchitectureArtifact"


# Custom property names (set by the executors, read by people and tests through ML Metadata).
META_FEATURE_VERSION = "meta_feature_version"
NUM_EXAMPLES = "num_examples"
NUM_FEATURES = "num_features"
NUM_CLASSES = "num_classes"
IMAGE_FORMATS = "image_formats"  # TFDV's image format histogram of an image feature, e.g. "jpeg:12,png:288"
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
