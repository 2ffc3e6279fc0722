"""How good is an evaluator on tasks it has never seen? Leave-task-out cross-validation.

Search only uses the evaluator to *order* architectures of one task, so the figures that matter
are within-task: the Spearman correlation of predicted vs measured scores, and the top-1 regret
(best measured score of the task minus the measured score of the architecture the evaluator
ranks first), in accuracy points.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from scipy.stats import spearmanr

from tfx_tanas.evaluator import EvaluatorConfig
from tfx_tanas.meta_training import task_samples
from tfx_tanas.records import Record, to_arrays
from tfx_tanas.workflows import train_evaluator

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TaskFigures:
    task: str
    spearman: float
    regret_points: float
    num_architectures: int


@dataclasses.dataclass
class CrossValidationReport:
    config: EvaluatorConfig
    tasks: list[TaskFigures]

    @property
    def mean_spearman(self) -> float:
        return float(np.nanmean([t.spearman for t in self.tasks]))

    @property
    def median_regret(self) -> float:
        return float(np.median([t.regret_points for t in self.tasks]))

    @property
    def mean_regret(self) -> float:
        return float(np.mean([t.regret_points for t in self.tasks]))

    def summary(self) -> str:
        return (
            f"loss={self.config.loss} meta-features={self.config.meta_features} ensemble={self.config.ensemble_size}: mean within-task Spearman "
            f"{self.mean_spearman:.3f}, top-1 regret median {self.median_regret:.2f} / mean {self.mean_regret:.2f} points "
            f"over {len(self.tasks)} tasks"
        )


def within_task_figures(tasks: np.ndarray, predicted: np.ndarray, measured: np.ndarray) -> list[TaskFigures]:
    figures = []
    for task in np.unique(tasks):
        rows = tasks == task
        pred, meas = predicted[rows], measured[rows]
        rho = spearmanr(pred, meas).statistic if np.ptp(meas) > 0 and np.ptp(pred) > 0 else np.nan
        regret = 100.0 * (meas.max() - meas[np.argmax(pred)])
        figures.append(TaskFigures(str(task), float(rho), float(regret), int(rows.sum())))
    return figures


def leave_task_out(records: list[Record], config: EvaluatorConfig, folds: int = 5, seed: int = 0) -> CrossValidationReport:
    """Fit on the tasks of all folds but one, measure on the held-out fold's tasks; repeat."""
    arrays = to_arrays(records)
    tasks = np.unique(arrays.groups)
    fold_of = dict(zip(np.random.default_rng(seed).permutation(tasks), np.arange(len(tasks)) % folds))
    fold = np.array([fold_of[t] for t in arrays.groups])
    samples = task_samples(list(tasks), seed) if config.uses_learned else {}
    predicted = np.zeros(len(arrays.scores))
    for k in range(folds):
        evaluator = train_evaluator([r for r in records if fold_of[r.task] != k], config)
        for task in np.unique(arrays.groups[fold == k]):
            rows = arrays.groups == task
            predicted[rows] = evaluator.predict(arrays.meta_features[rows], arrays.encodings[rows], samples.get(task)).mean
        log.info("fold %d/%d done (%d held-out tasks)", k + 1, folds, len(np.unique(arrays.groups[fold == k])))
    return CrossValidationReport(config, within_task_figures(arrays.groups, predicted, arrays.scores))
