"""The online pipeline: from a CSV (or TFRecords of images) to a TF Serving model of the searched architecture."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence
from pathlib import Path

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tfx import components as tfx_components
from tfx.dsl.components.common.importer import Importer
from tfx.orchestration import metadata, pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2

from tfx_tanas import options
from tfx_tanas.components import artifacts
from tfx_tanas.components.arch_searcher.component import ArchSearcher
from tfx_tanas.components.meta_feature_gen.component import MetaFeatureGen
from tfx_tanas.pipelines.trainer_module import EVALUATION_SIGNATURE

PIPELINE_NAME = "tanas-online"
RUN_FN = "tfx_tanas.pipelines.trainer_module.run_fn"
ACCURACY_METRIC = "SparseCategoricalAccuracy"


def create_pipeline(
    *,
    data: str,
    label: str,
    pipeline_root: str,
    serving_dir: str,
    evaluator_uri: str,
    evaluator_fingerprint: str | None = None,
    metadata_path: str | None = None,
    pipeline_name: str = PIPELINE_NAME,
    search_method: str = options.DEFAULT_SEARCH_METHOD,
    train_top: int = 1,
    seed: int = 0,
    min_accuracy: float = 0.0,
    beam_pipeline_args: Sequence[str] | None = None,
    enable_cache: bool = True,
    image_feature: str | None = None,
) -> pipeline.Pipeline:
    """The online pipeline over ``data`` (a CSV file or a directory of them; local path or URI),
    or with ``image_feature`` over image data (claim 15): ``data`` is a directory of TFRecord files
    of tf.Examples carrying an encoded image in ``image_feature``, read by ImportExampleGen.

    ``evaluator_uri`` is imported as the ``tfx_tanas.EvaluatorArtifact`` artifact ArchSearcher uses;
    ``evaluator_fingerprint`` (see :func:`directory_fingerprint`) makes the Importer register a
    new artifact when the directory's contents change in place, so the search is not served from
    the cache of an older evaluator.
    ``metadata_path`` is an SQLite ML Metadata file for local runs (None for Kubeflow, which
    brings its own store). A model is pushed to ``serving_dir/<version>/`` only when its
    accuracy on the eval split is at least ``min_accuracy``.
    """
    example_gen = tfx_components.ImportExampleGen(input_base=data) if image_feature else csv_example_gen(data)
    statistics_gen = tfx_components.StatisticsGen(  # images: TFDV's image domain statistics too
        examples=example_gen.outputs["examples"], stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True) if image_feature else None,
    )
    schema_gen = tfx_components.SchemaGen(statistics=statistics_gen.outputs["statistics"])
    meta_feature_gen = MetaFeatureGen(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        examples=example_gen.outputs["examples"],
        label=label,
        image_feature=image_feature,
    )
    evaluator_importer = Importer(
        source_uri=evaluator_uri,
        artifact_type=artifacts.EvaluatorArtifact,
        custom_properties={artifacts.CONTENT_FINGERPRINT: evaluator_fingerprint} if evaluator_fingerprint else None,
    ).with_id("evaluator_importer")
    arch_searcher = ArchSearcher(
        meta_features=meta_feature_gen.outputs["meta_features"],
        evaluator=evaluator_importer.outputs["result"],
        method=search_method,
        train_top=train_top,
        seed=seed,
    )
    trainer = tfx_components.Trainer(
        run_fn=RUN_FN,
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        hyperparameters=arch_searcher.outputs["hyperparameters"],
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["eval"]),
        custom_config={"label": label, "seed": seed, **({"image_feature": image_feature} if image_feature else {})},
    )
    model_evaluator = tfx_components.Evaluator(  # TFX's model evaluation (TFMA), not tanas's evaluator
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        eval_config=eval_config(label, min_accuracy),
    )
    pusher = tfx_components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=model_evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir)),
    )
    return pipeline.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            meta_feature_gen,
            evaluator_importer,
            arch_searcher,
            trainer,
            model_evaluator,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path) if metadata_path else None,
        beam_pipeline_args=list(beam_pipeline_args or []),
    )


def directory_fingerprint(directory: Path) -> str:
    """A digest of every file's name and bytes under a local directory."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def csv_example_gen(data: str) -> tfx_components.CsvExampleGen:
    """CsvExampleGen over one CSV file or every ``*.csv`` of a directory (split 2:1 into train and eval)."""
    input_base, pattern = csv_input(data)
    return tfx_components.CsvExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="single_split", pattern=pattern)]),
    )


def csv_input(data: str) -> tuple[str, str]:
    """CsvExampleGen's (input_base, file pattern): one named file, or every ``*.csv`` of a directory."""
    data = data.rstrip("/")
    if data.endswith(".csv"):
        return posixpath.dirname(data) or ".", posixpath.basename(data)
    return data, "*.csv"


def eval_config(label: str, min_accuracy: float) -> tfma.EvalConfig:
    """TFMA reads the model's ``evaluation`` signature (see tfx_tanas.pipelines.trainer_module) and blesses
    a model whose accuracy on the eval split reaches ``min_accuracy``."""
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=EVALUATION_SIGNATURE, label_key=label, prediction_key="probabilities")],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(
                        class_name=ACCURACY_METRIC,
                        threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy})),
                    ),
                ]
            )
        ],
    )
