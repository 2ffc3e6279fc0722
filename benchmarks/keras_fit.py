"""The plain way to train one architecture: a Keras model, ``compile`` + ``fit`` under the protocol.

The reference the stacked trainer is measured against, for speed (``meta_throughput.py``) and for
agreement (``tests/test_stacked_matches_fit.py``); slower, same result up to initialization and
shuffling noise. Not product code: ``tfx_tanas`` trains stacked.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from tfx_tanas.model_builder import build_network
from tfx_tanas.protocol import DEFAULT_PROTOCOL, TrainingProtocol
from tfx_tanas.search_space import Architecture
from tfx_tanas.task_data import PreparedTask
from tfx_tanas.training import TrainResult


def train_with_keras_fit(task: PreparedTask, arch: Architecture, protocol: TrainingProtocol = DEFAULT_PROTOCOL, seed: int = 0) -> TrainResult:
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    network = build_network(arch.plan, task.encoder.widths, task.num_classes)
    network.compile(
        optimizer=keras.optimizers.AdamW(arch.plan.learning_rate, weight_decay=arch.plan.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    kinds = arch.plan.kinds
    history = network.fit(
        {k: task.train.embeddings[k] for k in kinds},
        task.train.labels,
        batch_size=protocol.batch_size(len(task.train.labels)),
        epochs=protocol.epochs,
        validation_data=({k: task.validation.embeddings[k] for k in kinds}, task.validation.labels),
        verbose=0,
    )
    validation = [float(v) for v in history.history["val_accuracy"]]
    return TrainResult(
        architecture=arch,
        score=float(np.mean(validation[-protocol.score_evaluations :])),
        validation_history=validation,
        train_seconds=time.perf_counter() - started,
        num_params=network.count_params(),
        network=network,
    )
