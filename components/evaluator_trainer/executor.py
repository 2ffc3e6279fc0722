"""EvaluatorTrainer executor: ``records.jsonl`` -> an evaluator directory."""

from __future__ import annotations

import os
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from tfx_tanas import workflows
from tfx_tanas.components import artifact_io, artifacts, specs
from tfx_tanas.evaluator import EvaluatorConfig
from tfx_tanas.records import RECORDS_FILE


class Executor(base_executor.BaseExecutor):
    """Trains the evaluator for the records' search space (mixed spaces are refused)."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        config = EvaluatorConfig(
            loss=exec_properties[specs.LOSS_KEY],
            meta_features=exec_properties[specs.META_FEATURE_MODE_KEY],
            ensemble_size=int(exec_properties[specs.ENSEMBLE_SIZE_KEY]),
            epochs=int(exec_properties[specs.EPOCHS_KEY]),
            context_noise=float(exec_properties[specs.CONTEXT_NOISE_KEY]),
            risk_aversion=float(exec_properties[specs.RISK_AVERSION_KEY]),
            fallback_margin=float(exec_properties[specs.FALLBACK_MARGIN_KEY]),
            seed=int(exec_properties[specs.SEED_KEY]),
        )
        evaluator = workflows.train_evaluator(os.path.join(artifact_io.single_uri(input_dict[specs.RECORDS_KEY]), RECORDS_FILE), config)

        output = artifact_utils.get_single_instance(output_dict[specs.EVALUATOR_KEY])
        evaluator.save(output.uri)
        output.set_string_custom_property(artifacts.SEARCH_SPACE_FINGERPRINT, evaluator.space.fingerprint)
        output.set_int_custom_property(artifacts.META_FEATURE_VERSION, evaluator.meta_feature_version)
        output.set_int_custom_property(artifacts.NUM_RECORDS, evaluator.training_summary["num_records"])  # seed-averaged, as fitted
        output.set_int_custom_property(artifacts.NUM_TASKS, evaluator.training_summary["num_tasks"])
