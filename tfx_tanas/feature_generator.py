"""Learned meta-features (patent claims 11-13): a set encoder over the (sample, label) rows.

Instead of (or beside) hand-made statistics, a small network reads a fixed-size sample of the
data set and outputs a task embedding; it is trained jointly with the evaluator on the common
objective (:mod:`tfx_tanas.evaluator`, ``meta_features="learned"`` or ``"both"``).

The sample is a tensor ``[FEATURES, ROWS, 2 + CLASSES]``: for each of up to FEATURES columns and
ROWS rows, the standardized value, a missing flag, and the row's label as a one-hot over classes
ordered by frequency (the rarest classes share the last slot). The encoder is permutation
invariant twice over (DeepSets): an MLP per element, mean over rows -> one vector per feature,
an MLP per feature, mean over features -> the task embedding. Missing feature slots are masked.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tfx_tanas.data import label_to_class

SAMPLE_FEATURES = 8
SAMPLE_ROWS = 64
SAMPLE_CLASSES = 8
ELEMENT_WIDTH = 2 + SAMPLE_CLASSES
EMBEDDING_WIDTH = 16


def task_sample(frame: pd.DataFrame, label: str, seed: int = 0) -> np.ndarray:
    """The encoder's view of a labelled frame: ``[SAMPLE_FEATURES, SAMPLE_ROWS, ELEMENT_WIDTH]``.

    Feature slots beyond the frame's features stay all-zero (the encoder masks them out).
    Categorical columns enter as the standardized frequency of each row's category.
    """
    rng = np.random.default_rng(seed)
    frame = frame.loc[frame[label].notna()]
    rows = frame.iloc[rng.choice(len(frame), size=SAMPLE_ROWS, replace=len(frame) < SAMPLE_ROWS)]
    labels = rows[label].map(label_to_class)
    order = frame[label].map(label_to_class).value_counts().index
    slot = {name: min(i, SAMPLE_CLASSES - 1) for i, name in enumerate(order)}
    one_hot = np.eye(SAMPLE_CLASSES, dtype=np.float32)[[slot[v] for v in labels]]
    columns = [c for c in frame.columns if c != label]
    chosen = rng.choice(len(columns), size=min(SAMPLE_FEATURES, len(columns)), replace=False)
    sample = np.zeros((SAMPLE_FEATURES, SAMPLE_ROWS, ELEMENT_WIDTH), np.float32)
    for position, index in enumerate(sorted(chosen)):
        column = columns[index]
        values = _as_numbers(frame[column], rows[column])
        missing = np.isnan(values)
        sample[position, :, 0] = np.where(missing, 0.0, values)
        sample[position, :, 1] = missing
        sample[position, :, 2:] = one_hot
    return sample


def _as_numbers(full: pd.Series, rows: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(full):
        reference = full.to_numpy(dtype=float, na_value=np.nan)
        values = rows.to_numpy(dtype=float, na_value=np.nan)
    else:
        frequency = full.astype(str).value_counts(normalize=True)
        reference = full.astype(str).map(frequency).to_numpy(dtype=float)
        values = rows.astype(str).map(frequency).to_numpy(dtype=float)
        values[rows.isna().to_numpy()] = np.nan
    mean, std = np.nanmean(reference), np.nanstd(reference)
    return np.clip((values - mean) / (std if std > 1e-12 else 1.0), -5, 5)


def build_set_encoder(seed: int = 0) -> keras.Model:
    """``[tasks, FEATURES, ROWS, ELEMENT_WIDTH]`` -> ``[tasks, EMBEDDING_WIDTH]``.

    The layers with weights have fixed names (Keras numbers unnamed ones per process): the
    evaluator saves their weights under them.
    """
    keras.utils.set_random_seed(seed)
    sample = keras.Input((SAMPLE_FEATURES, SAMPLE_ROWS, ELEMENT_WIDTH))
    element = keras.layers.Dense(32, activation="relu", name="element_0")(sample)
    element = keras.layers.Dense(32, activation="relu", name="element_1")(element)
    per_feature = MaskedMean(axis=2)([element, sample])
    per_feature = keras.layers.Dense(32, activation="relu", name="feature")(per_feature)
    embedding = MaskedMean(axis=1)([per_feature, sample])
    output = keras.layers.Dense(EMBEDDING_WIDTH, activation="tanh", name="embedding")(embedding)
    return keras.Model(sample, output, name="set_encoder")


class MaskedMean(keras.layers.Layer):
    """Mean over rows (axis 2) or features (axis 1), ignoring empty feature slots."""

    def __init__(self, axis: int, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        values, sample = inputs
        present = tf.cast(tf.reduce_any(sample[..., 2:] > 0, axis=-1), values.dtype)  # [T, F, R]
        if self.axis == 2:
            weights = present[..., None]
            return tf.reduce_sum(values * weights, axis=2) / tf.maximum(tf.reduce_sum(weights, axis=2), 1.0)
        feature_present = tf.cast(tf.reduce_max(present, axis=2) > 0, values.dtype)[..., None]  # [T, F, 1]
        return tf.reduce_sum(values * feature_present, axis=1) / tf.maximum(tf.reduce_sum(feature_present, axis=1), 1.0)
