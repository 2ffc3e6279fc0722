"""EvaluatorTrainer component definition."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from tfx_tanas.components import artifacts, specs
from tfx_tanas.components.evaluator_trainer import executor
from tfx_tanas.evaluator import EvaluatorConfig

_DEFAULTS = EvaluatorConfig()


class EvaluatorTrainer(base_component.BaseComponent):
    """Trains the evaluator network (meta-features, architecture) -> predicted score on records.

    Parameters mirror :class:`tfx_tanas.evaluator.EvaluatorConfig` and take its defaults (from
    :mod:`tfx_tanas.options`): ``loss`` (one of ``options.EVALUATOR_LOSSES``; "squared_error" is
    the patent's objective), ``meta_features_mode`` ("tfdv" statistics, "learned" by a set encoder
    trained jointly, or "both"), ``ensemble_size``, ``epochs``, ``context_noise``,
    ``risk_aversion`` (saved with the evaluator: ArchSearcher picks the best mean - risk_aversion *
    spread), ``fallback_margin`` (saved with it too: ArchSearcher keeps its pick only if it leads
    the network best on average over the training tasks by more), ``seed``.

    Output ``evaluator``: a ``tfx_tanas.EvaluatorArtifact`` artifact, the directory ArchSearcher loads.
    """

    SPEC_CLASS = specs.EvaluatorTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        records: types.BaseChannel,
        loss: str = _DEFAULTS.loss,
        meta_features_mode: str = _DEFAULTS.meta_features,
        ensemble_size: int = _DEFAULTS.ensemble_size,
        epochs: int = _DEFAULTS.epochs,
        context_noise: float = _DEFAULTS.context_noise,
        risk_aversion: float = _DEFAULTS.risk_aversion,
        fallback_margin: float = _DEFAULTS.fallback_margin,
        seed: int = _DEFAULTS.seed,
    ):
        super().__init__(
            spec=specs.EvaluatorTrainerSpec(
                records=records,
                loss=loss,
                meta_features_mode=meta_features_mode,
                ensemble_size=ensemble_size,
                epochs=epochs,
                context_noise=context_noise,
                risk_aversion=risk_aversion,
                fallback_margin=fallback_margin,
                seed=seed,
                evaluator=types.Channel(type=artifacts.EvaluatorArtifact),
            )
        )
