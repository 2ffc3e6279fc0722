"""Stacked training gives the accuracies plain Keras ``model.fit`` gives, up to seed noise.

Meta-training records are produced by the stacked trainer; the evaluator's predictions are only
as good as that claim.
"""

from __future__ import annotations

import numpy as np

from tfx_tanas.meta_training import sample_architectures
from tfx_tanas.search_space import SearchSpace
from tfx_tanas.tasks import make_synthetic
from tfx_tanas.training import TrainingProtocol, prepare_task, train_architectures, train_with_keras_fit


def test_stacked_training_matches_plain_model_fit():
    frame = make_synthetic(
        family="clusters", rows=600, features=5, classes=3, imbalance=0.0, label_noise=0.0,
        categorical_fraction=0.2, missing_fraction=0.0, seed=3,
    )
    protocol = TrainingProtocol(epochs=8)
    task = prepare_task(frame, "label", protocol, seed=0)
    archs = sample_architectures(SearchSpace(), 6, seed=1, continuous_fraction=0.34)
    stacked = [r.score for r in train_architectures(task, archs, protocol, seed=0, group_size=6)]
    plain = [train_with_keras_fit(task, arch, protocol, seed=0).score for arch in archs]
    majority = np.bincount(task.validation.labels).max() / len(task.validation.labels)
    assert np.mean(stacked) > majority + 0.1  # both actually learn the task
    assert abs(np.mean(stacked) - np.mean(plain)) < 0.05
    assert np.corrcoef(stacked, plain)[0, 1] > 0.5  # and agree on which architectures are better
