"""Stacked training gives the accuracies plain Keras ``model.fit`` gives, up to seed noise.

Meta-training records are produced by the stacked trainer; the evaluator's predictions are only
as good as that claim.
"""

from __future__ import annotations

import numpy as np

from benchmarks.keras_fit import train_with_keras_fit
from tfx_tanas.protocol import TrainingProtocol
from tfx_tanas.search_space import SearchSpace, sample_architectures
from tfx_tanas.task_data import PreparedTask, prepare_task
from tfx_tanas.tasks import make_synthetic
from tfx_tanas.training import train_architectures


def synthetic_task(family: str, rows: int, features: int, classes: int, categorical_fraction: float, seed: int) -> PreparedTask:
    frame = make_synthetic(
        family=family, rows=rows, features=features, classes=classes, imbalance=0.0, label_noise=0.0,
        categorical_fraction=categorical_fraction, missing_fraction=0.0, seed=seed,
    )
    return prepare_task(frame, "label", seed=0)


def test_stacked_training_matches_plain_model_fit():
    protocol = TrainingProtocol(epochs=8)
    task = synthetic_task("clusters", rows=600, features=5, classes=3, categorical_fraction=0.2, seed=3)
    archs = sample_architectures(SearchSpace(), 6, seed=1, continuous_fraction=0.34)
    stacked = [r.score for r in train_architectures(task, archs, protocol, seed=0, group_size=6)]
    plain = [train_with_keras_fit(task, arch, protocol, seed=0).score for arch in archs]
    majority = np.bincount(task.validation.labels).max() / len(task.validation.labels)
    assert np.mean(stacked) > majority + 0.1  # both actually learn the task
    assert abs(np.mean(stacked) - np.mean(plain)) < 0.05
    assert np.corrcoef(stacked, plain)[0, 1] > 0.5  # and agree on which architectures are better


def test_a_network_trains_the_same_whatever_it_is_stacked_with():
    """A record can be reproduced by training its architecture alone, and two methods that pick
    the same architecture are compared on the same training."""
    protocol = TrainingProtocol(epochs=4)
    task = synthetic_task("xor", rows=300, features=4, classes=2, categorical_fraction=0.0, seed=4)
    archs = sample_architectures(SearchSpace(), 5, seed=2, continuous_fraction=0.4)
    together = train_architectures(task, archs, protocol, seed=3, group_size=5)
    for arch, stacked in zip(archs, together):
        [alone] = train_architectures(task, [arch], protocol, seed=3)
        np.testing.assert_allclose(stacked.validation_history, alone.validation_history, atol=0.02)
