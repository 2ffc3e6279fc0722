"""tfx_tanas: task-aware neural architecture search, as a plain Keras/NumPy library.

Where each part of the method lives (claims of US20220121906A1):

* search space, encoding u = (alpha, beta, gamma), sampling, JSON   -> :mod:`tfx_tanas.search_space` (claims 2, 6-9)
* Keras model of an architecture, TF Serving export                 -> :mod:`tfx_tanas.model_builder`
* many architectures trained at once under one protocol             -> :mod:`tfx_tanas.training`, :mod:`tfx_tanas.stacked`
* meta-features from TFDV statistics                                -> :mod:`tfx_tanas.meta_features` (claim 1)
* evaluator network                                                 -> :mod:`tfx_tanas.evaluator` (claims 1, 10)
* gradient ascent and random search                                 -> :mod:`tfx_tanas.search` (claims 3-5)
* offline meta-training: tasks -> architectures -> records          -> :mod:`tfx_tanas.meta_training`, :mod:`tfx_tanas.records` (claim 10)
"""

import os

# Silence TensorFlow's C++ start-up chatter (CUDA plugin registration, CPU feature notes) before the
# first TensorFlow import, or it buries the CLI's one-line errors on stderr. An explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tfx_tanas.errors import InputError, TanasError, TrainingError, VersionMismatchError
from tfx_tanas.evaluator import Evaluator, EvaluatorConfig
from tfx_tanas.meta_features import MetaFeatures, compute_meta_features, meta_features_for_frame
from tfx_tanas.search import SearchResult, gradient_ascent_search, random_search, search
from tfx_tanas.search_space import Architecture, SearchSpace
from tfx_tanas.training import DEFAULT_PROTOCOL, TrainingProtocol, prepare_task, train_and_select, train_architectures

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "DEFAULT_PROTOCOL",
    "Evaluator",
    "EvaluatorConfig",
    "InputError",
    "MetaFeatures",
    "SearchResult",
    "SearchSpace",
    "TanasError",
    "TrainingError",
    "TrainingProtocol",
    "VersionMismatchError",
    "compute_meta_features",
    "gradient_ascent_search",
    "meta_features_for_frame",
    "prepare_task",
    "random_search",
    "search",
    "train_and_select",
    "train_architectures",
]
