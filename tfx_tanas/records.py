"""Evaluator training data: (task, meta-features, architecture, score) triplets as JSON lines.

One line per measurement: a (task, architecture) trained under one measurement seed (its
train/validation split and weight initialization). A single training's score is noisy (a second
split ranks a task's architectures with Spearman of only about 0.5), so an evaluator trains on
:func:`average_over_seeds`. Every line carries the versions it was made under, so a file mixing
versions, or a truncated or corrupt line, is refused on load with the line number.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.meta_features import MetaFeatures, meta_feature_set
from tfx_tanas.search_space import Architecture, SearchSpace

log = logging.getLogger(__name__)

RECORDS_FILE = "records.jsonl"  # inside a records artifact
RECORDS_VERSION = 2  # 2: "seeds" names the measurement seeds a score comes from
_FIELDS = {
    "records_version",
    "task",
    "meta_features",
    "architecture",
    "search_space",
    "score",
    "train_seconds",
    "num_params",
    "protocol_version",
    "seeds",
}


@dataclasses.dataclass
class Record:
    task: str
    meta_features: MetaFeatures
    architecture: Architecture
    score: float
    train_seconds: float
    num_params: int
    protocol_version: int
    seeds: tuple[int, ...] = (0,)  # measurement seeds the score is the mean over

    def to_json(self) -> dict[str, Any]:
        return {
            "records_version": RECORDS_VERSION,
            "task": self.task,
            "meta_features": self.meta_features.to_json(include_sample=False),
            "search_space": self.architecture.space.to_dict(),
            "architecture": self.architecture.encoding_json(),
            "score": round(self.score, 6),
            "train_seconds": round(self.train_seconds, 4),
            "num_params": self.num_params,
            "protocol_version": self.protocol_version,
            "seeds": list(self.seeds),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        missing = _FIELDS - set(data)
        if missing:
            raise InputError(f"missing field(s) {sorted(missing)}")
        if data["records_version"] != RECORDS_VERSION:
            raise VersionMismatchError(f"records version {data['records_version']}, expected {RECORDS_VERSION}")
        space = SearchSpace.from_dict(data["search_space"])
        score = float(data["score"])
        if not np.isfinite(score) or not 0.0 <= score <= 1.0:
            raise InputError(f"score {score} is not an accuracy in [0, 1]")
        return cls(
            task=str(data["task"]),
            meta_features=MetaFeatures.from_json(data["meta_features"]),
            architecture=Architecture.from_encoding_json(space, data["architecture"]),
            score=score,
            train_seconds=float(data["train_seconds"]),
            num_params=int(data["num_params"]),
            protocol_version=int(data["protocol_version"]),
            seeds=tuple(int(seed) for seed in data["seeds"]),
        )


def open_records(path: str | os.PathLike, mode: str = "rt"):
    """Open a records file as text; ``.gz`` files are gzipped (appends add a gzip member)."""
    path = Path(path)
    return gzip.open(path, mode) if path.suffix == ".gz" else open(path, mode)


@dataclasses.dataclass
class RecordLines:
    """The JSON objects of a records file with their line numbers; ``torn`` when the last line was
    cut short by an interrupted write (its complete lines are all here)."""

    lines: list[tuple[int, dict[str, Any]]]
    torn: bool


def scan_lines(path: str | os.PathLike) -> RecordLines:
    """The one reader of records files (plain or gzipped JSON lines). A bad line before the last is
    an :class:`InputError` naming its number; a bad or cut-off last line is reported as ``torn``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"records file not found: {path}")
    texts: list[str] = []
    torn = False
    try:
        with open_records(path) as handle:
            texts.extend(handle)
    except (EOFError, OSError, UnicodeDecodeError):  # a gzip member cut short
        torn = True
    lines = []
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            if number == len(texts):
                torn = True
                break
            raise InputError(f"{path}:{number}: not a complete JSON record (truncated or corrupt file?)") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}:{number}: not a JSON object")
        lines.append((number, data))
    return RecordLines(lines, torn)


def json_lines(path: str | os.PathLike) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line; a torn last line is an :class:`InputError`."""
    scanned = scan_lines(path)
    if scanned.torn:
        last = scanned.lines[-1][0] + 1 if scanned.lines else 1
        raise InputError(f"{path}:{last}: not a complete JSON record (truncated or corrupt file?)")
    return scanned.lines


def measured(path: str | os.PathLike) -> set[tuple[str, str, int]]:
    """(task, architecture key, measurement seed) of every training a records file holds; a torn
    last line is not counted (:func:`drop_torn_tail` removes it). A query: the file is not touched."""
    if not Path(path).exists():
        return set()
    scanned = scan_lines(path)
    done = set()
    for number, data in scanned.lines:
        try:
            arch = Architecture.from_encoding_json(SearchSpace.from_dict(data["search_space"]), data["architecture"])
            done.update((str(data["task"]), arch.key, int(seed)) for seed in data["seeds"])
        except (KeyError, TypeError, ValueError) as err:  # InputError is a ValueError
            raise InputError(f"{path}:{number}: not a record ({err})") from None
    return done


def append_records(path: str | os.PathLike, records: Iterable[Record]) -> None:
    """Append whole lines and flush: an interrupted run leaves complete records behind. A torn last
    line left by an earlier interruption is dropped first (atomically), so appends never extend it."""
    append_lines(path, [record.to_json() for record in records])


def append_lines(path: str | os.PathLike, lines: Iterable[dict[str, Any]], tail_checked: bool = False) -> None:
    """:func:`append_records` for lines already in JSON form (e.g. written by a Beam worker).
    ``tail_checked``: the caller already dropped a torn last line (checking reads the whole file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not tail_checked:
        drop_torn_tail(path)
    with open_records(path, "at") as handle:
        handle.write("".join(_line(data) for data in lines))


def drop_torn_tail(path: str | os.PathLike) -> bool:
    """Remove a last line cut short by an interrupted write (atomically); True if there was one.
    For writers that resume a file: its complete lines stay."""
    if not Path(path).exists() or not (scanned := scan_lines(path)).torn:
        return False
    log.warning("%s: dropping a torn last line (interrupted write); it will be redone", path)
    rewrite_lines(path, [data for _, data in scanned.lines])
    return True


def rewrite_lines(path: str | os.PathLike, lines: Iterable[dict[str, Any]]) -> None:
    """Replace a records file's lines through a sibling temporary file and an atomic rename, so an
    interruption leaves the old file whole."""
    path = Path(path)
    temporary = path.with_name(path.name + ".rewriting" + path.suffix)
    with open_records(temporary, "wt") as handle:
        handle.write("".join(_line(data) for data in lines))
    os.replace(temporary, path)


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":")) + "\n"


def read_records(path: str | os.PathLike) -> list[Record]:
    """Load and validate every line (plain or gzipped JSON lines); a bad line is an
    :class:`InputError` naming its number."""
    path = Path(path)
    records = []
    for number, data in json_lines(path):
        try:
            records.append(Record.from_json(data))
        except InputError as err:
            raise type(err)(f"{path}:{number}: {err}") from None
    if not records:
        raise InputError(f"records file holds no records: {path}")
    spaces = {r.architecture.space for r in records}
    if len(spaces) > 1:
        raise VersionMismatchError(f"{path}: records come from {len(spaces)} different search spaces")
    names, version = meta_feature_set(records[0].architecture.space.modality)
    for record in records:
        if record.meta_features.version != version or tuple(record.meta_features.values) != names:
            raise VersionMismatchError(
                f"{path}: task '{record.task}' has meta-features of version {record.meta_features.version}; "
                f"this is version {version} (regenerate the records)"
            )
    return records


@dataclasses.dataclass
class TrainingArrays:
    """Records as the arrays an evaluator trains on; ``groups`` names each row's task."""

    meta_features: np.ndarray
    encodings: np.ndarray
    scores: np.ndarray
    groups: np.ndarray


def average_over_seeds(records: Iterable[Record]) -> list[Record]:
    """One record per (task, architecture), its score the mean over the measurements (seeds) of
    that pair, in first-seen order."""
    pairs: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        pairs.setdefault((record.task, record.architecture.key), []).append(record)
    return [
        dataclasses.replace(
            group[0],
            score=float(np.mean([r.score for r in group])),
            train_seconds=float(np.mean([r.train_seconds for r in group])),
            seeds=tuple(sorted(seed for r in group for seed in r.seeds)),
        )
        for group in pairs.values()
    ]


def to_arrays(records: list[Record]) -> TrainingArrays:
    """Training arrays of the seed-averaged records."""
    records = average_over_seeds(records)
    return TrainingArrays(
        meta_features=np.stack([r.meta_features.vector() for r in records]),
        encodings=np.stack([r.architecture.to_vector() for r in records]),
        scores=np.array([r.score for r in records], dtype=np.float32),
        groups=np.array([r.task for r in records]),
    )


def portfolio_rows(
    encodings: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    size: int,
    coverage: float = 0.9,
    accept: Callable[[np.ndarray], bool] = lambda encoding: True,
) -> list[int]:
    """First rows of up to ``size`` architectures forming a static portfolio, among those measured
    on at least ``coverage`` of the tasks (``groups``) whose encoding ``accept`` takes: first the
    one with the highest mean score over its tasks (the strongest task-blind choice), then, greedily,
    the one that most raises the mean over tasks of the portfolio's best score. A task's repeated
    measurements of one architecture count once, as their mean; where a task did not measure a
    member, the mean of the members it measured stands in. Empty when no architecture qualifies."""
    encodings = np.asarray(encodings)
    _, first_row, architecture = np.unique(encodings, axis=0, return_index=True, return_inverse=True)
    task_names, task = np.unique(np.asarray(groups), return_inverse=True)
    pairs, pair = np.unique(np.stack([architecture.reshape(-1), task.reshape(-1)], axis=1), axis=0, return_inverse=True)
    pair = pair.reshape(-1)
    pair_mean = np.bincount(pair, weights=np.asarray(scores, np.float64)) / np.bincount(pair)
    tasks_measured = np.bincount(pairs[:, 0], minlength=len(first_row))
    mean_over_tasks = np.bincount(pairs[:, 0], weights=pair_mean, minlength=len(first_row)) / np.maximum(tasks_measured, 1)
    widely_measured = np.flatnonzero(tasks_measured >= coverage * len(task_names))
    ordered = widely_measured[np.argsort(-mean_over_tasks[widely_measured], kind="stable")]
    eligible = [int(a) for a in ordered if accept(encodings[first_row[a]])]
    if not eligible:
        return []
    column = np.full(len(first_row), -1)
    column[eligible] = np.arange(len(eligible))
    measured = column[pairs[:, 0]] >= 0
    table = np.full((len(task_names), len(eligible)), np.nan)
    table[pairs[measured, 1], column[pairs[measured, 0]]] = pair_mean[measured]
    table = table[~np.isnan(table).all(axis=1)]  # tasks that measured no eligible architecture
    table = np.where(np.isnan(table), np.nanmean(table, axis=1, keepdims=True), table)
    chosen = [0]  # eligible is sorted by mean score: its first is the best on average
    best_so_far = table[:, 0]
    while len(chosen) < min(size, len(eligible)):
        gains = np.maximum(table, best_so_far[:, None]).mean(axis=0)
        gains[chosen] = -np.inf
        chosen.append(int(np.argmax(gains)))
        best_so_far = np.maximum(best_so_far, table[:, chosen[-1]])
    return [int(first_row[eligible[i]]) for i in chosen]

