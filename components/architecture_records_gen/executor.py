"""ArchitectureRecordsGen executor: :func:`tfx_tanas.meta_training.generate_records` on the
component's Beam options.

Each Beam element trains one chunk, under one measurement seed, of a task's sampled architectures
(stacked, so a chunk costs about one training), so trainings spread over DirectRunner workers
locally and over Flink/Spark/Dataflow workers through ``beam_pipeline_args``, unchanged. A task
that cannot be used (unloadable, one class...) is logged to ``skipped.jsonl`` and the others go on.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from tfx_tanas.components import artifacts, specs
from tfx_tanas.errors import InputError
from tfx_tanas.files import write_text
from tfx_tanas.meta_training import generate_records
from tfx_tanas.protocol import DEFAULT_PROTOCOL
from tfx_tanas.records import RECORDS_FILE, RECORDS_VERSION
from tfx_tanas.search_space import DEFAULT_SPACE
from tfx_tanas.tasks import Task

SKIPPED_FILE = "skipped.jsonl"
_PARTS_DIR = ".parts"  # inside the artifact, where every worker can write: removed once joined

log = logging.getLogger(__name__)


class Executor(base_beam_executor.BaseBeamExecutor):
    """Per task the shared reference architectures plus seeded samples, trained in Beam."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        tasks = parse_tasks(exec_properties[specs.TASKS_KEY])
        fraction = float(exec_properties[specs.CONTINUOUS_FRACTION_KEY])
        per_task = int(exec_properties[specs.ARCHITECTURES_PER_TASK_KEY])
        if per_task < 0 or not 0.0 <= fraction <= 1.0:
            raise InputError("architectures_per_task must be >= 0 (0: each task's default), continuous_fraction in [0, 1]")
        output = artifact_utils.get_single_instance(output_dict[specs.RECORDS_KEY])
        parts_dir = os.path.join(output.uri, _PARTS_DIR)
        with tempfile.TemporaryDirectory() as scratch:  # joined locally, then written whole to the artifact
            local_records = Path(scratch) / RECORDS_FILE
            summary = generate_records(
                tasks, local_records, DEFAULT_SPACE,
                archs_per_task=per_task or None,
                continuous_fraction=fraction,
                protocol=DEFAULT_PROTOCOL,
                seed=int(exec_properties[specs.SEED_KEY]),
                measurements=int(exec_properties[specs.MEASUREMENTS_KEY]),
                beam_pipeline_args=self._beam_pipeline_args,
                parts_dir=parts_dir,
                chunk_size=int(exec_properties[specs.CHUNK_SIZE_KEY]),
                elements_per_process=elements_per_process(exec_properties),
            )
            if tf.io.gfile.exists(parts_dir):
                tf.io.gfile.rmtree(parts_dir)
            if not summary.records_written:
                raise InputError(f"no task produced a record ({len(summary.tasks_skipped)} skipped: {summary.tasks_skipped})")
            tf.io.gfile.copy(str(local_records), os.path.join(output.uri, RECORDS_FILE), overwrite=True)
        skipped_lines = [json.dumps({"task": task, "reason": reason}) for task, reason in sorted(summary.tasks_skipped.items())]
        write_text(os.path.join(output.uri, SKIPPED_FILE), "".join(line + "\n" for line in skipped_lines))
        output.set_int_custom_property(artifacts.RECORDS_VERSION, RECORDS_VERSION)
        output.set_int_custom_property(artifacts.PROTOCOL_VERSION, DEFAULT_PROTOCOL.version)
        output.set_string_custom_property(artifacts.SEARCH_SPACE_FINGERPRINT, DEFAULT_SPACE.fingerprint)
        output.set_int_custom_property(artifacts.NUM_RECORDS, summary.records_written)
        output.set_int_custom_property(artifacts.NUM_TASKS, summary.tasks_done)
        output.set_int_custom_property(artifacts.NUM_TASKS_SKIPPED, len(summary.tasks_skipped))


def elements_per_process(exec_properties: dict[str, Any]) -> int | None:
    """The child-process budget of a worker; 0 or unset (a pipeline compiled before it existed) as
    the library's ``None``: train in the worker itself."""
    return int(exec_properties.get(specs.ELEMENTS_PER_PROCESS_KEY) or 0) or None


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
