"""Real inputs for tests: upstream artifacts made by TFX's own components, a quickly fitted evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tfx import types
from tfx.components import SchemaGen, StatisticsGen
from tfx.orchestration import metadata, pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.types import artifact_utils

from pipelines.metadata import latest_run, open_store
from pipelines.online import csv_example_gen
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.meta_features import META_FEATURE_NAMES
from tfx_tanas.meta_training import sample_architectures
from tfx_tanas.search_space import SearchSpace

CHILE_CSV = Path(__file__).resolve().parent.parent / "examples" / "chile.csv"
LABEL = "region"
CONSTANT_COLUMN = "country"  # one value in every row: a label with a single class


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
