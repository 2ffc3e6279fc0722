"""ArchSearcher executor: meta-features + evaluator -> architecture.json, candidates.jsonl.

Like TFX's Tuner, it also writes the result as a HyperParameters artifact
(``best_hyperparameters.txt``), which the standard Trainer hands to ``run_fn`` as
``fn_args.hyperparameters``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components import artifact_io, artifacts, specs
from components.meta_feature_gen.executor import META_FEATURES_FILE
from tfx_tanas.errors import InputError
from tfx_tanas.evaluator import ArchitectureEvaluator
from tfx_tanas.meta_features import MetaFeatures
from tfx_tanas.search import search
from tfx_tanas.search_space import SearchSpace

ARCHITECTURE_FILE = "architecture.json"
CANDIDATES_FILE = "candidates.jsonl"
HYPERPARAMETERS_FILE = "best_hyperparameters.txt"  # the name TFX's Tuner uses

# Which optional parameters each search method takes (the keyword arguments of tfx_tanas.search).
METHOD_OPTIONS = {"gradient": (specs.STARTS_KEY, specs.STEPS_KEY), "random": (specs.NUM_SAMPLES_KEY,)}

log = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):
    """Searches the library's search space; an evaluator made for another space is refused."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        method = exec_properties[specs.METHOD_KEY]
        seed = int(exec_properties[specs.SEED_KEY])
        options = search_options(method, exec_properties)
        evaluator = ArchitectureEvaluator.load(artifact_io.single_uri(input_dict[specs.EVALUATOR_KEY]), space=SearchSpace())
        meta = MetaFeatures.from_json(artifact_io.read_json(artifact_io.single_uri(input_dict[specs.META_FEATURES_KEY]), META_FEATURES_FILE))
        outside = evaluator.out_of_range(meta.vector(evaluator.meta_feature_names))
        if outside:
            log.warning("meta-features outside the evaluator's training range (%s): predictions extrapolate", ", ".join(outside[:5]))
        result = search(evaluator, meta, method=method, seed=seed, **options)
        best = result.best
        architecture_json = result.architecture_json(seed, outside)

        output = artifact_utils.get_single_instance(output_dict[specs.ARCHITECTURE_KEY])
        artifact_io.write_json(output.uri, ARCHITECTURE_FILE, architecture_json)
        io_utils.write_string_file(os.path.join(output.uri, CANDIDATES_FILE), result.candidates_jsonl())
        output.set_float_custom_property(artifacts.PREDICTED_SCORE, best.predicted_score)
        output.set_float_custom_property(artifacts.PREDICTED_SCORE_SPREAD, best.spread)
        output.set_string_custom_property(artifacts.SEARCH_METHOD, result.method)
        output.set_int_custom_property(artifacts.NUM_CANDIDATES, len(result.candidates))
        output.set_string_custom_property(artifacts.DESCRIPTION, best.architecture.describe())
        output.set_string_custom_property(artifacts.ARCHITECTURE_KEY, best.architecture.key)
        output.set_string_custom_property(artifacts.SEARCH_SPACE_FINGERPRINT, evaluator.space.fingerprint)

        hyperparameters = artifact_utils.get_single_instance(output_dict[specs.HYPERPARAMETERS_KEY])
        artifact_io.write_json(hyperparameters.uri, HYPERPARAMETERS_FILE, architecture_json)
        hyperparameters.set_string_custom_property(artifacts.ARCHITECTURE_KEY, best.architecture.key)


def search_options(method: str, exec_properties: dict[str, Any]) -> dict[str, int]:
    """The set optional parameters, checked against the method (a gradient option with random search is an error)."""
    if method not in METHOD_OPTIONS:
        raise InputError(f"unknown search method {method!r}; choose one of {sorted(METHOD_OPTIONS)}")
    given = {key: int(exec_properties[key]) for key in (specs.STARTS_KEY, specs.STEPS_KEY, specs.NUM_SAMPLES_KEY) if exec_properties.get(key) is not None}
    wrong = sorted(set(given) - set(METHOD_OPTIONS[method]))
    if wrong:
        raise InputError(f"{', '.join(wrong)} do(es) not apply to {method} search (it takes {', '.join(METHOD_OPTIONS[method])})")
    if any(value < 1 for value in given.values()):
        raise InputError(f"search options must be at least 1, got {given}")
    return given
