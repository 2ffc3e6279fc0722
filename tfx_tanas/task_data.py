"""A labelled frame made ready to train on: cleaned, split (seeded, stratified) and embedded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import tensorflow as tf

from tfx_tanas.data import Split, TabularSchema, class_names, clean_frame, stratified_split
from tfx_tanas.embeddings import TabularEncoder
from tfx_tanas.errors import InputError
from tfx_tanas.protocol import DEFAULT_PROTOCOL, TrainingProtocol
from tfx_tanas.search_space import EMBEDDINGS


@dataclasses.dataclass
class EncodedSplit:
    embeddings: dict[str, np.ndarray]
    labels: np.ndarray


@dataclasses.dataclass
class PreparedTask:
    """A task ready to train on: schema and encoder fitted on the training rows, splits encoded."""

    schema: TabularSchema
    encoder: TabularEncoder
    train: EncodedSplit
    validation: EncodedSplit
    train_frame: pd.DataFrame

    @property
    def num_classes(self) -> int:
        return len(self.schema.classes)

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


def prepare_task(frame: pd.DataFrame, label: str, protocol: TrainingProtocol = DEFAULT_PROTOCOL, seed: int = 0) -> PreparedTask:
    """Clean, split (seeded, stratified) and encode a labelled frame."""
    frame = clean_frame(frame, label)
    labels = TabularSchema(label, class_names(frame[label]), [], []).encode_labels(frame[label])
    split: Split = stratified_split(labels, protocol.validation_fraction, seed)
    return prepare_from_splits(frame.iloc[split.train], frame.iloc[split.validation], label)


def prepare_splits(frame: pd.DataFrame, label: str, protocol: TrainingProtocol = DEFAULT_PROTOCOL, seed: int = 0) -> list[PreparedTask]:
    """The splits a task is scored on: one seeded 80/20 split, or k folds (stratified when every
    class has k rows) when the protocol cross-validates a task this small."""
    frame = clean_frame(frame, label)
    folds = protocol.num_folds(len(frame))
    if folds == 1:
        return [prepare_task(frame, label, protocol, seed)]
    from sklearn.model_selection import KFold, StratifiedKFold

    labels = TabularSchema(label, class_names(frame[label]), [], []).encode_labels(frame[label])
    stratify = np.bincount(labels).min() >= folds
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    return [
        prepare_from_splits(frame.iloc[train], frame.iloc[validation], label)
        for train, validation in splitter.split(np.zeros(len(labels)), labels if stratify else None)
    ]


def prepare_from_splits(train_frame: pd.DataFrame, validation_frame: pd.DataFrame, label: str) -> PreparedTask:
    """Encode given, cleaned splits: schema and encoder are fitted on the training rows only."""
    train_frame = train_frame.reset_index(drop=True)
    validation_frame = validation_frame.reset_index(drop=True)
    classes = class_names(pd.concat([train_frame[label], validation_frame[label]]))
    schema = TabularSchema.fit(train_frame, label, classes)
    encoder = TabularEncoder(schema, EMBEDDINGS)
    return PreparedTask(
        schema=schema,
        encoder=encoder,
        train=EncodedSplit(encode_features(encoder, train_frame), schema.encode_labels(train_frame[label])),
        validation=EncodedSplit(encode_features(encoder, validation_frame), schema.encode_labels(validation_frame[label])),
        train_frame=train_frame,
    )
