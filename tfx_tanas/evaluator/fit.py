"""Training the ensemble: Adam on each member, each on its own bootstrap of tasks.

``loss="squared_error"`` is the patent's objective; ``"pairwise"`` adds a ranking term over pairs
of architectures of the same task, ``"within_task"`` the squared error of each score's deviation
from its task's mean, in units of the task's spread: search only needs the order of architectures
on one task, and a plain squared error spends most of its effort on how hard each task is.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scipy.stats import norm, rankdata

from tfx_tanas.evaluator.config import EvaluatorConfig
from tfx_tanas.evaluator.network import MemberNetwork


def fit_ensemble(
    members: list[MemberNetwork],
    config: EvaluatorConfig,
    statistics: np.ndarray,
    encodings: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    samples: np.ndarray | None,
) -> None:
    """Fit every member; with several, each on a bootstrap of tasks, so their spread reflects
    how much the prediction depends on which tasks were seen. ``groups`` are task indices into
    ``samples`` (one data sample per task, for learned meta-features)."""
    rng = np.random.default_rng(config.seed)
    tasks = np.unique(groups)
    for index, member in enumerate(members):
        if len(members) > 1:
            chosen = rng.choice(tasks, size=len(tasks), replace=True)
            rows = np.concatenate([np.flatnonzero(groups == t) for t in chosen])
        else:
            rows = np.arange(len(y))
        _fit_member(member, config, statistics[rows], encodings[rows], y[rows], groups[rows], samples, seed=config.seed + index)


def within_task_standing(y: np.ndarray, groups: np.ndarray, kind: str = "zscore") -> np.ndarray:
    """How each score stands among its task's, on a common scale for every task (as in the
    within-task Spearman that measures the evaluator): ``"zscore"``, the deviation from the task's
    mean in units of its spread; ``"rank"``, the normal quantile of the within-task rank (ties
    share their mean rank), which a few diverged trainings cannot stretch."""
    standing = np.zeros_like(y)
    for g in np.unique(groups):
        rows = groups == g
        if kind == "rank":
            standing[rows] = norm.ppf((rankdata(y[rows]) - 0.5) / rows.sum())
        else:
            standing[rows] = (y[rows] - y[rows].mean()) / (y[rows].std() + 0.02)
    return standing


def batch_loss(
    member: MemberNetwork,
    config: EvaluatorConfig,
    statistics: tf.Tensor,
    encodings: tf.Tensor,
    y: tf.Tensor,
    standing: tf.Tensor,
    groups: tf.Tensor,
    samples: tf.Tensor | None,
) -> tf.Tensor:
    """The squared error of the score, through the member's training-mode forward pass;
    ``within_task`` adds the squared error of the merit against the standing, ``pairwise`` a
    ranking term on the merit over pairs of architectures of the same task."""
    score, merit = member(member.context(statistics, samples, groups), encodings, training=True)
    loss = tf.reduce_mean(tf.square(score - y))
    if config.loss == "within_task":
        loss += config.ranking_weight * tf.reduce_mean(tf.square(merit - standing))
    elif config.loss == "pairwise":
        mask = tf.cast(tf.equal(groups[:, None], groups[None, :]) & (y[:, None] - y[None, :] > 0.005), tf.float32)
        margin = merit[:, None] - merit[None, :]
        loss += config.ranking_weight * tf.reduce_sum(mask * tf.nn.softplus(-margin)) / tf.maximum(tf.reduce_sum(mask), 1.0)
    return loss


def _fit_member(
    member: MemberNetwork,
    config: EvaluatorConfig,
    statistics: np.ndarray,
    encodings: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    samples: np.ndarray | None,
    seed: int,
) -> None:
    optimizer = keras.optimizers.Adam(config.learning_rate)
    variables = list(member.trainable_variables)
    optimizer.build(variables)
    all_samples = tf.constant(samples) if samples is not None else None  # the encoder embeds every task once per step
    standing = within_task_standing(y, groups, config.standing)

    @tf.function(reduce_retracing=True)
    def step(zb, ub, yb, sb, gb):
        with tf.GradientTape() as tape:
            loss = batch_loss(member, config, zb, ub, yb, sb, gb, all_samples)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(seed)
    batch = min(config.batch_size, len(y))
    for _ in range(config.epochs):
        order = _task_clustered_order(groups, rng) if config.loss == "pairwise" else rng.permutation(len(y))
        for start in range(0, len(y) - batch + 1, batch):
            rows = order[start : start + batch]
            step(statistics[rows], encodings[rows], y[rows], standing[rows], groups[rows])


def _task_clustered_order(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle within tasks, then lay tasks out in random order, so batches hold comparable pairs."""
    order = []
    for task in rng.permutation(np.unique(groups)):
        order.append(rng.permutation(np.flatnonzero(groups == task)))
    return np.concatenate(order)
