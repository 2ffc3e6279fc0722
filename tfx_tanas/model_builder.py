"""Architecture (+ data schema) -> Keras model, and the TF Serving export.

The model is two parts:

* :class:`TabularEncoder` turns raw columns into the baseline embeddings (claim 8). All three are
  fixed transforms fitted on the training rows, so training can encode the data once and train
  many networks on the encoded arrays.
* the *network*: for a continuous architecture the gamma-mix of embeddings followed by gated
  mixtures of every baseline layer, zero-padded to a common width (claims 6-7); for a discrete
  architecture plain ``Dense`` layers.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfx_tanas.data import TabularSchema
from tfx_tanas.search_space import Architecture

PERIODIC_FREQUENCIES = (0.1, 0.3, 1.0)  # cycles per standard deviation
_Z_CLIP = 5.0


class TabularEncoder(keras.layers.Layer):
    """Raw columns (dict of 1-D tensors) -> dict of baseline embeddings.

    * ``standard``: standardized numerics (missing -> 0) + missing indicators + one-hot categoricals
    * ``quantile``: one-hot quantile bucket per numeric (+ a missing bucket) + one-hot categoricals
    * ``periodic``: standardized numerics with sin/cos features at fixed frequencies + one-hot
      categoricals
    Categorical values outside the vocabulary (and missing ones) share one extra bucket.
    """

    def __init__(self, schema: TabularSchema, kinds: Sequence[str], **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.schema = schema
        self.kinds = tuple(kinds)
        numeric = schema.numeric
        self._means = np.array([c.mean for c in numeric], dtype=np.float32)
        self._stds = np.array([c.std for c in numeric], dtype=np.float32)
        self._missing_columns = np.array([i for i, c in enumerate(numeric) if c.has_missing], dtype=np.int32)
        self.lookups = [
            keras.layers.StringLookup(vocabulary=c.vocabulary, output_mode="one_hot", num_oov_indices=1)
            for c in schema.categorical
        ]

    def build(self, input_shape) -> None:
        self.built = True  # every part is fixed at construction; nothing depends on input shapes

    @property
    def widths(self) -> dict[str, int]:
        n_num = len(self.schema.numeric)
        n_missing = len(self._missing_columns)
        n_cat = sum(len(c.vocabulary) + 1 for c in self.schema.categorical)
        n_buckets = sum(len(c.boundaries) + 1 + int(c.has_missing) for c in self.schema.numeric)
        all_widths = {
            "standard": n_num + n_missing + n_cat,
            "quantile": n_buckets + n_cat,
            "periodic": n_num * (1 + 2 * len(PERIODIC_FREQUENCIES)) + n_missing + n_cat,
        }
        return {kind: all_widths[kind] for kind in self.kinds}

    def call(self, inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        parts_cat = [lookup(tf.reshape(inputs[c.name], [-1])) for c, lookup in zip(self.schema.categorical, self.lookups)]
        batch = tf.shape(inputs[self.schema.feature_names[0]])[0]
        empty = tf.zeros([batch, 0], tf.float32)
        if self.schema.numeric:
            x = tf.stack([tf.reshape(tf.cast(inputs[c.name], tf.float32), [-1]) for c in self.schema.numeric], axis=1)
            is_nan = tf.math.is_nan(x)
            z = tf.where(is_nan, 0.0, tf.clip_by_value((x - self._means) / self._stds, -_Z_CLIP, _Z_CLIP))
            missing = tf.cast(tf.gather(is_nan, self._missing_columns, axis=1), tf.float32)
        else:
            x, is_nan, z, missing = empty, None, empty, empty
        categorical = tf.concat([tf.cast(p, tf.float32) for p in parts_cat], axis=1) if parts_cat else empty
        outputs = {}
        if "standard" in self.kinds:
            outputs["standard"] = tf.concat([z, missing, categorical], axis=1)
        if "quantile" in self.kinds:
            buckets = []
            for i, column in enumerate(self.schema.numeric):
                boundaries = tf.constant(column.boundaries, tf.float32)
                index = tf.reduce_sum(tf.cast(x[:, i : i + 1] > boundaries[None, :], tf.int32), axis=1)
                index = tf.where(is_nan[:, i], len(column.boundaries) + 1, index)
                buckets.append(tf.one_hot(index, len(column.boundaries) + 1 + int(column.has_missing)))
            outputs["quantile"] = tf.concat([*buckets, categorical], axis=1)
        if "periodic" in self.kinds:
            angles = [2 * math.pi * f * z for f in PERIODIC_FREQUENCIES]
            periodic = [z] + [tf.sin(a) for a in angles] + [tf.cos(a) for a in angles]
            outputs["periodic"] = tf.concat([*periodic, missing, categorical], axis=1)
        return outputs


class PadTo(keras.layers.Layer):
    """Zero-pads the last axis to ``width``: how baselines of different sizes are summed."""

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = width

    def call(self, x):
        return keras.ops.pad(x, [[0, 0], [0, self.width - x.shape[-1]]])


class WeightedSum(keras.layers.Layer):
    """``sum_i w_i * pad(x_i)`` with fixed architecture weights (alpha or gamma)."""

    def __init__(self, weights: Sequence[float], width: int, **kwargs):
        super().__init__(**kwargs)
        self.mix_weights = [float(w) for w in weights]
        self.pads = [PadTo(width) for _ in self.mix_weights]

    def call(self, inputs):
        return sum(w * pad(x) for w, pad, x in zip(self.mix_weights, self.pads, inputs))


class GatedSkip(keras.layers.Layer):
    """``beta * layer_output + (1 - beta) * pad(layer_input)``: beta = 0 removes the layer."""

    def __init__(self, beta: float, width: int, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)
        self.pad = PadTo(width)

    def call(self, inputs):
        output, skip = inputs
        return self.beta * self.pad(output) + (1.0 - self.beta) * self.pad(skip)


def used_embeddings(arch: Architecture) -> list[str]:
    """Embeddings the network reads: the chosen one, or every one with gamma > 0."""
    if arch.is_discrete:
        return [arch.embedding]
    return [kind for kind, g in zip(arch.space.embeddings, arch.gamma) if g > 0]


def build_network(arch: Architecture, widths: Mapping[str, int], num_classes: int) -> keras.Model:
    """Embeddings -> logits: plain Dense layers when discrete, the mixture network otherwise."""
    if arch.is_discrete:
        return build_discrete_network(arch, widths, num_classes)
    return build_mixture_network(arch, widths, num_classes)


def build_discrete_network(arch: Architecture, widths: Mapping[str, int], num_classes: int) -> keras.Model:
    kind = arch.embedding
    inputs = {kind: keras.Input((widths[kind],), name=kind)}
    h = inputs[kind]
    for j, layer in enumerate(arch.hidden_layers):
        h = keras.layers.Dense(layer.units, activation=layer.activation, name=f"dense_{j + 1}")(h)
    logits = keras.layers.Dense(num_classes, name="output")(h)
    return keras.Model(inputs, logits, name="discrete_network")


def build_mixture_network(arch: Architecture, widths: Mapping[str, int], num_classes: int) -> keras.Model:
    """Baseline layers mixed by alpha, gated by beta; embeddings mixed by gamma.

    Components with a zero weight are left out: they would contribute exactly zero.
    """
    space = arch.space
    kinds = used_embeddings(arch)
    inputs = {kind: keras.Input((widths[kind],), name=kind) for kind in kinds}
    width = max(space.max_units, *(widths[k] for k in kinds))
    gamma = [g for g in arch.gamma if g > 0]
    h = WeightedSum(gamma, width, name="embedding_mixture")([inputs[k] for k in kinds])
    for j in range(space.num_layers):
        if arch.beta[j] == 0.0:
            continue  # identity: skipping it is exact and saves the compute
        components = [(b, w) for b, w in zip(space.baseline_layers, arch.alpha[j]) if w > 0]
        branches = [
            keras.layers.Dense(b.units, activation=b.activation, name=f"layer{j + 1}_{b.name}")(h)
            for b, _ in components
        ]
        mixed = WeightedSum([w for _, w in components], width, name=f"layer{j + 1}_mixture")(branches)
        h = GatedSkip(arch.beta[j], width, name=f"layer{j + 1}_gate")([mixed, h])
    logits = keras.layers.Dense(num_classes, name="output")(h)
    return keras.Model(inputs, logits, name="mixture_network")


def num_parameters(arch: Architecture, widths: Mapping[str, int], num_classes: int) -> int:
    """Trainable parameters of :func:`build_network`'s network, without building it."""
    kinds = used_embeddings(arch)
    if arch.is_discrete:
        fan_in, total = widths[kinds[0]], 0
        for layer in arch.hidden_layers:
            total += fan_in * layer.units + layer.units
            fan_in = layer.units
        return total + fan_in * num_classes + num_classes
    width = max(arch.space.max_units, *(widths[k] for k in kinds))
    total = width * num_classes + num_classes
    for j in np.flatnonzero(arch.beta > 0):
        total += sum(width * b.units + b.units for b, w in zip(arch.space.baseline_layers, arch.alpha[j]) if w > 0)
    return int(total)


class ServingModule(tf.Module):
    """Serialized tf.Examples -> class probabilities: what TF Serving and TFMA call."""

    def __init__(self, schema: TabularSchema, encoder: TabularEncoder, network: keras.Model, kinds: Sequence[str]):
        super().__init__()
        self.schema = schema
        self.encoder = encoder
        self.network = network
        self.kinds = list(kinds)
        self.class_names = tf.constant(schema.classes)
        self.serve = tf.function(
            self._serve, input_signature=[tf.TensorSpec([None], tf.string, name="examples")]
        )

    def _serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        embeddings = self.encoder(parse_examples(examples, self.schema))
        logits = self.network({k: embeddings[k] for k in self.kinds})
        probabilities = tf.nn.softmax(logits, axis=-1)
        class_id = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "class_name": tf.gather(self.class_names, class_id),
        }


def parse_examples(examples: tf.Tensor, schema: TabularSchema) -> dict[str, tf.Tensor]:
    """Parse serialized tf.Examples; absent features become NaN (numeric) or '' (categorical)."""
    spec = {c.name: tf.io.RaggedFeature(tf.int64 if c.dtype == "int64" else tf.float32) for c in schema.numeric}
    spec.update({c.name: tf.io.RaggedFeature(tf.string) for c in schema.categorical})
    parsed = tf.io.parse_example(examples, spec)
    features = {}
    for column in schema.numeric:
        ragged = parsed[column.name]
        first = tf.cast(ragged.to_tensor(default_value=0, shape=[None, 1])[:, 0], tf.float32)
        features[column.name] = tf.where(ragged.row_lengths() > 0, first, float("nan"))
    for column in schema.categorical:
        features[column.name] = parsed[column.name].to_tensor(default_value="", shape=[None, 1])[:, 0]
    return features


def save_serving_model(module: ServingModule, path: str | os.PathLike) -> None:
    """A SavedModel whose ``serving_default`` maps serialized tf.Examples to class probabilities."""
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def export_serving_model(module: ServingModule, serving_root: str | os.PathLike) -> Path:
    """Write ``serving_root/<version>/`` (TF Serving's layout) atomically; older versions stay."""
    serving_root = Path(serving_root)
    serving_root.mkdir(parents=True, exist_ok=True)
    version = int(time.time())
    while (serving_root / str(version)).exists():
        version += 1
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=serving_root))
    try:
        save_serving_model(module, staging)
        target = serving_root / str(version)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
