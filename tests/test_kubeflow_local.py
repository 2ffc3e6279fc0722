"""The specs `tanas compile` writes, executed end to end without a cluster (see tests/kfp_local.py):
each step's container command exactly as the spec gives it, with the executor input a KFP driver
builds and the output metadata each executor reports passed downstream. The online spec ends in a
pushed model that serves tf.Examples; the offline spec in an evaluator that loads."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import yaml
from kfp_local import REPOSITORY, LocalImage, TaskRun, compile_spec, run_spec
from tfx_inputs import CHILE_CSV, LABEL, ONLINE_OUTPUTS, to_examples

from tfx_tanas.evaluator import ArchitectureEvaluator
from tfx_tanas.meta_training import task_architectures
from tfx_tanas.options import CONTINUOUS_FRACTION
from tfx_tanas.search_space import DEFAULT_SPACE, SearchSpace
from tfx_tanas.tasks import Task

IMAGE = "registry.example.com/tfx-tanas:local"
TRAIN_ROWS = 900
OFFLINE_TASKS = [Task("sklearn", "iris", "target"), Task("sklearn", "wine", "target")]
ARCHS_PER_TASK = 3


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> LocalImage:
    return LocalImage.build(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def chile_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows to train on, and other rows of the same CSV to query the pushed model with."""
    frame = pd.read_csv(CHILE_CSV)
    train = frame.sample(TRAIN_ROWS, random_state=1)
    return train, frame.drop(train.index).sample(300, random_state=2)


@pytest.fixture(scope="module")
def online(image: LocalImage, chile_rows, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, TaskRun]]:
    """The online spec compiled for local paths, the bundled evaluator put where it says, executed."""
    base = tmp_path_factory.mktemp("kfp_online")
    (base / "data").mkdir()
    chile_rows[0].to_csv(base / "data" / "chile.csv", index=False)
    root = base / "root"
    spec_path = base / "pipeline.yaml"
    printed = compile_spec(image, spec_path, "--image", IMAGE, "--pipeline-root", str(root), "--data", str(base / "data"), "--label", LABEL)
    [(source, destination)] = re.findall(r"copy the evaluator directory (\S+) to (\S+)", printed)
    assert Path(source).resolve() == REPOSITORY / "tfx_tanas" / "assets" / "evaluator" and destination == f"{root}/evaluator"
    shutil.copytree(source, destination)
    return root, yaml.safe_load(spec_path.read_text()), run_spec(spec_path, image)


@pytest.fixture(scope="module")
def offline(image: LocalImage, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, TaskRun]]:
    base = tmp_path_factory.mktemp("kfp_offline")
    root, spec_path = base / "root", base / "pipeline.yaml"
    compile_spec(
        image, spec_path, "--pipeline", "offline", "--image", IMAGE, "--pipeline-root", str(root),
        "--tasks", ",".join(task.task_id for task in OFFLINE_TASKS),
        "--archs-per-task", str(ARCHS_PER_TASK), "--measurements", "1", "--ensemble", "1", "--fallback-margin", "0.02",
    )
    return root, yaml.safe_load(spec_path.read_text()), run_spec(spec_path, image)


@pytest.fixture(scope="module")
def cli_probe(image: LocalImage, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One process in the image: where it imports the packages from, and the exit status of
    ``tanas compile`` with options of the other pipeline or bad values."""
    out = str(tmp_path_factory.mktemp("probe") / "pipeline.yaml")
    script = f"""
import importlib, json, os
from tfx_tanas.cli import main
modules = ["tfx_tanas", "tfx_tanas.components.arch_searcher.executor", "tfx_tanas.pipelines.commands"]
statuses = [main(["compile", "--out", {out!r}, *args]) for args in (
    ["--tasks", "sklearn"],
    ["--pipeline", "offline", "--label", "y"],
    ["--pipeline", "offline", "--tasks", "nothing"],
    ["--pipeline", "offline", "--tasks", "sklearn/iris", "--archs-per-task", "0"],
)]
print(json.dumps({{"files": {{m: os.path.realpath(importlib.import_module(m).__file__) for m in modules}}, "statuses": statuses}}))
"""
    finished = image.run([str(image.python), "-c", script])
    assert finished.returncode == 0, finished.stderr[-3000:]
    return {**json.loads(finished.stdout.strip().splitlines()[-1]), "stderr": finished.stderr, "out": Path(out)}


def test_the_image_runs_the_sources_under_test(cli_probe: dict) -> None:
    """Not what an editable install elsewhere may map tfx_tanas.components/pipelines to."""
    for module, path in cli_probe["files"].items():
        assert Path(path).is_relative_to(REPOSITORY), (module, path)


def test_compile_refuses_the_options_of_the_other_pipeline(cli_probe: dict) -> None:
    assert cli_probe["statuses"] == [2, 2, 2, 2]
    assert "--tasks do(es) not apply to --pipeline online" in cli_probe["stderr"]
    assert "--label do(es) not apply to --pipeline offline" in cli_probe["stderr"]
    assert "--tasks takes a task set" in cli_probe["stderr"]
    assert "--archs-per-task must be at least 1" in cli_probe["stderr"]
    assert not cli_probe["out"].exists()


def test_every_online_task_ran_and_wrote_its_artifacts(online) -> None:
    root, spec, runs = online
    assert list(runs) == ["CsvExampleGen", "evaluator_importer", "StatisticsGen", "SchemaGen", "MetaFeatureGen", "ArchSearcher",
                          "Trainer", "Evaluator", "Pusher"]
    assert set(runs) == set(spec["root"]["dag"]["tasks"]) == set(ONLINE_OUTPUTS)
    for name, run in runs.items():
        assert set(run.outputs) == ONLINE_OUTPUTS[name]
        for artifact in (a for artifacts in run.outputs.values() for a in artifacts):
            uri = Path(artifact["uri"])
            assert uri.is_dir() and any(uri.iterdir()), (name, uri)
            if name != "evaluator_importer":
                assert uri.is_relative_to(root), (name, uri)


def test_executor_reported_metadata_reaches_the_next_steps(online) -> None:
    """What each executor set on its outputs is what the consumers were given, as the KFP launcher passes it."""
    _, _, runs = online
    examples = runs["CsvExampleGen"].artifact("examples")["metadata"]
    assert examples["split_names"] == '["train", "eval"]' and examples["input_fingerprint"].startswith("split:single_split")  # the driver hook
    for consumer, key, producer, output in [
        ("StatisticsGen", "examples", "CsvExampleGen", "examples"),
        ("ArchSearcher", "meta_features", "MetaFeatureGen", "meta_features"),
        ("Trainer", "hyperparameters", "ArchSearcher", "hyperparameters"),
        ("Pusher", "model_blessing", "Evaluator", "blessing"),
    ]:
        [given] = runs[consumer].executor_input["inputs"]["artifacts"][key]["artifacts"]
        assert given == runs[producer].artifact(output), (consumer, key)
    architecture = runs["ArchSearcher"].artifact("architecture")["metadata"]
    assert runs["ArchSearcher"].artifact("hyperparameters")["metadata"]["architecture_key"] == architecture["architecture_key"]
    assert runs["Evaluator"].artifact("blessing")["metadata"]["blessed"] == 1


def test_the_pusher_pushed_a_model_that_serves_tf_examples(online, chile_rows) -> None:
    root, _, runs = online
    pushed = runs["Pusher"].artifact("pushed_model")["metadata"]
    assert pushed["pushed"] == 1
    version = Path(pushed["pushed_destination"])
    assert version.parent == root / "serving" and version.name.isdigit() and (version / "saved_model.pb").is_file()
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    queries = chile_rows[1]
    outputs = serve(examples=tf.constant(to_examples(queries)))
    classes = sorted(chile_rows[0][LABEL].unique())
    assert outputs["probabilities"].shape == (len(queries), len(classes))
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
    predicted = outputs["class_name"].numpy().astype(str)
    assert set(predicted) <= set(classes)
    accuracy = float((predicted == queries[LABEL].to_numpy()).mean())
    majority = float(queries[LABEL].value_counts(normalize=True).max())
    assert accuracy > majority + 0.05, (accuracy, majority)


def test_the_offline_spec_trains_an_evaluator_that_loads(offline) -> None:
    root, spec, runs = offline
    assert list(runs) == ["ArchitectureRecordsGen", "EvaluatorTrainer"] == sorted(spec["root"]["dag"]["tasks"])
    networks = sum(len(task_architectures(DEFAULT_SPACE, task, ARCHS_PER_TASK, 0, CONTINUOUS_FRACTION)) for task in OFFLINE_TASKS)
    records = runs["ArchitectureRecordsGen"].artifact("records")
    assert records["metadata"]["num_records"] == networks and records["metadata"]["num_tasks"] == 2
    assert runs["EvaluatorTrainer"].executor_input["inputs"]["artifacts"]["records"]["artifacts"] == [records]
    evaluator = runs["EvaluatorTrainer"].artifact("evaluator")
    assert Path(evaluator["uri"]).is_relative_to(root)
    loaded = ArchitectureEvaluator.load(evaluator["uri"], space=SearchSpace())
    assert loaded.training_summary == {"num_records": networks, "num_tasks": 2}
    assert loaded.config.fallback_margin == 0.02  # `tanas compile`'s option reaches the evaluator ArchSearcher loads
    assert evaluator["metadata"]["num_records"] == networks
