"""TFX pipelines of tfx-tanas: the online search-train-serve pipeline and the offline meta-training one.

* :func:`pipelines.online.create_pipeline`: CsvExampleGen -> StatisticsGen -> SchemaGen ->
  MetaFeatureGen -> ArchSearcher (evaluator from an Importer) -> Trainer -> Evaluator -> Pusher
* :func:`pipelines.offline.create_offline_pipeline`: ArchitectureRecordsGen -> EvaluatorTrainer
* :mod:`pipelines.commands`: ``tanas run`` (LocalDagRunner) and ``tanas compile`` (KubeflowV2DagRunner)
"""
