"""The evaluator network: (meta-features z, architecture encoding u) -> predicted score (claim 10).

A small ensemble of fully connected networks (default 50-50-50-10 -> 1, as in the patent), trained
with Adam. ``loss="squared_error"`` is the patent's objective; ``"pairwise"`` adds a ranking
term over pairs of architectures of the same task, ``"within_task"`` the squared error of each
score's deviation from its task's mean, in units of the task's spread: search only needs the order
of architectures on one task, and a plain squared error spends most of its effort on how hard each
task is.

The networks read u through a few differentiable shape figures (:class:`ArchitectureSummary`), not
the raw one-hot alphas, and the task description with Gaussian noise while training: with ~150
training tasks, both raw inputs let the network memorize task-specific noise (leave-task-out
Spearman 0.27 for the previous design that read them raw, 0.36 for this one on the same
single-measurement records, 0.39 on the shipped ones; ``benchmarks/evaluator_cv.py``).
Like a NASLib predictor it is ``fit`` then ``predict``; it saves to and loads from one directory
that records the search space and meta-feature version it was trained for.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.feature_generator import EMBEDDING_WIDTH, build_set_encoder
from tfx_tanas.meta_features import META_FEATURE_NAMES, META_FEATURE_VERSION
from tfx_tanas.search_space import SearchSpace

log = logging.getLogger(__name__)

EVALUATOR_FORMAT_VERSION = 2  # 2: head reads shape figures of u, Adam
LOSSES = ("squared_error", "pairwise", "within_task")
META_FEATURE_MODES = ("tfdv", "learned", "both")
_TF_ACTIVATIONS = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "linear": tf.identity}


@dataclasses.dataclass(frozen=True)
class EvaluatorConfig:
    hidden_units: tuple[int, ...] = (50, 50, 50, 10)
    loss: str = "within_task"  # the shipped choice (benchmarks/evaluator_cv.py); "squared_error" is the patent's
    meta_features: str = "tfdv"  # "tfdv": TFDV meta-features, "learned": set encoder (claim 11), or "both"
    learning_rate: float = 1e-3
    epochs: int = 100
    batch_size: int = 64
    ensemble_size: int = 1
    ranking_weight: float = 3.0  # weight of the within-task term of loss="pairwise" or "within_task"
    context_noise: float = 1.0  # std of Gaussian noise on the normalized task description while training
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise InputError(f"evaluator loss must be one of {LOSSES}, got {self.loss!r}")
        if self.meta_features not in META_FEATURE_MODES:
            raise InputError(f"evaluator meta_features must be one of {META_FEATURE_MODES}, got {self.meta_features!r}")
        if not 0.0 <= self.context_noise <= 1.0:  # the range Keras's GaussianNoise accepts
            raise InputError(f"evaluator context_noise must lie in [0, 1], got {self.context_noise}")
        if self.ensemble_size < 1 or not self.hidden_units:
            raise InputError("evaluator needs ensemble_size >= 1 and at least one hidden layer")

    @property
    def uses_statistics(self) -> bool:
        return self.meta_features in ("tfdv", "both")

    @property
    def uses_learned(self) -> bool:
        return self.meta_features in ("learned", "both")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluatorConfig:
        data = dict(data)
        data["hidden_units"] = tuple(data.get("hidden_units", cls.hidden_units))
        return cls(**data)


@dataclasses.dataclass
class Prediction:
    mean: np.ndarray
    std: np.ndarray  # spread across the ensemble members (0 for a single network)


@dataclasses.dataclass
class _Member:
    """One ensemble member: the head network and, for learned meta-features, its set encoder."""

    head: keras.Model
    encoder: keras.Model | None

    @property
    def trainable_variables(self) -> list:
        return self.head.trainable_variables + (self.encoder.trainable_variables if self.encoder else [])


class Evaluator:
    """Predicts how well an architecture does on a task described by its meta-features."""

    def __init__(
        self,
        space: SearchSpace,
        config: EvaluatorConfig = EvaluatorConfig(),
        meta_feature_names: tuple[str, ...] = META_FEATURE_NAMES,
    ):
        self.space = space
        self.config = config
        self.meta_feature_names = tuple(meta_feature_names)
        self.meta_feature_version = META_FEATURE_VERSION
        self.z_mean = np.zeros(len(self.meta_feature_names), np.float32)
        self.z_std = np.ones(len(self.meta_feature_names), np.float32)
        self.z_min = np.full(len(self.meta_feature_names), -np.inf, np.float32)
        self.z_max = np.full(len(self.meta_feature_names), np.inf, np.float32)
        self.training_summary: dict[str, Any] = {}
        self.members = [self._build_member(i) for i in range(config.ensemble_size)]

    @property
    def context_size(self) -> int:
        """Width of the task description the head reads: TFDV meta-features and/or the learned embedding."""
        return len(self.meta_feature_names) * self.config.uses_statistics + EMBEDDING_WIDTH * self.config.uses_learned

    def _build_member(self, index: int) -> _Member:
        """[task description, u] -> score = level(task) + spread(task) * merit(task, u).

        level and spread say how well and how differently architectures do on the task; merit ranks
        architectures within it, so it alone decides a search. The merit branch reads u through
        :class:`ArchitectureSummary` and the task description with Gaussian noise while training.
        """
        keras.utils.set_random_seed(self.config.seed + index)
        inputs = keras.Input((self.context_size + self.space.encoding_size,))
        summary = ArchitectureSummary(self.space)(inputs[:, self.context_size :])
        if self.context_size:
            context = keras.layers.GaussianNoise(self.config.context_noise)(inputs[:, : self.context_size])
            h = keras.layers.Concatenate()([context, summary])
            t = keras.layers.Dense(self.config.hidden_units[0], activation="relu", name="task_hidden")(context)
            task = keras.layers.Dense(2, name="task_output")(t)
        else:  # no task description: one level and spread for all tasks
            h = summary
            task = keras.layers.Dense(2, name="task_output")(keras.ops.zeros_like(summary[:, :1]))
        for number, units in enumerate(self.config.hidden_units):
            h = keras.layers.Dense(units, activation="relu", name=f"merit_hidden_{number}")(h)
        merit = keras.layers.Dense(1, name="merit_output")(h)[:, 0]
        level, spread = _level_and_spread(task)
        head = keras.Model(inputs, {"score": level + spread * merit, "merit": merit}, name=f"evaluator_{index}")
        encoder = build_set_encoder(self.config.seed + index) if self.config.uses_learned else None
        return _Member(head, encoder)

    # ---- fit / predict ----------------------------------------------------------------------
    def fit(
        self,
        meta_features: np.ndarray,
        encodings: np.ndarray,
        scores: np.ndarray,
        groups: np.ndarray,
        task_samples: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Fit every ensemble member (each on its own bootstrap of tasks when there are several).

        ``task_samples`` (task name -> :func:`~tfx_tanas.feature_generator.task_sample`) are needed
        when the evaluator learns its meta-features: the set encoder trains jointly with the head.
        """
        meta_features = np.asarray(meta_features, np.float32)
        encodings = np.asarray(encodings, np.float32)
        if encodings.shape[1] != self.space.encoding_size:
            raise VersionMismatchError(
                f"records encode architectures with {encodings.shape[1]} values; this search space uses "
                f"{self.space.encoding_size}"
            )
        self.z_mean = meta_features.mean(axis=0)
        std = meta_features.std(axis=0)
        self.z_std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
        self.z_min, self.z_max = meta_features.min(axis=0), meta_features.max(axis=0)
        task_names, group_ids = np.unique(groups, return_inverse=True)
        group_ids = group_ids.astype(np.int32)
        samples = None
        if self.config.uses_learned:
            missing = [t for t in task_names if task_samples is None or t not in task_samples]
            if missing:
                raise InputError(f"learned meta-features need a data sample of every task; missing {missing[:3]}")
            samples = np.stack([task_samples[t] for t in task_names])
        statistics = self.normalized(meta_features)
        y = np.asarray(scores, np.float32)
        rng = np.random.default_rng(self.config.seed)
        tasks = np.arange(len(task_names))
        for index, member in enumerate(self.members):
            if len(self.members) > 1:
                chosen = rng.choice(tasks, size=len(tasks), replace=True)
                rows = np.concatenate([np.flatnonzero(group_ids == t) for t in chosen])
            else:
                rows = np.arange(len(y))
            _fit_member(self, member, statistics[rows], encodings[rows], y[rows], group_ids[rows], samples, seed=self.config.seed + index)
        self.training_summary = {"num_records": int(len(y)), "num_tasks": int(len(task_names))}

    def predict(self, meta_features: np.ndarray, encodings: np.ndarray, task_sample: np.ndarray | None = None) -> Prediction:
        """Scores for rows of (meta-features, encoding); one meta-feature vector broadcasts."""
        encodings = np.atleast_2d(np.asarray(encodings, np.float32))
        meta_features = np.atleast_2d(np.asarray(meta_features, np.float32))
        if meta_features.shape[0] == 1:
            meta_features = np.repeat(meta_features, len(encodings), axis=0)
        statistics = tf.constant(self.normalized(meta_features))
        sample = self._checked_sample(task_sample)
        outputs = np.stack(
            [m.head(self._inputs(m, statistics, encodings, sample, None), training=False)["score"].numpy() for m in self.members]
        )
        return Prediction(outputs.mean(axis=0), outputs.std(axis=0))

    def frozen_scorer(self, normalized_meta_features: np.ndarray, task_sample: np.ndarray | None = None) -> Callable[[tf.Tensor], tf.Tensor]:
        """``u -> ensemble mean score`` for one task, as plain TF ops on constant weights.

        For gradient ascent: the evaluator is frozen by construction, and tracing a few matmuls
        costs far less than tracing the Keras models (it dominated a search's time).
        """
        sample = self._checked_sample(task_sample)
        summary = ArchitectureSummary(self.space)
        members = []
        for member in self.members:
            parts = [np.asarray(normalized_meta_features, np.float32)] if self.config.uses_statistics else []
            if member.encoder is not None:
                parts.append(member.encoder(sample, training=False).numpy()[0])
            context = np.concatenate(parts) if parts else np.zeros(0, np.float32)
            dense = [member.head.get_layer(f"merit_hidden_{n}") for n in range(len(self.config.hidden_units))]
            dense.append(member.head.get_layer("merit_output"))
            members.append(
                (
                    tf.constant(context),
                    *_task_level_and_spread(member.head, context),  # constants for this search
                    [(tf.constant(d.kernel.numpy()), tf.constant(d.bias.numpy()), _TF_ACTIVATIONS[d.activation.__name__]) for d in dense],
                )
            )

        def score(encodings: tf.Tensor) -> tf.Tensor:
            encodings = tf.cast(encodings, tf.float32)
            batch = tf.shape(encodings)[0]
            shape = summary.call(encodings)
            outputs = []
            for context, level, spread, layers in members:
                h = tf.concat([tf.repeat(context[None, :], batch, axis=0), shape], axis=1)
                for kernel, bias, activation in layers:
                    h = activation(tf.matmul(h, kernel) + bias)
                outputs.append(level + spread * h[:, 0])
            return tf.add_n(outputs) / len(members)

        return score

    def _checked_sample(self, task_sample: np.ndarray | None) -> tf.Tensor | None:
        if not self.config.uses_learned:
            return None
        if task_sample is None:
            raise InputError("this evaluator learns its meta-features: it needs a data sample of the task")
        return tf.constant(np.asarray(task_sample, np.float32)[None])

    def _inputs(self, member: _Member, statistics, encodings, samples, sample_index) -> tf.Tensor:
        """Head input rows: [normalized statistics?, learned embedding?, u]."""
        parts = [statistics] if self.config.uses_statistics else []
        if member.encoder is not None:
            embeddings = member.encoder(samples, training=False)
            if sample_index is None:
                embeddings = tf.repeat(embeddings, tf.shape(encodings)[0], axis=0)
            else:
                embeddings = tf.gather(embeddings, sample_index)
            parts.append(embeddings)
        return tf.concat([*parts, tf.cast(encodings, tf.float32)], axis=1)

    def normalized(self, meta_features: np.ndarray) -> np.ndarray:
        """Meta-features z-scored with the training records' mean and std."""
        return ((np.asarray(meta_features, np.float32) - self.z_mean) / self.z_std).astype(np.float32)

    def out_of_range(self, meta_features: np.ndarray) -> list[str]:
        """Meta-features outside the range seen in training (predictions there are extrapolations)."""
        meta_features = np.asarray(meta_features, np.float32)
        margin = 0.05 * (self.z_max - self.z_min)
        outside = (meta_features < self.z_min - margin) | (meta_features > self.z_max + margin)
        return [name for name, flag in zip(self.meta_feature_names, outside) if flag]

    # ---- persistence ------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for index, member in enumerate(self.members):
            member.head.save_weights(directory / f"member_{index}.weights.h5")
            if member.encoder is not None:
                member.encoder.save_weights(directory / f"member_{index}.encoder.weights.h5")
        manifest = {
            "format_version": EVALUATOR_FORMAT_VERSION,
            "search_space": self.space.to_dict(),
            "search_space_fingerprint": self.space.fingerprint,
            "meta_feature_version": self.meta_feature_version,
            "meta_feature_names": list(self.meta_feature_names),
            "config": dataclasses.asdict(self.config),
            "normalization": {
                "mean": self.z_mean.tolist(),
                "std": self.z_std.tolist(),
                "min": self.z_min.tolist(),
                "max": self.z_max.tolist(),
            },
            "training_summary": self.training_summary,
        }
        (directory / "evaluator.json").write_text(json.dumps(manifest, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, space: SearchSpace | None = None) -> Evaluator:
        """Load; refuses an evaluator made for another search space or meta-feature version."""
        directory = Path(directory)
        manifest_path = directory / "evaluator.json"
        if not manifest_path.exists():
            raise InputError(f"not an evaluator directory (no evaluator.json): {directory}")
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"evaluator manifest is malformed: {manifest_path} ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format_version") != EVALUATOR_FORMAT_VERSION:
            found = manifest.get("format_version") if isinstance(manifest, dict) else None
            raise VersionMismatchError(
                f"evaluator format {found} is not supported (this version reads {EVALUATOR_FORMAT_VERSION}); "
                "regenerate it with `tanas build-evaluator`"
            )
        try:
            saved_space = SearchSpace.from_dict(manifest["search_space"])
            config = EvaluatorConfig.from_dict(manifest["config"])
            names = tuple(manifest["meta_feature_names"])
            version = int(manifest["meta_feature_version"])
        except (KeyError, TypeError) as err:
            raise InputError(f"evaluator manifest is malformed: {manifest_path} ({err})") from None
        if space is not None and saved_space != space:
            raise VersionMismatchError(
                f"evaluator was trained for search space {saved_space.fingerprint}, not {space.fingerprint}"
            )
        if version != META_FEATURE_VERSION or names != META_FEATURE_NAMES:
            raise VersionMismatchError(
                f"evaluator was trained on meta-features version {version}; this is version {META_FEATURE_VERSION}"
            )
        evaluator = cls(saved_space, config, names)
        norm = manifest["normalization"]
        evaluator.z_mean, evaluator.z_std = np.float32(norm["mean"]), np.float32(norm["std"])
        evaluator.z_min, evaluator.z_max = np.float32(norm["min"]), np.float32(norm["max"])
        evaluator.training_summary = manifest.get("training_summary", {})
        try:
            for index, member in enumerate(evaluator.members):
                member.head.load_weights(directory / f"member_{index}.weights.h5")
                if member.encoder is not None:
                    member.encoder.load_weights(directory / f"member_{index}.encoder.weights.h5")
        except ValueError:  # Keras: saved shapes differ from this version's evaluator network
            raise VersionMismatchError(
                f"evaluator weights in {directory} do not fit this version's evaluator network; "
                "regenerate it with `tanas build-evaluator`"
            ) from None
        except OSError as err:
            raise InputError(f"evaluator weights unreadable in {directory} ({err})") from None
        return evaluator


class ArchitectureSummary(keras.layers.Layer):
    """Differentiable shape figures of an encoding u: depth, expected log-width and activation mix.

    The flat one-hot encoding hides that 64 units lie between 32 and 128; these few numbers make it
    explicit, so the evaluator generalizes across neighbouring architectures. They are smooth in u,
    so gradient ascent still flows through them.
    """

    def __init__(self, space: SearchSpace, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.shape_ = (space.num_layers, space.num_baselines)
        baselines = space.baseline_layers
        log_units = np.log2([b.units for b in baselines]) / np.log2(space.max_units)
        activations = np.array([[b.activation == a for a in space.activations] for b in baselines], np.float32)
        self.log_units = tf.constant(log_units, tf.float32)
        self.activations = tf.constant(activations)

    def call(self, encoding):
        J, p = self.shape_
        alpha = tf.reshape(encoding[:, : J * p], (-1, J, p))
        beta = encoding[:, J * p : J * p + J]
        width = tf.reduce_sum(alpha * self.log_units, axis=-1)  # [batch, J]
        activation_mix = tf.einsum("bjp,pa->bja", alpha, self.activations)
        return tf.concat(
            [
                tf.reduce_mean(beta, axis=1, keepdims=True),
                tf.reduce_sum(beta * width, axis=1, keepdims=True) / J,
                tf.reduce_max(beta * width, axis=1, keepdims=True),
                beta * width,  # per layer
                tf.reduce_sum(beta[:, :, None] * activation_mix, axis=1) / J,
                encoding[:, J * p + J :],  # gamma: the embedding mix
            ],
            axis=1,
        )


def _fit_member(
    evaluator: Evaluator,
    member: _Member,
    statistics: np.ndarray,
    encodings: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    samples: np.ndarray | None,
    seed: int,
) -> None:
    """Adam on the squared error of the score; ``within_task`` adds the squared error of the merit
    against the score's standing within its task (deviation from the task's mean in units of its
    spread, so every task counts alike, as in the within-task Spearman that measures the evaluator);
    ``pairwise`` adds a ranking term on the merit over pairs of architectures of the same task."""
    config = evaluator.config
    optimizer = keras.optimizers.Adam(config.learning_rate)
    variables = member.trainable_variables
    optimizer.build(variables)
    all_samples = tf.constant(samples) if samples is not None else None
    standing = np.zeros_like(y)
    for g in np.unique(groups):
        rows = groups == g
        standing[rows] = (y[rows] - y[rows].mean()) / (y[rows].std() + 0.02)

    @tf.function(reduce_retracing=True)
    def step(zb, ub, yb, sb, gb):
        with tf.GradientTape() as tape:
            # the set encoder runs on every task's sample once per step, then rows pick theirs
            outputs = member.head(evaluator._inputs(member, zb, ub, all_samples, gb), training=True)
            loss = tf.reduce_mean(tf.square(outputs["score"] - yb))
            if config.loss == "within_task":
                loss += config.ranking_weight * tf.reduce_mean(tf.square(outputs["merit"] - sb))
            elif config.loss == "pairwise":
                mask = tf.cast(tf.equal(gb[:, None], gb[None, :]) & (yb[:, None] - yb[None, :] > 0.005), tf.float32)
                margin = outputs["merit"][:, None] - outputs["merit"][None, :]
                loss += config.ranking_weight * tf.reduce_sum(mask * tf.nn.softplus(-margin)) / tf.maximum(tf.reduce_sum(mask), 1.0)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(seed)
    batch = min(config.batch_size, len(y))
    for _ in range(config.epochs):
        order = _task_clustered_order(groups, rng) if config.loss == "pairwise" else rng.permutation(len(y))
        for start in range(0, len(y) - batch + 1, batch):
            rows = order[start : start + batch]
            step(statistics[rows], encodings[rows], y[rows], standing[rows], groups[rows])


def _task_level_and_spread(head: keras.Model, context: np.ndarray) -> tuple[float, float]:
    """The head's task branch in NumPy: how well, and how differently, architectures do on the task."""
    task = head.get_layer("task_output")
    if context.size:
        hidden = head.get_layer("task_hidden")
        t = np.maximum(context @ hidden.kernel.numpy() + hidden.bias.numpy(), 0.0) @ task.kernel.numpy() + task.bias.numpy()
    else:
        t = task.bias.numpy()
    level, spread = _level_and_spread(t)
    return float(level), float(spread)


def _level_and_spread(task_output):
    """The task branch's two outputs as a level in (0, 1) and a positive spread (the model and
    :func:`_task_level_and_spread` share it)."""
    return keras.ops.sigmoid(task_output[..., 0]), 0.1 * keras.ops.softplus(task_output[..., 1])


def _task_clustered_order(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle within tasks, then lay tasks out in random order, so batches hold comparable pairs."""
    order = []
    for task in rng.permutation(np.unique(groups)):
        order.append(rng.permutation(np.flatnonzero(groups == task)))
    return np.concatenate(order)
