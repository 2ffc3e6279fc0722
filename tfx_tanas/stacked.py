"""K networks of K architectures as batched tensors: one einsum per layer trains all of them.

Building K small Keras models and stepping them separately is dominated by per-op and tracing
overhead on a CPU; here every layer of every network in a group is one ``[K, B, in] x [K, in, out]``
contraction. Zero padding makes the networks share shapes, and masks keep them exact:

* discrete networks: units beyond a layer's real width are masked to zero, and a layer that is
  absent (beta = 0) passes its input through, so network k computes exactly its plain Dense stack;
* continuous networks: each parametrized layer is one Dense over the concatenation of its baseline
  layers with alpha > 0 (a zero weight contributes exactly nothing), each column activated by its
  baseline's activation, then a fixed matrix applies alpha and the zero padding
  (``sum_i alpha_i * pad(o_i)``); beta gates the result against the skip connection.

Each network draws its initial weights from its own generator, seeded by the run's seed and its
architecture's key, with the fan-in of its own (unpadded) layers: a network starts the same
whichever networks share its stack, so a record can be reproduced by training its architecture
alone, and two methods that pick the same architecture are measured on the same training.

The trained weights are copied into the Keras networks of :mod:`tfx_tanas.model_builder` for
serving (:meth:`StackedNetworks.to_keras`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfx_tanas.model_builder import build_network, used_embeddings
from tfx_tanas.search_space import ACTIVATIONS, Architecture, BaselineLayer

_ACTIVATION_FUNCTIONS = {"relu": tf.nn.relu, "tanh": tf.tanh, "gelu": tf.nn.gelu}


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int, shape: tuple[int, ...]) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def network_generator(seed: int, arch: Architecture) -> np.random.Generator:
    """The generator of one network's initial weights: the run's seed and the architecture only."""
    return np.random.default_rng([seed, zlib.crc32(arch.key.encode())])


def _pad_to(x: tf.Tensor, width: int) -> tf.Tensor:
    extra = width - x.shape[-1]
    return x if extra == 0 else tf.pad(x, [[0, 0]] * (len(x.shape) - 1) + [[0, extra]])


class StackedNetworks(tf.Module):
    """Networks of K architectures that are all discrete, or all continuous (see module doc)."""

    def __init__(self, archs: Sequence[Architecture], widths: Mapping[str, int], num_classes: int, seed: int):
        super().__init__()
        self.archs = list(archs)
        self.space = archs[0].space
        self.widths = dict(widths)
        self.num_classes = num_classes
        self.discrete = all(a.is_discrete for a in archs)
        if not self.discrete and any(a.is_discrete for a in archs):
            raise ValueError("stack discrete and continuous architectures separately")
        # only the embeddings some member reads are stacked and padded
        used = {k for a in archs for k in used_embeddings(a)}
        self.kinds = [k for k in self.space.embeddings if k in used]
        generators = [network_generator(seed, a) for a in archs]
        K = len(archs)
        self.input_width = max(widths[k] for k in self.kinds)
        # gamma as a [K, kinds] matrix: one-hot for discrete networks
        gammas = np.stack([a.discretize().gamma if self.discrete else a.gamma for a in archs])
        self.gamma = tf.constant(gammas[:, [self.space.embeddings.index(k) for k in self.kinds]], tf.float32)
        self.layers: list[dict[str, tf.Variable | tf.Tensor | tuple[int, ...]]] = []
        width = self.input_width
        real_in = np.array([self._input_width(a) for a in archs])
        if self.discrete:
            units = np.array([[layer.units for layer in a.hidden_layers] + [0] * (self.space.num_layers - len(a.hidden_layers)) for a in archs])
            for j in range(self.space.num_layers):
                present = units[:, j] > 0
                if not present.any():
                    break
                out = int(units[:, j].max())
                kernel = np.zeros((K, width, out), np.float32)
                for k in np.flatnonzero(present):
                    kernel[k, : real_in[k], : units[k, j]] = _glorot(generators[k], real_in[k], units[k, j], (real_in[k], units[k, j]))
                activation = np.zeros((K, len(ACTIVATIONS)), np.float32)
                for k in np.flatnonzero(present):
                    activation[k, ACTIVATIONS.index(archs[k].hidden_layers[j].activation)] = 1.0
                mask = (np.arange(out)[None, :] < units[:, j : j + 1]).astype(np.float32)
                self.layers.append(
                    {
                        "kernel": tf.Variable(kernel, name=f"layer{j}_kernel"),
                        "bias": tf.Variable(np.zeros((K, out), np.float32), name=f"layer{j}_bias"),
                        "activation": tf.constant(activation[:, :, None, None]),
                        "used_activations": tuple(int(i) for i in np.flatnonzero(activation.any(axis=0))),
                        "mask": tf.constant(mask[:, None, :]),
                        "present": tf.constant(present[:, None, None]),
                    }
                )
                real_in = np.where(present, units[:, j], real_in)
                width = max(width, out)
        else:
            mix_width = self.space.max_units
            for j in range(self.space.num_layers):
                # network k's columns: the blocks of its baselines with alpha > 0, side by side
                blocks = [_components(a, j) for a in archs]
                columns = max(sum(b.units for _, b, _ in comps) for comps in blocks)
                kernel = np.zeros((K, width, columns), np.float32)
                activation = np.zeros((K, len(ACTIVATIONS), 1, columns), np.float32)
                mixing = np.zeros((K, columns, mix_width), np.float32)
                for k, comps in enumerate(blocks):
                    offset = 0
                    for _, baseline, weight in comps:
                        block = slice(offset, offset + baseline.units)
                        # fan-in: network k's own input width, not the stack's padded one
                        kernel[k, : real_in[k], block] = _glorot(generators[k], real_in[k], baseline.units, (real_in[k], baseline.units))
                        activation[k, ACTIVATIONS.index(baseline.activation), 0, block] = 1.0
                        mixing[k, np.arange(offset, offset + baseline.units), np.arange(baseline.units)] = weight
                        offset += baseline.units
                self.layers.append(
                    {
                        "kernel": tf.Variable(kernel, name=f"layer{j}_kernel"),
                        "bias": tf.Variable(np.zeros((K, columns), np.float32), name=f"layer{j}_bias"),
                        "activation": tf.constant(activation),
                        "used_activations": tuple(int(i) for i in np.flatnonzero(activation.any(axis=(0, 2, 3)))),
                        "mixing": tf.constant(mixing),
                        "beta": tf.constant(np.array([a.beta[j] for a in archs], np.float32)[:, None, None]),
                    }
                )
                betas = np.array([a.beta[j] for a in archs])
                mixed_width = np.array([max((b.units for _, b, _ in comps), default=0) for comps in blocks])
                real_in = np.where(betas == 1.0, mixed_width, np.where(betas == 0.0, real_in, np.maximum(real_in, mixed_width)))
                width = max(width, mix_width)
        output_kernel = np.zeros((K, width, num_classes), np.float32)
        for k in range(K):
            output_kernel[k, : real_in[k]] = _glorot(generators[k], real_in[k], num_classes, (real_in[k], num_classes))
        self.output_kernel = tf.Variable(output_kernel, name="output_kernel")
        self.output_bias = tf.Variable(np.zeros((K, num_classes), np.float32), name="output_bias")

    def _input_width(self, arch: Architecture) -> int:
        return max(self.widths[k] for k in used_embeddings(arch))

    def stack_inputs(self, embeddings: Mapping[str, np.ndarray | tf.Tensor]) -> tf.Tensor:
        """[E, B, input_width]: every baseline embedding zero-padded to the widest."""
        return tf.stack([_pad_to(tf.convert_to_tensor(embeddings[k], tf.float32), self.input_width) for k in self.kinds])

    def __call__(self, stacked_inputs: tf.Tensor) -> tf.Tensor:
        """[E, B, input_width] -> logits [K, B, classes]."""
        h = tf.einsum("ke,ebd->kbd", self.gamma, stacked_inputs)
        for layer in self.layers:
            z = tf.einsum("kbd,kdu->kbu", h, layer["kernel"][:, : h.shape[-1]]) + layer["bias"][:, None, :]
            # only the activations some network uses here: gelu costs as much as the matmul
            activated = sum(layer["activation"][:, i] * _ACTIVATION_FUNCTIONS[ACTIVATIONS[i]](z) for i in layer["used_activations"])
            if self.discrete:
                out = activated * layer["mask"]
                width = max(h.shape[-1], out.shape[-1])
                h = tf.where(layer["present"], _pad_to(out, width), _pad_to(h, width))
            else:
                mixed = tf.einsum("kbc,kcm->kbm", activated, layer["mixing"])
                width = max(h.shape[-1], mixed.shape[-1])
                h = layer["beta"] * _pad_to(mixed, width) + (1.0 - layer["beta"]) * _pad_to(h, width)
        return tf.einsum("kbd,kdc->kbc", h, self.output_kernel[:, : h.shape[-1]]) + self.output_bias[:, None, :]

    # ---- export -----------------------------------------------------------------------------
    def to_keras(self, index: int) -> keras.Model:
        """Network ``index`` as the plain Keras network the serving model uses, weights copied."""
        arch = self.archs[index]
        network = build_network(arch, self.widths, self.num_classes)
        dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]
        output = dense.pop()
        if self.discrete:
            for layer, stacked in zip(dense, self.layers):
                _copy_dense(layer, stacked["kernel"].numpy()[index], stacked["bias"].numpy()[index])
        else:
            remaining = iter(dense)
            for j in range(self.space.num_layers):
                if arch.beta[j] == 0:
                    continue
                kernel, bias = self.layers[j]["kernel"].numpy()[index], self.layers[j]["bias"].numpy()[index]
                offset = 0
                for _, baseline, _ in _components(arch, j):
                    block = slice(offset, offset + baseline.units)
                    _copy_dense(next(remaining), kernel[:, block], bias[block])
                    offset += baseline.units
        _copy_dense(output, self.output_kernel.numpy()[index], self.output_bias.numpy()[index])
        return network


def _components(arch: Architecture, layer: int) -> list[tuple[int, BaselineLayer, float]]:
    """(index, baseline, alpha) of the baselines that take part in a parametrized layer."""
    return [(i, b, float(w)) for i, (b, w) in enumerate(zip(arch.space.baseline_layers, arch.alpha[layer])) if w > 0]


def _copy_dense(layer: keras.layers.Dense, kernel: np.ndarray, bias: np.ndarray) -> None:
    """Copy the top-left block that fits; padded rows and columns carry only zeros or masked values."""
    target = np.zeros(layer.kernel.shape, np.float32)
    rows, cols = min(target.shape[0], kernel.shape[0]), target.shape[1]
    target[:rows] = kernel[:rows, :cols]
    layer.set_weights([target, bias[:cols]])
