"""The encoding u = (alpha, beta, gamma): round trips, discretization, validation of architecture JSON."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from tfx_tanas.errors import InputError
from tfx_tanas.search_space import Architecture, SearchSpace


def sampled(space: SearchSpace, kind: str, seed: int) -> Architecture:
    rng = np.random.default_rng(seed)
    return space.sample(rng) if kind == "discrete" else space.sample_continuous(rng)


def assert_same_encoding(left: Architecture, right: Architecture, atol: float = 0.0) -> None:
    assert left.space == right.space
    np.testing.assert_allclose(left.alpha, right.alpha, atol=atol)
    np.testing.assert_allclose(left.beta, right.beta, atol=atol)
    np.testing.assert_allclose(left.gamma, right.gamma, atol=atol)


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vector_round_trip(space, kind, seed):
    arch = sampled(space, kind, seed)
    vector = arch.to_vector()
    assert vector.shape == (space.encoding_size,) == (4 * 12 + 4 + 4 + 3 + 2 + 2 + 3,)  # alpha, beta, gamma, the knobs
    assert_same_encoding(Architecture.from_vector(space, vector), arch, atol=1e-6)


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_json_round_trip_through_text(space, kind, seed):
    arch = sampled(space, kind, seed)
    text = json.dumps(arch.to_json(metadata={"note": "kept"}))
    reloaded = Architecture.from_json(json.loads(text))
    assert_same_encoding(reloaded, arch, atol=1e-6)
    assert reloaded.is_discrete == arch.is_discrete == (kind == "discrete")
    assert reloaded.key == arch.key


def test_json_states_layers_connectivity_and_schema_version(space):
    arch = Architecture.from_json(
        {
            "schema_version": 1,
            "encoding": one_hot_encoding(space, layers=[(64, "relu"), (16, "tanh")], embedding="quantile"),
        }
    )
    data = arch.to_json()
    assert data["schema_version"] == 1
    assert data["search_space"] == space.to_dict()
    assert [(layer["name"], layer["op"]) for layer in data["layers"]] == [
        ("embedding", "embedding"),
        ("dense_1", "dense"),
        ("dense_2", "dense"),
        ("output", "dense"),
    ]
    assert data["layers"][0]["kind"] == "quantile"
    assert [(layer.get("units"), layer["activation"]) for layer in data["layers"][1:]] == [(64, "relu"), (16, "tanh"), (None, "softmax")]
    assert [layer["inputs"] for layer in data["layers"][1:]] == [["embedding"], ["dense_1"], ["dense_2"]]
    assert arch.describe() == (
        "quantile -> dense64_relu -> dense16_tanh -> softmax [weight_decay 0.0, normalization none, residual plain, learning_rate 0.0003]"
    )


def one_hot_encoding(space: SearchSpace, layers: list[tuple[int, str]], embedding: str, present_rows: list[int] | None = None) -> dict:
    """A discrete encoding with the given (units, activation) layers on ``present_rows`` (default: first rows)."""
    rows = present_rows if present_rows is not None else list(range(len(layers)))
    alpha = np.zeros((space.num_layers, space.num_baselines))
    alpha[:, 0] = 1.0
    beta = np.zeros(space.num_layers)
    names = [b.name for b in space.baseline_layers]
    for row, (units, activation) in zip(rows, layers):
        alpha[row] = 0.0
        alpha[row, names.index(f"dense{units}_{activation}")] = 1.0
        beta[row] = 1.0
    gamma = np.eye(len(space.embeddings))[space.embeddings.index(embedding)]
    knobs = {knob: np.eye(len(getattr(space, knob)))[0].tolist() for knob in space.encoded_knobs}  # each knob's first value
    return {"alpha": alpha.tolist(), "beta": beta.tolist(), "gamma": gamma.tolist(), **knobs}


def test_discretize_puts_present_layers_first(space):
    encoding = one_hot_encoding(space, [(32, "gelu"), (128, "relu")], "periodic", present_rows=[1, 3])
    arch = Architecture(space, encoding["alpha"], encoding["beta"], encoding["gamma"])
    discrete = arch.discretize()
    np.testing.assert_array_equal(discrete.beta, [1, 1, 0, 0])
    assert [layer.name for layer in discrete.hidden_layers] == ["dense32_gelu", "dense128_relu"]
    # the same network written with its layers first has the same encoding and key
    first = one_hot_encoding(space, [(32, "gelu"), (128, "relu")], "periodic")
    assert discrete.key == Architecture(space, first["alpha"], first["beta"], first["gamma"]).key


def test_discretize_takes_argmax_and_gates_at_one_half(space):
    rng = np.random.default_rng(3)
    alpha = rng.dirichlet(np.ones(space.num_baselines), size=space.num_layers)
    beta = np.array([0.9, 0.2, 0.5, 0.49])
    gamma = np.array([0.2, 0.5, 0.2, 0.1])
    discrete = Architecture(space, alpha, beta, gamma).discretize()
    assert discrete.is_discrete
    np.testing.assert_array_equal(discrete.beta, [1, 1, 0, 0])  # rows 0 and 2 present, moved first
    assert np.argmax(discrete.alpha[0]) == np.argmax(alpha[0])
    assert np.argmax(discrete.alpha[1]) == np.argmax(alpha[2])
    assert discrete.embedding == "quantile"


@pytest.mark.parametrize("seed", range(5))
def test_sampled_discrete_architectures_are_discrete_and_ordered(space, seed):
    arch = sampled(space, "discrete", seed)
    assert arch.is_discrete
    depth = int(arch.beta.sum())
    np.testing.assert_array_equal(arch.beta, [1.0] * depth + [0.0] * (space.num_layers - depth))
    assert len(arch.hidden_layers) == depth


def test_sampled_continuous_architectures_lie_in_the_space(space):
    arch = sampled(space, "continuous", 0)
    assert not arch.is_discrete
    np.testing.assert_allclose(arch.alpha.sum(axis=1), 1.0)
    np.testing.assert_allclose(arch.gamma.sum(), 1.0)
    assert np.all((arch.beta >= 0) & (arch.beta <= 1))


@pytest.fixture
def valid_json(space) -> dict:
    return sampled(space, "discrete", 7).to_json()


def mutated(data: dict, change) -> dict:
    data = copy.deepcopy(data)
    change(data)
    return data


BAD_ARCHITECTURES = {
    "unknown top-level field": (lambda d: d.update(optimizer="adam"), "unknown field"),
    "unknown encoding field": (lambda d: d["encoding"].update(delta=[1.0]), "unknown field"),
    "unknown search space field": (lambda d: d["search_space"].update(dropout=0.1), "unknown field"),
    "alpha with a missing row": (lambda d: d["encoding"]["alpha"].pop(), "alpha has shape"),
    "beta too long": (lambda d: d["encoding"]["beta"].append(1.0), "beta has shape"),
    "gamma as a scalar": (lambda d: d["encoding"].update(gamma=1.0), "gamma has shape"),
    "NaN in beta": (lambda d: d["encoding"]["beta"].__setitem__(0, float("nan")), "NaN"),
    "text in alpha": (lambda d: d["encoding"]["alpha"][0].__setitem__(0, "big"), "alpha must be numeric"),
    "alpha row off the simplex": (lambda d: d["encoding"]["alpha"][0].__setitem__(0, 0.5), "alpha"),
    "beta above one": (lambda d: d["encoding"]["beta"].__setitem__(0, 2.0), "beta"),
    "no encoding": (lambda d: d.pop("encoding"), "encoding"),
    "other schema version": (lambda d: d.update(schema_version=2), "schema_version"),
    "unknown search space version": (lambda d: d["search_space"].update(version=3), "version"),
    "a version 1 search space": (lambda d: d["search_space"].update(version=1), "version 1 is not supported: this release reads search space version 2"),
    "layers disagree with the encoding": (lambda d: d["layers"][1].update(units=999), "disagree"),
    "a layer deleted": (lambda d: d["layers"].pop(1), "disagree"),
}


@pytest.mark.parametrize("case", BAD_ARCHITECTURES)
def test_bad_architecture_json_is_rejected_with_input_error(valid_json, case):
    change, message = BAD_ARCHITECTURES[case]
    assert len(valid_json["layers"]) > 2, "the fixture needs hidden layers to edit"
    with pytest.raises(InputError, match=message):
        Architecture.from_json(mutated(valid_json, change))


def test_the_valid_fixture_itself_is_accepted(valid_json):
    assert Architecture.from_json(valid_json).is_discrete


def test_json_with_nan_text_is_rejected(valid_json):
    text = json.dumps(valid_json).replace('"beta": [1.0', '"beta": [NaN', 1)
    assert "NaN" in text
    with pytest.raises(InputError, match="NaN"):
        Architecture.from_json(json.loads(text))


def test_from_vector_rejects_a_wrong_length(space):
    with pytest.raises(InputError, match="shape"):
        Architecture.from_vector(space, np.zeros(space.encoding_size - 1))


def test_equivalent_encodings_of_one_network_share_one_key(space):
    """An absent layer (beta = 0) is the identity wherever it sits and whatever its alpha says."""
    layers = [(128, "relu"), (128, "relu"), (64, "relu")]
    keys = set()
    for absent_choice in (0, 5, 10):
        encoding = one_hot_encoding(space, layers, "standard")
        encoding["alpha"][3] = np.eye(space.num_baselines)[absent_choice].tolist()
        keys.add(Architecture.from_encoding_json(space, encoding).key)
    spread_out = one_hot_encoding(space, layers, "standard", present_rows=[0, 2, 3])
    keys.add(Architecture.from_encoding_json(space, spread_out).key)
    assert len(keys) == 1


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
def test_an_architecture_reloaded_from_json_has_exactly_its_encoding_and_key(space, kind):
    """One rounding: what JSON and records store is the canonical encoding itself."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        arch = space.sample(rng) if kind == "discrete" else space.sample_continuous(rng)
        reloaded = Architecture.from_json(json.loads(json.dumps(arch.to_json())))
        np.testing.assert_array_equal(reloaded.to_vector(), arch.to_vector())
        assert reloaded.key == arch.key


def test_encodings_in_a_batch_get_the_canonical_form_and_discretization_of_each_alone(space):
    """A gradient search canonicalizes and discretizes its visited points as one batch."""
    rng = np.random.default_rng(3)
    archs = [space.sample_continuous(rng) if n % 2 else space.sample(rng) for n in range(40)]
    vectors = np.stack([a.to_vector() for a in archs])
    vectors[::3, space.num_layers * space.num_baselines] = 0.0  # some first layers switched off
    batch = Architecture.from_vectors(space, vectors)
    alone = [Architecture.from_vector(space, v) for v in vectors]
    assert [a.key for a in batch] == [a.key for a in alone]
    for left, right in zip(batch, alone):
        assert_same_encoding(left, right)
    assert [a.key for a in Architecture.discretize_all(batch)] == list(dict.fromkeys(a.discretize().key for a in alone))
    with pytest.raises(InputError, match="NaN or infinite"):
        Architecture.from_vectors(space, np.full((2, space.encoding_size), np.nan))
