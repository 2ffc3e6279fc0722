"""The evaluator: (meta-features z, architecture encoding u) -> predicted score (claim 10).

An ensemble of member networks (:mod:`tfx_tanas.evaluator.network`) whose spread is the
uncertainty search's lower bound uses. Like a NASLib predictor it is ``fit`` then ``predict``;
:meth:`ArchitectureEvaluator.task_scorer` is the same forward pass for gradient search. It saves
to and loads from one directory that records the search space and meta-feature version it was
trained for (:mod:`tfx_tanas.evaluator.storage`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfx_tanas import options
from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.evaluator import storage
from tfx_tanas.evaluator.config import EvaluatorConfig
from tfx_tanas.evaluator.fit import fit_ensemble
from tfx_tanas.evaluator.network import ArchitectureSummary, MemberNetwork
from tfx_tanas.meta_features import MetaFeatures, meta_feature_set
from tfx_tanas.records import portfolio_rows
from tfx_tanas.search_space import Architecture, SearchSpace

_DEFAULT_CONFIG = EvaluatorConfig()  # frozen, so one instance can be every call's default


@dataclasses.dataclass
class Prediction:
    mean: np.ndarray
    std: np.ndarray  # spread across the ensemble members (0 for a single network)


class ArchitectureEvaluator:
    """Predicts how well an architecture does on a task described by its meta-features."""

    def __init__(
        self,
        space: SearchSpace,
        config: EvaluatorConfig = _DEFAULT_CONFIG,
        meta_feature_names: tuple[str, ...] | None = None,
    ):
        self.space = space
        self.config = config
        default_names, self.meta_feature_version = meta_feature_set(space.modality)  # by the space's modality
        self.meta_feature_names = tuple(meta_feature_names or default_names)
        self.z_mean = np.zeros(len(self.meta_feature_names), np.float32)
        self.z_std = np.ones(len(self.meta_feature_names), np.float32)
        self.z_min = np.full(len(self.meta_feature_names), -np.inf, np.float32)
        self.z_max = np.full(len(self.meta_feature_names), np.inf, np.float32)
        self.training_summary: dict[str, Any] = {}
        # a static portfolio of the discrete networks measured on most training tasks, greedy
        # (records.portfolio_rows): its first, the best on average, is what the search falls back
        # to unless its pick leads it by more than config.fallback_margin; the rest fill a
        # refinement's shortlist (empty: no network was measured on most training tasks)
        self.static_portfolio: list[Architecture] = []
        self.architecture_summary = ArchitectureSummary(space)  # weight-free, shared by the members
        self.members = [
            MemberNetwork(self.architecture_summary, config, len(self.meta_feature_names), seed=config.seed + index)
            for index in range(config.ensemble_size)
        ]

    def fit(
        self,
        meta_features: np.ndarray,
        encodings: np.ndarray,
        scores: np.ndarray,
        groups: np.ndarray,
        task_samples: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Fit every ensemble member (each on its own bootstrap of tasks when there are several).

        ``task_samples`` (task name -> :func:`~tfx_tanas.feature_generator.task_sample`) are needed
        when the evaluator learns its meta-features: the set encoder trains jointly with the network.
        """
        meta_features = np.asarray(meta_features, np.float32)
        encodings = np.asarray(encodings, np.float32)
        if encodings.shape[1] != self.space.encoding_size:
            raise VersionMismatchError(
                f"records encode architectures with {encodings.shape[1]} values; this search space uses "
                f"{self.space.encoding_size}"
            )
        self.z_mean = meta_features.mean(axis=0)
        std = meta_features.std(axis=0)
        self.z_std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
        self.z_min, self.z_max = meta_features.min(axis=0), meta_features.max(axis=0)
        task_names, group_ids = np.unique(groups, return_inverse=True)
        samples = None
        if self.config.uses_learned:
            missing = [t for t in task_names if task_samples is None or t not in task_samples]
            if missing:
                raise InputError(f"learned meta-features need a data sample of every task; missing {missing[:3]}")
            samples = np.stack([task_samples[t] for t in task_names])
        y = np.asarray(scores, np.float32)
        fit_ensemble(self.members, self.config, self.normalized(meta_features), encodings, y, group_ids.astype(np.int32), samples)
        rows = portfolio_rows(encodings, y, groups, options.PORTFOLIO_SIZE, accept=self.space.encodes_discrete)
        self.static_portfolio = [Architecture.from_vector(self.space, encodings[row]) for row in rows]
        self.training_summary = {"num_records": int(len(y)), "num_tasks": int(len(task_names))}

    @property
    def fallback(self) -> Architecture | None:
        """The discrete network best on average over the training tasks (None: none qualified)."""
        return self.static_portfolio[0] if self.static_portfolio else None

    def predict(self, meta_features: np.ndarray, encodings: np.ndarray, task_sample: np.ndarray | None = None) -> Prediction:
        """Scores for rows of (meta-features, encoding); one meta-feature vector broadcasts."""
        encodings = np.atleast_2d(np.asarray(encodings, np.float32))
        meta_features = np.atleast_2d(np.asarray(meta_features, np.float32))
        if meta_features.shape[0] == 1:
            meta_features = np.repeat(meta_features, len(encodings), axis=0)
        statistics = tf.constant(self.normalized(meta_features))
        sample = self._checked_sample(task_sample)
        contexts = tf.stack([member.context(statistics, sample) for member in self.members])  # [members, N, context]
        scores = MemberNetwork.stacked(self.members)(contexts, tf.constant(encodings), training=False)[0].numpy()  # [members, N]
        return Prediction(scores.mean(axis=0), scores.std(axis=0))

    def task_scorer(self, meta_features: MetaFeatures) -> Callable[[tf.Tensor], tf.Tensor]:
        """``u [N, encoding_size] -> ensemble mean score [N]`` for one task, differentiable in u.

        For gradient ascent, which traces it into every search: the members run as one
        (:meth:`~tfx_tanas.evaluator.network.MemberNetwork.stacked`, frozen weights); the task
        description (and a learned embedding of the task's sample), the task branch and what the
        task adds to the merit branch's first layer are computed once here, the figures of u once
        per call, then the rest of the architecture branch
        (:meth:`~tfx_tanas.evaluator.network.MemberNetwork.merit_given_task`).
        """
        statistics = tf.constant(self.normalized(meta_features.vector(self.meta_feature_names))[None])
        sample = self._checked_sample(meta_features.sample)
        ensemble = MemberNetwork.stacked(self.members)
        contexts = tf.stack([member.context(statistics, sample) for member in self.members])  # [members, 1, context]
        level, spread = (tf.constant(t) for t in ensemble.task_terms(contexts, training=False))  # [members, 1]
        task_part = tf.constant(ensemble.merit_task_part(contexts, training=False))

        def score(encodings: tf.Tensor) -> tf.Tensor:  # MemberNetwork.head, its task parts computed once above
            figures = self.architecture_summary(tf.cast(encodings, tf.float32))  # [N, figures], the same for every member
            return tf.reduce_mean(level + spread * ensemble.merit_given_task(task_part, figures, training=False), axis=0)

        return score

    def _checked_sample(self, task_sample: np.ndarray | None) -> tf.Tensor | None:
        if not self.config.uses_learned:
            return None
        if task_sample is None:
            raise InputError("this evaluator learns its meta-features: it needs a data sample of the task")
        return tf.constant(np.asarray(task_sample, np.float32)[None])

    def normalized(self, meta_features: np.ndarray) -> np.ndarray:
        """Meta-features z-scored with the training records' mean and std."""
        return ((np.asarray(meta_features, np.float32) - self.z_mean) / self.z_std).astype(np.float32)

    def out_of_range(self, meta_features: np.ndarray) -> list[str]:
        """Meta-features outside the range seen in training (predictions there are extrapolations)."""
        meta_features = np.asarray(meta_features, np.float32)
        margin = 0.05 * (self.z_max - self.z_min)
        outside = (meta_features < self.z_min - margin) | (meta_features > self.z_max + margin)
        return [name for name, flag in zip(self.meta_feature_names, outside) if flag]

    def save(self, directory: str | os.PathLike) -> Path:
        normalization = {"mean": self.z_mean, "std": self.z_std, "min": self.z_min, "max": self.z_max}
        members = [{name: w.numpy() for name, w in member.named_weights().items()} for member in self.members]
        stored = storage.StoredEvaluator(
            self.space, self.config, self.meta_feature_names, normalization, self.training_summary, members, self.static_portfolio
        )
        return storage.write(directory, stored)

    @classmethod
    def load(cls, directory: str | os.PathLike, space: SearchSpace | None = None) -> ArchitectureEvaluator:
        """Load; refuses an evaluator made for another search space or meta-feature version."""
        stored = storage.read(directory, space)
        evaluator = cls(stored.space, stored.config, stored.meta_feature_names)
        norm = stored.normalization
        evaluator.z_mean, evaluator.z_std, evaluator.z_min, evaluator.z_max = norm["mean"], norm["std"], norm["min"], norm["max"]
        evaluator.training_summary = stored.training_summary
        evaluator.static_portfolio = stored.static_portfolio
        for member, arrays in zip(evaluator.members, stored.members):
            storage.assign(member.named_weights(), arrays, directory)
        return evaluator
