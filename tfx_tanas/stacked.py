"""K networks as batched tensors: one einsum per layer trains all of them, one XLA call per run.

Building K small Keras models and stepping them separately is dominated by per-op and tracing
overhead on a CPU; here every layer of every network in a stack is one ``[K, B, in] x [K, in, out]``
contraction over the network plans (:mod:`tfx_tanas.network_plan`). Zero padding makes the networks
share shapes and exact zeros keep each network what its plan says: a layer is one Dense over its
baselines side by side (each column activated by its baseline's activation), then a fixed matrix
applies alpha and the zero padding (``sum_i alpha_i * pad(o_i)``), or, when every network's layer
is a single baseline at weight 1, a mask of its real columns; beta blends the result with the
padded input, and a network with fewer layers than its neighbours has gate 0 there (the identity).

Each network draws its initial weights from its own generator, seeded by the run's seed and its
architecture's key, with the fan-in of its own (unpadded) layers: a network starts the same
whichever networks share its stack, so a record can be reproduced by training its architecture
alone, and two methods that pick the same architecture are measured on the same training.

Training a stack sums the networks' losses: each network's gradient depends only on its own loss
and Adam's update is per parameter, so this is the same optimisation as training each alone.
The trained weights go into the plain Keras network of :mod:`tfx_tanas.model_builder` for serving
(:meth:`StackedNetworks.to_keras`).
"""

from __future__ import annotations

import dataclasses
import math
import time
import zlib
from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfx_tanas.model_builder import LAYER_NORM_EPSILON, build_network, dense_name
from tfx_tanas.network_plan import NetworkPlan, stack_multiply_adds
from tfx_tanas.protocol import TrainingProtocol
from tfx_tanas.search_space import ACTIVATIONS, Architecture

_ACTIVATION_FUNCTIONS = {"relu": tf.nn.relu, "tanh": tf.tanh, "gelu": tf.nn.gelu}


def network_generator(seed: int, arch: Architecture) -> np.random.Generator:
    """The generator of one network's initial weights: the run's seed and the architecture only."""
    return np.random.default_rng([seed, zlib.crc32(arch.key.encode())])


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)


def _pad_to(x: tf.Tensor, width: int) -> tf.Tensor:
    extra = width - x.shape[-1]
    return x if extra == 0 else tf.pad(x, [[0, 0]] * (len(x.shape) - 1) + [[0, extra]])


@dataclasses.dataclass
class _StackedLayer:
    kernel: tf.Variable  # [K, in, columns]
    bias: tf.Variable  # [K, columns]
    activation: tf.Tensor  # [K, activations, 1, columns]: which activation each column takes
    used_activations: tuple[int, ...]
    mixing: tf.Tensor | None  # [K, columns, mixed]: alpha and zero padding; None when masks suffice
    mask: tf.Tensor | None  # [K, 1, columns]: a network's real columns, when every layer is one baseline
    gate: tf.Tensor  # [K, 1, 1]
    all_open: bool  # every network has this layer with gate 1 and no residual: the input is replaced
    norm_weight: tf.Tensor | None  # [K, 1, 1]: weight of the layer-normalized mixture; None: no network normalizes
    mixed_mask: tf.Tensor  # [K, 1, mixed]: a network's real mixture columns (what its layer norm averages over)
    residual: tf.Tensor  # [K, 1, 1]


class StackedNetworks(tf.Module):
    """The networks of K architectures' plans, stacked (see the module docstring)."""

    def __init__(self, archs: Sequence[Architecture], widths: Mapping[str, int], num_classes: int, seed: int):
        super().__init__()
        self.archs = list(archs)
        self.plans = [a.plan for a in archs]
        self.widths = dict(widths)
        self.num_classes = num_classes
        space = archs[0].space
        used = {kind for plan in self.plans for kind in plan.kinds}
        self.kinds = [kind for kind in space.embeddings if kind in used]
        self.input_width = max(widths[kind] for kind in self.kinds)
        gammas = np.zeros((len(archs), len(self.kinds)), np.float32)
        for k, plan in enumerate(self.plans):
            for kind, weight in plan.embeddings:
                gammas[k, self.kinds.index(kind)] = weight
        self.gamma = tf.constant(gammas)
        generators = [network_generator(seed, a) for a in archs]
        real_in = [plan.input_width(widths) for plan in self.plans]
        width = self.input_width
        self.layers: list[_StackedLayer] = []
        for j in range(max(len(plan.layers) for plan in self.plans)):
            layer, width = self._stack_layer(j, width, real_in, generators)
            self.layers.append(layer)
        K = len(archs)
        output_kernel = np.zeros((K, width, num_classes), np.float32)
        for k in range(K):
            output_kernel[k, : real_in[k]] = _glorot(generators[k], real_in[k], num_classes)
        self.output_kernel = tf.Variable(output_kernel, name="output_kernel")
        self.output_bias = tf.Variable(np.zeros((K, num_classes), np.float32), name="output_bias")

    def _stack_layer(self, j: int, width: int, real_in: list[int], generators: list[np.random.Generator]) -> tuple[_StackedLayer, int]:
        """Layer j of every network (absent ones get gate 0); updates ``real_in`` to each network's
        own output width and returns the stack's."""
        members = [plan.layers[j] if j < len(plan.layers) else None for plan in self.plans]
        present = [m for m in members if m is not None]
        K = len(members)
        columns = max(m.columns for m in present)
        mixed_width = max(m.mixed_units for m in present)
        masks_suffice = all(m.is_dense for m in present)
        kernel = np.zeros((K, width, columns), np.float32)
        activation = np.zeros((K, len(ACTIVATIONS), 1, columns), np.float32)
        mixing = np.zeros((K, columns, mixed_width), np.float32)
        mask = np.zeros((K, 1, columns), np.float32)
        gate = np.zeros((K, 1, 1), np.float32)
        mixed_mask = np.zeros((K, 1, mixed_width), np.float32)
        for k, member in enumerate(members):
            if member is None:
                continue
            gate[k] = member.gate
            mixed_mask[k, 0, : member.mixed_units] = 1.0
            offset = 0
            for component in member.components:
                block = slice(offset, offset + component.units)
                # fan-in: network k's own input width, not the stack's padded one
                kernel[k, : real_in[k], block] = _glorot(generators[k], real_in[k], component.units)
                activation[k, ACTIVATIONS.index(component.activation), 0, block] = 1.0
                mixing[k, np.arange(offset, offset + component.units), np.arange(component.units)] = component.weight
                mask[k, 0, block] = 1.0
                offset += component.units
            real_in[k] = member.output_width(real_in[k], self.plans[k].residual)
        residual = np.array([plan.residual if member is not None else 0.0 for plan, member in zip(self.plans, members)], np.float32)
        norm_weight = np.array([plan.normalization if member is not None else 0.0 for plan, member in zip(self.plans, members)], np.float32)
        all_open = len(present) == K and all(m.gate == 1.0 for m in present) and not residual.any()
        layer = _StackedLayer(
            kernel=tf.Variable(kernel, name=f"layer{j}_kernel"),
            bias=tf.Variable(np.zeros((K, columns), np.float32), name=f"layer{j}_bias"),
            activation=tf.constant(activation),
            used_activations=tuple(int(i) for i in np.flatnonzero(activation.any(axis=(0, 2, 3)))),
            mixing=None if masks_suffice else tf.constant(mixing),
            mask=tf.constant(mask) if masks_suffice else None,
            gate=tf.constant(gate),
            all_open=all_open,
            norm_weight=tf.constant(norm_weight[:, None, None]) if norm_weight.any() else None,
            mixed_mask=tf.constant(mixed_mask),
            residual=tf.constant(residual[:, None, None]),
        )
        return layer, (mixed_width if all_open else max(width, mixed_width))

    @property
    def weights(self) -> list[tf.Variable]:
        """Every trained variable (tf.Module does not look inside the layer records)."""
        return [v for layer in self.layers for v in (layer.kernel, layer.bias)] + [self.output_kernel, self.output_bias]

    def stack_inputs(self, embeddings: Mapping[str, np.ndarray | tf.Tensor]) -> tf.Tensor:
        """[E, B, input_width]: every baseline embedding zero-padded to the widest."""
        return tf.stack([_pad_to(tf.convert_to_tensor(embeddings[k], tf.float32), self.input_width) for k in self.kinds])

    def __call__(self, stacked_inputs: tf.Tensor) -> tf.Tensor:
        """[E, B, input_width] (rows shared by every network) or [E, K, B, input_width] (rows of
        each network's own) -> logits [K, B, classes]."""
        h = tf.einsum("ke,ebd->kbd" if len(stacked_inputs.shape) == 3 else "ke,ekbd->kbd", self.gamma, stacked_inputs)
        for layer in self.layers:
            z = tf.einsum("kbd,kdu->kbu", h, layer.kernel) + layer.bias[:, None, :]
            # only the activations some network uses here: gelu costs as much as the matmul
            activated = sum(layer.activation[:, i] * _ACTIVATION_FUNCTIONS[ACTIVATIONS[i]](z) for i in layer.used_activations)
            if layer.mixing is None:
                mixed = activated * layer.mask
            else:
                mixed = tf.einsum("kbc,kcm->kbm", activated, layer.mixing)
            if layer.norm_weight is not None:
                mixed = (1.0 - layer.norm_weight) * mixed + layer.norm_weight * _layer_norm(mixed, layer.mixed_mask)
            if layer.all_open:
                h = mixed
            else:
                width = max(h.shape[-1], mixed.shape[-1])
                skip = _pad_to(h, width)
                h = layer.gate * (_pad_to(mixed, width) + layer.residual * skip) + (1.0 - layer.gate) * skip
        return tf.einsum("kbd,kdc->kbc", h, self.output_kernel) + self.output_bias[:, None, :]

    def to_keras(self, index: int) -> keras.Model:
        """Network ``index`` as the plain Keras network the serving model uses, weights copied."""
        plan = self.plans[index]
        network = build_network(plan, self.widths, self.num_classes)
        for position, (layer, stacked) in enumerate(zip(plan.layers, self.layers), start=1):
            kernel, bias = stacked.kernel.numpy()[index], stacked.bias.numpy()[index]
            offset = 0
            for component in layer.components:
                block = slice(offset, offset + component.units)
                _copy_dense(network.get_layer(dense_name(position, layer, component)), kernel[:, block], bias[block])
                offset += component.units
        _copy_dense(network.get_layer("output"), self.output_kernel.numpy()[index], self.output_bias.numpy()[index])
        return network


def _layer_norm(x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Layer norm of each network over its own real columns (padding is neither counted nor set)."""
    count = tf.maximum(tf.reduce_sum(mask, axis=-1, keepdims=True), 1.0)  # a network without this layer has none
    mean = tf.reduce_sum(x * mask, axis=-1, keepdims=True) / count
    centred = (x - mean) * mask
    variance = tf.reduce_sum(tf.square(centred), axis=-1, keepdims=True) / count
    return centred * tf.math.rsqrt(variance + LAYER_NORM_EPSILON)


def _copy_dense(layer: keras.layers.Dense, kernel: np.ndarray, bias: np.ndarray) -> None:
    """Copy the top-left block that fits; padded rows carry only zeros."""
    rows = layer.kernel.shape[0]
    layer.set_weights([kernel[:rows], bias])


# ---- which networks share a stack --------------------------------------------------------------
# Training a stack costs a fixed tracing + XLA compilation time, and per step a dispatch overhead
# plus time proportional to the padded multiply-adds of all its networks (fitted on a 2-core CPU).
_STACK_OVERHEAD_SECONDS = 1.0
_STEP_OVERHEAD_SECONDS = 1e-3
_FORWARD_MULTIPLY_ADDS_PER_SECOND = 1.2e10


def plan_stacks(
    plans: Sequence[NetworkPlan], widths: Mapping[str, int], num_classes: int, batch: int, steps: int, group_size: int
) -> list[list[int]]:
    """Split networks into stacks of at most ``group_size`` that minimise estimated training time.

    Small tasks are overhead-bound (one big stack is best); large ones are compute-bound, and a
    network padded to a wider neighbour wastes work, so stacks of alike shapes win. Sorting by
    shape, then cutting the sorted list optimally (dynamic programming over cut points), finds that
    balance per task.
    """
    order = sorted(range(len(plans)), key=lambda i: _shape_key(plans[i], widths))
    best = [0.0] + [math.inf] * len(order)
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(max(0, end - group_size), end):
            members = [plans[i] for i in order[start:end]]
            multiply_adds = stack_multiply_adds(members, widths, num_classes)
            step = _STEP_OVERHEAD_SECONDS + batch * len(members) * multiply_adds / _FORWARD_MULTIPLY_ADDS_PER_SECOND
            seconds = _STACK_OVERHEAD_SECONDS + steps * step
            if best[start] + seconds < best[end]:
                best[end], cut[end] = best[start] + seconds, start
    groups, end = [], len(order)
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    return groups[::-1]


def _shape_key(plan: NetworkPlan, widths: Mapping[str, int]) -> tuple:
    units = [layer.columns for layer in plan.layers]
    # the first layer reads the (often wide) embedding: its width matters most
    return (not plan.is_dense_stack, plan.input_width(widths), plan.kinds, units[:1], max(units, default=0), len(units), units)


# ---- the compiled training run -----------------------------------------------------------------
@dataclasses.dataclass
class StackRun:
    networks: StackedNetworks  # with the weights the protocol keeps (the best segment's, for "best_loss")
    finite: np.ndarray  # [K]: whether every step's loss stayed finite
    accuracy: np.ndarray  # [evaluations, K]: validation accuracy after each segment
    loss: np.ndarray  # [evaluations, K]: validation cross-entropy after each segment
    seconds: float


def draw_batches(num_train: int, batch: int, evaluations: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """[evaluations, steps, batch] row indices: each segment walks fresh permutations of the rows
    (one permutation per segment when a segment is at most an epoch, as protocol version 1 has it)."""
    segments = []
    for _ in range(evaluations):
        needed = steps * batch
        rows = np.concatenate([rng.permutation(num_train) for _ in range(-(-needed // num_train))])
        segments.append(rows[:needed].reshape(steps, batch))
    return np.stack(segments)


def train_stack(
    archs: Sequence[Architecture],
    widths: Mapping[str, int],
    num_classes: int,
    data: tuple[Mapping[str, np.ndarray], np.ndarray],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    protocol: TrainingProtocol,
    seed: int,
) -> StackRun:
    """Train one stack under the protocol on every fold at once: network ``f * len(archs) + a`` is
    architecture a on fold f (its own training and validation rows of ``data``). Every segment's
    batches are drawn up front and the whole run is one compiled XLA call, with no per-step Python
    dispatch or host sync (what bounds small tasks), and one compilation for all folds.
    Under ``score_rule="best_loss"`` each network's weights at its lowest validation loss are kept."""
    started = time.perf_counter()
    members = [arch for _ in folds for arch in archs]
    K, F = len(members), len(folds)
    stack = StackedNetworks(members, widths, num_classes, seed)
    variables = stack.weights
    optimizer = _Adam(variables, [a.plan.learning_rate for a in members], [a.plan.weight_decay for a in members])
    x = stack.stack_inputs(data[0])
    y = tf.constant(data[1].astype(np.int32))
    num_train = min(len(train) for train, _ in folds)
    batch = protocol.batch_size(num_train)
    evaluations, steps = protocol.schedule(num_train)
    rng = np.random.default_rng(seed)
    # [evaluations, steps, folds, batch] rows of data; the folds draw one after another
    batches = np.stack([train[draw_batches(len(train), batch, evaluations, steps, rng)] for train, _ in folds], axis=2)
    batches_tensor = tf.constant(batches.astype(np.int32))
    width = max(len(validation) for _, validation in folds)
    val_rows = np.stack([np.pad(validation, (0, width - len(validation))) for _, validation in folds])
    val_mask = tf.constant(np.repeat(np.stack([np.arange(width) < len(v) for _, v in folds]), len(archs), axis=0).astype(np.float32))
    if F == 1:  # every network reads the same rows: gather them once
        val_x, val_y = tf.gather(x, val_rows[0], axis=1), tf.broadcast_to(tf.gather(y, val_rows[0])[None, :], (K, width))
    else:
        member_rows = np.repeat(val_rows, len(archs), axis=0)
        val_x, val_y = tf.gather(x, member_rows, axis=1), tf.gather(y, member_rows)
    keep_best = protocol.score_rule == "best_loss"
    best = [tf.Variable(v) for v in variables] if keep_best else []

    def train_step(rows: tf.Tensor) -> tf.Tensor:
        """``rows``: [folds, batch]."""
        if F == 1:
            inputs, labels = tf.gather(x, rows[0], axis=1), tf.broadcast_to(tf.gather(y, rows[0])[None, :], (K, batch))
        else:
            per_member = tf.repeat(rows, len(archs), axis=0)
            inputs, labels = tf.gather(x, per_member, axis=1), tf.gather(y, per_member)
        with tf.GradientTape() as tape:
            logits = stack(inputs)
            losses = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), axis=1)
            total = tf.reduce_sum(losses)
        optimizer.apply(tape.gradient(total, variables))
        return losses

    def segment(index: tf.Tensor, finite: tf.Tensor, accuracy: tf.Tensor, loss: tf.Tensor, best_loss: tf.Tensor):
        _, finite = tf.while_loop(
            lambda step, _: step < steps,
            lambda step, finite: (step + 1, finite & tf.math.is_finite(train_step(batches_tensor[index, step]))),
            (tf.constant(0), finite),
        )
        logits = stack(val_x)
        counts = tf.reduce_sum(val_mask, axis=1)
        val_loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=val_y, logits=logits) * val_mask, axis=1) / counts
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        correct = tf.reduce_sum(tf.cast(tf.equal(predicted, val_y), tf.float32) * val_mask, axis=1) / counts
        improved = val_loss < best_loss
        for variable, kept in zip(variables, best):
            kept.assign(tf.where(tf.reshape(improved, [K] + [1] * (len(variable.shape) - 1)), variable, kept))
        accuracy = tf.tensor_scatter_nd_update(accuracy, [[index]], correct[None, :])
        loss = tf.tensor_scatter_nd_update(loss, [[index]], val_loss[None, :])
        return index + 1, finite, accuracy, loss, tf.where(improved, val_loss, best_loss)

    @tf.function(jit_compile=True, autograph=False)
    def run() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        history = tf.zeros((evaluations, K))
        start = (tf.constant(0), tf.ones(K, tf.bool), history, history, tf.fill([K], np.float32(np.inf)))
        _, finite, accuracy, loss, _ = tf.while_loop(lambda index, *_: index < evaluations, segment, start)
        return finite, accuracy, loss

    finite, accuracy, loss = (t.numpy() for t in run())
    for variable, kept in zip(variables, best):
        variable.assign(kept)
    return StackRun(stack, finite, accuracy, loss, time.perf_counter() - started)


class _Adam:
    """Adam (Kingma & Ba) with Keras' defaults, and decoupled weight decay on kernels (AdamW), on
    plain ``tf.Variable``s with a learning rate and a decay per network.

    Adam's update is elementwise, so on stacked networks it is exactly per-network Adam.
    """

    def __init__(
        self,
        variables: list[tf.Variable],
        learning_rates: Sequence[float],
        weight_decays: Sequence[float],
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ):
        self.variables = variables
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        rates = np.asarray(learning_rates, np.float32)
        decays = rates * np.asarray(weight_decays, np.float32)

        def per_network(values: np.ndarray, variable: tf.Variable) -> tf.Tensor:
            return tf.constant(values.reshape([-1] + [1] * (len(variable.shape) - 1)))

        self.rates = [per_network(rates, v) for v in variables]
        # kernels decay, biases do not (a kernel is [K, in, out], a bias [K, out])
        self.decays = [per_network(decays, v) if len(v.shape) == 3 else None for v in variables]
        self.first = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.second = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.steps = tf.Variable(0.0, trainable=False)

    def apply(self, gradients: list[tf.Tensor]) -> None:
        self.steps.assign_add(1.0)
        correction = tf.sqrt(1 - self.beta_2**self.steps) / (1 - self.beta_1**self.steps)
        for variable, gradient, first, second, rate, decay in zip(self.variables, gradients, self.first, self.second, self.rates, self.decays):
            first.assign(self.beta_1 * first + (1 - self.beta_1) * gradient)
            second.assign(self.beta_2 * second + (1 - self.beta_2) * tf.square(gradient))
            update = rate * correction * first / (tf.sqrt(second) + self.epsilon)
            if decay is not None:
                update += decay * variable
            variable.assign_sub(update)
