"""The one training protocol: meta-training records, ``tanas train`` and the TFX Trainer all use it.

A run is ``evaluations`` segments of steps, each followed by a look at the validation split.
An architecture's *score* is decided by ``score_rule``:

* ``"last"`` (version 1): validation accuracy averaged over the last ``score_evaluations``
  segments, one epoch each (the patent's "average of the accuracies of the last epochs");
* ``"best_loss"`` (version 2): early stopping within a step budget that grows with the data: the
  weights of the segment with the lowest validation loss are restored, and the score is their
  validation accuracy. Tasks are scored by k-fold cross-validation (the mean over folds; ``folds``
  drawn ``fold_repeats`` times up to ``fold_max_rows`` rows, ``large_folds`` above), since one
  validation split ranks close architectures largely by chance.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

SCORE_RULES = ("last", "best_loss")


@dataclasses.dataclass(frozen=True)
class TrainingProtocol:
    """Fixed recipe; changing any field makes scores incomparable, hence ``version``."""

    version: int = 1
    validation_fraction: float = 0.2
    batches_per_epoch: int = 32
    min_batch_size: int = 32
    max_batch_size: int = 256
    epochs: int = 15  # budget "epochs": this many epochs; otherwise steps = steps_per_sqrt_row * sqrt(rows)
    steps_per_sqrt_row: float = 0.0
    min_steps: int = 0
    max_steps: int = 0
    evaluations: int = 0  # 0: one per epoch
    score_rule: str = "last"
    score_evaluations: int = 3
    folds: int = 1  # k of the k-fold scores of tasks of at most fold_max_rows rows
    fold_repeats: int = 1  # how many times those k folds are drawn (with other seeds)
    fold_max_rows: int = 0
    large_folds: int = 1  # k of the k-fold scores of larger tasks (1: one split)

    def __post_init__(self) -> None:
        if self.score_rule not in SCORE_RULES:
            raise ValueError(f"score_rule must be one of {SCORE_RULES}")

    def batch_size(self, num_train: int) -> int:
        size = math.ceil(num_train / self.batches_per_epoch)
        return int(min(num_train, max(self.min_batch_size, min(self.max_batch_size, size))))

    def steps_per_epoch(self, num_train: int) -> int:
        return num_train // self.batch_size(num_train)

    def schedule(self, num_train: int) -> tuple[int, int]:
        """(evaluations, steps between two evaluations) for a training split of ``num_train`` rows."""
        if not self.steps_per_sqrt_row:
            return self.epochs, self.steps_per_epoch(num_train)
        steps = int(min(self.max_steps, max(self.min_steps, self.steps_per_sqrt_row * math.sqrt(num_train))))
        return self.evaluations, max(1, steps // self.evaluations)

    @property
    def max_rows_visited(self) -> int | None:
        """The most labelled rows a training can visit (its step budget at the largest batch, plus
        the validation split); ``None`` for an epochs budget, which visits every row."""
        if not self.steps_per_sqrt_row:
            return None
        return math.ceil(self.max_steps * self.max_batch_size / (1 - self.validation_fraction))

    def num_folds(self, num_rows: int) -> tuple[int, int]:
        """(k, repeats) of the k-fold splits that score a task of ``num_rows`` labelled rows;
        k = 1 is one seeded train/validation split."""
        return (self.folds, self.fold_repeats) if num_rows <= self.fold_max_rows else (self.large_folds, 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Version 2 (version 1, fixed 15 epochs of 32 batches scored on the last 3, measured a second time
# at within-task Spearman 0.53, is retired with search space 1). Small tasks get enough steps to
# converge (at least 300), large ones are not cut short (up to 2000); the best segment of 20 is
# kept; tasks up to 2000 rows are scored by 5-fold CV, larger ones by 3-fold CV (one split alone
# ranked close architectures at Spearman 0.6-0.7 against a second measurement; with the folds,
# 0.756; benchmarks/score_reliability.py --fresh). Drawing the folds twice would double the cost of
# meta-training: a second measurement can be added to the records later.
PROTOCOL_V2 = TrainingProtocol(
    version=2,
    batches_per_epoch=16,
    min_batch_size=32,
    max_batch_size=256,
    steps_per_sqrt_row=20.0,
    min_steps=300,
    max_steps=2000,
    evaluations=20,
    score_rule="best_loss",
    folds=5,
    fold_repeats=1,
    fold_max_rows=2000,
    large_folds=3,
)
DEFAULT_PROTOCOL = PROTOCOL_V2
PROTOCOLS = {2: PROTOCOL_V2}  # by search space version: a space's records, evaluator and trainings share one
# Images: convolutions cost far more per step on a CPU, so a smaller budget (100 to 600 steps of at
# most 128 images), the best of 10 segments kept, one 80/20 split.
IMAGE_PROTOCOL = TrainingProtocol(
    version=2,
    batches_per_epoch=16,
    min_batch_size=32,
    max_batch_size=128,
    steps_per_sqrt_row=6.0,
    min_steps=100,
    max_steps=600,
    evaluations=10,
    score_rule="best_loss",
)


def protocol_for(space_version: int, modality: str = "tabular") -> TrainingProtocol:
    """The protocol architectures of a search space (version and modality) train under."""
    return IMAGE_PROTOCOL if modality == "image" else PROTOCOLS[space_version]
