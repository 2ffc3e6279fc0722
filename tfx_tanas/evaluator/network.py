"""One ensemble member: (task description, architecture encoding u) -> (score, merit), one forward pass.

``score = level(task) + spread(task) * merit(task, u)``. level and spread (a small branch on the
task description) say how well, and how differently, architectures do on the task; merit (the
patent's 50-50-50-10 network) ranks architectures within it, so it alone decides a search.

Merit reads u through a few differentiable shape figures (:class:`ArchitectureSummary`), not the
raw one-hot alphas, and the task description with Gaussian noise while training: with ~150
training tasks, both raw inputs let the network memorize task-specific noise (leave-task-out
Spearman 0.27 for the previous design that read them raw, 0.36 for this one on the same
single-measurement records, 0.39 on the shipped ones; ``benchmarks/evaluator_cv.py``).

Training calls :meth:`MemberNetwork.__call__` on each member; ``predict`` and gradient search call
the same methods on :meth:`MemberNetwork.stacked`, the members' weights stacked along a leading
axis, so the ensemble runs as one batched pass (search traces one op per layer, not per member).
Search runs :meth:`~MemberNetwork.merit_given_task` on the figures of u computed once for the whole
ensemble (the figures hold no weights). So what search differentiates is exactly what was trained and what
``predict`` reports: no second copy of the network's code, no weights looked up by layer name.
"""

from __future__ import annotations

import copy

import numpy as np
import tensorflow as tf

from tfx_tanas.evaluator.config import EvaluatorConfig
from tfx_tanas.feature_generator import EMBEDDING_WIDTH, build_set_encoder
from tfx_tanas.search_space import SearchSpace


class ArchitectureSummary(tf.Module):
    """Differentiable shape figures of an encoding u: depth, expected log-width and activation mix,
    then the embedding mix and the knobs' weights (search space 2) as they are.

    The flat one-hot encoding hides that 64 units lie between 32 and 128; these few numbers make it
    explicit, so the evaluator generalizes across neighbouring architectures. They are smooth in u,
    so gradient ascent still flows through them.
    """

    def __init__(self, space: SearchSpace):
        super().__init__(name="architecture_summary")
        self.shape_ = (space.num_layers, space.num_baselines)
        baselines = space.baseline_layers
        log_units = np.log2([b.units for b in baselines]) / np.log2(space.max_units)
        activations = np.array([[b.activation == a for a in space.activations] for b in baselines], np.float32)
        self.log_units = tf.constant(log_units, tf.float32)
        self.activations = tf.constant(activations)
        self.tail = space.encoding_size - space.num_layers * (space.num_baselines + 1)  # gamma and the knobs' weights
        self.width = 3 + space.num_layers + len(space.activations) + self.tail  # figures per encoding

    def __call__(self, encoding: tf.Tensor) -> tf.Tensor:
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
                encoding[:, J * p + J :],  # gamma (the embedding mix), then every knob's weights
            ],
            axis=1,
        )


class _Dense(tf.Module):
    """``activation(x @ kernel + bias)``, Glorot-uniform kernel and zero bias as Keras's Dense."""

    def __init__(self, name: str, fan_in: int, units: int, relu: bool, rng: np.random.Generator):
        super().__init__(name=name)
        limit = np.sqrt(6.0 / (fan_in + units))
        self.kernel = tf.Variable(rng.uniform(-limit, limit, (fan_in, units)).astype(np.float32), name="kernel")
        self.bias = tf.Variable(np.zeros(units, np.float32), name="bias")
        self.relu = relu

    @classmethod
    def stacked(cls, layers: list[_Dense]) -> _Dense:
        """The layers of several members as one: kernel ``[members, in, out]``, bias
        ``[members, 1, out]`` (constants), so ``x @ kernel + bias`` runs every member at once."""
        stacked = cls.__new__(cls)
        tf.Module.__init__(stacked, name=layers[0].name)
        stacked.kernel = tf.constant(np.stack([layer.kernel.numpy() for layer in layers]))
        stacked.bias = tf.constant(np.stack([layer.bias.numpy() for layer in layers])[:, None, :])
        stacked.relu = layers[0].relu
        return stacked

    def weights(self, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """(kernel, bias); outside training as constants, so a search's gradient tape skips them."""
        return (self.kernel, self.bias) if training else (tf.stop_gradient(self.kernel), tf.stop_gradient(self.bias))

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        kernel, bias = self.weights(training)
        h = tf.matmul(x, kernel) + bias
        return tf.nn.relu(h) if self.relu else h


class MemberNetwork(tf.Module):
    """One ensemble member's weights, and the one forward pass every use of the evaluator runs.

    The task description is the normalized TFDV statistics and/or, for learned meta-features, the
    embedding of the task's data sample by this member's set encoder (trained jointly with it).
    ``summary`` is shared by the ensemble's members.
    """

    def __init__(self, summary: ArchitectureSummary, config: EvaluatorConfig, num_statistics: int, seed: int):
        super().__init__(name="member")
        rng = np.random.default_rng(seed)
        self.uses_statistics = config.uses_statistics
        self.context_noise = config.context_noise
        self.summary = summary
        context_size = num_statistics * config.uses_statistics + EMBEDDING_WIDTH * config.uses_learned
        # without a task description (no statistics) the task branch reduces to one level and spread
        self.task_hidden = _Dense("task_hidden", context_size, config.hidden_units[0], relu=True, rng=rng)
        self.task_output = _Dense("task_output", config.hidden_units[0], 2, relu=False, rng=rng)
        widths = (context_size + summary.width, *config.hidden_units)
        self.merit_hidden = [
            _Dense(f"merit_hidden_{n}", widths[n], widths[n + 1], relu=True, rng=rng) for n in range(len(config.hidden_units))
        ]
        self.merit_output = _Dense("merit_output", widths[-1], 1, relu=False, rng=rng)
        self.encoder = build_set_encoder(seed) if config.uses_learned else None
        self.noise = tf.random.Generator.from_seed(seed)

    @classmethod
    def stacked(cls, members: list[MemberNetwork]) -> MemberNetwork:
        """The members as one network whose weights carry a leading member axis (as constants): the
        same forward pass then runs the whole ensemble with one batched op per layer, which is what
        a search traces (one op per layer instead of one per member and layer). Its outputs have the
        member axis first; it cannot be trained."""
        first = members[0]
        stacked = copy.copy(first)
        stacked.task_hidden, stacked.task_output, stacked.merit_output = (
            _Dense.stacked([getattr(member, name) for member in members]) for name in ("task_hidden", "task_output", "merit_output")
        )
        stacked.merit_hidden = [_Dense.stacked([member.merit_hidden[n] for member in members]) for n in range(len(first.merit_hidden))]
        stacked.encoder = None  # the contexts, each member's own, are stacked by the caller
        return stacked

    def __call__(self, context: tf.Tensor, encodings: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """The forward pass: ``[N, context]``, ``[N, encoding_size]`` -> (score ``[N]``, merit ``[N]``)."""
        return self.head(context, self.summary(tf.cast(encodings, tf.float32)), training)

    def head(self, context: tf.Tensor, figures: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """The forward pass from the figures of u on. ``training``: Gaussian noise on the context
        (which both branches read); otherwise the weights enter as constants (``stop_gradient``),
        so a search's gradient tape leaves them out: the evaluator stays frozen, with less to trace."""
        if training:
            context = context + self.noise.normal(tf.shape(context), stddev=self.context_noise)
        level, spread = self.task_terms(context, training)
        merit = self.merit(context, figures, training)
        return level + spread * merit, merit

    def task_terms(self, context: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """The task branch: the task's score level and how far the architecture moves it (``[N]`` each)."""
        task = self.task_output(self.task_hidden(context, training), training)
        return tf.sigmoid(task[..., 0]), 0.1 * tf.nn.softplus(task[..., 1])

    def merit(self, context: tf.Tensor, figures: tf.Tensor, training: bool) -> tf.Tensor:
        """The architecture branch: the merit of each row's architecture on its task (``[N]``)."""
        return self.merit_given_task(self.merit_task_part(context, training), figures, training)

    def merit_task_part(self, context: tf.Tensor, training: bool) -> tf.Tensor:
        """What the task adds to the merit branch's first layer (before its activation): the
        first layer reads ``[context, figures]``, so its output splits into a task part and an
        architecture part, and a search computes the task part once."""
        first = self.merit_hidden[0]
        kernel, bias = first.weights(training)
        return tf.matmul(context, kernel[..., : kernel.shape[-2] - self.summary.width, :]) + bias

    def merit_given_task(self, task_part: tf.Tensor, figures: tf.Tensor, training: bool) -> tf.Tensor:
        """The merit from the first layer's task part (one row, or one per row of ``figures``)."""
        first, *rest = self.merit_hidden
        kernel, _ = first.weights(training)
        h = tf.nn.relu(tf.matmul(figures, kernel[..., -self.summary.width :, :]) + task_part)
        for layer in rest:
            h = layer(h, training)
        return self.merit_output(h, training)[..., 0]

    def context(
        self, statistics: tf.Tensor, samples: tf.Tensor | None = None, sample_index: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Rows of the task description: ``statistics`` (normalized, ``[N, M]``) and/or the embedding of
        ``samples[sample_index]`` (each row's task; without an index, the one sample for all rows)."""
        parts = [statistics] if self.uses_statistics else []
        if self.encoder is not None:
            embeddings = self.encoder(samples, training=False)  # one pass per task, then rows pick theirs
            if sample_index is None:
                embeddings = tf.repeat(embeddings, tf.shape(statistics)[0], axis=0)
            else:
                embeddings = tf.gather(embeddings, sample_index)
            parts.append(embeddings)
        return tf.concat(parts, axis=1)

    def named_weights(self) -> dict[str, tf.Variable]:
        """Every weight by what it is (``merit_hidden_0/kernel``, ``set_encoder/element_0/bias``), as saved."""
        dense = [self.task_hidden, self.task_output, *self.merit_hidden, self.merit_output]
        named = {f"{layer.name}/{part}": getattr(layer, part) for layer in dense for part in ("kernel", "bias")}
        if self.encoder is not None:
            named.update({f"set_encoder/{layer.name}/{w.name}": w for layer in self.encoder.layers for w in layer.weights})
        return named

    @property
    def trainable_variables(self) -> tuple[tf.Variable, ...]:
        """The dense weights and the set encoder's (tf.Module does not see into a Keras model)."""
        return tuple(self.named_weights().values())
