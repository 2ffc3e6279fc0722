"""Offline meta-training (patent FIG. 3): sample tasks -> sample architectures -> train -> records.

:func:`records_for_task` is the unit of work (one task, a list of architectures); the sequential
:func:`generate_records` and the Beam-based TFX component both call it. Generation appends whole
records as each task finishes and skips (task, architecture, measurement seed) triples already in
the file, so an interrupted run resumes where it stopped, and a run asking for more measurements
only trains the new ones. When the meta-feature definition changes, :func:`refresh_meta_features`
recomputes the stored meta-features in place: no training is redone for that either.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfx_tanas.data import clean_frame
from tfx_tanas.errors import InputError, TrainingError
from tfx_tanas.feature_generator import task_sample
from tfx_tanas.meta_features import META_FEATURE_NAMES, META_FEATURE_VERSION, meta_features_for_frame
from tfx_tanas.options import ARCHITECTURES_PER_TASK, CONTINUOUS_FRACTION, MEASUREMENTS
from tfx_tanas.protocol import DEFAULT_PROTOCOL, TrainingProtocol
from tfx_tanas.records import Record, append_records, drop_torn_tail, json_lines, measured, rewrite_lines
from tfx_tanas.search_space import Architecture, SearchSpace, sample_architectures
from tfx_tanas.tasks import MAX_TASK_ROWS, Task, task_from_id
from tfx_tanas.training import cross_validated_scores

log = logging.getLogger(__name__)


REFERENCE_SEED = 20190130
NUM_REFERENCES = 10
# What makes a task unusable for meta-training (logged and skipped); anything else is a bug.
TASK_ERRORS = (InputError, TrainingError)


def reference_architectures(space: SearchSpace, count: int = NUM_REFERENCES) -> list[Architecture]:
    """A fixed set of discrete architectures trained on every task, so tasks can be compared on
    shared ground (the "best on average" baseline, nearest-task transfer)."""
    return sample_architectures(space, count, REFERENCE_SEED)


def task_architectures(space: SearchSpace, task: Task, count: int, seed: int, continuous_fraction: float) -> list[Architecture]:
    """The references, then task-specific random architectures up to ``count`` samples; a network
    sampled twice is trained once (equivalent encodings share a key)."""
    references = reference_architectures(space, min(NUM_REFERENCES, count))
    sampled = references + sample_architectures(space, count - len(references), task_seed(task, seed), continuous_fraction)
    return list({arch.key: arch for arch in sampled}.values())


def task_seed(task: Task, seed: int) -> int:
    """A stable per-task seed, so a resumed run samples the same architectures."""
    return (seed * 1_000_003 + sum(ord(c) * (i + 1) for i, c in enumerate(task.task_id))) % (2**31)


def records_for_task(
    task: Task,
    architectures: Sequence[Architecture],
    protocol: TrainingProtocol = DEFAULT_PROTOCOL,
    seed: int = 0,
    group_size: int = ARCHITECTURES_PER_TASK,
    measurement: int = 0,
    max_rows: int = MAX_TASK_ROWS,
) -> list[Record]:
    """Train every architecture on the task and return one record per successful training.

    ``seed`` picks the task's rows (large sets are subsampled); ``measurement`` seeds the
    train/validation split (or folds) and the weight initialization, so measurements 0, 1, ... of
    one architecture are independent trainings on the same data."""
    frame = task.load(max_rows=max_rows, seed=seed)
    meta = meta_features_for_frame(frame, task.label)  # of the whole data set, as `tanas search` sees it
    results = cross_validated_scores(frame, task.label, architectures, protocol, measurement, group_size)
    records = []
    for result in results:
        if not result.ok:
            log.warning("task %s: architecture %s failed: %s", task.task_id, result.architecture.key, result.error)
            continue
        records.append(
            Record(
                task.task_id, meta, result.architecture, result.score, result.train_seconds, result.num_params, protocol.version,
                seeds=(measurement,),
            )
        )
    return records


@dataclasses.dataclass
class GenerationSummary:
    tasks_done: int = 0
    tasks_resumed: int = 0  # done in an earlier run: nothing trained now
    tasks_skipped: dict[str, str] = dataclasses.field(default_factory=dict)  # task id -> reason
    records_written: int = 0
    records_already_present: int = 0
    seconds: float = 0.0


def generate_records(
    tasks: Sequence[Task],
    out_path: str | Path,
    space: SearchSpace,
    archs_per_task: int = ARCHITECTURES_PER_TASK,
    continuous_fraction: float = CONTINUOUS_FRACTION,
    protocol: TrainingProtocol = DEFAULT_PROTOCOL,
    seed: int = 0,
    group_size: int = ARCHITECTURES_PER_TASK,
    measurements: int = MEASUREMENTS,
    max_rows: int = MAX_TASK_ROWS,
) -> GenerationSummary:
    """Sequential generation with resume and progress logs; failing tasks are logged and counted.
    Every architecture is trained ``measurements`` times (measurement seeds 0, 1, ...)."""
    if measurements < 1:
        raise InputError(f"measurements must be at least 1, got {measurements}")
    out_path = Path(out_path)
    drop_torn_tail(out_path)  # resuming after a kill: the interrupted line is trained again
    done = measured(out_path)
    refresh_meta_features(out_path, seed)
    summary = GenerationSummary()
    started = time.perf_counter()
    for index, task in enumerate(tasks, start=1):
        archs = task_architectures(space, task, archs_per_task, seed, continuous_fraction)
        todo_count = 0
        try:
            for measurement in range(measurements):
                todo = [a for a in archs if (task.task_id, a.key, measurement) not in done]
                summary.records_already_present += len(archs) - len(todo)
                if todo:
                    records = records_for_task(task, todo, protocol, seed, group_size, measurement, max_rows)
                    append_records(out_path, records)
                    summary.records_written += len(records)
                    todo_count += len(todo)
        except TASK_ERRORS as err:
            summary.tasks_skipped[task.task_id] = str(err)
            log.warning("[%d/%d] skipped %s: %s", index, len(tasks), task.task_id, err)
            continue
        summary.tasks_done += 1
        elapsed = time.perf_counter() - started
        trained = index - summary.tasks_resumed if todo_count else 0
        if not todo_count:
            summary.tasks_resumed += 1  # already in the file: costs nothing, and says nothing about the pace
        # the pace of the tasks that trained in this run, applied to the tasks still to come
        eta = elapsed / max(trained, 1) * (len(tasks) - index) if trained else float("nan")
        log.info(
            "[%d/%d] %s: %d trainings, %d already present; %d records written; elapsed %.0fs, ETA %.0fs",
            index, len(tasks), task.task_id, todo_count, len(archs) * measurements - todo_count, summary.records_written, elapsed, eta,
        )
    summary.seconds = time.perf_counter() - started
    return summary


def task_samples(task_ids: Sequence[str], seed: int = 0) -> dict[str, np.ndarray]:
    """Data samples of the named tasks, for training an evaluator that learns its meta-features."""
    samples = {}
    for task_id in task_ids:
        task = task_from_id(task_id)
        frame = clean_frame(task.load(seed=seed), task.label)
        samples[task_id] = task_sample(frame, task.label)
    return samples


def refresh_meta_features(path: str | Path, seed: int = 0) -> int:
    """Recompute the meta-features of every task whose lines carry another meta-feature version
    or set of names, and return how many tasks were refreshed. The file is rewritten atomically
    (:func:`~tfx_tanas.records.rewrite_lines`), so an interruption leaves the old file whole."""
    path = Path(path)
    if not path.exists():
        return 0
    numbered = json_lines(path)
    for number, line in numbered:
        if not isinstance(line.get("task"), str):
            raise InputError(f"{path}:{number}: record names no task")
    lines = [line for _, line in numbered]
    stale = sorted({line["task"] for line in lines if not _is_current(line.get("meta_features"))})
    if not stale:
        return 0
    fresh = {}
    started = time.perf_counter()
    for index, task_id in enumerate(stale, start=1):
        task = task_from_id(task_id)
        fresh[task_id] = meta_features_for_frame(task.load(seed=seed), task.label).to_json(include_sample=False)
        elapsed = time.perf_counter() - started
        log.info(
            "[%d/%d] meta-features of %s recomputed (version %d); elapsed %.0fs, ETA %.0fs",
            index, len(stale), task_id, META_FEATURE_VERSION, elapsed, elapsed / index * (len(stale) - index),
        )
    for line in lines:
        if line["task"] in fresh:
            line["meta_features"] = fresh[line["task"]]
    rewrite_lines(path, lines)
    return len(stale)


def _is_current(meta_features: Any) -> bool:
    """Whether a stored meta-features object has this release's version and names, in order."""
    return (
        isinstance(meta_features, dict)
        and meta_features.get("version") == META_FEATURE_VERSION
        and tuple(meta_features.get("features", ())) == META_FEATURE_NAMES
    )
