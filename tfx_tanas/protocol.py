"""The one training protocol: meta-training records, ``tanas train`` and the TFX Trainer all use it.

An architecture's *score* is its validation accuracy averaged over the last
``protocol.score_epochs`` epochs (the patent's "average of the accuracies of the last epochs").
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


@dataclasses.dataclass(frozen=True)
class TrainingProtocol:
    """Fixed recipe; changing any field makes scores incomparable, hence ``version``."""

    epochs: int = 15
    learning_rate: float = 1e-3
    validation_fraction: float = 0.2
    score_epochs: int = 3
    batches_per_epoch: int = 32
    min_batch_size: int = 32
    max_batch_size: int = 256
    version: int = 1

    def batch_size(self, num_train: int) -> int:
        size = math.ceil(num_train / self.batches_per_epoch)
        return int(min(num_train, max(self.min_batch_size, min(self.max_batch_size, size))))

    def steps_per_epoch(self, num_train: int) -> int:
        return num_train // self.batch_size(num_train)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DEFAULT_PROTOCOL = TrainingProtocol()
