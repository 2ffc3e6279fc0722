"""EvaluatorTrainer executor: ``records.jsonl`` -> an evaluator directory."""

from __future__ import annotations

import os
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import artifact_io, artifacts, specs
from components.architecture_records_gen.executor import RECORDS_FILE
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.meta_features import META_FEATURE_VERSION
from tfx_tanas.meta_training import task_samples
from tfx_tanas.records import read_records, to_arrays


class Executor(base_executor.BaseExecutor):
    """Trains the evaluator for the records' search space (read_records refuses mixed spaces)."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        records = read_records(os.path.join(artifact_io.single_uri(input_dict[specs.RECORDS_KEY]), RECORDS_FILE))
        config = EvaluatorConfig(
            loss=exec_properties[specs.LOSS_KEY],
            meta_features=exec_properties[specs.META_FEATURE_MODE_KEY],
            ensemble_size=int(exec_properties[specs.ENSEMBLE_SIZE_KEY]),
            epochs=int(exec_properties[specs.EPOCHS_KEY]),
            seed=int(exec_properties[specs.SEED_KEY]),
        )
        arrays = to_arrays(records)
        space = records[0].architecture.space
        # A learned feature generator trains on a data sample of every task, reloaded by task id.
        samples = task_samples(sorted(set(arrays.groups)), config.seed) if config.uses_learned else None
        evaluator = ArchitectureEvaluator(space, config)
        evaluator.fit(arrays.meta_features, arrays.encodings, arrays.scores, arrays.groups, samples)

        output = artifact_utils.get_single_instance(output_dict[specs.EVALUATOR_KEY])
        evaluator.save(output.uri)
        output.set_string_custom_property(artifacts.SEARCH_SPACE_FINGERPRINT, space.fingerprint)
        output.set_int_custom_property(artifacts.META_FEATURE_VERSION, META_FEATURE_VERSION)
        output.set_int_custom_property(artifacts.NUM_RECORDS, len(arrays.scores))  # seed-averaged, as fitted
        output.set_int_custom_property(artifacts.NUM_TASKS, len(set(arrays.groups)))
