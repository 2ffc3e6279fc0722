"""Component specs as plain data: the inputs, outputs and parameters of each tanas component.

Kept apart from ``component.py`` (like TFX's ``standard_component_specs``) so an executor can use
the keys without importing its component.
"""

from __future__ import annotations

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from tfx_tanas.components import artifacts

# Channel keys.
EXAMPLES_KEY = "examples"
STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
META_FEATURES_KEY = "meta_features"
RECORDS_KEY = "records"
EVALUATOR_KEY = "evaluator"
ARCHITECTURE_KEY = "architecture"
HYPERPARAMETERS_KEY = "hyperparameters"

# Parameter keys.
LABEL_KEY = "label"
IMAGE_FEATURE_KEY = "image_feature"  # set for image data: the tf.Example feature holding the encoded image
SPLIT_KEY = "split"
TASKS_KEY = "tasks"
ARCHITECTURES_PER_TASK_KEY = "architectures_per_task"
CONTINUOUS_FRACTION_KEY = "continuous_fraction"
CHUNK_SIZE_KEY = "chunk_size"
SEED_KEY = "seed"
MEASUREMENTS_KEY = "measurements"
ELEMENTS_PER_PROCESS_KEY = "elements_per_process"  # a worker's child process trains this many elements (0: none)
LOSS_KEY = "loss"
META_FEATURE_MODE_KEY = "meta_features_mode"
ENSEMBLE_SIZE_KEY = "ensemble_size"
EPOCHS_KEY = "epochs"
CONTEXT_NOISE_KEY = "context_noise"
RISK_AVERSION_KEY = "risk_aversion"  # saved with the evaluator: the search's pick is the best mean - this * spread
FALLBACK_MARGIN_KEY = "fallback_margin"  # saved with the evaluator: the pick must lead its best-on-average network by more
METHOD_KEY = "method"
SEARCH_OPTIONS_KEY = "search_options"  # JSON object: the method's options (tfx_tanas.options.SEARCH_METHODS)
TRAIN_TOP_KEY = "train_top"  # the Trainer trains this many best distinct candidates (1: zero-shot)


class MetaFeatureGenSpec(ComponentSpec):
    PARAMETERS = {
        LABEL_KEY: ExecutionParameter(type=str),
        SPLIT_KEY: ExecutionParameter(type=str),
        IMAGE_FEATURE_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {META_FEATURES_KEY: ChannelParameter(type=artifacts.MetaFeaturesArtifact)}


class ArchitectureRecordsGenSpec(ComponentSpec):
    PARAMETERS = {
        TASKS_KEY: ExecutionParameter(type=str),  # JSON list of tfx_tanas.tasks.Task fields
        ARCHITECTURES_PER_TASK_KEY: ExecutionParameter(type=int),
        CONTINUOUS_FRACTION_KEY: ExecutionParameter(type=float),
        CHUNK_SIZE_KEY: ExecutionParameter(type=int),
        SEED_KEY: ExecutionParameter(type=int),
        MEASUREMENTS_KEY: ExecutionParameter(type=int),
        ELEMENTS_PER_PROCESS_KEY: ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {RECORDS_KEY: ChannelParameter(type=artifacts.RecordsArtifact)}


class EvaluatorTrainerSpec(ComponentSpec):
    PARAMETERS = {
        LOSS_KEY: ExecutionParameter(type=str),
        META_FEATURE_MODE_KEY: ExecutionParameter(type=str),
        ENSEMBLE_SIZE_KEY: ExecutionParameter(type=int),
        EPOCHS_KEY: ExecutionParameter(type=int),
        CONTEXT_NOISE_KEY: ExecutionParameter(type=float),
        RISK_AVERSION_KEY: ExecutionParameter(type=float),
        FALLBACK_MARGIN_KEY: ExecutionParameter(type=float),
        SEED_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {RECORDS_KEY: ChannelParameter(type=artifacts.RecordsArtifact)}
    OUTPUTS = {EVALUATOR_KEY: ChannelParameter(type=artifacts.EvaluatorArtifact)}


class ArchSearcherSpec(ComponentSpec):
    PARAMETERS = {
        METHOD_KEY: ExecutionParameter(type=str),
        SEED_KEY: ExecutionParameter(type=int),
        SEARCH_OPTIONS_KEY: ExecutionParameter(type=str, optional=True),
        TRAIN_TOP_KEY: ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {
        META_FEATURES_KEY: ChannelParameter(type=artifacts.MetaFeaturesArtifact),
        EVALUATOR_KEY: ChannelParameter(type=artifacts.EvaluatorArtifact),
    }
    OUTPUTS = {
        ARCHITECTURE_KEY: ChannelParameter(type=artifacts.ArchitectureArtifact),
        HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters),
    }
