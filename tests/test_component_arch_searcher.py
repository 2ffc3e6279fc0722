"""ArchSearcher's executor: meta-features + an evaluator -> a valid, scored architecture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tfx.types import standard_artifacts
from tfx_inputs import CONSTANT_COLUMN, LABEL, fitted_evaluator

from tfx_tanas.components import artifacts
from tfx_tanas.components.arch_searcher.executor import HYPERPARAMETERS_FILE, Executor
from tfx_tanas.errors import InputError
from tfx_tanas.meta_features import meta_features_for_frame
from tfx_tanas.search_space import Architecture, SearchSpace
from tfx_tanas.workflows import ARCHITECTURE_FILE, CANDIDATES_FILE, META_FEATURES_FILE


@pytest.fixture(scope="module")
def meta_features_dir(chile_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("meta_features")
    meta = meta_features_for_frame(chile_frame.drop(columns=[CONSTANT_COLUMN]), LABEL)
    (directory / META_FEATURES_FILE).write_text(json.dumps(meta.to_json()))
    return directory


def run(meta_features_dir: Path, evaluator_dir: Path, out: Path, method: str = "gradient", search_options: str | None = None) -> tuple[artifacts.ArchitectureArtifact, standard_artifacts.HyperParameters]:
    meta = artifacts.MetaFeaturesArtifact()
    meta.uri = str(meta_features_dir)
    evaluator = artifacts.EvaluatorArtifact()
    evaluator.uri = str(evaluator_dir)
    architecture = artifacts.ArchitectureArtifact()
    architecture.uri = str(out / "architecture")
    hyperparameters = standard_artifacts.HyperParameters()
    hyperparameters.uri = str(out / "hyperparameters")
    exec_properties = {"method": method, "seed": 0, "search_options": search_options}
    Executor().Do(
        {"meta_features": [meta], "evaluator": [evaluator]},
        {"architecture": [architecture], "hyperparameters": [hyperparameters]},
        exec_properties,
    )
    return architecture, hyperparameters


def test_gradient_search_writes_a_discrete_architecture_and_its_candidates(meta_features_dir: Path, evaluator_dir: Path, tmp_path: Path) -> None:
    architecture, hyperparameters = run(meta_features_dir, evaluator_dir, tmp_path, search_options=json.dumps({"starts": 4, "steps": 10}))
    data = json.loads((Path(architecture.uri) / ARCHITECTURE_FILE).read_text())
    chosen = Architecture.from_json(data)
    assert chosen.is_discrete and chosen.space == SearchSpace()
    assert architecture.get_string_custom_property(artifacts.ARCHITECTURE_KEY) == chosen.key
    assert architecture.get_string_custom_property(artifacts.DESCRIPTION) == chosen.describe()
    assert architecture.get_float_custom_property(artifacts.PREDICTED_SCORE) == pytest.approx(data["metadata"]["predicted_score"], abs=1e-6)
    candidates = (Path(architecture.uri) / CANDIDATES_FILE).read_text().splitlines()
    assert len(candidates) == architecture.get_int_custom_property(artifacts.NUM_CANDIDATES) >= 4 * 10
    # The Trainer reads the same architecture from the HyperParameters artifact.
    assert json.loads((Path(hyperparameters.uri) / HYPERPARAMETERS_FILE).read_text()) == data


def test_random_search_takes_its_own_budget(meta_features_dir: Path, evaluator_dir: Path, tmp_path: Path) -> None:
    architecture, _ = run(meta_features_dir, evaluator_dir, tmp_path, method="random", search_options=json.dumps({"num_samples": 64}))
    assert architecture.get_string_custom_property(artifacts.SEARCH_METHOD) == "random"
    assert Architecture.from_json(json.loads((Path(architecture.uri) / ARCHITECTURE_FILE).read_text())).is_discrete


def test_an_option_of_another_method_is_refused(meta_features_dir: Path, evaluator_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="starts do\\(es\\) not apply to random search"):
        run(meta_features_dir, evaluator_dir, tmp_path, method="random", search_options=json.dumps({"starts": 4}))


def test_search_options_that_are_not_a_json_object_are_refused(meta_features_dir: Path, evaluator_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="search_options must be a JSON object"):
        run(meta_features_dir, evaluator_dir, tmp_path, search_options="[4]")



def test_an_evaluator_for_another_search_space_is_refused(meta_features_dir: Path, tmp_path: Path) -> None:
    other = fitted_evaluator(SearchSpace(num_layers=3)).save(tmp_path / "other_evaluator")
    with pytest.raises(InputError, match="evaluator was trained for search space"):
        run(meta_features_dir, other, tmp_path)
    assert not (tmp_path / "architecture" / ARCHITECTURE_FILE).exists()
