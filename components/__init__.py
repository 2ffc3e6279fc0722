"""TFX components for task-aware architecture search: thin shells over :mod:`tfx_tanas`.

* :class:`components.meta_feature_gen.component.MetaFeatureGen`: statistics + schema + examples -> MetaFeatures
* :class:`components.architecture_records_gen.component.ArchitectureRecordsGen`: tasks -> ArchitectureRecords (Beam)
* :class:`components.evaluator_trainer.component.EvaluatorTrainer`: ArchitectureRecords -> Evaluator
* :class:`components.arch_searcher.component.ArchSearcher`: MetaFeatures + Evaluator -> Architecture (+ HyperParameters for the Trainer)

The artifact types are exported here because Kubeflow's container entrypoint resolves a custom
type by importing its TYPE_NAME, ``components.<Class>``.
"""

from components.artifacts import Architecture, ArchitectureRecords, Evaluator, MetaFeatures

__all__ = ["Architecture", "ArchitectureRecords", "Evaluator", "MetaFeatures"]
