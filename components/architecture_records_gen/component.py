"""ArchitectureRecordsGen component definition."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec

from tfx_tanas import options
from tfx_tanas.components import artifacts, specs
from tfx_tanas.components.architecture_records_gen import executor
from tfx_tanas.tasks import Task


class ArchitectureRecordsGen(base_beam_component.BaseBeamComponent):
    """Offline meta-training data: sample architectures per task, train them fully, score them.

    ``tasks`` are :class:`tfx_tanas.tasks.Task` values (e.g. ``sklearn_tasks() +
    synthetic_tasks(60)``); each gets ``architectures_per_task`` seeded samples (0: the task's
    default, :func:`tfx_tanas.meta_training.default_architectures_per_task`), a
    ``continuous_fraction`` of them continuous mixtures, trained in chunks of ``chunk_size``
    per Beam element, each ``measurements`` times (measurement seeds 0, 1, ...; the evaluator
    fits the mean score). Each worker trains ``elements_per_process`` elements in a child process,
    then starts a fresh one, which bounds its memory on long runs (0: train in the worker). Pass
    runner options with ``.with_beam_pipeline_args([...])`` or the pipeline's ``beam_pipeline_args``.

    Output ``records``: a ``tfx_tanas.RecordsArtifact`` artifact holding ``records.jsonl``
    (and ``skipped.jsonl``, the tasks that could not be used and why).
    """

    SPEC_CLASS = specs.ArchitectureRecordsGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        tasks: Sequence[Task],
        architectures_per_task: int = 0,
        continuous_fraction: float = options.CONTINUOUS_FRACTION,
        chunk_size: int = options.CHUNK_SIZE,
        seed: int = 0,
        measurements: int = options.MEASUREMENTS,
        elements_per_process: int = options.ELEMENTS_PER_PROCESS,
    ):
        super().__init__(
            spec=specs.ArchitectureRecordsGenSpec(
                tasks=json.dumps([dataclasses.asdict(task) for task in tasks]),
                architectures_per_task=architectures_per_task,
                continuous_fraction=continuous_fraction,
                chunk_size=chunk_size,
                seed=seed,
                measurements=measurements,
                elements_per_process=elements_per_process,
                records=types.Channel(type=artifacts.RecordsArtifact),
            )
        )
