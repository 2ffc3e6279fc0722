"""ArchitectureRecordsGen executor: (task, chunk of architectures) trainings as Beam elements.

Each element trains one chunk, under one measurement seed, of a task's sampled architectures with
:func:`tfx_tanas.meta_training.records_for_task` (stacked, so a chunk costs about one training),
so trainings spread over DirectRunner workers locally and over Flink/Spark/Dataflow workers
through ``beam_pipeline_args``, unchanged. A task that cannot be used (unloadable, one class...)
is logged to ``skipped.jsonl`` and the others go on, as in the sequential ``generate_records``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from tfx_tanas.components import artifacts, specs
from tfx_tanas.errors import InputError
from tfx_tanas.meta_training import TASK_ERRORS, records_for_task, task_architectures
from tfx_tanas.protocol import DEFAULT_PROTOCOL
from tfx_tanas.records import RECORDS_FILE, RECORDS_VERSION
from tfx_tanas.search_space import DEFAULT_SPACE, Architecture
from tfx_tanas.tasks import Task

SKIPPED_FILE = "skipped.jsonl"
_SKIPPED_TAG = "skipped"

log = logging.getLogger(__name__)


class Executor(base_beam_executor.BaseBeamExecutor):
    """Per task the shared reference architectures plus seeded samples (as ``generate_records``
    picks them), trained in Beam; writes whole records."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        tasks = parse_tasks(exec_properties[specs.TASKS_KEY])
        per_task = int(exec_properties[specs.ARCHITECTURES_PER_TASK_KEY])
        chunk_size = int(exec_properties[specs.CHUNK_SIZE_KEY])
        fraction = float(exec_properties[specs.CONTINUOUS_FRACTION_KEY])
        seed = int(exec_properties[specs.SEED_KEY])
        measurements = int(exec_properties[specs.MEASUREMENTS_KEY])
        if per_task < 1 or chunk_size < 1 or measurements < 1 or not 0.0 <= fraction <= 1.0:
            raise InputError("architectures_per_task, chunk_size and measurements must be >= 1, continuous_fraction in [0, 1]")
        space = DEFAULT_SPACE
        work = [
            (task, chunk, measurement)
            for task in tasks
            for chunk in _chunks(task_architectures(space, task, per_task, seed, fraction), chunk_size)
            for measurement in range(measurements)
        ]
        output = artifact_utils.get_single_instance(output_dict[specs.RECORDS_KEY])
        records_path = os.path.join(output.uri, RECORDS_FILE)
        skipped_path = os.path.join(output.uri, SKIPPED_FILE)
        with self._make_beam_pipeline() as pipeline:
            results = (
                pipeline
                | "Trainings" >> beam.Create(work)
                | "Distribute" >> beam.Reshuffle()
                | "Train" >> beam.ParDo(_TrainChunk(seed)).with_outputs(_SKIPPED_TAG, main="records")
            )
            results.records | "WriteRecords" >> _write_lines(records_path)
            results[_SKIPPED_TAG] | "WriteSkipped" >> _write_lines(skipped_path)

        trained_tasks = {json.loads(line)["task"] for line in _read_lines(records_path)}
        skipped = {json.loads(line)["task"]: json.loads(line)["reason"] for line in _read_lines(skipped_path)}
        for task, reason in sorted(skipped.items()):
            log.warning("skipped task %s: %s", task, reason)
        num_records = len(_read_lines(records_path))
        if not num_records:
            raise InputError(f"no task produced a record ({len(skipped)} skipped; see {skipped_path})")
        output.set_int_custom_property(artifacts.RECORDS_VERSION, RECORDS_VERSION)
        output.set_int_custom_property(artifacts.PROTOCOL_VERSION, DEFAULT_PROTOCOL.version)
        output.set_string_custom_property(artifacts.SEARCH_SPACE_FINGERPRINT, space.fingerprint)
        output.set_int_custom_property(artifacts.NUM_RECORDS, num_records)
        output.set_int_custom_property(artifacts.NUM_TASKS, len(trained_tasks))
        output.set_int_custom_property(artifacts.NUM_TASKS_SKIPPED, len(set(skipped) - trained_tasks))


class _TrainChunk(beam.DoFn):
    """One Beam element: train a chunk of architectures on a task, emit one JSON line per record."""

    def __init__(self, seed: int):
        self._seed = seed

    def process(self, element: tuple[Task, list[Architecture], int]) -> Iterator[Any]:
        task, architectures, measurement = element
        try:
            records = records_for_task(task, architectures, DEFAULT_PROTOCOL, self._seed, len(architectures), measurement)
        except TASK_ERRORS as err:
            yield beam.pvalue.TaggedOutput(_SKIPPED_TAG, json.dumps({"task": task.task_id, "reason": str(err)}))
            return
        for record in records:
            yield json.dumps(record.to_json(), separators=(",", ":"))


def parse_tasks(text: str) -> list[Task]:
    """The ``tasks`` parameter: a JSON list of Task fields (source, name, label, params)."""
    try:
        items = json.loads(text)
        tasks = [Task(**item) for item in items]
    except (json.JSONDecodeError, TypeError) as err:
        raise InputError(f"tasks must be a JSON list of {{source, name, label, params}} objects ({err})") from None
    if not tasks:
        raise InputError("tasks is empty: give at least one task to train architectures on")
    return tasks


def _chunks(architectures: Sequence[Architecture], size: int) -> list[list[Architecture]]:
    return [list(architectures[start : start + size]) for start in range(0, len(architectures), size)]


def _write_lines(path: str) -> beam.PTransform:
    """All lines to exactly ``path`` (one shard): downstream components read one file."""
    return beam.io.WriteToText(path, shard_name_template="", num_shards=1)


def _read_lines(path: str) -> list[str]:
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as handle:
        return [line for line in handle.read().splitlines() if line.strip()]
