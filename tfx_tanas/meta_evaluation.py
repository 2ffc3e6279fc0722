"""How good is an evaluator on tasks it has never seen? Leave-task-out cross-validation.

Search only uses the evaluator to *order* architectures of one task, so the figures that matter
are within-task: the Spearman correlation of predicted vs measured scores, and the top-1 regret
(best measured score of the task minus the measured score of the architecture the evaluator
ranks first), in accuracy points. The task-blind yardstick is the best-on-average architecture:
among the architectures measured on nearly every training task (the shared references), the one
with the highest mean score there; an evaluator that knows the task must lose less than it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

import numpy as np
from scipy.stats import spearmanr

from tfx_tanas.evaluator import EvaluatorConfig
from tfx_tanas.meta_training import task_samples
from tfx_tanas.records import Record, average_over_seeds, portfolio_rows, to_arrays
from tfx_tanas.search_space import Architecture
from tfx_tanas.workflows import train_evaluator

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TaskFigures:
    task: str
    spearman: float
    regret_points: float
    num_architectures: int
    best_on_average_regret_points: float = float("nan")  # the same regret of the task-blind pick


@dataclasses.dataclass
class HeldOutPredictions:
    """Every record's prediction by the evaluator that did not see its task, one row per record."""

    tasks: np.ndarray
    mean: np.ndarray
    spread: np.ndarray  # the ensemble's standard deviation (0 for one network)
    measured: np.ndarray
    discrete: np.ndarray  # only discrete networks can be picked, as in search
    baseline_picks: np.ndarray  # the rows of each task's best-on-average network

    def figures(self, risk_aversion: float) -> list[TaskFigures]:
        """Per-task figures of the search's rule: pick the best ``mean - risk_aversion * spread``."""
        pick_scores = np.where(self.discrete, self.mean - risk_aversion * self.spread, -np.inf)
        return within_task_figures(self.tasks, self.mean, self.measured, self.baseline_picks, pick_scores)


@dataclasses.dataclass
class CrossValidationReport:
    config: EvaluatorConfig
    tasks: list[TaskFigures]
    predictions: HeldOutPredictions

    def with_risk_aversion(self, risk_aversion: float) -> CrossValidationReport:
        """The same held-out predictions, picked with another risk aversion (no refitting)."""
        return CrossValidationReport(self.config, self.predictions.figures(risk_aversion), self.predictions)

    @property
    def mean_spearman(self) -> float:
        return float(np.nanmean([t.spearman for t in self.tasks]))

    @property
    def median_regret(self) -> float:
        return float(np.median([t.regret_points for t in self.tasks]))

    @property
    def mean_regret(self) -> float:
        return float(np.mean([t.regret_points for t in self.tasks]))

    @property
    def gain_over_best_on_average(self) -> tuple[float, float]:
        """Mean and standard error of (best-on-average regret - evaluator regret) in points over
        the tasks where both were measured: positive when knowing the task pays."""
        gains = np.array([t.best_on_average_regret_points - t.regret_points for t in self.tasks])
        gains = gains[np.isfinite(gains)]
        if len(gains) < 2:
            return float("nan"), float("nan")
        return float(gains.mean()), float(gains.std(ddof=1) / np.sqrt(len(gains)))

    def summary(self) -> str:
        gain, error = self.gain_over_best_on_average
        return (
            f"loss={self.config.loss} meta-features={self.config.meta_features} ensemble={self.config.ensemble_size}: mean within-task Spearman "
            f"{self.mean_spearman:.3f}, top-1 regret median {self.median_regret:.2f} / mean {self.mean_regret:.2f} points "
            f"over {len(self.tasks)} tasks; {gain:+.2f} +/- {error:.2f} points over best-on-average"
        )


def within_task_figures(
    tasks: np.ndarray,
    predicted: np.ndarray,
    measured: np.ndarray,
    baseline_picks: np.ndarray | None = None,
    pick_scores: np.ndarray | None = None,
) -> list[TaskFigures]:
    """Per task, Spearman of ``predicted`` and the top-1 regret of the row with the highest
    ``pick_scores`` (default ``predicted``; -inf rows are never picked); ``baseline_picks`` marks
    the rows of the task-blind pick (one per task at most), whose regret is reported beside."""
    pick_scores = predicted if pick_scores is None else pick_scores
    figures = []
    for task in np.unique(tasks):
        rows = tasks == task
        pred, meas = predicted[rows], measured[rows]
        rho = spearmanr(pred, meas).statistic if np.ptp(meas) > 0 and np.ptp(pred) > 0 else np.nan
        regret = 100.0 * (meas.max() - meas[np.argmax(pick_scores[rows])])
        baseline = np.nan
        if baseline_picks is not None and baseline_picks[rows].any():
            baseline = 100.0 * (meas.max() - meas[baseline_picks[rows]].mean())
        figures.append(TaskFigures(str(task), float(rho), float(regret), int(rows.sum()), float(baseline)))
    return figures


def static_portfolio(records: list[Record], size: int, coverage: float = 0.9) -> list[Architecture]:
    """The greedy static portfolio of up to ``size`` discrete networks measured on at least
    ``coverage`` of the records' tasks (:func:`~tfx_tanas.records.portfolio_rows`): what an
    evaluator fitted on these records stores."""
    records = average_over_seeds(records)
    arrays = to_arrays(records)
    rows = portfolio_rows(arrays.encodings, arrays.scores, arrays.groups, size, coverage, accept=records[0].architecture.space.encodes_discrete)
    return [records[row].architecture for row in rows]


def best_on_average(records: list[Record], coverage: float = 0.9) -> str:
    """The key of the discrete network with the highest mean score among those measured on at
    least ``coverage`` of the records' tasks: the first of :func:`static_portfolio`."""
    portfolio = static_portfolio(records, 1, coverage)
    if not portfolio:
        raise ValueError("no architecture was measured on most tasks (records without shared references?)")
    return portfolio[0].key


def assign_folds(units: Iterable[str], folds: int, seed: int = 0) -> dict[str, int]:
    """Each unit (a task, or a family of tasks) to one of ``folds`` folds of near-equal size, by a
    seeded shuffle of the sorted units: every benchmark that holds out tasks calls this, so their
    folds agree for one seed."""
    ordered = sorted(set(units))
    return {str(unit): int(fold) for unit, fold in zip(np.random.default_rng(seed).permutation(ordered), np.arange(len(ordered)) % folds)}


def task_family(task_id: str) -> str:
    """The family a task was made from (``image/shapes_px16_...`` -> ``image/shapes``): tasks of
    one family are near copies of each other, so leave-family-out holds them out together."""
    source, _, name = task_id.partition("/")
    return f"{source}/{name.split('_')[0]}"


def leave_task_out(
    records: list[Record],
    config: EvaluatorConfig,
    folds: int = 5,
    seed: int = 0,
    by_family: bool = False,
    held_out_sources: tuple[str, ...] | None = None,
    training_share: float = 1.0,
) -> CrossValidationReport:
    """Fit on the tasks of all folds but one, measure on the held-out fold's tasks; repeat. The
    top-1 pick is the search's rule: the discrete network with the best ``mean - risk_aversion *
    spread`` of the ensemble's predictions, with the config's risk aversion
    (:meth:`CrossValidationReport.with_risk_aversion` re-picks with another value). ``by_family`` puts every task of a
    :func:`task_family` in one fold (at most as many folds as families). With ``held_out_sources``
    (e.g. :data:`~tfx_tanas.tasks.REAL_SOURCES`) only tasks of those sources are held out and
    measured; the others (synthetic, prior) are in the training set of every fold. A
    ``training_share`` below 1 fits each fold's evaluator on a seeded random share of its training
    tasks: a learning curve that tells whether more tasks would pay."""
    records = average_over_seeds(records)  # one row per (task, architecture), as the arrays
    arrays = to_arrays(records)
    rotated = np.array([held_out_sources is None or g.split("/")[0] in held_out_sources for g in arrays.groups])
    if not rotated.any():
        raise ValueError(f"no records of the held-out sources {', '.join(held_out_sources or ())}")
    tasks = np.unique(arrays.groups[rotated])
    units = sorted({task_family(t) for t in tasks}) if by_family else list(tasks)
    folds = min(folds, len(units))
    fold_of_unit = assign_folds(units, folds, seed)
    fold_of = {t: fold_of_unit[task_family(t) if by_family else t] for t in tasks}
    fold = np.array([fold_of.get(t, -1) for t in arrays.groups])  # -1: always in training
    samples = task_samples(list(tasks), seed) if config.uses_learned else {}
    predicted, spread = np.zeros(len(arrays.scores)), np.zeros(len(arrays.scores))
    discrete = np.array([r.architecture.is_discrete for r in records])
    keys = np.array([r.architecture.key for r in records])
    baseline_picks = np.zeros(len(records), dtype=bool)
    sampler = np.random.default_rng([seed, 1])
    for k in range(folds):
        training_tasks = sorted({g for g in arrays.groups if fold_of.get(g, -1) != k})
        kept = set(sampler.permutation(training_tasks)[: max(2, round(training_share * len(training_tasks)))])
        training = [r for r in records if r.task in kept]
        evaluator = train_evaluator(training, config)
        baseline_picks |= (fold == k) & (keys == best_on_average(training))
        for task in np.unique(arrays.groups[fold == k]):
            rows = arrays.groups == task
            prediction = evaluator.predict(arrays.meta_features[rows], arrays.encodings[rows], samples.get(task))
            predicted[rows], spread[rows] = prediction.mean, prediction.std
        log.info("fold %d/%d done (%d held-out tasks)", k + 1, folds, len(np.unique(arrays.groups[fold == k])))
    predictions = HeldOutPredictions(
        arrays.groups[rotated], predicted[rotated], spread[rotated], arrays.scores[rotated], discrete[rotated], baseline_picks[rotated]
    )
    return CrossValidationReport(config, predictions.figures(config.risk_aversion), predictions)
