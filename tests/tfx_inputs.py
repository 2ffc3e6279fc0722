"""Real inputs for tests: upstream artifacts made by TFX's own components, a quickly fitted evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tfx import types
from tfx.components import SchemaGen, StatisticsGen
from tfx.orchestration import metadata, pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.types import artifact_utils

from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.meta_features import META_FEATURE_NAMES
from tfx_tanas.pipelines.metadata import latest_run, open_store
from tfx_tanas.pipelines.online import csv_example_gen
from tfx_tanas.search_space import SearchSpace, sample_architectures

CHILE_CSV = Path(__file__).resolve().parent.parent / "examples" / "chile.csv"
LABEL = "region"
CONSTANT_COLUMN = "country"  # one value in every row: a label with a single class
# the online pipeline's components and the outputs each writes
ONLINE_OUTPUTS = {
    "CsvExampleGen": {"examples"},
    "StatisticsGen": {"statistics"},
    "SchemaGen": {"schema"},
    "MetaFeatureGen": {"meta_features"},
    "evaluator_importer": {"result"},
    "ArchSearcher": {"architecture", "hyperparameters"},
    "Trainer": {"model", "model_run"},
    "Evaluator": {"evaluation", "blessing"},
    "Pusher": {"pushed_model"},
}


def upstream_artifacts(csv_path: Path, root: Path) -> dict[str, types.Artifact]:
    """``{"examples", "statistics", "schema"}`` for ``csv_path``, made under ``root``."""
    example_gen = csv_example_gen(str(csv_path))
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = SchemaGen(statistics=statistics_gen.outputs["statistics"])
    metadata_path = str(root / "metadata.sqlite")
    LocalDagRunner().run(
        pipeline.Pipeline(
            pipeline_name="tanas-test-inputs",
            pipeline_root=str(root / "pipeline"),
            components=[example_gen, statistics_gen, schema_gen],
            metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path),
        )
    )
    store = open_store(metadata_path)
    found = {}
    for run in latest_run(store):
        for key, [mlmd_artifact] in run.outputs.items():
            [artifact_type] = store.get_artifact_types_by_id([mlmd_artifact.type_id])
            found[key] = artifact_utils.deserialize_artifact(artifact_type, mlmd_artifact)
    return {key: found[key] for key in ("examples", "statistics", "schema")}


def fitted_evaluator(space: SearchSpace, seed: int = 0) -> ArchitectureEvaluator:
    """A real evaluator fitted in a second on made-up records: executors need one, not a good one."""
    rng = np.random.default_rng(seed)
    archs = sample_architectures(space, 40, seed)
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(epochs=2, ensemble_size=1, seed=seed))
    evaluator.fit(
        rng.normal(size=(len(archs), len(META_FEATURE_NAMES))),
        np.stack([a.to_vector() for a in archs]),
        rng.uniform(0.3, 0.9, len(archs)),
        np.repeat(["task_a", "task_b", "task_c", "task_d"], len(archs) // 4),
    )
    return evaluator


def to_examples(frame: pd.DataFrame) -> list[bytes]:
    """tf.Examples the way CsvExampleGen writes CSV rows: ints, floats, text; empty cells left out."""
    examples = []
    for _, row in frame.drop(columns=[LABEL]).iterrows():
        feature = {}
        for column, value in row.items():
            if pd.isna(value):
                continue
            if pd.api.types.is_integer_dtype(frame[column]):
                feature[column] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
            elif pd.api.types.is_float_dtype(frame[column]):
                feature[column] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
            else:
                feature[column] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(value).encode()]))
        examples.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return examples
