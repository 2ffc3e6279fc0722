"""ArchitectureRecordsGen's executor: a real Beam run training a small task's architectures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from tfx.dsl.components.base import base_beam_executor

from tfx_tanas.components import artifacts
from tfx_tanas.components.architecture_records_gen.executor import SKIPPED_FILE, Executor, elements_per_process
from tfx_tanas.errors import InputError
from tfx_tanas.meta_training import task_architectures
from tfx_tanas.records import RECORDS_FILE, read_records
from tfx_tanas.search_space import DEFAULT_SPACE
from tfx_tanas.tasks import Task

SMALL_TASK = Task(
    "synthetic",
    "small_linear",
    "label",
    json.dumps(
        {"family": "linear", "rows": 120, "features": 4, "classes": 2, "imbalance": 0.0, "label_noise": 0.0,
         "categorical_fraction": 0.25, "missing_fraction": 0.0, "seed": 7},
        sort_keys=True,
    ),
)
UNKNOWN_TASK = Task("sklearn", "no_such_set", "target")


def run(tasks: list[Task], out: Path, beam_pipeline_args: list[str] | None = None) -> artifacts.RecordsArtifact:
    records = artifacts.RecordsArtifact()
    records.uri = str(out)
    exec_properties = {
        "tasks": json.dumps([dataclasses.asdict(t) for t in tasks]),
        "architectures_per_task": 3,
        "continuous_fraction": 0.0,
        "chunk_size": 2,
        "seed": 0,
        "measurements": 2,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=beam_pipeline_args or [])
    Executor(context).Do({}, {"records": [records]}, exec_properties)
    return records


def test_trains_every_architecture_and_logs_unusable_tasks(tmp_path: Path) -> None:
    # Two Beam workers, as beam_pipeline_args would ask on any runner.
    output = run([SMALL_TASK, UNKNOWN_TASK], tmp_path, ["--direct_num_workers=2", "--direct_running_mode=multi_threading"])
    records = read_records(tmp_path / RECORDS_FILE)
    networks = task_architectures(DEFAULT_SPACE, SMALL_TASK, 3, 0, 0.0)  # 3 samples; one network sampled twice trains once
    assert len(networks) >= 2
    assert len(records) == 2 * len(networks) == output.get_int_custom_property(artifacts.NUM_RECORDS)  # 2 seeds each
    assert sorted(r.seeds for r in records) == [(0,)] * len(networks) + [(1,)] * len(networks)
    assert {r.task for r in records} == {SMALL_TASK.task_id}
    assert all(0.0 <= r.score <= 1.0 for r in records)
    assert {r.architecture.key for r in records} == {a.key for a in networks}
    skipped = [json.loads(line) for line in (tmp_path / SKIPPED_FILE).read_text().splitlines()]
    assert {s["task"] for s in skipped} == {UNKNOWN_TASK.task_id}
    assert output.get_int_custom_property(artifacts.NUM_TASKS) == 1
    assert output.get_int_custom_property(artifacts.NUM_TASKS_SKIPPED) == 1


def test_no_usable_task_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no task produced a record"):
        run([UNKNOWN_TASK], tmp_path)


def test_malformed_tasks_are_refused(tmp_path: Path) -> None:
    records = artifacts.RecordsArtifact()
    records.uri = str(tmp_path)
    with pytest.raises(InputError, match="tasks must be a JSON list"):
        Executor().Do({}, {"records": [records]}, {"tasks": '[{"name": "iris"}]', "architectures_per_task": 3,
                                                     "continuous_fraction": 0.0, "chunk_size": 2, "seed": 0,
                                                     "measurements": 1})


def test_child_process_budget_reads_zero_and_older_pipelines_as_training_in_the_worker() -> None:
    # 0 is the CLI's "no child processes"; a pipeline compiled before the parameter has no key.
    assert elements_per_process({"elements_per_process": 8}) == 8
    assert elements_per_process({"elements_per_process": 0}) is None
    assert elements_per_process({}) is None
