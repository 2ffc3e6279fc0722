"""A labelled frame made ready to train on: cleaned, split (seeded, stratified) and embedded."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
import tensorflow as tf

from tfx_tanas.data import Split, TabularSchema, class_names, clean_frame, stratified_split
from tfx_tanas.embeddings import TabularEncoder
from tfx_tanas.errors import InputError
from tfx_tanas.protocol import DEFAULT_PROTOCOL, TrainingProtocol
from tfx_tanas.search_space import EMBEDDINGS, Architecture


@dataclasses.dataclass
class EncodedSplit:
    embeddings: dict[str, np.ndarray]
    labels: np.ndarray


@dataclasses.dataclass
class PreparedTask:
    """A task ready to train on: its rows embedded once, and the splits it is scored on.

    ``folds`` are (training rows, validation rows) index pairs into ``data``: one 80/20 split
    (schema and encoder fitted on its training rows), or k folds of a small task (fitted on all
    its rows: feature statistics only, no label leaks). ``train`` and ``validation`` are the
    first split's.
    """

    schema: TabularSchema
    encoder: TabularEncoder
    data: EncodedSplit
    folds: list[tuple[np.ndarray, np.ndarray]]
    train_frame: pd.DataFrame

    @property
    def num_classes(self) -> int:
        return len(self.schema.classes)

    @property
    def train(self) -> EncodedSplit:
        return self._rows(self.folds[0][0])

    @property
    def validation(self) -> EncodedSplit:
        return self._rows(self.folds[0][1])

    def _rows(self, rows: np.ndarray) -> EncodedSplit:
        return EncodedSplit({k: v[rows] for k, v in self.data.embeddings.items()}, self.data.labels[rows])

    def encode(self, frame: pd.DataFrame) -> EncodedSplit:
        """Encode another frame (e.g. ``--eval-data``) with this task's fitted schema."""
        if self.schema.label not in frame.columns:
            raise InputError(f"label column '{self.schema.label}' not found in evaluation data")
        frame = frame.loc[frame[self.schema.label].notna()]
        return EncodedSplit(encode_features(self.encoder, frame), self.schema.encode_labels(frame[self.schema.label]))


def encode_features(encoder: TabularEncoder, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    raw = encoder.schema.raw_features(frame)
    tensors = {k: tf.constant(v.astype(str) if v.dtype == object else v) for k, v in raw.items()}
    return {k: v.numpy() for k, v in encoder(tensors).items()}


def used_embeddings(architectures: Sequence[Architecture]) -> tuple[str, ...]:
    """The baseline embeddings some architecture reads, in the space's order: the only ones worth
    computing (each can be wide: on a large table, computing all of them dominates memory)."""
    used = {kind for arch in architectures for kind in arch.plan.kinds}
    return tuple(kind for kind in EMBEDDINGS if kind in used)


def prepare_task(
    frame: pd.DataFrame, label: str, protocol: TrainingProtocol = DEFAULT_PROTOCOL, seed: int = 0, kinds: Sequence[str] = EMBEDDINGS
) -> PreparedTask:
    """Clean, split (seeded, stratified) and encode a labelled frame with the embeddings ``kinds``."""
    frame = clean_frame(frame, label)
    labels = TabularSchema(label, class_names(frame[label]), [], []).encode_labels(frame[label])
    split: Split = stratified_split(labels, protocol.validation_fraction, seed)
    return prepare_from_splits(frame.iloc[split.train], frame.iloc[split.validation], label, kinds)


def prepare_splits(
    frame: pd.DataFrame, label: str, protocol: TrainingProtocol = DEFAULT_PROTOCOL, seed: int = 0, kinds: Sequence[str] = EMBEDDINGS
) -> PreparedTask:
    """The task with the splits the protocol scores it on: one seeded 80/20 split, or k folds
    (stratified when every class has k rows, drawn as often as the protocol says)."""
    frame = clean_frame(frame, label)
    folds, repeats = protocol.num_folds(len(frame))
    if folds == 1:
        return prepare_task(frame, label, protocol, seed, kinds)
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    frame = frame.reset_index(drop=True)
    schema = TabularSchema.fit(frame, label, class_names(frame[label]))
    encoder = TabularEncoder(schema, kinds)
    labels = schema.encode_labels(frame[label])
    stratify = np.bincount(labels).min() >= folds
    splitter = (RepeatedStratifiedKFold if stratify else RepeatedKFold)(n_splits=folds, n_repeats=repeats, random_state=seed)
    splits = [(np.sort(train), np.sort(validation)) for train, validation in splitter.split(np.zeros(len(labels)), labels if stratify else None)]
    return PreparedTask(schema, encoder, EncodedSplit(encode_features(encoder, frame), labels), splits, frame)


def prepare_from_splits(train_frame: pd.DataFrame, validation_frame: pd.DataFrame, label: str, kinds: Sequence[str] = EMBEDDINGS) -> PreparedTask:
    """Encode given, cleaned splits: schema and encoder are fitted on the training rows only."""
    train_frame = train_frame.reset_index(drop=True)
    validation_frame = validation_frame.reset_index(drop=True)
    classes = class_names(pd.concat([train_frame[label], validation_frame[label]]))
    schema = TabularSchema.fit(train_frame, label, classes)
    encoder = TabularEncoder(schema, kinds)
    both = pd.concat([train_frame, validation_frame], ignore_index=True)
    rows = np.arange(len(both))
    return PreparedTask(
        schema=schema,
        encoder=encoder,
        data=EncodedSplit(encode_features(encoder, both), schema.encode_labels(both[label])),
        folds=[(rows[: len(train_frame)], rows[len(train_frame) :])],
        train_frame=train_frame,
    )
