"""ArchSearcher executor: meta-features + evaluator -> architecture.json, candidates.jsonl.

Like TFX's Tuner, it also writes the result as a HyperParameters artifact
(``best_hyperparameters.txt``), which the standard Trainer hands to ``run_fn`` as
``fn_args.hyperparameters``.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from tfx_tanas import workflows
from tfx_tanas.components import artifact_io, artifacts, specs
from tfx_tanas.meta_features import MetaFeatures
from tfx_tanas.search_space import default_space

HYPERPARAMETERS_FILE = "best_hyperparameters.txt"  # the name TFX's Tuner uses


class Executor(base_executor.BaseExecutor):
    """Searches the search space of the data's kind (table or images); an evaluator made for
    another space or kind is refused."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        meta = MetaFeatures.from_json(artifact_io.read_json(artifact_io.single_uri(input_dict[specs.META_FEATURES_KEY]), workflows.META_FEATURES_FILE))
        evaluator = workflows.load_evaluator(artifact_io.single_uri(input_dict[specs.EVALUATOR_KEY]), default_space(meta.modality))
        search_options = artifact_io.parse_json_object(exec_properties.get(specs.SEARCH_OPTIONS_KEY), specs.SEARCH_OPTIONS_KEY)
        choice = workflows.choose_architecture(meta, evaluator, exec_properties[specs.METHOD_KEY], int(exec_properties[specs.SEED_KEY]), search_options)

        output = artifact_utils.get_single_instance(output_dict[specs.ARCHITECTURE_KEY])
        choice.save(output.uri)
        best = choice.result.best
        output.set_float_custom_property(artifacts.PREDICTED_SCORE, best.predicted_score)
        output.set_float_custom_property(artifacts.PREDICTED_SCORE_SPREAD, best.spread)
        output.set_string_custom_property(artifacts.SEARCH_METHOD, choice.result.method)
        output.set_int_custom_property(artifacts.NUM_CANDIDATES, len(choice.result.candidates))
        output.set_string_custom_property(artifacts.DESCRIPTION, best.architecture.describe())
        output.set_string_custom_property(artifacts.ARCHITECTURE_KEY, best.architecture.key)
        output.set_string_custom_property(artifacts.SEARCH_SPACE_FINGERPRINT, evaluator.space.fingerprint)

        hyperparameters = artifact_utils.get_single_instance(output_dict[specs.HYPERPARAMETERS_KEY])
        artifact_io.write_json(hyperparameters.uri, HYPERPARAMETERS_FILE, choice.hyperparameters(int(exec_properties.get(specs.TRAIN_TOP_KEY) or 1)))
        hyperparameters.set_string_custom_property(artifacts.ARCHITECTURE_KEY, best.architecture.key)
