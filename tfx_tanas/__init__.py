"""tfx_tanas: task-aware neural architecture search, as a plain Keras/NumPy library.

Where each part of the method lives (claims of US20220121906A1): see README's map. The names below
are the curated API; they load on first use, so ``import tfx_tanas`` (and ``tanas --help``) does not
import TensorFlow.
"""

import importlib
import os
from typing import Any

# Silence TensorFlow's C++ start-up chatter (CUDA plugin registration, CPU feature notes) before the
# first TensorFlow import, or it buries the CLI's one-line errors on stderr. An explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    "InputError": "tfx_tanas.errors",
    "TanasError": "tfx_tanas.errors",
    "TrainingError": "tfx_tanas.errors",
    "VersionMismatchError": "tfx_tanas.errors",
    "Architecture": "tfx_tanas.search_space",
    "SearchSpace": "tfx_tanas.search_space",
    "DEFAULT_SPACE": "tfx_tanas.search_space",
    "MetaFeatures": "tfx_tanas.meta_features",
    "ArchitectureEvaluator": "tfx_tanas.evaluator",
    "EvaluatorConfig": "tfx_tanas.evaluator",
    "TrainingProtocol": "tfx_tanas.protocol",
    "DEFAULT_PROTOCOL": "tfx_tanas.protocol",
    "bundled_evaluator_path": "tfx_tanas.workflows",
    "load_evaluator": "tfx_tanas.workflows",
    "describe_task": "tfx_tanas.workflows",
    "choose_architecture": "tfx_tanas.workflows",
    "train_evaluator": "tfx_tanas.workflows",
    "train_and_export": "tfx_tanas.workflows",
    "train_architectures": "tfx_tanas.training",
    "prepare_task": "tfx_tanas.task_data",
}
# The TFX artifact types, by the names Kubeflow's v2 container imports them with (TYPE_NAME must be
# "namespace.Class"); resolving one is the only way this package reaches TFX.
_ARTIFACTS = ("MetaFeaturesArtifact", "RecordsArtifact", "EvaluatorArtifact", "ArchitectureArtifact")

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _ARTIFACTS:
        return getattr(importlib.import_module("tfx_tanas.components.artifacts"), name)
    if name not in _API:
        raise AttributeError(f"module 'tfx_tanas' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
