"""The baseline embeddings of the first, gamma-mixed layer (patent claim 8), fitted on training rows.

All three are fixed transforms of the raw columns, so training encodes a task's data once and
trains many networks on the encoded arrays; the serving model applies the same layer to parsed
tf.Examples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfx_tanas.data import TabularSchema

PERIODIC_FREQUENCIES = (0.1, 0.3, 1.0)  # cycles per standard deviation
_Z_CLIP = 5.0


class TabularEncoder(keras.layers.Layer):
    """Raw columns (dict of 1-D tensors) -> dict of baseline embeddings.

    * ``standard``: standardized numerics (missing -> 0) + missing indicators + one-hot categoricals
    * ``quantile``: one-hot quantile bucket per numeric (+ a missing bucket) + one-hot categoricals
    * ``periodic``: standardized numerics with sin/cos features at fixed frequencies + one-hot
      categoricals
    * ``piecewise``: standardized numerics with their piecewise-linear encoding between quantile
      boundaries (Gorishniy et al., 2022: how far each value has come through each bin) + missing
      indicators + one-hot categoricals
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
        n_pieces = sum(max(len(c.boundaries) - 1, 0) for c in self.schema.numeric)
        all_widths = {
            "piecewise": n_num + n_pieces + n_missing + n_cat,
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
        if "piecewise" in self.kinds:
            pieces = []
            for i, column in enumerate(self.schema.numeric):
                edges = np.asarray(column.boundaries, np.float32)
                if len(edges) > 1:
                    spans = np.maximum(edges[1:] - edges[:-1], 1e-6)
                    piece = tf.clip_by_value((x[:, i : i + 1] - edges[None, :-1]) / spans[None, :], 0.0, 1.0)
                    pieces.append(tf.where(is_nan[:, i : i + 1], 0.0, piece))
            outputs["piecewise"] = tf.concat([z, *pieces, missing, categorical], axis=1)
        if "periodic" in self.kinds:
            angles = [2 * math.pi * f * z for f in PERIODIC_FREQUENCIES]
            periodic = [z] + [tf.sin(a) for a in angles] + [tf.cos(a) for a in angles]
            outputs["periodic"] = tf.concat([*periodic, missing, categorical], axis=1)
        return outputs
