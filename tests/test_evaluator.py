"""The evaluator: it learns, it saves and loads exactly, it refuses another version."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from synthetic import rule_score

from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.evaluator import Evaluator, EvaluatorConfig
from tfx_tanas.meta_features import META_FEATURE_VERSION
from tfx_tanas.search_space import SearchSpace


@pytest.fixture(scope="module")
def held_out(space):
    rng = np.random.default_rng(99)
    archs = [space.sample(rng) for _ in range(40)] + [space.sample_continuous(rng) for _ in range(40)]
    return np.stack([a.to_vector() for a in archs]), np.array([rule_score(a) for a in archs])


def test_fitted_evaluator_ranks_unseen_architectures_by_the_rule(tiny_evaluator, task_meta_features, held_out):
    encodings, truth = held_out
    predicted = tiny_evaluator.predict(task_meta_features[2], encodings).mean
    assert predicted.shape == truth.shape
    assert np.corrcoef(predicted, truth)[0, 1] > 0.8


def test_save_load_round_trip_predicts_identically(tiny_evaluator, tiny_evaluator_dir, task_meta_features, held_out, space):
    encodings, _ = held_out
    loaded = Evaluator.load(tiny_evaluator_dir, space)
    assert loaded.space == tiny_evaluator.space
    assert loaded.config == tiny_evaluator.config
    for z in task_meta_features[:2]:
        np.testing.assert_array_equal(loaded.predict(z, encodings).mean, tiny_evaluator.predict(z, encodings).mean)
    assert loaded.out_of_range(task_meta_features[0]) == []


def test_ensemble_reports_a_spread(space, task_meta_features, held_out):
    encodings, truth = held_out
    evaluator = Evaluator(space, EvaluatorConfig(hidden_units=(8,), epochs=3, ensemble_size=2))
    groups = np.repeat(np.arange(4), 20)
    evaluator.fit(task_meta_features[groups % 6], encodings, truth, groups)
    prediction = evaluator.predict(task_meta_features[0], encodings)
    assert prediction.std.shape == truth.shape
    assert (prediction.std > 0).any()

    # the frozen scorer that gradient ascent differentiates gives exactly the ensemble mean
    scorer = evaluator.frozen_scorer(evaluator.normalized(task_meta_features[0]))
    np.testing.assert_allclose(scorer(encodings).numpy(), prediction.mean, atol=1e-6)


@pytest.fixture
def saved_copy(tiny_evaluator_dir, tmp_path):
    directory = tmp_path / "copy"
    shutil.copytree(tiny_evaluator_dir, directory)
    return directory


def edit_manifest(directory, change) -> None:
    path = directory / "evaluator.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda m: m.update(meta_feature_version=META_FEATURE_VERSION + 1), id="meta-feature version"),
        pytest.param(lambda m: m["meta_feature_names"].reverse(), id="meta-feature names"),
        pytest.param(lambda m: m["search_space"].update(version=m["search_space"]["version"] + 1), id="search-space version"),
        pytest.param(lambda m: m.update(format_version=99), id="format version"),
    ],
)
def test_evaluator_for_another_version_is_refused(saved_copy, change, space):
    edit_manifest(saved_copy, change)
    with pytest.raises(VersionMismatchError):
        Evaluator.load(saved_copy, space)


def test_evaluator_for_another_search_space_is_refused(tmp_path, space, task_meta_features):
    other = SearchSpace(units=(8, 16, 32))
    evaluator = Evaluator(other, EvaluatorConfig(hidden_units=(4,), epochs=1))
    directory = evaluator.save(tmp_path / "other")
    with pytest.raises(VersionMismatchError, match="search space"):
        Evaluator.load(directory, space)
    assert Evaluator.load(directory, other).space == other


def test_evaluator_saved_with_another_network_shape_is_refused(tmp_path, space):
    """What an evaluator saved by an older tfx-tanas looks like: the manifest loads, the weights do not fit."""
    directory = Evaluator(space, EvaluatorConfig(hidden_units=(4,), epochs=1)).save(tmp_path / "older")
    edit_manifest(directory, lambda m: m["config"].update(hidden_units=[8]))
    with pytest.raises(VersionMismatchError, match="regenerate"):
        Evaluator.load(directory, space)


def test_evaluator_without_its_weights_is_refused(saved_copy, space):
    (saved_copy / "member_0.weights.h5").unlink()
    with pytest.raises(InputError, match="weights"):
        Evaluator.load(saved_copy, space)


def test_records_for_another_search_space_are_refused(space, task_meta_features):
    evaluator = Evaluator(space, EvaluatorConfig(hidden_units=(4,), epochs=1))
    with pytest.raises(VersionMismatchError):
        evaluator.fit(task_meta_features, np.zeros((6, space.encoding_size - 3)), np.zeros(6), np.arange(6))


def test_directory_without_manifest_is_refused(tmp_path):
    with pytest.raises(InputError, match="evaluator.json"):
        Evaluator.load(tmp_path)


def test_corrupt_manifest_is_an_input_error(saved_copy):
    (saved_copy / "evaluator.json").write_text("{not json")
    with pytest.raises(InputError, match="malformed"):
        Evaluator.load(saved_copy)


def test_bundled_evaluator_loads_for_the_default_space(space):
    from tfx_tanas.cli import bundled_evaluator_path

    evaluator = Evaluator.load(bundled_evaluator_path(), space)
    assert evaluator.training_summary["num_records"] > 0
