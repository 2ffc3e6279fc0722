"""A network plan (+ the task's embedding widths) -> the Keras network from embeddings to logits.

One builder for every plan: a parametrized layer is the alpha-weighted sum of its baseline Dense
layers, zero-padded to the widest (claim 6), behind its beta gate (claim 7); the first layer mixes
the baseline embeddings by gamma (claim 8). Mixing one input at weight 1, or a gate of 1, is the
identity and adds no layer, so a discrete architecture's network is a plain stack of ``Dense``
layers (with layer norms and residual additions where it chose them): what is served is an
ordinary Keras model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from tfx_tanas.network_plan import Component, LayerPlan, NetworkPlan


class PadTo(keras.layers.Layer):
    """Zero-pads the last axis (units, or an image's channels) to ``width``: how baselines of
    different sizes are summed."""

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = width

    def call(self, x):
        return keras.ops.pad(x, [[0, 0]] * (len(x.shape) - 1) + [[0, self.width - x.shape[-1]]])


class WeightedSum(keras.layers.Layer):
    """``sum_i w_i * pad(x_i)`` with fixed architecture weights (alpha or gamma)."""

    def __init__(self, weights: Sequence[float], width: int, **kwargs):
        super().__init__(**kwargs)
        self.mix_weights = [float(w) for w in weights]
        self.pads = [PadTo(width) for _ in self.mix_weights]

    def call(self, inputs):
        return sum(w * pad(x) for w, pad, x in zip(self.mix_weights, self.pads, inputs))


class GatedSkip(keras.layers.Layer):
    """``beta * (pad(layer_output) + residual * pad(layer_input)) + (1 - beta) * pad(layer_input)``:
    beta = 0 removes the layer; ``residual`` adds the layer's input to its output."""

    def __init__(self, beta: float, width: int, residual: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)
        self.residual = float(residual)
        self.pad = PadTo(width)

    def call(self, inputs):
        output, skip = inputs
        skip = self.pad(skip)
        return self.beta * (self.pad(output) + self.residual * skip) + (1.0 - self.beta) * skip


LAYER_NORM_EPSILON = 1e-3  # Keras's default; the stacked trainer uses the same


class BlendedLayerNorm(keras.layers.Layer):
    """``(1 - weight) * x + weight * LayerNorm(x)`` without scale or offset (the next Dense rescales)."""

    def __init__(self, weight: float, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, center=False, scale=False)

    def call(self, x):
        return (1.0 - self.weight) * x + self.weight * self.norm(x) if self.weight < 1.0 else self.norm(x)


def dense_name(position: int, layer: LayerPlan, component: Component) -> str:
    """The Keras name of a baseline's Dense layer (the stacked trainer copies weights by it)."""
    return f"dense_{position}" if layer.is_dense else f"layer{position}_{component.name}"


def build_network(plan: NetworkPlan, widths: Mapping[str, int], num_classes: int) -> keras.Model:
    """Embeddings (a dict by kind, the ones the plan reads) -> logits."""
    inputs = {kind: keras.Input((widths[kind],), name=kind) for kind in plan.kinds}
    width = plan.input_width(widths)
    h = mix([inputs[kind] for kind in plan.kinds], [w for _, w in plan.embeddings], width, "embedding_mixture")
    for position, layer in enumerate(plan.layers, start=1):
        branches = [
            keras.layers.Dense(c.units, activation=c.activation, name=dense_name(position, layer, c))(h) for c in layer.components
        ]
        mixed = mix(branches, [c.weight for c in layer.components], layer.mixed_units, f"layer{position}_mixture")
        if plan.normalization:
            mixed = BlendedLayerNorm(plan.normalization, name=f"layer{position}_norm")(mixed)
        output_width = layer.output_width(width, plan.residual)
        if layer.gate != 1.0 or plan.residual:
            mixed = GatedSkip(layer.gate, output_width, plan.residual, name=f"layer{position}_gate")([mixed, h])
        h, width = mixed, output_width
    logits = keras.layers.Dense(num_classes, name="output")(h)
    return keras.Model(inputs, logits, name="network")


def mix(tensors: list, weights: list[float], width: int, name: str):
    """The weighted, padded sum; one tensor at weight 1 and full width is returned as it is."""
    if len(tensors) == 1 and weights[0] == 1.0 and tensors[0].shape[-1] == width:
        return tensors[0]
    return WeightedSum(weights, width, name=name)(tensors)
