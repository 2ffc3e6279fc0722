"""Train image architectures under the image protocol, and keep the best one for serving (claim 15).

The protocol's rule, as for tables: ``evaluations`` segments of a step budget that grows with the
data, the weights of the segment with the lowest validation loss restored, the score their
validation accuracy. Each network trains on its own (convolutions do not stack as cheaply as the
tabular Dense stacks: one network already keeps a CPU busy).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfx_tanas.data import stratified_split
from tfx_tanas.image_data import DEFAULT_IMAGE_FEATURE, ImageSet
from tfx_tanas.image_network import build_image_network
from tfx_tanas.protocol import IMAGE_PROTOCOL, TrainingProtocol
from tfx_tanas.search_space import Architecture
from tfx_tanas.serving import ImageServingModule
from tfx_tanas.training import TrainedModel, TrainResult

log = logging.getLogger(__name__)


def split_images(images: ImageSet, protocol: TrainingProtocol = IMAGE_PROTOCOL, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """The seeded, stratified training/validation split of the protocol."""
    split = stratified_split(images.labels, protocol.validation_fraction, seed)
    return images.subset(split.train), images.subset(split.validation)


def train_image_architectures(
    train: ImageSet,
    validation: ImageSet,
    architectures: Sequence[Architecture],
    protocol: TrainingProtocol = IMAGE_PROTOCOL,
    seed: int = 0,
    keep_networks: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[TrainResult]:
    """Train each architecture on ``train``, score it on ``validation``; a network whose loss
    becomes NaN gets ``error`` set and score NaN, the others are unaffected."""
    x_train, x_validation = _floats(train), _floats(validation)
    evaluations, steps = protocol.schedule(len(train.labels))
    batch = protocol.batch_size(len(train.labels))
    results = []
    for index, arch in enumerate(architectures):
        keras.utils.set_random_seed(seed)
        network = build_image_network(arch.plan, train.image_shape, train.num_classes)
        plan = arch.plan
        optimizer = keras.optimizers.AdamW(plan.learning_rate, weight_decay=plan.weight_decay) if plan.weight_decay else keras.optimizers.Adam(plan.learning_rate)
        network.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        batches = tf.data.Dataset.from_tensor_slices((x_train, train.labels)).shuffle(len(train.labels), seed=seed).repeat().batch(batch)
        best = _BestByValidationLoss()
        started = time.perf_counter()
        history = network.fit(
            batches.prefetch(2), epochs=evaluations, steps_per_epoch=steps, validation_data=(x_validation, validation.labels),
            validation_batch_size=512, callbacks=[best], verbose=0,
        )
        seconds = time.perf_counter() - started
        losses, accuracies = np.array(history.history["val_loss"]), np.array(history.history["val_accuracy"])
        diverged = not np.isfinite(losses).all() or best.weights is None
        if not diverged:
            network.set_weights(best.weights)
        results.append(
            TrainResult(
                architecture=arch,
                score=float("nan") if diverged else float(accuracies[int(np.argmin(losses))]),
                validation_history=[round(float(v), 6) for v in accuracies],
                train_seconds=seconds,
                num_params=int(network.count_params()),
                network=network if keep_networks else None,
                error="loss became NaN or infinite" if diverged else None,
            )
        )
        if progress:
            progress(index + 1, len(architectures))
    return results


def image_scores(images: ImageSet, architectures: Sequence[Architecture], protocol: TrainingProtocol = IMAGE_PROTOCOL, seed: int = 0) -> list[TrainResult]:
    """Every architecture's score on a task (its protocol split): what meta-training records."""
    train, validation = split_images(images, protocol, seed)
    return train_image_architectures(train, validation, architectures, protocol, seed)


def train_and_select_images(
    images: ImageSet,
    architectures: Sequence[Architecture],
    eval_images: ImageSet | None = None,
    protocol: TrainingProtocol = IMAGE_PROTOCOL,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    image_feature: str = DEFAULT_IMAGE_FEATURE,
) -> TrainedModel:
    """Train the architectures, keep the best validation score (never the evaluation data), and
    wrap it for serving on tf.Examples carrying encoded images in ``image_feature``."""
    train, validation = split_images(images, protocol, seed)
    evaluation = eval_images if eval_images is not None else validation
    if evaluation.image_shape != images.image_shape:
        evaluation = ImageSet(_resized(evaluation.images, images.image_shape), evaluation.labels, evaluation.classes, evaluation.num_available)
    results = train_image_architectures(train, validation, architectures, protocol, seed, keep_networks=True, progress=progress)
    evaluations, steps = protocol.schedule(len(train.labels))
    metrics = []
    for index, (arch, result) in enumerate(zip(architectures, results)):
        accuracy = None
        if result.ok:
            logits = result.network.predict(_floats(evaluation), verbose=0, batch_size=512)
            accuracy = round(float((np.argmax(logits, axis=-1) == evaluation.labels).mean()), 6)
        metrics.append(
            {
                "index": index, "architecture": arch.describe(), "key": arch.key, "validation_score": round(result.score, 6),
                "eval_accuracy": accuracy, "eval_split": "eval-data" if eval_images is not None else "validation",
                "train_seconds": round(result.train_seconds, 3), "num_params": result.num_params, "epochs": None,
                "steps": evaluations * steps, "protocol_version": protocol.version, "error": result.error,
            }
        )
    usable = [i for i, r in enumerate(results) if r.ok]
    if not usable:
        from tfx_tanas.errors import TrainingError

        raise TrainingError("every architecture diverged (loss became NaN); nothing to export")
    best = max(usable, key=lambda i: results[i].score)
    module = ImageServingModule(results[best].network, images.image_shape, images.classes, image_feature)
    return TrainedModel(metrics, best, module)


class _BestByValidationLoss(keras.callbacks.Callback):
    """Keeps the weights of the epoch (segment) with the lowest finite validation loss."""

    def __init__(self):
        super().__init__()
        self.best_loss, self.weights = np.inf, None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss", np.nan)
        if np.isfinite(loss) and loss < self.best_loss:
            self.best_loss, self.weights = loss, self.model.get_weights()


def _floats(images: ImageSet) -> np.ndarray:
    return images.images.astype(np.float32) / 255.0


def _resized(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    resized = tf.image.resize(images, shape[:2]).numpy()
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)
