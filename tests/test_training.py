"""Training under the protocol: sampled architectures build and train, stacked training exports
networks that reproduce its validation accuracy, results come back in input order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from synthetic import FAST_PROTOCOL, LABEL

from tfx_tanas.data import stratified_split
from tfx_tanas.errors import InputError
from tfx_tanas.protocol import PROTOCOL_V2, TrainingProtocol
from tfx_tanas.search_space import DEFAULT_SPACE, sample_architectures
from tfx_tanas.task_data import prepare_splits, prepare_task
from tfx_tanas.training import accuracy, cross_validated_scores, train_architectures


@pytest.fixture(scope="module")
def mixed_architectures(space):
    """Four discrete and two continuous sampled architectures, one of them with absent (beta = 0) layers."""
    archs = sample_architectures(space, 6, seed=11, continuous_fraction=1 / 3)
    assert [a.is_discrete for a in archs] == [True] * 4 + [False] * 2
    return archs


@pytest.fixture(scope="module")
def trained(tiny_task, mixed_architectures):
    return train_architectures(tiny_task, mixed_architectures, FAST_PROTOCOL, seed=0, group_size=4, keep_networks=True)


def test_sampled_architectures_train_to_accuracies_in_unit_interval(trained, mixed_architectures):
    assert [r.architecture for r in trained] == mixed_architectures  # input order, though stacked in groups
    for result in trained:
        assert result.ok, result.error
        assert len(result.validation_history) == FAST_PROTOCOL.epochs
        assert all(0.0 <= v <= 1.0 for v in result.validation_history)
        assert result.score == pytest.approx(np.mean(result.validation_history[-FAST_PROTOCOL.score_evaluations :]), abs=1e-5)
        assert 0.0 <= result.score <= 1.0
        assert result.train_seconds > 0


def test_exported_networks_reproduce_the_stacked_validation_accuracy(trained, tiny_task):
    """The last epoch's validation accuracy measured inside the stack equals the exported Keras network's."""
    one_example = 1.0 / len(tiny_task.validation.labels)
    for result in trained:
        exported = accuracy(result, tiny_task.validation)
        # float summation order differs between einsum and Dense; allow one near-tie to flip
        assert abs(exported - result.validation_history[-1]) <= one_example + 1e-9


def test_num_params_equals_the_exported_keras_count(trained):
    for result in trained:
        assert result.num_params == result.network.count_params()


def test_training_learns_the_easy_task(tiny_task, space):
    """With the full 15 epochs a one-layer network beats the majority class on the easy tiny table."""
    rng = np.random.default_rng(0)
    arch = next(a for a in iter(lambda: space.sample(rng), None) if len(a.hidden_layers) == 1)
    task = prepare_task(tiny_task.train_frame, LABEL, TrainingProtocol(), seed=0)
    [result] = train_architectures(task, [arch], TrainingProtocol(), seed=0)
    majority = np.bincount(task.validation.labels).max() / len(task.validation.labels)
    assert result.score > majority + 0.05


def test_prepare_task_split_is_seeded_stratified_and_disjoint(tiny_frame):
    labels = (tiny_frame[LABEL] == "yes").to_numpy().astype(int)
    first, again = stratified_split(labels, 0.2, seed=3), stratified_split(labels, 0.2, seed=3)
    np.testing.assert_array_equal(first.validation, again.validation)
    assert not set(first.train) & set(first.validation)
    assert len(first.train) + len(first.validation) == len(labels)
    assert len(first.validation) == round(0.2 * len(labels))
    assert abs(labels[first.validation].mean() - labels.mean()) < 0.03


def test_prepare_task_fits_the_schema_on_training_rows_only(tiny_task):
    train_rows = len(tiny_task.train.labels)
    assert len(tiny_task.train_frame) == train_rows
    signal = next(c for c in tiny_task.schema.numeric if c.name == "signal")
    assert signal.mean == pytest.approx(tiny_task.train_frame["signal"].mean(), rel=1e-6)
    assert [c.name for c in tiny_task.schema.categorical] == ["color"]
    assert next(c for c in tiny_task.schema.numeric if c.name == "count").dtype == "int64"
    assert next(c for c in tiny_task.schema.numeric if c.name == "noise").has_missing


def test_encoded_embeddings_are_finite_despite_missing_values(tiny_task):
    for kind, values in tiny_task.train.embeddings.items():
        assert values.shape == (len(tiny_task.train.labels), tiny_task.encoder.widths[kind])
        assert np.isfinite(values).all(), kind


def test_evaluation_data_with_an_unseen_label_is_refused(tiny_task, tiny_frame):
    frame = tiny_frame.head(10).copy()
    frame.loc[0, LABEL] = "maybe"
    with pytest.raises(InputError, match="never seen"):
        tiny_task.encode(frame)


def test_training_many_stacks_does_not_warn_about_retracing(tiny_task, space, caplog):
    """Each stack compiles its own function by design; TensorFlow's retracing advice is noise."""
    archs = [space.sample(np.random.default_rng(i)) for i in range(7)]
    train_architectures(tiny_task, archs, FAST_PROTOCOL, group_size=1)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_every_layer_of_a_stacked_network_is_trained(tiny_task, mixed_architectures):
    """Training moves the weights of every layer, hidden ones included, not just the output layer."""
    from tfx_tanas.stacked import StackedNetworks

    deepest = max(mixed_architectures, key=lambda a: len(a.plan.layers))
    assert len(deepest.plan.layers) >= 2
    initial = StackedNetworks([deepest], tiny_task.encoder.widths, tiny_task.num_classes, seed=0).to_keras(0)
    [result] = train_architectures(tiny_task, [deepest], FAST_PROTOCOL, seed=0, keep_networks=True)
    for before, after in zip(initial.layers, result.network.layers):
        for start, end in zip(before.get_weights()[:1], after.get_weights()[:1]):  # kernels
            assert not np.allclose(start, end), after.name


FAST_V2 = dataclasses.replace(PROTOCOL_V2, min_steps=40, max_steps=40, evaluations=4)


def test_protocol_v2_keeps_each_networks_best_segment(tiny_task):
    """Early stopping: the kept network is the one of the lowest validation loss, so its own
    validation accuracy is its score."""
    archs = sample_architectures(DEFAULT_SPACE, 4, seed=3)
    for result in train_architectures(tiny_task, archs, FAST_V2, seed=0, group_size=4, keep_networks=True):
        assert result.ok and len(result.validation_history) == FAST_V2.evaluations
        assert min(abs(result.score - v) for v in result.validation_history) < 1e-5
        assert accuracy(result, tiny_task.validation) == pytest.approx(result.score, abs=1e-6)


def test_small_tasks_are_scored_on_repeated_stratified_folds(tiny_frame):
    task = prepare_splits(tiny_frame, LABEL, PROTOCOL_V2, seed=0)
    assert len(task.folds) == PROTOCOL_V2.folds * PROTOCOL_V2.fold_repeats
    for repeat in range(PROTOCOL_V2.fold_repeats):  # (one repeat in version 2)
        folds = task.folds[repeat * PROTOCOL_V2.folds : (repeat + 1) * PROTOCOL_V2.folds]
        validation = np.concatenate([v for _, v in folds])
        assert sorted(validation) == list(range(len(tiny_frame)))  # each repeat's folds partition the rows
        assert all(not set(t) & set(v) for t, v in folds)
    results = cross_validated_scores(tiny_frame, LABEL, sample_architectures(DEFAULT_SPACE, 3, seed=4, continuous_fraction=0.34), FAST_V2, 0, 3)
    assert all(r.ok and 0.0 <= r.score <= 1.0 for r in results)
