"""Offline meta-training (patent FIG. 3): sample tasks -> sample architectures -> train -> records.

:func:`records_for_task` is the unit of work (one task, a list of architectures);
:func:`generate_records` runs it as a Beam pipeline on any runner, for `tanas build-evaluator` and
the ArchitectureRecordsGen component alike. Generation appends whole records as each task finishes
and skips (task, architecture, measurement seed) triples already in the file, so an interrupted run
resumes where it stopped, and a run asking for more measurements only trains the new ones. When the meta-feature definition changes, :func:`refresh_meta_features`
recomputes the stored meta-features in place: no training is redone for that either.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from tfx_tanas.data import clean_frame
from tfx_tanas.errors import InputError, TrainingError
from tfx_tanas.feature_generator import task_sample
from tfx_tanas.files import join, list_files, make_directories, read_text, remove, write_text
from tfx_tanas.image_meta_features import image_meta_features
from tfx_tanas.image_tasks import ImageTask
from tfx_tanas.image_training import image_scores
from tfx_tanas.meta_features import meta_feature_set, meta_features_for_frame
from tfx_tanas.options import (
    ARCHITECTURES_PER_TASK,
    CONTINUOUS_FRACTION,
    ELEMENTS_PER_PROCESS,
    IMAGE_ARCHITECTURES_PER_TASK,
    MEASUREMENTS,
    PRIOR_ARCHITECTURES_PER_TASK,
)
from tfx_tanas.protocol import DEFAULT_PROTOCOL, TrainingProtocol
from tfx_tanas.records import Record, append_lines, drop_torn_tail, json_lines, measured, rewrite_lines
from tfx_tanas.search_space import Architecture, SearchSpace, sample_architectures, sample_discrete_and_continuous
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


def task_architectures(space: SearchSpace, task: Task | ImageTask, count: int, seed: int, continuous_fraction: float) -> list[Architecture]:
    """``count`` networks for a task: the references, then the strong
    :meth:`~tfx_tanas.search_space.SearchSpace.portfolio` (both shared by every task), then
    task-specific random architectures; a network sampled twice is trained once (equivalent
    encodings share a key).

    The random ones are the first of a pool drawn as for the modality's default count, discrete and
    continuous in proportion, so a smaller count takes a subset of the default's networks: a task
    measured with the default holds every network a smaller count asks for."""
    shared = (reference_architectures(space) + space.portfolio())[:count]
    wanted = count - len(shared)
    default = IMAGE_ARCHITECTURES_PER_TASK if isinstance(task, ImageTask) else ARCHITECTURES_PER_TASK
    pool_size = max(wanted, default - len(shared))
    discrete_pool, continuous_pool = sample_discrete_and_continuous(space, pool_size, task_seed(task, seed), continuous_fraction)
    continuous = min(int(round(wanted * continuous_fraction)), len(continuous_pool))
    sampled = shared + discrete_pool[: wanted - continuous] + continuous_pool[:continuous]
    return list({arch.key: arch for arch in sampled}.values())


def default_architectures_per_task(task: Task | ImageTask) -> int:
    """How many networks meta-training measures on a task unless told: fewer on the synthetic prior's
    many tasks (:data:`~tfx_tanas.options.PRIOR_ARCHITECTURES_PER_TASK`)."""
    if isinstance(task, ImageTask):
        return IMAGE_ARCHITECTURES_PER_TASK
    return PRIOR_ARCHITECTURES_PER_TASK if task.source == "prior" else ARCHITECTURES_PER_TASK


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
    if isinstance(task, ImageTask):
        images = task.load(max_rows=max_rows, seed=seed)
        meta = image_meta_features(images, seed)
        results = image_scores(images, architectures, protocol, measurement)
    else:
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


@dataclasses.dataclass(frozen=True)
class WorkItem:
    """One Beam element: the trainings of one task under one measurement seed that the records
    file does not hold yet (trained together, stacked)."""

    task: Task
    architectures: tuple[Architecture, ...]
    measurement: int

    @property
    def part_name(self) -> str:
        """The file a worker writes this element's records to: stable, so a resumed run that asks
        for the same trainings names the same file."""
        digest = hashlib.sha1("|".join([self.task.task_id, *(a.key for a in self.architectures)]).encode()).hexdigest()
        return f"{digest[:16]}-m{self.measurement}.json"


def generate_records(
    tasks: Sequence[Task],
    out_path: str | Path,
    space: SearchSpace,
    archs_per_task: int | None = None,
    continuous_fraction: float = CONTINUOUS_FRACTION,
    protocol: TrainingProtocol = DEFAULT_PROTOCOL,
    seed: int = 0,
    measurements: int = MEASUREMENTS,
    max_rows: int = MAX_TASK_ROWS,
    beam_pipeline_args: Sequence[str] = (),
    parts_dir: str | None = None,
    chunk_size: int | None = None,
    elements_per_process: int | None = ELEMENTS_PER_PROCESS,
) -> GenerationSummary:
    """Train every task's architectures ``measurements`` times (measurement seeds 0, 1, ...) in a
    Beam pipeline and append the records to ``out_path``, resuming what an earlier run did.
    ``archs_per_task`` (default: :func:`default_architectures_per_task`) networks per task.

    Each element (a task's missing trainings under one seed) runs on whichever worker the runner
    gives it (``beam_pipeline_args``: the in-process DirectRunner when empty, all local cores with
    :data:`~tfx_tanas.options.LOCAL_PARALLEL_BEAM_ARGS`, or Dataflow/Flink/Spark options) and
    writes its records to its own file in ``parts_dir`` (default ``<out_path>.parts``; on a remote
    runner, a directory its workers can write, e.g. ``gs://...``). While the pipeline runs, this
    process moves finished parts into ``out_path`` and logs progress with an ETA, so a killed run
    loses only the elements in flight. A task that cannot be used is logged with its reason and
    counted in ``tasks_skipped``. ``chunk_size`` splits a task's trainings into elements of at
    most that many architectures (more parallelism for few tasks; each element loads its task).
    Each worker trains ``elements_per_process`` elements in a child process and then starts a fresh
    one, which bounds its memory over a long run (TensorFlow keeps part of every training); ``None``
    trains in the worker's own process."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    if measurements < 1:
        raise InputError(f"measurements must be at least 1, got {measurements}")
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}")
    if elements_per_process is not None and elements_per_process < 1:
        raise InputError(f"elements_per_process must be at least 1 (or None: no child processes), got {elements_per_process}")
    out_path = Path(out_path)
    parts = str(parts_dir or f"{out_path}.parts")
    summary = GenerationSummary()
    collector = _PartCollector(out_path, parts, summary)
    joined = collector.collect()  # parts a killed run finished but did not move yet: written now, not already present
    done = collector.trainings_in_file()
    earlier = done - joined
    refresh_meta_features(out_path, seed, max_rows)
    work = []
    for task in tasks:
        count = archs_per_task or default_architectures_per_task(task)
        archs = task_architectures(space, task, count, seed, continuous_fraction)
        missing = [
            WorkItem(task, todo[start : start + (chunk_size or len(todo))], measurement)
            for measurement in range(measurements)
            if (todo := tuple(a for a in archs if (task.task_id, a.key, measurement) not in done))
            for start in range(0, len(todo), chunk_size or len(todo))
        ]
        summary.records_already_present += sum((task.task_id, a.key, m) in earlier for a in archs for m in range(measurements))
        summary.tasks_resumed += not missing
        work.extend(missing)
    collector.expect(work)
    log.info("%d tasks: %d already in %s, %d to train (%d elements)", len(tasks), summary.tasks_resumed, out_path, len({i.task.task_id for i in work}), len(work))
    if work:
        make_directories(parts)
        with collector.logging_progress():
            with beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args))) as pipeline:
                _ = (
                    pipeline
                    | "Trainings" >> beam.Create(work)
                    | "Distribute" >> beam.Reshuffle()
                    | "Train" >> beam.FlatMap(_TrainToPart(parts, protocol, seed, max_rows, elements_per_process))
                )
        collector.collect()
    summary.tasks_done = summary.tasks_resumed + len({i.task.task_id for i in work} - set(summary.tasks_skipped))
    summary.seconds = collector.elapsed
    return summary


class _TrainToPart:
    """The Beam step (a picklable callable for ``FlatMap``, so Beam stays out of module import):
    train one :class:`WorkItem` and write its records, or why its task was skipped, as one file,
    atomically, named by the item. With ``elements_per_process`` the training runs in a child
    process (spawned: TensorFlow's threads make forking unsafe) replaced after that many elements."""

    def __init__(self, parts_dir: str, protocol: TrainingProtocol, seed: int, max_rows: int, elements_per_process: int | None):
        self._parts_dir = parts_dir
        self._protocol = protocol
        self._seed = seed
        self._max_rows = max_rows
        self._elements_per_process = elements_per_process
        self._child: ProcessPoolExecutor | None = None
        self._child_elements = 0

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_child": None, "_child_elements": 0}  # a process does not travel to a worker

    def __call__(self, item: WorkItem) -> Iterator[str]:
        arguments = (item, self._protocol, self._seed, self._max_rows)
        try:
            content = _part_content(*arguments) if self._elements_per_process is None else self._fresh_child().submit(_part_content, *arguments).result()
        except BrokenProcessPool:
            self._child = None  # the child died (out of memory?): a retry of the element starts a fresh one
            raise
        write_text(join(self._parts_dir, item.part_name), json.dumps(content, separators=(",", ":")))
        yield item.part_name

    def _fresh_child(self) -> ProcessPoolExecutor:
        """The child process for the next element, replaced once it trained ``elements_per_process``."""
        if self._child is None or self._child_elements >= self._elements_per_process:
            if self._child is not None:
                self._child.shutdown()
            self._child = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            self._child_elements = 0
        self._child_elements += 1
        return self._child


def _part_content(item: WorkItem, protocol: TrainingProtocol, seed: int, max_rows: int) -> dict[str, Any]:
    """What a worker writes for one element: its task's records, or why the task was skipped."""
    try:
        records = records_for_task(item.task, item.architectures, protocol, seed, len(item.architectures), item.measurement, max_rows)
        return {"task": item.task.task_id, "records": [r.to_json() for r in records]}
    except TASK_ERRORS as err:
        return {"task": item.task.task_id, "skipped": str(err)}


class _PartCollector:
    """Moves the parts workers finished into the records file (skipping trainings it already
    holds), and logs the pace."""

    def __init__(self, out_path: Path, parts_dir: str, summary: GenerationSummary):
        self._out_path = out_path
        self._parts_dir = parts_dir
        self._summary = summary
        self._in_file: set[tuple[str, str, int]] | None = None  # read once: parsing every record takes seconds
        self._expected: set[str] = set()
        self._finished = 0
        self._lock = threading.Lock()
        self._started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def expect(self, work: Sequence[WorkItem]) -> None:
        self._expected = {item.part_name for item in work}
        self._started = time.perf_counter()

    def trainings_in_file(self) -> set[tuple[str, str, int]]:
        """(task, architecture key, measurement seed) of every training in the records file: read
        once, then kept up to date by :meth:`collect`, the only writer while generation runs."""
        with self._lock:
            return set(self._trainings())

    def _trainings(self) -> set[tuple[str, str, int]]:
        if self._in_file is None:
            drop_torn_tail(self._out_path)  # once: then this collector's own appends are whole
            self._in_file = measured(self._out_path)
        return self._in_file

    def collect(self) -> set[tuple[str, str, int]]:
        """Move every finished part into the records file; returns the trainings it appended."""
        appended: set[tuple[str, str, int]] = set()
        with self._lock:
            names = sorted(name for name in list_files(self._parts_dir) if name.endswith(".json"))  # a worker's temporary file starts with a dot
            if not names:
                return appended
            done = self._trainings()
            for name in names:
                path = join(self._parts_dir, name)
                content = json.loads(read_text(path))
                if "skipped" in content:
                    self._summary.tasks_skipped[content["task"]] = content["skipped"]
                    log.warning("skipped %s: %s", content["task"], content["skipped"])
                fresh = [line for line in content.get("records", []) if not _measured_by(line) <= done]
                append_lines(self._out_path, fresh, tail_checked=True)
                keys = {key for line in fresh for key in _measured_by(line)}
                done.update(keys)
                appended.update(keys)
                self._summary.records_written += len(fresh)
                remove(path)  # after the append: a kill in between is caught by the check above
                if name in self._expected:
                    self._finished += 1
                    self._log_pace(content["task"], "skipped" if "skipped" in content else "done")
        return appended

    def _log_pace(self, task_id: str, outcome: str) -> None:
        total = len(self._expected)
        eta = self.elapsed / self._finished * (total - self._finished)
        log.info(
            "[%d/%d] %s %s; %d records written; elapsed %.0fs, ETA %.0fs",
            self._finished, total, task_id, outcome, self._summary.records_written, self.elapsed, eta,
        )

    @contextlib.contextmanager
    def logging_progress(self, every_seconds: float = 20.0) -> Iterator[None]:
        """Collect finished parts in a background thread while the pipeline runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every_seconds):
                self.collect()

        thread = threading.Thread(target=loop, name="tanas-collect-parts", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _measured_by(line: dict[str, Any]) -> set[tuple[str, str, int]]:
    arch = Architecture.from_encoding_json(SearchSpace.from_dict(line["search_space"]), line["architecture"])
    return {(str(line["task"]), arch.key, int(seed)) for seed in line["seeds"]}


def task_samples(task_ids: Sequence[str], seed: int = 0) -> dict[str, np.ndarray]:
    """Data samples of the named tasks, for training an evaluator that learns its meta-features."""
    samples = {}
    for task_id in task_ids:
        task = task_from_id(task_id)
        frame = clean_frame(task.load(seed=seed), task.label)
        samples[task_id] = task_sample(frame, task.label)
    return samples


def refresh_meta_features(path: str | Path, seed: int = 0, max_rows: int = MAX_TASK_ROWS) -> int:
    """Recompute the meta-features of every task whose lines carry another meta-feature version
    or set of names, and return how many tasks were refreshed; each task is loaded as generation
    loads it (``seed``, ``max_rows``). The file is rewritten atomically
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
        if isinstance(task, ImageTask):
            meta = image_meta_features(task.load(max_rows=max_rows, seed=seed), seed)
        else:
            meta = meta_features_for_frame(task.load(max_rows=max_rows, seed=seed), task.label)
        fresh[task_id] = meta.to_json(include_sample=False)
        elapsed = time.perf_counter() - started
        log.info(
            "[%d/%d] meta-features of %s recomputed (version %d); elapsed %.0fs, ETA %.0fs",
            index, len(stale), task_id, meta.version, elapsed, elapsed / index * (len(stale) - index),
        )
    for line in lines:
        if line["task"] in fresh:
            line["meta_features"] = fresh[line["task"]]
    rewrite_lines(path, lines)
    return len(stale)


def _is_current(meta_features: Any) -> bool:
    """Whether a stored meta-features object has this release's version and names of its
    modality, in order."""
    if not isinstance(meta_features, dict):
        return False
    names, version = meta_feature_set(str(meta_features.get("modality", "tabular")))
    return meta_features.get("version") == version and tuple(meta_features.get("features", ())) == names
