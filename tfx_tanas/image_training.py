"""Train image architectures under the image protocol, and keep the best one for serving (claim 15).

The protocol's rule, as for tables: ``evaluations`` segments of a step budget that grows with the
data, the weights of the segment with the lowest validation loss restored, the score their
validation accuracy. Networks of one learning rate and weight decay train side by side as one
Keras model (:func:`train_image_architectures`), which shares the per-step overhead.
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


STACK_SIZE = 8  # image networks trained as one Keras model (benchmarks/image_stacking.py)


def train_image_architectures(
    train: ImageSet,
    validation: ImageSet,
    architectures: Sequence[Architecture],
    protocol: TrainingProtocol = IMAGE_PROTOCOL,
    seed: int = 0,
    keep_networks: bool = False,
    progress: Callable[[int, int], None] | None = None,
    stack_size: int = STACK_SIZE,
) -> list[TrainResult]:
    """Train each architecture on ``train``, score it on ``validation``; a network whose loss
    becomes NaN gets ``error`` set and score NaN, the others are unaffected.

    Networks sharing a learning rate and weight decay train up to ``stack_size`` at a time as one
    Keras model with one output each: the loss is the sum of theirs, so each network's gradients,
    Adam state and weight decay are its own, every network sees the same batches, and it starts
    from weights seeded by (``seed``, its architecture): it trains as it would alone, only the
    per-step overhead is shared."""
    groups: dict[tuple[float, float], list[int]] = {}
    for index, arch in enumerate(architectures):
        groups.setdefault((arch.plan.learning_rate, arch.plan.weight_decay), []).append(index)
    results: dict[int, TrainResult] = {}
    for members in groups.values():
        for start in range(0, len(members), max(1, stack_size)):
            chunk = members[start : start + max(1, stack_size)]
            for index, result in zip(chunk, _train_stack([architectures[i] for i in chunk], train, validation, protocol, seed, keep_networks)):
                results[index] = result
            if progress:
                progress(len(results), len(architectures))
    return [results[i] for i in range(len(architectures))]


def _train_stack(
    architectures: Sequence[Architecture], train: ImageSet, validation: ImageSet, protocol: TrainingProtocol, seed: int, keep_networks: bool
) -> list[TrainResult]:
    networks = []
    for position, arch in enumerate(architectures):
        keras.utils.set_random_seed(_network_seed(seed, arch))
        networks.append(build_image_network(arch.plan, train.image_shape, train.num_classes, name=f"net{position}"))
    keras.utils.set_random_seed(seed)  # the batch order: the same for every stack
    image = keras.Input(train.image_shape, name="image")
    model = keras.Model(image, {network.name: network(image) for network in networks})
    plan = architectures[0].plan
    optimizer = keras.optimizers.AdamW(plan.learning_rate, weight_decay=plan.weight_decay) if plan.weight_decay else keras.optimizers.Adam(plan.learning_rate)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss={n.name: loss for n in networks}, metrics={n.name: ["accuracy"] for n in networks})
    evaluations, steps = protocol.schedule(len(train.labels))
    batch = protocol.batch_size(len(train.labels))
    batches = tf.data.Dataset.from_tensor_slices((_floats(train), {n.name: train.labels for n in networks}))
    best = _BestByValidationLoss(networks)
    started = time.perf_counter()
    model.fit(
        batches.shuffle(len(train.labels), seed=seed).repeat().batch(batch).prefetch(2), epochs=evaluations, steps_per_epoch=steps,
        validation_data=(_floats(validation), {n.name: validation.labels for n in networks}), validation_batch_size=512, callbacks=[best], verbose=0,
    )
    seconds = (time.perf_counter() - started) / len(networks)
    results = []
    for position, (arch, network) in enumerate(zip(architectures, networks)):
        losses, accuracies = np.array(best.losses[position]), np.array(best.accuracies[position])
        diverged = not np.isfinite(losses).all() or best.weights[position] is None
        if not diverged:
            network.set_weights(best.weights[position])
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
    return results


def _network_seed(seed: int, arch: Architecture) -> int:
    """A network's initial weights depend on the run's seed and its architecture only."""
    return (seed * 1_000_003 + int(arch.key, 16)) % (2**31)


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
    """Per stacked network: its validation curve, and the weights of the epoch (segment) with its
    lowest finite validation loss."""

    def __init__(self, networks: Sequence[keras.Model]):
        super().__init__()
        self.networks = list(networks)
        self.losses: list[list[float]] = [[] for _ in networks]
        self.accuracies: list[list[float]] = [[] for _ in networks]
        self.weights: list[list[np.ndarray] | None] = [None for _ in networks]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        alone = len(self.networks) == 1  # Keras names a single output's figures without a prefix
        for position, network in enumerate(self.networks):
            prefix = "val_" if alone else f"val_{network.name}_"
            loss = float(logs.get(f"{prefix}loss", np.nan))
            self.losses[position].append(loss)
            self.accuracies[position].append(float(logs.get(f"{prefix}accuracy", np.nan)))
            finite = [v for v in self.losses[position][:-1] if np.isfinite(v)]
            if np.isfinite(loss) and loss < min(finite, default=np.inf):
                self.weights[position] = network.get_weights()


def _floats(images: ImageSet) -> np.ndarray:
    return images.images.astype(np.float32) / 255.0


def _resized(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    resized = tf.image.resize(images, shape[:2]).numpy()
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)
