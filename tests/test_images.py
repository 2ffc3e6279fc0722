"""Image classification (claim 15): image folders and TFRecords in, the convolutional search space,
image meta-features, an image evaluator, and the CLI from search to a served prediction on an
encoded image; bad image input fails with one line and touches nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from synthetic import file_digest

from tfx_tanas.cli import main
from tfx_tanas.errors import InputError
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.image_data import (
    ImageSet,
    encode_example,
    read_image_folder,
    read_images,
    write_image_folder,
    write_image_tfrecords,
)
from tfx_tanas.image_meta_features import image_domain_statistics, image_meta_features
from tfx_tanas.image_network import build_image_network
from tfx_tanas.image_tasks import ImageTask, image_tasks
from tfx_tanas.meta_features import IMAGE_META_FEATURE_NAMES, IMAGE_META_FEATURE_VERSION
from tfx_tanas.meta_training import generate_records
from tfx_tanas.protocol import IMAGE_PROTOCOL
from tfx_tanas.records import read_records
from tfx_tanas.search_space import IMAGE_SPACE, Architecture

TINY_PROTOCOL = dataclasses.replace(IMAGE_PROTOCOL, min_steps=8, max_steps=8, evaluations=2)
SHAPES = "image/shapes_px16_c3_n150_z10_s7"


def conv_rule(arch: Architecture) -> float:
    """The tiny image evaluator's truth: deeper is better, and the patchify stem."""
    return 0.4 + 0.1 * float(arch.beta.sum()) + 0.2 * float(arch.gamma[IMAGE_SPACE.embeddings.index("patchify2")])


@pytest.fixture(scope="module")
def shapes() -> ImageSet:
    return ImageTask(SHAPES).load()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, shapes) -> Path:
    directory = tmp_path_factory.mktemp("images")
    write_image_folder(shapes, directory / "folder")
    write_image_tfrecords(shapes, directory / "train.tfrecord")
    return directory


@pytest.fixture(scope="module")
def image_evaluator_dir(tmp_path_factory) -> Path:
    """An image evaluator fitted in process on the meta-features of four real image tasks and
    scores that follow :func:`conv_rule` (search mechanics, not quality, are under test)."""
    tasks = image_tasks(20)[::5]
    meta = np.stack([image_meta_features(task.load(max_rows=300)).vector() for task in tasks])
    rng = np.random.default_rng(0)
    archs = [IMAGE_SPACE.sample(rng) if i % 2 else IMAGE_SPACE.sample_continuous(rng) for i in range(len(tasks) * 60)]
    groups = np.repeat(np.arange(len(tasks)), 60)
    evaluator = ArchitectureEvaluator(IMAGE_SPACE, EvaluatorConfig(hidden_units=(32, 16), epochs=60, ensemble_size=1))
    evaluator.fit(meta[groups], np.stack([a.to_vector() for a in archs]), np.array([conv_rule(a) for a in archs], np.float32), groups)
    return evaluator.save(tmp_path_factory.mktemp("image_evaluator") / "evaluator")


# ---- data in -------------------------------------------------------------------------------------
def test_a_folder_and_its_tfrecords_read_as_the_same_images(workspace, shapes):
    folder = read_images(workspace / "folder")
    records = read_images(workspace / "train.tfrecord", label="label")
    assert folder.classes == records.classes == sorted(shapes.classes)
    assert folder.images.shape == records.images.shape == (150, 16, 16, 1)
    assert sorted(map(bytes, folder.images)) == sorted(map(bytes, records.images))


def test_other_sizes_are_resized_and_a_corrupt_image_is_skipped(tmp_path, shapes, caplog):
    write_image_folder(shapes, tmp_path / "data")
    first = next((tmp_path / "data" / "circle").iterdir())
    first.write_bytes(tf.io.encode_png(np.zeros((24, 20, 1), np.uint8)).numpy())  # another size
    (tmp_path / "data" / "square" / "broken.png").write_bytes(b"not an image")
    rgba = tf.io.encode_png(np.full((16, 16, 2), 200, np.uint8)).numpy()  # grey + alpha: alpha dropped
    (tmp_path / "data" / "square" / "alpha.png").write_bytes(rgba)
    with caplog.at_level("INFO"):
        images = read_image_folder(tmp_path / "data")
    assert images.images.shape == (151, 16, 16, 1)
    assert "skipped 1 image(s)" in caplog.text and "broken.png" in caplog.text
    assert "resized 1 image(s)" in caplog.text


def test_a_sampled_folder_keeps_the_count_of_all_its_images(workspace):
    images = read_images(workspace / "folder", max_images=40, seed=3)
    assert len(images.labels) == 40 and images.num_available == 150


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: (root / "only").mkdir(parents=True), "neither .csv files nor images"),
        (lambda root: _one_class(root), "only one class"),
        (lambda root: _mixed_channels(root), "mix 1 and 3 channels"),
    ],
)
def test_bad_folders_are_refused_with_the_reason(tmp_path, make, message):
    make(tmp_path / "data")
    with pytest.raises(InputError, match=message):
        read_image_folder(tmp_path / "data")


def test_tfrecords_without_the_image_feature_are_refused(workspace):
    with pytest.raises(InputError, match="no bytes feature 'pixels'"):
        read_images(workspace / "train.tfrecord", label="label", image_feature="pixels")


def _one_class(root: Path) -> None:
    (root / "cats").mkdir(parents=True)
    for index in range(3):
        (root / "cats" / f"{index}.png").write_bytes(tf.io.encode_png(np.zeros((8, 8, 1), np.uint8)).numpy())


def _mixed_channels(root: Path) -> None:
    for name, channels in (("grey", 1), ("colour", 3)):
        (root / name).mkdir(parents=True)
        (root / name / "a.png").write_bytes(tf.io.encode_png(np.zeros((8, 8, channels), np.uint8)).numpy())


# ---- the convolutional search space ----------------------------------------------------------------
def test_a_discrete_image_architecture_is_a_plain_conv_stack(shapes):
    arch = IMAGE_SPACE.discrete(["conv3x3_32_relu", "conv5x5_16_gelu", "conv3x3_64_relu"], "patchify2", learning_rate=3e-3)
    network = build_image_network(arch.plan, shapes.image_shape, shapes.num_classes)
    kinds = [type(layer).__name__ for layer in network.layers]
    assert kinds.count("Conv2D") == 3 and "WeightedSum" not in kinds and "GatedSkip" not in kinds
    assert [layer["op"] for layer in arch.layers()] == ["stem", "conv2d", "conv2d", "conv2d", "global_average_pooling", "dense"]
    assert arch.layers()[2]["then"] == "max_pooling_2x2"  # every second block is followed by pooling
    assert Architecture.from_json(json.loads(json.dumps(arch.to_json()))).key == arch.key


def test_a_closed_gate_makes_a_block_the_identity_and_mixtures_pad_channels():
    space = IMAGE_SPACE
    names = [b.name for b in space.baseline_layers]
    alpha = np.zeros((space.num_layers, space.num_baselines))
    alpha[:, names.index("conv3x3_16_relu")] = 0.5
    alpha[:, names.index("conv5x5_64_gelu")] = 0.5  # 16 and 64 channels: zero-padded to 64
    gamma = np.eye(len(space.embeddings))[0]
    images = np.random.default_rng(0).uniform(size=(2, 16, 16, 1)).astype(np.float32)
    open_then_closed = Architecture(space, alpha, [1.0, 0.0, 0.0, 0.0], gamma)
    network = build_image_network(open_then_closed.plan, (16, 16, 1), 3)
    assert network(images).shape == (2, 3)
    assert len(open_then_closed.plan.layers) == 1  # the closed gates' blocks are not built at all
    half_open = build_image_network(Architecture(space, alpha, [1.0, 0.5, 0.0, 0.0], gamma).plan, (16, 16, 1), 3)
    assert any(type(layer).__name__ == "GatedSkip" for layer in half_open.layers)


# ---- meta-features and the evaluator -----------------------------------------------------------------
def test_image_meta_features_are_named_versioned_and_describe_the_images(shapes):
    meta = image_meta_features(shapes)
    assert tuple(meta.values) == IMAGE_META_FEATURE_NAMES and meta.version == IMAGE_META_FEATURE_VERSION
    assert meta.values["num_classes"] == 3 and meta.values["channels"] == 1
    assert meta.values["log_height"] == pytest.approx(np.log(16))
    assert meta.values["landmark_nearest_neighbour"] > meta.values["majority_accuracy"]  # shapes are learnable
    assert np.isfinite(meta.vector()).all()


def test_tfdv_statistics_give_the_image_domain_and_the_count_of_a_sampled_set(shapes):
    """What StatisticsGen computes for images (semantic-domain statistics on): the image format
    histogram and the example count, which sizes the task even when only a sample is decoded."""
    import pandas as pd
    import tensorflow_data_validation as tfdv

    encoded = [tf.io.encode_png(image).numpy() for image in shapes.images]
    frame = pd.DataFrame({"image": encoded, "label": shapes.labels})
    statistics = tfdv.generate_statistics_from_dataframe(frame, tfdv.StatsOptions(enable_semantic_domain_stats=True))
    domain = image_domain_statistics(statistics, "image")
    assert domain.is_image_domain and domain.formats == {"png": len(encoded)} and domain.num_examples == len(encoded)
    sample = shapes.subset(np.arange(50))
    assert image_meta_features(sample, domain=domain).values["log_num_examples"] == pytest.approx(np.log(len(encoded)))
    with pytest.raises(InputError, match="image feature 'pixels' is not in the statistics"):
        image_domain_statistics(statistics, "pixels")
    with pytest.raises(InputError, match="image feature 'label' holds numbers"):
        image_domain_statistics(statistics, "label")


def test_image_generation_writes_image_records_an_evaluator_fits_on(tmp_path):
    path = tmp_path / "records.jsonl"
    summary = generate_records([ImageTask(SHAPES)], path, IMAGE_SPACE, archs_per_task=2, protocol=TINY_PROTOCOL)
    assert summary.records_written == 2
    records = read_records(path)
    assert {r.architecture.space.modality for r in records} == {"image"}
    assert all(0.0 <= r.score <= 1.0 and r.meta_features.modality == "image" for r in records)
    again = generate_records([ImageTask(SHAPES)], path, IMAGE_SPACE, archs_per_task=2, protocol=TINY_PROTOCOL)
    assert again.records_written == 0  # resumed: nothing trains twice


# ---- the command line --------------------------------------------------------------------------------
def test_search_train_and_serve_an_image_folder(workspace, image_evaluator_dir, shapes):
    out = workspace / "search"
    assert main(["search", "--data", str(workspace / "folder"), "--out", str(out), "--evaluator", str(image_evaluator_dir)]) == 0
    chosen = json.loads((out / "architecture.json").read_text())
    assert chosen["search_space"]["modality"] == "image"
    arch = Architecture.from_json(chosen)
    assert arch.embedding == "patchify2" and arch.beta.sum() >= 3  # what the evaluator rewards
    model = workspace / "model"
    argv = ["train", "--data", str(workspace / "train.tfrecord"), "--label", "label", "--architecture", str(out / "architecture.json")]
    assert main([*argv, "--out", str(model), "--max-steps", "20", "--eval-data", str(workspace / "folder")]) == 0
    [metrics] = [json.loads(line) for line in (model / "metrics.jsonl").read_text().splitlines()]
    assert metrics["eval_split"] == "eval-data" and 0.0 <= metrics["eval_accuracy"] <= 1.0
    served = tf.saved_model.load(str(next((model / "serving").iterdir()))).signatures["serving_default"]
    files = sorted((workspace / "folder").glob("*/*.png"))[::50]
    answer = served(examples=tf.constant([encode_example(f.read_bytes()) for f in files]))
    assert answer["probabilities"].shape == (len(files), 3)
    assert set(answer["class_name"].numpy().astype(str)) <= set(shapes.classes)
    keras.backend.clear_session()


def test_an_image_evaluator_refuses_a_table_and_a_table_evaluator_refuses_images(workspace, image_evaluator_dir, tiny_evaluator_dir, tiny_csv, capsys):
    argv = ["search", "--out", str(workspace / "wrong")]
    assert main([*argv, "--data", str(tiny_csv), "--label", "y", "--evaluator", str(image_evaluator_dir)]) == 2
    assert "trained for image data, but the data is a table" in capsys.readouterr().err
    assert main([*argv, "--data", str(workspace / "folder"), "--evaluator", str(tiny_evaluator_dir)]) == 2
    assert "trained for tabular data, but the data is images" in capsys.readouterr().err


def test_bad_image_input_exits_2_with_one_line_and_leaves_the_inputs_alone(tmp_path, image_evaluator_dir, capsys):
    _mixed_channels(tmp_path / "data")
    before = {p: file_digest(p) for p in (tmp_path / "data").rglob("*.png")}
    assert main(["search", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--evaluator", str(image_evaluator_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tanas: error:") and "channels" in err[0]
    assert {p: file_digest(p) for p in before} == before
    sample = tmp_path / "archs.jsonl"
    assert main(["sample-architectures", "--n", "2", "--modality", "image", "--out", str(sample)]) == 0
    assert {Architecture.from_json(json.loads(line)).space for line in sample.read_text().splitlines()} == {IMAGE_SPACE}
    _one_class(tmp_path / "cats")
    assert main(["train", "--data", str(tmp_path / "cats"), "--architecture", str(sample), "--out", str(tmp_path / "m")]) == 2
    assert "only one class" in capsys.readouterr().err


def test_tanas_run_pushes_a_served_image_model_from_a_folder(workspace, image_evaluator_dir, shapes, capsys):
    """The TFX pipeline for images: ImportExampleGen over the folder's TFRecords -> StatisticsGen ->
    SchemaGen -> MetaFeatureGen -> ArchSearcher -> Trainer -> Evaluator -> Pusher."""
    from tfx_tanas.pipelines.commands import METADATA_FILE, SERVING_DIR
    from tfx_tanas.pipelines.metadata import latest_run, open_store

    out = workspace / "pipeline"
    argv = ["run", "--data", str(workspace / "folder"), "--out", str(out), "--evaluator", str(image_evaluator_dir), "--train-top", "1"]
    records = workspace / "run_records.jsonl"
    assert main([*argv, "--records", str(records)]) == 0
    printed = capsys.readouterr().out
    assert "serving model:" in printed and f"appended 1 records to {records}" in printed
    [record] = read_records(records)  # continual records: the Trainer's measurement on this data
    assert record.meta_features.modality == "image" and record.architecture.space == IMAGE_SPACE
    runs = {run.node: run for run in latest_run(open_store(str(out / METADATA_FILE)))}
    assert {"ImportExampleGen", "MetaFeatureGen", "ArchSearcher", "Trainer", "Evaluator", "Pusher"} <= set(runs)
    [meta] = runs["MetaFeatureGen"].outputs["meta_features"]
    assert json.loads((Path(meta.uri) / "meta_features.json").read_text())["modality"] == "image"
    [version] = list((out / SERVING_DIR).iterdir())
    served = tf.saved_model.load(str(version)).signatures["serving_default"]
    files = sorted((workspace / "folder").glob("*/*.png"))[::30]
    answer = served(examples=tf.constant([encode_example(f.read_bytes()) for f in files]))
    assert set(answer["class_name"].numpy().astype(str)) <= set(shapes.classes)
    assert main(argv) == 0  # the same folder again: every step is served from the cache
    assert {run.node: run.state for run in latest_run(open_store(str(out / METADATA_FILE))) if run.state != "cached"} == {}


def test_the_image_pipeline_compiles_for_kubeflow_with_the_image_evaluator(tmp_path, capsys):
    import yaml
    from kfp import components as kfp_components

    out = tmp_path / "pipeline.yaml"
    argv = ["compile", "--out", str(out), "--image-feature", "image", "--data", "gs://bucket/images", "--label", "label", "--pipeline-root", "gs://bucket/root"]
    assert main(argv) == 0
    assert "image_evaluator" in capsys.readouterr().out
    spec = yaml.safe_load(out.read_text())
    kfp_components.load_component_from_file(str(out))  # KFP accepts the spec as written
    tasks = spec["root"]["dag"]["tasks"]
    assert "ImportExampleGen" in tasks and "CsvExampleGen" not in tasks
    assert tasks["MetaFeatureGen"]["inputs"]["parameters"]["image_feature"]["runtimeValue"]["constant"] == "image"
    stats_options = json.loads(tasks["StatisticsGen"]["inputs"]["parameters"]["stats_options_json"]["runtimeValue"]["constant"])
    assert stats_options["enable_semantic_domain_stats"]  # TFDV's image domain statistics
    trainer_config = json.loads(tasks["Trainer"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constant"])
    assert trainer_config["image_feature"] == "image"
    assert "gs://bucket/root/image_evaluator" in out.read_text()


def test_a_stacked_image_network_trains_as_it_would_alone(shapes):
    from tfx_tanas.image_training import split_images, train_image_architectures

    train, validation = split_images(shapes, TINY_PROTOCOL)
    archs = [IMAGE_SPACE.discrete(layers, "conv3x3", learning_rate=3e-3) for layers in (["conv3x3_16_relu"], ["conv5x5_32_gelu", "conv3x3_16_relu"], [])]
    alone = train_image_architectures(train, validation, archs, TINY_PROTOCOL, stack_size=1)
    stacked = train_image_architectures(train, validation, archs, TINY_PROTOCOL, stack_size=3)
    np.testing.assert_allclose([r.validation_history for r in stacked], [r.validation_history for r in alone], atol=1e-6)


def test_the_bundled_image_evaluator_and_records_are_what_generation_and_search_use():
    """`tanas build-evaluator --tasks images` resumes the bundled image records (every task holds
    exactly the architectures generation samples for it), and `tanas search` on images loads the
    bundled image evaluator, fitted on them."""
    from tfx_tanas.meta_evaluation import static_portfolio
    from tfx_tanas.meta_training import task_architectures
    from tfx_tanas.options import (
        CONTINUOUS_FRACTION,
        IMAGE_ARCHITECTURES_PER_TASK,
        IMAGE_CONTEXT_NOISE,
        IMAGE_FALLBACK_MARGIN,
        IMAGE_RISK_AVERSION,
        PORTFOLIO_SIZE,
    )
    from tfx_tanas.workflows import bundled_evaluator_path, load_evaluator

    records = read_records(bundled_evaluator_path("image").parent / "image_records.jsonl.gz")
    by_task: dict[str, set[str]] = {}
    for record in records:
        by_task.setdefault(record.task, set()).add(record.architecture.key)
    assert len(by_task) >= 20
    for task_id, keys in by_task.items():
        assert keys == {a.key for a in task_architectures(IMAGE_SPACE, ImageTask(task_id), IMAGE_ARCHITECTURES_PER_TASK, 0, CONTINUOUS_FRACTION)}, task_id
    evaluator = load_evaluator(None, IMAGE_SPACE)
    assert evaluator.space == IMAGE_SPACE and evaluator.training_summary["num_tasks"] == len(by_task)
    # fitted with the image defaults of `tanas build-evaluator --tasks images`
    assert (evaluator.config.context_noise, evaluator.config.risk_aversion) == (IMAGE_CONTEXT_NOISE, IMAGE_RISK_AVERSION)
    assert evaluator.config.fallback_margin == IMAGE_FALLBACK_MARGIN
    assert [a.key for a in evaluator.static_portfolio] == [a.key for a in static_portfolio(records, PORTFOLIO_SIZE)]  # what a refit stores


def test_an_image_training_appends_continual_records_an_image_evaluator_refits_on(workspace, tmp_path):
    from tfx_tanas.workflows import train_evaluator

    archs = tmp_path / "archs.jsonl"
    assert main(["sample-architectures", "--n", "2", "--modality", "image", "--seed", "3", "--out", str(archs)]) == 0
    mine = tmp_path / "mine.jsonl"
    argv = ["train", "--data", str(workspace / "folder"), "--architecture", str(archs), "--out", str(tmp_path / "m"), "--records", str(mine)]
    assert main(argv) == 0
    records = read_records(mine)
    assert len(records) == 2 and {r.meta_features.modality for r in records} == {"image"}
    assert len({r.task for r in records}) == 1 and records[0].task.startswith("user/")
    assert train_evaluator(mine, EvaluatorConfig(epochs=2, ensemble_size=1)).space == IMAGE_SPACE

