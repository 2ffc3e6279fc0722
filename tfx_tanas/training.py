"""The one training protocol: meta-dataset records, ``tanas train`` and the TFX Trainer all use it.

An architecture's *score* is its validation accuracy averaged over the last
``protocol.score_epochs`` epochs (the patent's "average of the accuracies of the last epochs").
Many architectures can be trained at once on the same task: their networks are stacked and
optimised on the sum of their losses. Each network's gradient depends only on its own loss and
Adam's update is per parameter, so this is the same optimisation as training each alone, with
the whole run one compiled XLA call instead of one dispatch per step and architecture.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tfx_tanas.data import Split, TabularSchema, class_names, clean_frame, stratified_split
from tfx_tanas.errors import InputError, TrainingError
from tfx_tanas.model_builder import ServingModule, TabularEncoder, build_network, num_parameters, used_embeddings
from tfx_tanas.search_space import Architecture
from tfx_tanas.stacked import StackedNetworks

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainingProtocol:
    """Fixed recipe; changing any field makes scores incomparable, hence ``version``."""

    epochs: int = 15
    learning_rate: float = 1e-3
    validation_fraction: float = 0.2
    score_epochs: int = 3
    batches_per_epoch: int = 32
    min_batch_size: int = 32
    max_batch_size: int = 256
    version: int = 1

    def batch_size(self, num_train: int) -> int:
        size = math.ceil(num_train / self.batches_per_epoch)
        return int(min(num_train, max(self.min_batch_size, min(self.max_batch_size, size))))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DEFAULT_PROTOCOL = TrainingProtocol()


@dataclasses.dataclass
class EncodedSplit:
    embeddings: dict[str, np.ndarray]
    labels: np.ndarray


@dataclasses.dataclass
class PreparedTask:
    """A task ready to train on: schema and encoder fitted on the training rows, splits encoded."""

    schema: TabularSchema
    encoder: TabularEncoder
    train: EncodedSplit
    validation: EncodedSplit
    train_frame: pd.DataFrame

    @property
    def num_classes(self) -> int:
        return len(self.schema.classes)

    def encode(self, frame: pd.DataFrame) -> EncodedSplit:
        """Encode another frame (e.g. ``--eval-data``) with this task's fitted schema."""
        if self.schema.label not in frame.columns:
            raise InputError(f"label column '{self.schema.label}' not found in evaluation data")
        frame = frame.loc[frame[self.schema.label].notna()]
        return EncodedSplit(encode_features(self.encoder, frame), self.schema.encode_labels(frame[self.schema.label]))


def encode_features(encoder: TabularEncoder, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    raw = encoder.schema.raw_features(frame)
    tensors = {k: tf.constant(v.astype(str) if v.dtype == object else v) for k, v in raw.items()}
    return {k: v.numpy() for k, v in encoder(tensors).items()}


def prepare_task(frame: pd.DataFrame, label: str, protocol: TrainingProtocol = DEFAULT_PROTOCOL, seed: int = 0) -> PreparedTask:
    """Clean, split (seeded, stratified) and encode a labelled frame."""
    frame = clean_frame(frame, label)
    labels = TabularSchema(label, class_names(frame[label]), [], []).encode_labels(frame[label])
    split: Split = stratified_split(labels, protocol.validation_fraction, seed)
    return prepare_from_splits(frame.iloc[split.train], frame.iloc[split.validation], label)


def prepare_from_splits(train_frame: pd.DataFrame, validation_frame: pd.DataFrame, label: str) -> PreparedTask:
    """Encode given, cleaned splits: schema and encoder are fitted on the training rows only."""
    train_frame = train_frame.reset_index(drop=True)
    validation_frame = validation_frame.reset_index(drop=True)
    classes = class_names(pd.concat([train_frame[label], validation_frame[label]]))
    schema = TabularSchema.fit(train_frame, label, classes)
    encoder = TabularEncoder(schema, ("standard", "quantile", "periodic"))
    return PreparedTask(
        schema=schema,
        encoder=encoder,
        train=EncodedSplit(encode_features(encoder, train_frame), schema.encode_labels(train_frame[label])),
        validation=EncodedSplit(encode_features(encoder, validation_frame), schema.encode_labels(validation_frame[label])),
        train_frame=train_frame,
    )


@dataclasses.dataclass
class TrainResult:
    architecture: Architecture
    score: float  # mean validation accuracy over the last protocol.score_epochs epochs
    validation_history: list[float]
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
    """Train each architecture under ``protocol``; ``group_size`` > 1 stacks up to that many per step
    (fewer where padding them to common shapes would cost more than it saves, see :func:`_stack_groups`).

    A network whose loss becomes NaN gets ``error`` set and score NaN; the others are unaffected.
    ``train_seconds`` of a stacked group is the group's wall time divided among its members.
    """
    widths = task.encoder.widths
    batch = protocol.batch_size(len(task.train.labels))
    steps = protocol.epochs * (len(task.train.labels) // batch)
    chunks = _stack_groups(architectures, widths, task.num_classes, batch, steps, group_size)
    results: dict[int, TrainResult] = {}
    quiet = _QuietRetracing()
    tf.get_logger().addFilter(quiet)
    try:
        for chunk in chunks:
            # every stack gets the same seed: a network's initialization and batch order depend on
            # (seed, architecture) only, not on which networks it is stacked with
            trained = _train_stack(task, [architectures[i] for i in chunk], protocol, seed, keep_networks)
            results.update(zip(chunk, trained))
            if progress:
                progress(len(results), len(architectures))
    finally:
        tf.get_logger().removeFilter(quiet)
    return [results[i] for i in range(len(architectures))]


class _QuietRetracing(logging.Filter):
    """Drops TensorFlow's warning that many calls "triggered tf.function retracing": every stack
    compiles its own function by design, so the advice it gives does not apply here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


# Training a stack costs a fixed tracing + XLA compilation time, and per step a dispatch overhead
# plus time proportional to the padded multiply-adds of all its networks (fitted on a 2-core CPU).
_STACK_OVERHEAD_SECONDS = 1.0
_STEP_OVERHEAD_SECONDS = 1e-3
_FORWARD_MULTIPLY_ADDS_PER_SECOND = 1.2e10


def _stack_groups(
    architectures: Sequence[Architecture], widths: dict[str, int], num_classes: int, batch: int, steps: int, group_size: int
) -> list[list[int]]:
    """Split architectures into stacks of at most ``group_size`` that minimise estimated training time.

    Small tasks are overhead-bound (one big stack is best); large ones are compute-bound, and a
    network padded to a wider neighbour wastes work, so stacks of alike shapes win. Sorting by
    shape, then cutting the sorted list optimally (dynamic programming over cut points), finds that
    balance per task.
    """
    shapes = [_NetworkShape.of(a, widths) for a in architectures]
    order = sorted(range(len(shapes)), key=lambda i: shapes[i].sort_key)
    best = [0.0] + [math.inf] * len(order)
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(max(0, end - group_size), end):
            members = [shapes[i] for i in order[start:end]]
            if any(m.discrete != members[0].discrete for m in members):
                continue
            step = _STEP_OVERHEAD_SECONDS + batch * len(members) * _padded_multiply_adds(members, num_classes) / _FORWARD_MULTIPLY_ADDS_PER_SECOND
            seconds = _STACK_OVERHEAD_SECONDS + steps * step
            if best[start] + seconds < best[end]:
                best[end], cut[end] = best[start] + seconds, start
    groups, end = [], len(order)
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    return groups[::-1]


@dataclasses.dataclass(frozen=True)
class _NetworkShape:
    """What a network's cost in a stack depends on, computed once per architecture."""

    discrete: bool
    embedding: str
    input_width: int
    layers: tuple[tuple[int, str], ...]  # (units, activation) per layer of the discretized network
    mixture_units: tuple[int, ...]  # continuous: per layer, the summed units of the baselines it mixes
    mixed_units: int  # continuous: the widest baseline, every mixture's padded width
    mixed_activations: int  # continuous: every activation of the space is computed

    @classmethod
    def of(cls, arch: Architecture, widths: dict[str, int]) -> _NetworkShape:
        space = arch.space
        discrete = arch.is_discrete
        return cls(
            discrete=discrete,
            embedding=arch.embedding,
            input_width=max(widths[k] for k in used_embeddings(arch)),
            layers=tuple((layer.units, layer.activation) for layer in arch.hidden_layers),
            mixture_units=() if discrete else tuple(
                sum(b.units for b, w in zip(space.baseline_layers, row) if w > 0) for row in arch.alpha
            ),
            mixed_units=space.max_units,
            mixed_activations=len(space.activations),
        )

    @property
    def sort_key(self) -> tuple:
        units = [u for u, _ in self.layers]
        # the first layer reads the (often wide) embedding: its width matters most
        return (not self.discrete, self.embedding, units[:1], max(units, default=0), len(units), units)


def _padded_multiply_adds(shapes: Sequence[_NetworkShape], num_classes: int) -> int:
    """Multiply-adds per example of one network of a stack, after padding to the stack's shapes
    (mirrors :class:`~tfx_tanas.stacked.StackedNetworks`); activations count as one each.
    Continuous mixtures compute every activation of every baseline."""
    width = max(s.input_width for s in shapes)
    total = 0
    if shapes[0].discrete:
        for j in range(max(len(s.layers) for s in shapes)):
            present = [s.layers[j] for s in shapes if len(s.layers) > j]
            out = max(units for units, _ in present)
            total += width * out + out * len({activation for _, activation in present})
            width = max(width, out)
    else:
        mixed, activations = shapes[0].mixed_units, shapes[0].mixed_activations
        for j in range(len(shapes[0].mixture_units)):
            out = max(s.mixture_units[j] for s in shapes)
            total += width * out + out * activations + out * mixed
            width = max(width, mixed)
    return total + width * num_classes


def _train_stack(
    task: PreparedTask, archs: Sequence[Architecture], protocol: TrainingProtocol, seed: int, keep: bool
) -> list[TrainResult]:
    started = time.perf_counter()
    widths = task.encoder.widths
    stack = StackedNetworks(archs, widths, task.num_classes, seed)
    variables = list(stack.trainable_variables)
    optimizer = _Adam(variables, protocol.learning_rate)

    train_x = stack.stack_inputs(task.train.embeddings)
    train_y = tf.constant(task.train.labels.astype(np.int32))
    val_x = stack.stack_inputs(task.validation.embeddings)
    val_y = tf.constant(task.validation.labels.astype(np.int32))
    num_train = len(task.train.labels)
    batch = protocol.batch_size(num_train)
    steps = num_train // batch
    rng = np.random.default_rng(seed)
    # every epoch's shuffled batches up front: the whole run is one compiled call, with no
    # per-step Python dispatch or host sync (what bounds small tasks)
    batches = np.stack([rng.permutation(num_train)[: steps * batch].reshape(steps, batch) for _ in range(protocol.epochs)])
    batches_tensor = tf.constant(batches.astype(np.int32))

    def train_step(rows: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = stack(tf.gather(train_x, rows, axis=1))
            labels = tf.broadcast_to(tf.gather(train_y, rows)[None, :], tf.shape(logits)[:2])
            losses = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), axis=1)
            total = tf.reduce_sum(losses)
        optimizer.apply(tape.gradient(total, variables))
        return losses

    def train_epoch(epoch: tf.Tensor, finite: tf.Tensor, history: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        _, finite = tf.while_loop(
            lambda step, _: step < steps,
            lambda step, finite: (step + 1, finite & tf.math.is_finite(train_step(batches_tensor[epoch, step]))),
            (tf.constant(0), finite),
        )
        predicted = tf.argmax(stack(val_x), axis=-1, output_type=tf.int32)
        correct = tf.reduce_mean(tf.cast(tf.equal(predicted, val_y[None, :]), tf.float32), axis=1)
        return epoch + 1, finite, tf.tensor_scatter_nd_update(history, [[epoch]], correct[None, :])

    @tf.function(jit_compile=True, autograph=False)
    def train() -> tuple[tf.Tensor, tf.Tensor]:
        start = (tf.constant(0), tf.ones(len(archs), tf.bool), tf.zeros((protocol.epochs, len(archs))))
        _, finite, history = tf.while_loop(lambda epoch, *_: epoch < protocol.epochs, train_epoch, start)
        return finite, history

    finite, history = (t.numpy() for t in train())
    diverged = ~finite
    seconds = (time.perf_counter() - started) / len(archs)
    results = []
    for i, arch in enumerate(archs):
        results.append(
            TrainResult(
                architecture=arch,
                score=float("nan") if diverged[i] else float(history[-protocol.score_epochs :, i].mean()),
                validation_history=[round(float(v), 6) for v in history[:, i]],
                train_seconds=seconds,
                num_params=num_parameters(arch, widths, task.num_classes),
                network=stack.to_keras(i) if keep else None,
                error="loss became NaN or infinite" if diverged[i] else None,
            )
        )
    return results


def train_with_keras_fit(task: PreparedTask, arch: Architecture, protocol: TrainingProtocol = DEFAULT_PROTOCOL, seed: int = 0) -> TrainResult:
    """The plain way: one Keras model, ``compile`` + ``fit`` under the same protocol.

    The reference the stacked trainer is measured against (speed and accuracy); slower, same result
    up to initialization and shuffling noise.
    """
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    network = build_network(arch, task.encoder.widths, task.num_classes)
    network.compile(
        optimizer=keras.optimizers.Adam(protocol.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    kinds = used_embeddings(arch)
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
        score=float(np.mean(validation[-protocol.score_epochs :])),
        validation_history=validation,
        train_seconds=time.perf_counter() - started,
        num_params=network.count_params(),
        network=network,
    )


class _Adam:
    """Adam (Kingma & Ba) with Keras' defaults, on plain ``tf.Variable``s.

    Adam's update is elementwise, so on stacked networks it is exactly per-network Adam.
    """

    def __init__(self, variables: list[tf.Variable], learning_rate: float, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        self.variables = variables
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.first = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.second = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.steps = tf.Variable(0.0, trainable=False)

    def apply(self, gradients: list[tf.Tensor]) -> None:
        self.steps.assign_add(1.0)
        step_size = self.learning_rate * tf.sqrt(1 - self.beta_2**self.steps) / (1 - self.beta_1**self.steps)
        for variable, gradient, first, second in zip(self.variables, gradients, self.first, self.second):
            first.assign(self.beta_1 * first + (1 - self.beta_1) * gradient)
            second.assign(self.beta_2 * second + (1 - self.beta_2) * tf.square(gradient))
            variable.assign_sub(step_size * first / (tf.sqrt(second) + self.epsilon))


def accuracy(task: PreparedTask, result: TrainResult, split: EncodedSplit) -> float:
    """Accuracy of a kept network on an encoded split."""
    if result.network is None:
        raise ValueError("train with keep_networks=True to evaluate a network afterwards")
    kinds = used_embeddings(result.architecture)
    logits = result.network.predict({k: split.embeddings[k] for k in kinds}, verbose=0, batch_size=4096)
    return float((np.argmax(logits, axis=-1) == split.labels).mean())


@dataclasses.dataclass
class TrainedModel:
    """A metrics row per architecture, and the best one's serving module (save it with
    :func:`~tfx_tanas.model_builder.export_serving_model` or ``save_serving_model``)."""

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
    task = prepare_task(frame, label, protocol, seed)
    evaluation = task.encode(clean_frame(eval_frame, label)) if eval_frame is not None else task.validation
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
                "eval_accuracy": round(accuracy(task, result, evaluation), 6) if result.ok else None,
                "eval_split": "eval-data" if eval_frame is not None else "validation",
                "train_seconds": round(result.train_seconds, 3),
                "num_params": result.num_params,
                "epochs": protocol.epochs,
                "error": result.error,
            }
        )
        if progress:
            progress(index + 1, len(architectures))
    usable = [i for i, r in enumerate(results) if r.ok]
    if not usable:
        raise TrainingError("every architecture diverged (loss became NaN); nothing to export")
    best = max(usable, key=lambda i: results[i].score)
    module = ServingModule(task.schema, task.encoder, results[best].network, used_embeddings(results[best].architecture))
    return TrainedModel(metrics, best, module)
