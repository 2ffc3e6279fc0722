"""The evaluator's training choices, validated once; their defaults are :mod:`tfx_tanas.options`'."""

from __future__ import annotations

import dataclasses
from typing import Any

from tfx_tanas import options
from tfx_tanas.errors import InputError


@dataclasses.dataclass(frozen=True)
class EvaluatorConfig:
    hidden_units: tuple[int, ...] = (50, 50, 50, 10)  # the merit branch; the patent's 50-50-50-10
    loss: str = options.DEFAULT_EVALUATOR_LOSS  # one of options.EVALUATOR_LOSSES; "squared_error" is the patent's
    meta_features: str = options.DEFAULT_META_FEATURE_MODE  # "tfdv" statistics, "learned" set encoder (claim 11), or "both"
    learning_rate: float = 1e-3
    epochs: int = options.EVALUATOR_EPOCHS
    batch_size: int = 64
    ensemble_size: int = options.ENSEMBLE_SIZE
    standing: str = options.STANDINGS[0]  # the within_task target, one of options.STANDINGS
    ranking_weight: float = 3.0  # weight of the within-task term of loss="pairwise" or "within_task"
    context_noise: float = options.CONTEXT_NOISE  # std of Gaussian noise on the normalized task description while training
    # the search picks the best mean - risk_aversion * spread of this evaluator's ensemble: how much to
    # trust its spread is a property of the evaluator (benchmarks/evaluator_cv.py --risk-aversion)
    risk_aversion: float = options.RISK_AVERSION
    # the search keeps its pick only where that rule puts it more than this ahead of the network best
    # on average over the training tasks (the evaluator's fallback); 0 keeps every pick that beats it
    fallback_margin: float = options.FALLBACK_MARGIN
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in options.EVALUATOR_LOSSES:
            raise InputError(f"evaluator loss must be one of {options.EVALUATOR_LOSSES}, got {self.loss!r}")
        if self.standing not in options.STANDINGS:
            raise InputError(f"evaluator standing must be one of {options.STANDINGS}, got {self.standing!r}")
        if self.meta_features not in options.META_FEATURE_MODES:
            raise InputError(f"evaluator meta_features must be one of {options.META_FEATURE_MODES}, got {self.meta_features!r}")
        if not 0.0 <= self.context_noise <= 1.0:  # z-score units: beyond 1 the noise outweighs the task description
            raise InputError(f"evaluator context_noise must lie in [0, 1], got {self.context_noise}")
        if not self.risk_aversion >= 0.0:
            raise InputError(f"evaluator risk_aversion must be at least 0, got {self.risk_aversion}")
        if not self.fallback_margin >= 0.0:
            raise InputError(f"evaluator fallback_margin must be at least 0, got {self.fallback_margin}")
        if self.ensemble_size < 1 or not self.hidden_units:
            raise InputError("evaluator needs ensemble_size >= 1 and at least one hidden layer")

    @property
    def uses_statistics(self) -> bool:
        return self.meta_features in ("tfdv", "both")

    @property
    def uses_learned(self) -> bool:
        return self.meta_features in ("learned", "both")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluatorConfig:
        data = dict(data)
        data["hidden_units"] = tuple(data.get("hidden_units", cls.hidden_units))
        data.setdefault("standing", "zscore")  # evaluators saved before the field was added
        return cls(**data)
