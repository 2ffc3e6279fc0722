"""The few workflows a user, the CLI, the TFX executors and the benchmarks all call.

* :func:`describe_task`: a labelled frame (and, in a pipeline, StatisticsGen's statistics) ->
  meta-features (patent step 202);
* :func:`choose_architecture`: meta-features + evaluator -> the chosen architecture and every
  scored candidate (steps 204-208), :meth:`Choice.save` writes ``architecture.json`` and
  ``candidates.jsonl``;
* :func:`refine`: a shortlist of candidates trained together, the best on validation wins;
* :func:`train_evaluator`: records -> a fitted evaluator (offline, claim 10);
* :func:`train_and_export`: a frame + architectures -> the best trained under the protocol,
  exported for TF Serving;
* images (claim 15): :func:`describe_images`, :func:`measure_on_images` and
  :func:`train_and_export_images` in place of their tabular counterparts; search is the same.

Argument parsing (CLI) and artifact I/O (executors) are all their callers add.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from tfx_tanas.data import ROWS_IN_FILE
from tfx_tanas.errors import InputError, TrainingError, VersionMismatchError
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.files import write_text
from tfx_tanas.image_data import DEFAULT_IMAGE_FEATURE, ImageSet
from tfx_tanas.image_meta_features import ImageDomainStatistics, image_meta_features
from tfx_tanas.meta_features import MetaFeatures, compute_meta_features, meta_features_for_frame
from tfx_tanas.meta_training import task_samples
from tfx_tanas.options import DEFAULT_SEARCH_METHOD
from tfx_tanas.protocol import DEFAULT_PROTOCOL, IMAGE_PROTOCOL, TrainingProtocol, protocol_for
from tfx_tanas.records import Record, append_records, read_records, to_arrays
from tfx_tanas.search import SearchResult, search
from tfx_tanas.search_space import DEFAULT_SPACE, Architecture, SearchSpace
from tfx_tanas.serving import export_serving_model
from tfx_tanas.training import TrainedModel, TrainResult, cross_validated_scores, train_and_select

log = logging.getLogger(__name__)

ARCHITECTURE_FILE = "architecture.json"
CANDIDATES_FILE = "candidates.jsonl"
META_FEATURES_FILE = "meta_features.json"
METRICS_FILE = "metrics.jsonl"


def bundled_evaluator_path(modality: str = "tabular") -> Path:
    """The evaluator shipped with the package for tables (trained on the bundled records), or for
    images (``modality="image"``, trained on the bundled image records)."""
    return Path(str(resources.files("tfx_tanas") / "assets" / ("image_evaluator" if modality == "image" else "evaluator")))


def load_evaluator(directory: str | os.PathLike | None = None, space: SearchSpace = DEFAULT_SPACE) -> ArchitectureEvaluator:
    """The evaluator in ``directory`` (default: the bundled one of ``space``'s modality); one made
    for another search space, modality or meta-feature version is refused."""
    directory = directory or bundled_evaluator_path(space.modality)
    evaluator = ArchitectureEvaluator.load(directory)
    if evaluator.space.modality != space.modality:
        data = "images" if space.modality == "image" else "a table"
        raise InputError(f"evaluator {directory} was trained for {evaluator.space.modality} data, but the data is {data}; use an evaluator of its kind")
    if evaluator.space != space:
        raise VersionMismatchError(f"evaluator was trained for search space {evaluator.space.fingerprint}, not {space.fingerprint}")
    return evaluator


def describe_images(images: ImageSet, seed: int = 0, domain: ImageDomainStatistics | None = None) -> MetaFeatures:
    """Meta-features of an image data set (:mod:`tfx_tanas.image_meta_features`), at its full size
    when ``images`` is a sample of a larger folder; ``domain`` is what StatisticsGen's TFDV
    statistics say of the image feature (:func:`~tfx_tanas.image_meta_features.image_domain_statistics`)."""
    return image_meta_features(images, seed, domain)


def describe_task(frame: pd.DataFrame, label: str, statistics: Any | None = None) -> MetaFeatures:
    """Meta-features of a labelled frame; ``statistics`` (a TFDV DatasetFeatureStatisticsList, as
    StatisticsGen writes it) is computed from the frame when not given. A frame that is a sample of
    a larger file (:func:`~tfx_tanas.data.read_csv` with ``max_rows``) is described at the file's size."""
    meta = meta_features_for_frame(frame, label) if statistics is None else compute_meta_features(statistics, label, frame)
    rows_in_file = frame.attrs.get(ROWS_IN_FILE)
    return meta.with_num_examples(rows_in_file) if rows_in_file else meta


@dataclasses.dataclass
class Choice:
    """A search's outcome for one task: the chosen architecture and everything that was scored."""

    result: SearchResult
    seed: int
    meta_features_out_of_range: list[str]

    @property
    def architecture(self) -> Architecture:
        return self.result.best.architecture

    def architecture_json(self) -> dict[str, Any]:
        return self.result.architecture_json(self.seed, self.meta_features_out_of_range)

    def hyperparameters(self, train_top: int = 1) -> dict[str, Any]:
        """What the Trainer receives: the chosen architecture's JSON, or with ``train_top`` > 1
        ``{"architectures": [...]}``, the shortlist to train and choose among (:meth:`SearchResult.shortlist`)."""
        if train_top == 1:
            return self.architecture_json()
        return {"architectures": [c.architecture.to_json() for c in self.result.shortlist(train_top)]}

    def save(self, directory: str) -> None:
        """``architecture.json`` and ``candidates.jsonl`` in ``directory`` (a local path or a URI)."""
        write_text(os.path.join(directory, ARCHITECTURE_FILE), json.dumps(self.architecture_json(), indent=2))
        write_text(os.path.join(directory, CANDIDATES_FILE), self.result.candidates_jsonl())


def choose_architecture(
    meta_features: MetaFeatures,
    evaluator: ArchitectureEvaluator,
    method: str = DEFAULT_SEARCH_METHOD,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    fallback_margin: float | None = None,
) -> Choice:
    """Search the evaluator's space for the task; a task unlike the evaluator's training tasks is
    searched all the same, with a warning naming the meta-features out of range. ``fallback_margin``
    defaults to the evaluator's (:func:`~tfx_tanas.search.search`)."""
    outside = evaluator.out_of_range(meta_features.vector(evaluator.meta_feature_names))
    if outside:
        log.warning("warning: meta-features outside the evaluator's training range (%s): predictions extrapolate", ", ".join(outside[:5]))
    result = search(evaluator, meta_features, method=method, seed=seed, options=options, fallback_margin=fallback_margin)
    return Choice(result, seed, outside)


Measure = Callable[[Sequence[Architecture]], Sequence[TrainResult]]


def measure_on_table(frame: pd.DataFrame, label: str, seed: int = 0) -> Measure:
    """Scores of architectures on a labelled frame under their space's protocol, trained together."""

    def measure(architectures: Sequence[Architecture]) -> Sequence[TrainResult]:
        protocol = protocol_for(architectures[0].space.version)
        return cross_validated_scores(frame, label, architectures, protocol, seed, group_size=len(architectures))

    return measure


def measure_on_images(images: ImageSet, seed: int = 0) -> Measure:
    """Scores of image architectures under the image protocol."""
    from tfx_tanas.image_training import image_scores

    return lambda architectures: image_scores(images, architectures, IMAGE_PROTOCOL, seed)


def refine(choice: Choice, count: int, measure: Measure) -> Choice:
    """Few-shot refinement: ``measure`` (:func:`measure_on_table`, :func:`measure_on_images`) the
    search's shortlist of ``count`` distinct networks (the pick, the leader, the evaluator's static
    portfolio: :meth:`SearchResult.shortlist`) under the protocol; the best validation score wins. Their measured scores are written next to the predictions.
    ``count=1`` is the zero-shot choice itself, untrained."""
    shortlist = choice.result.shortlist(count)
    if count == 1:
        return choice
    results = measure([c.architecture for c in shortlist])
    for candidate, result in zip(shortlist, results):
        candidate.measured_score = result.score if result.ok else None
    measured = [c for c in shortlist if c.measured_score is not None]
    if not measured:
        raise TrainingError("every shortlisted architecture diverged (loss became NaN)")
    best = max(measured, key=lambda c: c.measured_score)
    log.info("trained %d shortlisted candidates: the winner scores %.4f on validation", count, best.measured_score)
    return Choice(dataclasses.replace(choice.result, best=best, trained=count), choice.seed, choice.meta_features_out_of_range)


def architectures_from_hyperparameters(hyperparameters: Mapping[str, Any]) -> list[Architecture]:
    """The inverse of :meth:`Choice.hyperparameters`."""
    if "architectures" in hyperparameters:
        listed = hyperparameters["architectures"]
        if not isinstance(listed, list) or not listed:
            raise InputError("hyperparameters 'architectures' must be a non-empty list of architecture JSON objects")
        return [Architecture.from_json(item) for item in listed]
    return [Architecture.from_json(hyperparameters)]


def train_evaluator(
    records: str | os.PathLike | Sequence[Record], config: EvaluatorConfig | None = None, extra: Sequence[str | os.PathLike] = ()
) -> ArchitectureEvaluator:
    """Fit an evaluator on records (a records file, or records already read) plus the records files
    ``extra`` (e.g. a user's continual records), for their one search space.

    An evaluator that learns its meta-features also reads a data sample of every task, reloaded
    by task id."""
    config = config or EvaluatorConfig()
    records = read_records(records) if isinstance(records, (str, os.PathLike)) else list(records)
    for path in extra:
        records += read_records(path)
    spaces = {r.architecture.space for r in records}
    if len(spaces) > 1:
        raise VersionMismatchError(f"records come from {len(spaces)} search spaces ({', '.join(sorted(s.fingerprint for s in spaces))}); fit one at a time")
    if not records:
        raise InputError("no records to train an evaluator on")
    arrays = to_arrays(records)
    samples = task_samples(sorted(set(arrays.groups)), config.seed) if config.uses_learned else None
    evaluator = ArchitectureEvaluator(records[0].architecture.space, config)
    evaluator.fit(arrays.meta_features, arrays.encodings, arrays.scores, arrays.groups, samples)
    return evaluator


def train_and_export(
    frame: pd.DataFrame,
    label: str,
    architectures: Sequence[Architecture],
    serving_root: str | os.PathLike,
    eval_frame: pd.DataFrame | None = None,
    protocol: TrainingProtocol = DEFAULT_PROTOCOL,
    seed: int = 0,
    progress: Any = None,
) -> tuple[TrainedModel, Path]:
    """Train the architectures under the protocol, export the best to ``serving_root/<version>/``."""
    trained = train_and_select(frame, label, architectures, eval_frame, protocol, seed, progress)
    return trained, export_serving_model(trained.serving_module, serving_root)


def train_and_export_images(
    images: ImageSet,
    architectures: Sequence[Architecture],
    serving_root: str | os.PathLike,
    eval_images: ImageSet | None = None,
    protocol: TrainingProtocol = IMAGE_PROTOCOL,
    seed: int = 0,
    progress: Any = None,
    image_feature: str = DEFAULT_IMAGE_FEATURE,
) -> tuple[TrainedModel, Path]:
    """Image architectures trained under the image protocol; the best exported to
    ``serving_root/<version>/``, serving tf.Examples with encoded images in ``image_feature``."""
    from tfx_tanas.image_training import train_and_select_images

    trained = train_and_select_images(images, architectures, eval_images, protocol, seed, progress, image_feature)
    return trained, export_serving_model(trained.serving_module, serving_root)


def user_task_id(frame: pd.DataFrame) -> str:
    """A records task id for a user's data set: its content digest, so the runs on one data set
    group together and another data set is another task."""
    digest = hashlib.sha1(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return f"user/{digest.hexdigest()[:12]}"


def append_measurements(
    path: str | os.PathLike,
    frame: pd.DataFrame,
    label: str,
    architectures: Sequence[Architecture],
    trained: TrainedModel,
    protocol: TrainingProtocol = DEFAULT_PROTOCOL,
    seed: int = 0,
    meta_features: MetaFeatures | None = None,
) -> int:
    """Continual records: append what a training measured, as (meta-features, architecture,
    validation score) records of the user's task, for ``tanas build-evaluator --extra-records``.
    Returns how many were appended (diverged trainings are not)."""
    meta = meta_features or describe_task(frame, label)
    return _append_trained(path, user_task_id(frame), meta, architectures, trained, protocol, seed)


def append_image_measurements(
    path: str | os.PathLike, images: ImageSet, architectures: Sequence[Architecture], trained: TrainedModel, protocol: TrainingProtocol, seed: int = 0
) -> int:
    """Continual records of an image training (:func:`append_measurements` for images)."""
    return _append_trained(path, user_image_task_id(images), describe_images(images, seed), architectures, trained, protocol, seed)


def user_image_task_id(images: ImageSet) -> str:
    """:func:`user_task_id` for images: a digest of the images, their labels and class names."""
    digest = hashlib.sha1(images.images.tobytes())
    digest.update(images.labels.tobytes() + ",".join(images.classes).encode())
    return f"user/{digest.hexdigest()[:12]}"


def _append_trained(
    path: str | os.PathLike, task: str, meta: MetaFeatures, architectures: Sequence[Architecture], trained: TrainedModel, protocol: TrainingProtocol, seed: int
) -> int:
    records = [
        Record(task, meta, arch, row["validation_score"], row["train_seconds"], row["num_params"], protocol.version, seeds=(seed,))
        for arch, row in zip(architectures, trained.metrics)
        if row["error"] is None
    ]
    append_records(path, records)
    return len(records)


def metrics_jsonl(trained: TrainedModel) -> str:
    return "".join(json.dumps(row) + "\n" for row in trained.metrics)
