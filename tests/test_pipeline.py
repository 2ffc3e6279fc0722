"""End to end, locally: the offline pipeline trains an evaluator, `tanas run` searches, trains,
evaluates and pushes with it; the pushed model serves tf.Examples; ML Metadata holds the lineage;
a re-run is served from the cache; a failed run leaves the pushed versions alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import ml_metadata as mlmd
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx_inputs import CHILE_CSV, LABEL, ONLINE_OUTPUTS, fitted_evaluator, to_examples

from tfx_tanas.cli import main
from tfx_tanas.errors import VersionMismatchError
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.meta_training import task_architectures
from tfx_tanas.options import CONTINUOUS_FRACTION
from tfx_tanas.pipelines.commands import METADATA_FILE, SERVING_DIR, eval_accuracy
from tfx_tanas.pipelines.metadata import NodeRun, custom_property, latest_run, open_store
from tfx_tanas.pipelines.offline import create_offline_pipeline
from tfx_tanas.pipelines.online import create_pipeline
from tfx_tanas.pipelines.trainer_module import METRICS_FILE
from tfx_tanas.records import read_records
from tfx_tanas.search_space import DEFAULT_SPACE, Architecture, SearchSpace
from tfx_tanas.tasks import Task
from tfx_tanas.workflows import ARCHITECTURE_FILE

# enough rows that the protocol trains even a linear pick (with 400, CsvExampleGen leaves ~210
# training rows: 90 Adam steps, and a linear periodic network stayed at the majority class)
TRAIN_ROWS = 900
OFFLINE_TASKS = [
    Task("sklearn", "iris", "target"),
    Task(
        "synthetic",
        "pipeline_test_clusters",
        "label",
        json.dumps(
            {"family": "clusters", "rows": 200, "features": 5, "classes": 3, "imbalance": 0.5, "label_noise": 0.05,
             "categorical_fraction": 0.2, "missing_fraction": 0.05, "seed": 11},
            sort_keys=True,
        ),
    ),
]


@pytest.fixture(scope="module")
def chile_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A few hundred rows to train on, and other rows of the same CSV to query the served model with."""
    frame = pd.read_csv(CHILE_CSV)
    train = frame.sample(TRAIN_ROWS, random_state=1)
    return train, frame.drop(train.index).sample(600, random_state=2)


@pytest.fixture(scope="module")
def data_csv(chile_rows, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "chile.csv"
    chile_rows[0].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[NodeRun]]:
    """The offline pipeline on two small tasks, its trainings spread over two Beam workers."""
    root = tmp_path_factory.mktemp("offline")
    pipeline = create_offline_pipeline(
        tasks=OFFLINE_TASKS,
        pipeline_root=str(root / "pipeline"),
        metadata_path=str(root / METADATA_FILE),
        architectures_per_task=4,
        chunk_size=2,
        measurements=1,
        evaluator_config=EvaluatorConfig(epochs=30, ensemble_size=1),
        beam_pipeline_args=["--direct_num_workers=2", "--direct_running_mode=multi_threading"],
    )
    LocalDagRunner().run(pipeline)
    return root, latest_run(open_store(str(root / METADATA_FILE)))


@pytest.fixture(scope="module")
def online_run(data_csv: Path, offline_run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[NodeRun]]:
    """`tanas run` with the evaluator the offline pipeline trained."""
    [evaluator] = {run.node: run for run in offline_run[1]}["EvaluatorTrainer"].outputs["evaluator"]
    out = tmp_path_factory.mktemp("online")
    assert main(["run", "--data", str(data_csv), "--label", LABEL, "--out", str(out), "--evaluator", evaluator.uri]) == 0
    return out, latest_run(open_store(str(out / METADATA_FILE)))


def serving_snapshot(out: Path) -> dict[str, str]:
    """Every file under serving/ with a digest of its bytes."""
    return {
        str(path.relative_to(out)): hashlib.sha1(path.read_bytes()).hexdigest()
        for path in sorted((out / SERVING_DIR).rglob("*"))
        if path.is_file()
    }


def test_offline_pipeline_trains_an_evaluator_for_the_search_space(offline_run) -> None:
    runs = {run.node: run for run in offline_run[1]}
    [records] = runs["ArchitectureRecordsGen"].outputs["records"]
    # 4 samples per task, a network sampled twice trained once
    networks = sum(len(task_architectures(DEFAULT_SPACE, task, 4, 0, CONTINUOUS_FRACTION)) for task in OFFLINE_TASKS)
    assert networks >= 6
    assert custom_property(records, "num_records") == networks
    assert custom_property(records, "num_tasks") == 2
    [evaluator] = runs["EvaluatorTrainer"].outputs["evaluator"]
    loaded = ArchitectureEvaluator.load(evaluator.uri, space=SearchSpace())
    assert loaded.training_summary == {"num_records": networks, "num_tasks": 2}


def test_every_component_ran_and_wrote_its_artifacts(online_run) -> None:
    _, runs = online_run
    assert {run.node: run.state for run in runs} == {node: "ran" for node in ONLINE_OUTPUTS}
    for run in runs:
        assert set(run.outputs) == ONLINE_OUTPUTS[run.node]
        for artifact in (a for artifacts in run.outputs.values() for a in artifacts):
            assert Path(artifact.uri).is_dir() and any(Path(artifact.uri).iterdir()), (run.node, artifact.uri)


def test_searched_architecture_is_a_valid_discrete_architecture(online_run) -> None:
    [architecture] = {run.node: run for run in online_run[1]}["ArchSearcher"].outputs["architecture"]
    chosen = Architecture.from_json(json.loads((Path(architecture.uri) / ARCHITECTURE_FILE).read_text()))
    assert chosen.is_discrete
    assert chosen.space == SearchSpace()
    assert custom_property(architecture, "architecture_key") == chosen.key


def test_tfma_scores_the_model_as_the_trainer_measured_it(online_run) -> None:
    """Same eval split, same accuracy: TFMA maps the text labels to the model's classes correctly."""
    runs = {run.node: run for run in online_run[1]}
    [model_run] = runs["Trainer"].outputs["model_run"]
    rows = [json.loads(line) for line in (Path(model_run.uri) / METRICS_FILE).read_text().splitlines()]
    metrics = max((row for row in rows if row["error"] is None), key=lambda row: row["validation_score"])  # the exported one
    [evaluation] = runs["Evaluator"].outputs["evaluation"]
    assert eval_accuracy(evaluation.uri) == pytest.approx(metrics["eval_accuracy"], abs=1e-4)
    [blessing] = runs["Evaluator"].outputs["blessing"]
    assert custom_property(blessing, "blessed") == 1


def test_pushed_model_serves_tf_examples_better_than_the_majority_class(online_run, chile_rows) -> None:
    out, runs = online_run
    [pushed] = {run.node: run for run in runs}["Pusher"].outputs["pushed_model"]
    version = Path(custom_property(pushed, "pushed_destination"))
    assert version.parent == out / SERVING_DIR and version.name.isdigit() and (version / "saved_model.pb").is_file()
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    queries = chile_rows[1]
    outputs = serve(examples=tf.constant(to_examples(queries)))
    assert outputs["probabilities"].shape == (len(queries), 5)
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
    predicted = outputs["class_name"].numpy().astype(str)
    accuracy = float((predicted == queries[LABEL].to_numpy()).mean())
    majority = float(queries[LABEL].value_counts(normalize=True).max())
    assert accuracy > majority + 0.05, (accuracy, majority)


def test_ml_metadata_links_the_pushed_model_to_its_architecture(online_run) -> None:
    out, runs = online_run
    store = open_store(str(out / METADATA_FILE))
    [pushed] = store.get_artifacts_by_type("PushedModel")
    pusher = producer(store, pushed)
    [model] = inputs_of(store, pusher, "Model")
    trainer = producer(store, model)
    [hyperparameters] = inputs_of(store, trainer, "HyperParameters")
    searcher = producer(store, hyperparameters)
    [architecture] = outputs_of(store, searcher, "tfx_tanas.ArchitectureArtifact")
    [expected] = {run.node: run for run in runs}["ArchSearcher"].outputs["architecture"]
    assert architecture.id == expected.id
    assert custom_property(architecture, "architecture_key") == custom_property(hyperparameters, "architecture_key")
    assert custom_property(pushed, "pushed") == 1


def producer(store: mlmd.MetadataStore, artifact: metadata_store_pb2.Artifact) -> int:
    """The execution that first wrote ``artifact`` (a cached re-run only re-links it)."""
    events = store.get_events_by_artifact_ids([artifact.id])
    return min(e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT)


def _linked(store: mlmd.MetadataStore, execution_id: int, event_type: int, type_name: str) -> list[metadata_store_pb2.Artifact]:
    ids = [e.artifact_id for e in store.get_events_by_execution_ids([execution_id]) if e.type == event_type]
    type_id = store.get_artifact_type(type_name).id
    return [a for a in store.get_artifacts_by_id(ids) if a.type_id == type_id]


def inputs_of(store: mlmd.MetadataStore, execution_id: int, type_name: str) -> list[metadata_store_pb2.Artifact]:
    return _linked(store, execution_id, metadata_store_pb2.Event.INPUT, type_name)


def outputs_of(store: mlmd.MetadataStore, execution_id: int, type_name: str) -> list[metadata_store_pb2.Artifact]:
    return _linked(store, execution_id, metadata_store_pb2.Event.OUTPUT, type_name)


def test_a_second_run_reuses_the_cache_instead_of_retraining(online_run, data_csv: Path, offline_run) -> None:
    out, first = online_run
    before = serving_snapshot(out)
    [evaluator] = {run.node: run for run in offline_run[1]}["EvaluatorTrainer"].outputs["evaluator"]
    assert main(["run", "--data", str(data_csv), "--label", LABEL, "--out", str(out), "--evaluator", evaluator.uri]) == 0
    second = {run.node: run for run in latest_run(open_store(str(out / METADATA_FILE)))}
    assert {node: run.state for node, run in second.items()} == {node: "cached" for node in ONLINE_OUTPUTS}
    first_model = {run.node: run for run in first}["Trainer"].outputs["model"][0]
    assert second["Trainer"].outputs["model"][0].id == first_model.id
    assert serving_snapshot(out) == before


def test_an_evaluator_changed_in_place_is_searched_again(online_run, data_csv: Path, tmp_path: Path) -> None:
    """The cache follows the evaluator's contents, not only its path."""
    out, _ = online_run
    evaluator = tmp_path / "evaluator"
    fitted_evaluator(SearchSpace(), seed=0).save(evaluator)
    argv = ["run", "--data", str(data_csv), "--label", LABEL, "--out", str(out), "--evaluator", str(evaluator)]
    assert main(argv) == 0
    fitted_evaluator(SearchSpace(), seed=1).save(evaluator)
    assert main(argv) == 0
    states = {run.node: run.state for run in latest_run(open_store(str(out / METADATA_FILE)))}
    assert states["CsvExampleGen"] == "cached"
    assert states["evaluator_importer"] == states["ArchSearcher"] == "ran"


def test_a_failed_run_leaves_pushed_versions_untouched(online_run, data_csv: Path, tmp_path: Path, capfd) -> None:
    out, _ = online_run
    before = serving_snapshot(out)
    assert before
    other_space = fitted_evaluator(SearchSpace(num_layers=3)).save(tmp_path / "other_space_evaluator")
    # Refused up front by `tanas run`, with one line...
    assert main(["run", "--data", str(data_csv), "--label", LABEL, "--out", str(out), "--evaluator", str(other_space)]) == 2
    assert "tanas: error: evaluator was trained for search space" in capfd.readouterr().err
    # ...and inside the pipeline, where ArchSearcher refuses it after the cached data steps.
    pipeline = create_pipeline(
        data=str(data_csv),
        label=LABEL,
        pipeline_root=str(out / "pipeline"),
        serving_dir=str(out / SERVING_DIR),
        evaluator_uri=str(other_space),
        metadata_path=str(out / METADATA_FILE),
    )
    with pytest.raises(VersionMismatchError, match="evaluator was trained for search space"):
        LocalDagRunner().run(pipeline)
    assert serving_snapshot(out) == before


def test_train_top_trains_the_shortlist_and_records_what_it_measured(data_csv: Path, offline_run, tmp_path: Path) -> None:
    """`tanas run --train-top 2 --records FILE`: the Trainer trains the two best distinct candidates,
    serves the better on validation, and their measurements join the user's records."""
    [evaluator] = {run.node: run for run in offline_run[1]}["EvaluatorTrainer"].outputs["evaluator"]
    records = tmp_path / "records.jsonl"
    argv = ["run", "--data", str(data_csv), "--label", LABEL, "--out", str(tmp_path / "out"), "--evaluator", evaluator.uri]
    assert main([*argv, "--train-top", "2", "--records", str(records)]) == 0
    runs = {run.node: run for run in latest_run(open_store(str(tmp_path / "out" / METADATA_FILE)))}
    [model_run] = runs["Trainer"].outputs["model_run"]
    metrics = [json.loads(line) for line in (Path(model_run.uri) / METRICS_FILE).read_text().splitlines()]
    assert len(metrics) == 2 and len({m["key"] for m in metrics}) == 2
    appended = read_records(records)
    assert [r.architecture.key for r in appended] == [m["key"] for m in metrics]
    assert [r.score for r in appended] == pytest.approx([m["validation_score"] for m in metrics])
    assert len({r.task for r in appended}) == 1 and appended[0].task.startswith("user/")
