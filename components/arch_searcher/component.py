"""ArchSearcher component definition."""

from __future__ import annotations

import json
from collections.abc import Mapping

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from tfx_tanas import options
from tfx_tanas.components import artifacts, specs
from tfx_tanas.components.arch_searcher import executor


class ArchSearcher(base_component.BaseComponent):
    """Finds the architecture the evaluator scores highest for the task's meta-features.

    Parameters: ``method`` (a name of :data:`tfx_tanas.options.SEARCH_METHODS`), ``seed``, and
    ``search_options``, the method's options (e.g. ``{"starts": 8}`` for gradient search); unset
    options take their defaults, an option of another method is refused. ``train_top`` K > 1
    hands the Trainer the search's shortlist of K distinct networks instead of one (the pick, the
    leader, the evaluator's static portfolio): it trains them and keeps the best on validation
    (few-shot refinement).

    Outputs ``architecture`` (``tfx_tanas.ArchitectureArtifact``: architecture.json, candidates.jsonl)
    and ``hyperparameters`` (the same architecture as a standard HyperParameters artifact, for
    ``Trainer(hyperparameters=...)``).
    """

    SPEC_CLASS = specs.ArchSearcherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        meta_features: types.BaseChannel,
        evaluator: types.BaseChannel,
        method: str = options.DEFAULT_SEARCH_METHOD,
        seed: int = 0,
        search_options: Mapping[str, int | float] | None = None,
        train_top: int = 1,
    ):
        super().__init__(
            spec=specs.ArchSearcherSpec(
                meta_features=meta_features,
                evaluator=evaluator,
                method=method,
                seed=seed,
                search_options=json.dumps(dict(search_options)) if search_options else None,
                train_top=train_top,
                architecture=types.Channel(type=artifacts.ArchitectureArtifact),
                hyperparameters=types.Channel(type=standard_artifacts.HyperParameters),
            )
        )
