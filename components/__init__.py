"""TFX components for task-aware architecture search: thin shells over :mod:`tfx_tanas`.

Installed as ``tfx_tanas.components`` (the folder is ``components/`` at the repository's top):

* :class:`~tfx_tanas.components.meta_feature_gen.component.MetaFeatureGen`: statistics + schema + examples -> meta-features
* :class:`~tfx_tanas.components.architecture_records_gen.component.ArchitectureRecordsGen`: tasks -> records (Beam)
* :class:`~tfx_tanas.components.evaluator_trainer.component.EvaluatorTrainer`: records -> evaluator
* :class:`~tfx_tanas.components.arch_searcher.component.ArchSearcher`: meta-features + evaluator -> architecture (+ HyperParameters for the Trainer)
"""
