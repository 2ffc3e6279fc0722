"""A network plan of an image space -> the Keras network from images to logits (claim 15).

The same plan as for tables (:mod:`tfx_tanas.network_plan`), read as convolutions: the first
layer is the gamma-weighted mixture of baseline stems, each halving height and width into
:data:`STEM_FILTERS` channels; every parametrized block is the alpha-weighted sum of its baseline
convolutions, zero-padded in channels to the widest (claim 6), behind its beta gate (claim 7:
beta = 0 makes the block the identity); every second present block is followed by 2x2 max
pooling; global average pooling and a dense softmax layer end the network. A discrete architecture
is a plain stack of ``Conv2D`` layers. Images enter as floats in [0, 1].
"""

from __future__ import annotations

import keras

from tfx_tanas.model_builder import GatedSkip, mix
from tfx_tanas.network_plan import NetworkPlan

STEM_FILTERS = 16


def stem(kind: str, name: str) -> keras.layers.Layer:
    """One baseline stem: each maps (H, W, C) to (ceil(H/2), ceil(W/2), STEM_FILTERS)."""
    if kind == "conv3x3":
        layers = [keras.layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", activation="relu")]
    elif kind == "patchify2":  # non-overlapping 2x2 patches, linearly embedded (as a ViT's patches)
        layers = [keras.layers.Conv2D(STEM_FILTERS, 2, strides=2, padding="same")]
    elif kind == "pool_conv3x3":
        layers = [keras.layers.AveragePooling2D(2, padding="same"), keras.layers.Conv2D(STEM_FILTERS, 3, padding="same", activation="relu")]
    else:
        raise ValueError(f"unknown stem {kind!r}")
    return keras.Sequential(layers, name=name)


def build_image_network(plan: NetworkPlan, image_shape: tuple[int, int, int], num_classes: int, name: str = "image_network") -> keras.Model:
    """Images (batch, height, width, channels) in [0, 1] -> logits."""
    if plan.modality != "image":
        raise ValueError("build_image_network needs the plan of an image architecture")
    image = keras.Input(image_shape, name="image")
    stems = [stem(kind, f"stem_{kind}")(image) for kind in plan.kinds]
    h = mix(stems, [w for _, w in plan.embeddings], STEM_FILTERS, "stem_mixture")
    width = STEM_FILTERS
    for position, layer in enumerate(plan.layers, start=1):
        branches = [
            keras.layers.Conv2D(c.units, c.kernel, padding="same", activation=c.activation, name=f"conv_{position}" if layer.is_dense else f"block{position}_{c.name}")(h)
            for c in layer.components
        ]
        mixed = mix(branches, [c.weight for c in layer.components], layer.mixed_units, f"block{position}_mixture")
        output_width = layer.output_width(width, plan.residual)
        if layer.gate != 1.0 or plan.residual:
            mixed = GatedSkip(layer.gate, output_width, plan.residual, name=f"block{position}_gate")([mixed, h])
        h, width = mixed, output_width
        if plan.pools_after(position):
            h = keras.layers.MaxPooling2D(2, padding="same", name=f"pool_{position}")(h)
    h = keras.layers.GlobalAveragePooling2D(name="global_pool")(h)
    logits = keras.layers.Dense(num_classes, name="output")(h)
    return keras.Model(image, logits, name=name)
