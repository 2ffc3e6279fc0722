"""ArchSearcher component definition."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components import artifacts, specs
from components.arch_searcher import executor


class ArchSearcher(base_component.BaseComponent):
    """Finds the architecture the evaluator scores highest for the task's meta-features.

    Parameters: ``method`` ("gradient" or "random"), ``seed``, and the method's options
    (gradient: ``starts``, ``steps``; random: ``num_samples``); unset options take the library's
    defaults.

    Outputs ``architecture`` (``components.Architecture``: architecture.json, candidates.jsonl)
    and ``hyperparameters`` (the same architecture as a standard HyperParameters artifact, for
    ``Trainer(hyperparameters=...)``).
    """

    SPEC_CLASS = specs.ArchSearcherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        meta_features: types.BaseChannel,
        evaluator: types.BaseChannel,
        method: str = "gradient",
        seed: int = 0,
        starts: int | None = None,
        steps: int | None = None,
        num_samples: int | None = None,
    ):
        super().__init__(
            spec=specs.ArchSearcherSpec(
                meta_features=meta_features,
                evaluator=evaluator,
                method=method,
                seed=seed,
                starts=starts,
                steps=steps,
                num_samples=num_samples,
                architecture=types.Channel(type=artifacts.Architecture),
                hyperparameters=types.Channel(type=standard_artifacts.HyperParameters),
            )
        )
