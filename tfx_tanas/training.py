"""Train architectures on a prepared task under the protocol, and keep the best one for serving.

Many architectures of one task train at once (:mod:`tfx_tanas.stacked`): a network trains
identically whatever it is stacked with, so stacking is only a matter of speed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tfx_tanas.data import clean_frame
from tfx_tanas.errors import TrainingError
from tfx_tanas.protocol import DEFAULT_PROTOCOL, TrainingProtocol
from tfx_tanas.search_space import Architecture
from tfx_tanas.serving import ServingModule
from tfx_tanas.stacked import plan_stacks, train_stack
from tfx_tanas.task_data import EncodedSplit, PreparedTask, prepare_splits, prepare_task, used_embeddings

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    architecture: Architecture
    score: float  # validation accuracy as the protocol's score_rule reads it
    validation_history: list[float]  # validation accuracy after each segment
    train_seconds: float
    num_params: int
    network: keras.Model | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def train_architectures(
    task: PreparedTask,
    architectures: Sequence[Architecture],
    protocol: TrainingProtocol = DEFAULT_PROTOCOL,
    seed: int = 0,
    group_size: int = 1,
    keep_networks: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[TrainResult]:
    """Train each architecture under ``protocol`` on every split of the task (its score is the mean
    over them; a kept network is the first split's); ``group_size`` > 1 stacks up to that many per run
    (fewer where padding them to common shapes would cost more than it saves, see
    :func:`~tfx_tanas.stacked.plan_stacks`).

    A network whose loss becomes NaN gets ``error`` set and score NaN; the others are unaffected.
    ``train_seconds`` of a stack is its wall time divided among its members.
    """
    widths = task.encoder.widths
    num_train = min(len(train) for train, _ in task.folds)
    evaluations, steps_per_evaluation = protocol.schedule(num_train)
    stack_steps = evaluations * steps_per_evaluation * len(task.folds)
    stacks = plan_stacks([a.plan for a in architectures], widths, task.num_classes, protocol.batch_size(num_train), stack_steps, group_size)
    results: dict[int, TrainResult] = {}
    quiet = _QuietRetracing()
    tf.get_logger().addFilter(quiet)
    try:
        for members in stacks:
            # every stack gets the same seed: a network's initialization and batch order depend on
            # (seed, architecture) only, not on which networks it is stacked with
            archs = [architectures[i] for i in members]
            run = train_stack(archs, widths, task.num_classes, (task.data.embeddings, task.data.labels), task.folds, protocol, seed)
            for position, (index, arch) in enumerate(zip(members, archs)):
                on_folds = [f * len(archs) + position for f in range(len(task.folds))]  # the network on each fold
                diverged = not run.finite[on_folds].all()
                results[index] = TrainResult(
                    architecture=arch,
                    score=float("nan") if diverged else float(np.mean([score(protocol, run.accuracy[:, m], run.loss[:, m]) for m in on_folds])),
                    validation_history=[round(float(v), 6) for v in run.accuracy[:, position]],
                    train_seconds=run.seconds / len(archs),
                    num_params=arch.plan.num_parameters(widths, task.num_classes),
                    network=run.networks.to_keras(position) if keep_networks else None,
                    error="loss became NaN or infinite" if diverged else None,
                )
            if progress:
                progress(len(results), len(architectures))
    finally:
        tf.get_logger().removeFilter(quiet)
    return [results[i] for i in range(len(architectures))]


def score(protocol: TrainingProtocol, accuracy: np.ndarray, loss: np.ndarray) -> float:
    """An architecture's score from its validation curve, by the protocol's rule."""
    if protocol.score_rule == "best_loss":
        return float(accuracy[int(np.argmin(loss))])
    return float(accuracy[-protocol.score_evaluations :].mean())


def cross_validated_scores(
    frame: pd.DataFrame, label: str, architectures: Sequence[Architecture], protocol: TrainingProtocol, seed: int, group_size: int
) -> list[TrainResult]:
    """Every architecture's score on a labelled frame: on one 80/20 split, or the mean over k
    folds when the protocol cross-validates a task this small (all folds train as one stack)."""
    task = prepare_splits(frame, label, protocol, seed, used_embeddings(architectures))
    return train_architectures(task, architectures, protocol, seed, group_size=group_size)


class _QuietRetracing(logging.Filter):
    """Drops TensorFlow's warning that many calls "triggered tf.function retracing": every stack
    compiles its own function by design, so the advice it gives does not apply here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def accuracy(result: TrainResult, split: EncodedSplit) -> float:
    """Accuracy of a kept network on an encoded split."""
    if result.network is None:
        raise TrainingError("train with keep_networks=True to evaluate a network afterwards")
    kinds = result.architecture.plan.kinds
    logits = result.network.predict({k: split.embeddings[k] for k in kinds}, verbose=0, batch_size=4096)
    return float((np.argmax(logits, axis=-1) == split.labels).mean())


@dataclasses.dataclass
class TrainedModel:
    """A metrics row per architecture, and the best one's serving module (save it with
    :func:`~tfx_tanas.serving.export_serving_model` or ``save_serving_model``)."""

    metrics: list[dict[str, Any]]
    best_index: int
    serving_module: ServingModule


def train_and_select(
    frame: pd.DataFrame,
    label: str,
    architectures: Sequence[Architecture],
    eval_frame: pd.DataFrame | None = None,
    protocol: TrainingProtocol = DEFAULT_PROTOCOL,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TrainedModel:
    """Train architectures one after another under the protocol and keep the best for serving.

    The best is the highest validation score (never the evaluation data, which stays unseen);
    ``eval_accuracy`` is measured on ``eval_frame`` when given, on the validation split otherwise.
    """
    task = prepare_task(frame, label, protocol, seed, used_embeddings(architectures))
    evaluation = task.encode(clean_frame(eval_frame, label)) if eval_frame is not None else task.validation
    evaluations, steps_per_evaluation = protocol.schedule(len(task.train.labels))
    steps = evaluations * steps_per_evaluation
    metrics, results = [], []
    for index, arch in enumerate(architectures):
        [result] = train_architectures(task, [arch], protocol, seed, keep_networks=True)
        results.append(result)
        metrics.append(
            {
                "index": index,
                "architecture": arch.describe(),
                "key": arch.key,
                "validation_score": round(result.score, 6),
                "eval_accuracy": round(accuracy(result, evaluation), 6) if result.ok else None,
                "eval_split": "eval-data" if eval_frame is not None else "validation",
                "train_seconds": round(result.train_seconds, 3),
                "num_params": result.num_params,
                "epochs": None if protocol.steps_per_sqrt_row else protocol.epochs,  # version 2 trains for a step budget
                "steps": steps,
                "protocol_version": protocol.version,
                "error": result.error,
            }
        )
        if progress:
            progress(index + 1, len(architectures))
    usable = [i for i, r in enumerate(results) if r.ok]
    if not usable:
        raise TrainingError("every architecture diverged (loss became NaN); nothing to export")
    best = max(usable, key=lambda i: results[i].score)
    module = ServingModule(task.schema, task.encoder, results[best].network, results[best].architecture.plan.kinds)
    return TrainedModel(metrics, best, module)
