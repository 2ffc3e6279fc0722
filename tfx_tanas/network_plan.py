"""A network, described once: the per-layer plan every other view of an architecture derives from.

An :class:`~tfx_tanas.search_space.Architecture` turns into a :class:`NetworkPlan` (its
``plan()``): which embeddings are mixed with which weights, and for each present layer which
baseline layers it mixes, with which weights, behind which gate. The Keras model
(:mod:`tfx_tanas.model_builder`), the stacked trainer (:mod:`tfx_tanas.stacked`), the parameter
count, the cost model and the JSON ``layers`` all read the plan; continuous and discrete networks
differ in their plans, not in code paths. A discrete network's plan is a plain Dense stack: one
embedding of weight 1, and layers of one baseline of weight 1 with gate 1.

Widths follow the patent's zero padding: a layer's baselines are padded to the widest of them,
and a layer whose gate is below 1 pads its output and its input to the wider of the two before
blending them. Plans carry no data: the embeddings' widths come with the task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class BaselineLayer:
    """One fixed operation a parametrized layer can become: ``Dense(units, activation)``, or for
    images (``kernel`` > 0) ``Conv2D(units filters, kernel x kernel, same padding, activation)``."""

    units: int
    activation: str
    kernel: int = 0

    @property
    def name(self) -> str:
        if self.kernel:
            return f"conv{self.kernel}x{self.kernel}_{self.units}_{self.activation}"
        return f"dense{self.units}_{self.activation}"


@dataclasses.dataclass(frozen=True)
class Component(BaselineLayer):
    """A baseline layer inside a parametrized layer, weighted by its alpha."""

    weight: float = 1.0


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """A present parametrized layer: ``gate * sum_i weight_i * pad(o_i(h)) + (1 - gate) * pad(h)``."""

    gate: float
    components: tuple[Component, ...]

    @property
    def is_dense(self) -> bool:
        """One baseline at full weight behind an open gate: an ordinary Dense layer."""
        return self.gate == 1.0 and len(self.components) == 1 and self.components[0].weight == 1.0

    @property
    def mixed_units(self) -> int:
        """Width of the mixture: its baselines are zero-padded to the widest."""
        return max(c.units for c in self.components)

    @property
    def columns(self) -> int:
        """Units of all the layer's baselines side by side (what computing the mixture costs)."""
        return sum(c.units for c in self.components)

    def output_width(self, input_width: int, residual: float = 0.0) -> int:
        reads_input = self.gate != 1.0 or residual > 0.0
        return max(self.mixed_units, input_width) if reads_input else self.mixed_units


@dataclasses.dataclass(frozen=True)
class NetworkPlan:
    """Embedding mixture, then the present layers input to output, then a softmax output layer.

    Every present layer's mixture is blended with its layer-normalized self by ``normalization``
    and adds ``residual`` times its (padded) input before the gate:
    ``h' = gate * (n(mix) + residual * pad(h)) + (1 - gate) * pad(h)``; ``learning_rate`` and
    ``weight_decay`` are how it trains.
    """

    embeddings: tuple[tuple[str, float], ...]  # (kind, gamma) of every embedding with gamma > 0
    layers: tuple[LayerPlan, ...]
    normalization: float = 0.0  # weight of the layer-normalized mixture
    residual: float = 0.0  # weight of the skip added to each layer's output
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    modality: str = "tabular"  # "image": embeddings are stems, layers convolutions, pooled before the output

    def pools_after(self, position: int) -> bool:
        """Image networks halve height and width after every second present block (a fixed rule:
        deeper blocks see coarser, wider features at no choice of the search)."""
        return self.modality == "image" and position % 2 == 0

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, _ in self.embeddings)

    @property
    def is_dense_stack(self) -> bool:
        """Plain Dense layers: one embedding, one baseline per layer behind an open gate (a layer
        norm or a residual at full weight is still a plain, discrete choice)."""
        plain = self.normalization in (0.0, 1.0) and self.residual in (0.0, 1.0)
        return plain and len(self.embeddings) == 1 and all(layer.is_dense for layer in self.layers)

    def input_width(self, widths: Mapping[str, int]) -> int:
        """The embeddings are zero-padded to the widest one the network reads."""
        return max(widths[kind] for kind in self.kinds)

    def layer_widths(self, widths: Mapping[str, int]) -> list[tuple[int, int]]:
        """(input width, output width) of every layer."""
        result, width = [], self.input_width(widths)
        for layer in self.layers:
            out = layer.output_width(width, self.residual)
            result.append((width, out))
            width = out
        return result

    def output_input_width(self, widths: Mapping[str, int]) -> int:
        return self.layer_widths(widths)[-1][1] if self.layers else self.input_width(widths)

    def num_parameters(self, widths: Mapping[str, int], num_classes: int) -> int:
        """Trainable parameters of the network (each baseline's Dense reads its layer's input)."""
        total = sum(fan_in * c.units + c.units for layer, (fan_in, _) in zip(self.layers, self.layer_widths(widths)) for c in layer.components)
        return total + self.output_input_width(widths) * num_classes + num_classes

    def training_json(self) -> dict[str, float]:
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}

    def to_json(self) -> list[dict[str, Any]]:
        """Architecture data: each layer's operation and its inputs (the connectivity)."""
        first = "stem" if self.modality == "image" else "embedding"
        if len(self.embeddings) == 1 and self.embeddings[0][1] == 1.0:
            layers: list[dict[str, Any]] = [{"name": first, "op": first, "kind": self.embeddings[0][0]}]
        else:
            components = [{"kind": kind, "weight": weight} for kind, weight in self.embeddings]
            layers = [{"name": first, "op": f"{first}_mixture", "components": components}]
        for position, layer in enumerate(self.layers, start=1):
            previous = layers[-1]["name"]
            if layer.is_dense:
                [only] = layer.components
                if only.kernel:
                    op = {"name": f"conv_{position}", "op": "conv2d", "filters": only.units, "kernel_size": only.kernel}
                else:
                    op = {"name": f"dense_{position}", "op": "dense", "units": only.units}
                layers.append({**op, "activation": only.activation, "inputs": [previous]})
                if self.residual:
                    layers[-1]["residual_from"] = previous
            else:
                layers.append(
                    {
                        "name": f"mixture_{position}",
                        "op": "gated_mixture",
                        "gate": layer.gate,
                        "components": [
                            {"units": c.units, "activation": c.activation, **({"kernel_size": c.kernel} if c.kernel else {}), "weight": c.weight}
                            for c in layer.components
                        ],
                        "inputs": [previous],
                        "skip_from": previous,
                    }
                )
                if self.residual:
                    layers[-1]["residual"] = self.residual
            if self.normalization:
                layers[-1]["layer_norm"] = self.normalization
            if self.pools_after(position):
                layers[-1]["then"] = "max_pooling_2x2"
        if self.modality == "image":
            layers.append({"name": "pool", "op": "global_average_pooling", "inputs": [layers[-1]["name"]]})
        layers.append({"name": "output", "op": "dense", "activation": "softmax", "inputs": [layers[-1]["name"]]})
        return layers


def stack_multiply_adds(plans: Sequence[NetworkPlan], widths: Mapping[str, int], num_classes: int) -> int:
    """Multiply-adds per example of one network of a stack, after padding to the stack's shapes
    (mirrors :class:`~tfx_tanas.stacked.StackedNetworks`); each activation computed counts as one."""
    width = max(plan.input_width(widths) for plan in plans)
    total = 0
    for j in range(max(len(plan.layers) for plan in plans)):
        present = [plan.layers[j] for plan in plans if len(plan.layers) > j]
        columns = max(layer.columns for layer in present)
        mixed = max(layer.mixed_units for layer in present)
        activations = len({c.activation for layer in present for c in layer.components})
        total += width * columns + columns * activations
        if not all(layer.is_dense for layer in present):
            total += columns * mixed  # the alpha-and-padding matrix
        all_open = len(present) == len(plans) and all(layer.gate == 1.0 for layer in present) and not any(p.residual for p in plans)
        width = mixed if all_open else max(width, mixed)
    return total + width * num_classes
