"""The offline meta-training pipeline: tasks -> architecture records -> evaluator."""

from __future__ import annotations

from collections.abc import Sequence

from tfx.orchestration import metadata, pipeline

from tfx_tanas import options
from tfx_tanas.components.architecture_records_gen.component import ArchitectureRecordsGen
from tfx_tanas.components.evaluator_trainer.component import EvaluatorTrainer
from tfx_tanas.evaluator import EvaluatorConfig
from tfx_tanas.tasks import Task

PIPELINE_NAME = "tanas-offline"


def create_offline_pipeline(
    *,
    tasks: Sequence[Task],
    pipeline_root: str,
    metadata_path: str | None = None,
    pipeline_name: str = PIPELINE_NAME,
    architectures_per_task: int = 0,
    continuous_fraction: float = options.CONTINUOUS_FRACTION,
    chunk_size: int = options.CHUNK_SIZE,
    evaluator_config: EvaluatorConfig | None = None,
    seed: int = 0,
    measurements: int = options.MEASUREMENTS,
    elements_per_process: int = options.ELEMENTS_PER_PROCESS,
    beam_pipeline_args: Sequence[str] = options.LOCAL_PARALLEL_BEAM_ARGS,
    enable_cache: bool = True,
) -> pipeline.Pipeline:
    """ArchitectureRecordsGen -> EvaluatorTrainer; the evaluator artifact is what ArchSearcher imports.

    ``evaluator_config`` defaults to :class:`EvaluatorConfig`'s defaults; ``architectures_per_task``
    0 gives each task its default number of networks, as ``tanas build-evaluator`` does.
    """
    evaluator_config = evaluator_config or EvaluatorConfig()
    records_gen = ArchitectureRecordsGen(
        tasks=tasks,
        architectures_per_task=architectures_per_task,
        continuous_fraction=continuous_fraction,
        chunk_size=chunk_size,
        seed=seed,
        measurements=measurements,
        elements_per_process=elements_per_process,
    )
    evaluator_trainer = EvaluatorTrainer(
        records=records_gen.outputs["records"],
        loss=evaluator_config.loss,
        meta_features_mode=evaluator_config.meta_features,
        ensemble_size=evaluator_config.ensemble_size,
        epochs=evaluator_config.epochs,
        context_noise=evaluator_config.context_noise,
        risk_aversion=evaluator_config.risk_aversion,
        fallback_margin=evaluator_config.fallback_margin,
        seed=evaluator_config.seed,
    )
    return pipeline.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[records_gen, evaluator_trainer],
        enable_cache=enable_cache,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path) if metadata_path else None,
        beam_pipeline_args=list(beam_pipeline_args),
    )
