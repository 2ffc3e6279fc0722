"""Keras networks of architectures: the mixture network reduces to the plain Dense stack, zero
padding and gates behave, parameter counts are right, stacked networks export faithfully."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tfx_tanas.model_builder import GatedSkip, PadTo, WeightedSum, build_network
from tfx_tanas.search_space import Architecture, SearchSpace
from tfx_tanas.stacked import StackedNetworks

WIDTHS = {"standard": 7, "quantile": 20, "periodic": 150, "piecewise": 40}  # periodic wider than the widest layer (128)
NUM_CLASSES = 3


DISCRETE_CASES = [
    ([], "standard"),
    (["dense16_relu"], "quantile"),
    (["dense128_tanh", "dense16_gelu", "dense64_relu"], "standard"),
    (["dense32_gelu", "dense128_relu", "dense16_tanh", "dense16_relu"], "periodic"),
]


def random_inputs(kinds, rows: int = 11, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {kind: rng.normal(size=(rows, WIDTHS[kind])).astype(np.float32) for kind in kinds}


def dense_layers(network: keras.Model) -> list[keras.layers.Dense]:
    return [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]


@pytest.mark.parametrize(("layers", "embedding"), DISCRETE_CASES)
def test_a_discrete_architecture_builds_a_plain_dense_stack(space, layers, embedding):
    arch = space.discrete(layers, embedding)
    assert arch.is_discrete
    network = build_network(arch.plan, WIDTHS, NUM_CLASSES)
    assert all(isinstance(layer, (keras.layers.InputLayer, keras.layers.Dense)) for layer in network.layers)
    dense = dense_layers(network)
    expected_units = [int(name.split("_")[0][5:]) for name in layers] + [NUM_CLASSES]
    assert [layer.units for layer in dense] == expected_units
    assert [layer.kernel.shape[0] for layer in dense] == [WIDTHS[embedding], *expected_units[:-1]]  # no padding anywhere
    assert build_network(arch.plan, WIDTHS, NUM_CLASSES).predict(random_inputs([embedding]), verbose=0).shape == (11, NUM_CLASSES)


@pytest.mark.parametrize("beta", [[1, 1, 1, 1], [0.3, 0.0, 0.8, 0.0], [0.6, 1.0, 0.2, 0.9]])
def test_the_mixture_network_computes_the_patent_formula(space, beta):
    arch = continuous_architecture(space, beta)
    network = build_network(arch.plan, WIDTHS, NUM_CLASSES)
    inputs = random_inputs(arch.plan.kinds)
    np.testing.assert_allclose(network.predict(inputs, verbose=0), reference_logits(arch, network, inputs, WIDTHS), rtol=1e-4, atol=1e-4)


def test_mixture_network_uses_every_embedding_with_positive_gamma(space):
    arch = Architecture(space, space.discrete(["dense16_relu"], "standard").alpha, [1, 0, 0, 0], [0.5, 0.0, 0.5, 0.0])
    assert arch.plan.kinds == ("standard", "periodic")
    assert set(build_network(arch.plan, WIDTHS, NUM_CLASSES).input) == {"standard", "periodic"}


def test_pad_to_appends_zeros_and_keeps_values():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    padded = PadTo(5)(x).numpy()
    np.testing.assert_array_equal(padded, [[0, 1, 2, 0, 0], [3, 4, 5, 0, 0]])


def test_weighted_sum_pads_each_input_then_mixes():
    narrow = np.array([[1.0, 2.0]], np.float32)
    wide = np.array([[10.0, 20.0, 30.0, 40.0]], np.float32)
    mixed = WeightedSum([0.25, 0.75], width=4)([narrow, wide]).numpy()
    np.testing.assert_allclose(mixed, [[0.25 * 1 + 0.75 * 10, 0.25 * 2 + 0.75 * 20, 0.75 * 30, 0.75 * 40]])


def test_gated_skip_with_beta_zero_is_the_identity_on_the_padded_input():
    output = np.full((2, 4), 9.0, np.float32)
    skip = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    np.testing.assert_array_equal(GatedSkip(0.0, 4)([output, skip]).numpy(), [[1, 2, 0, 0], [3, 4, 0, 0]])
    np.testing.assert_array_equal(GatedSkip(1.0, 4)([output, skip]).numpy(), output)
    np.testing.assert_allclose(GatedSkip(0.25, 4)([output, skip]).numpy(), 0.25 * 9 + 0.75 * np.array([[1, 2, 0, 0], [3, 4, 0, 0]]))


def continuous_architecture(space: SearchSpace, beta, seed: int = 0) -> Architecture:
    rng = np.random.default_rng(seed)
    base = space.sample_continuous(rng, components=3)
    return Architecture(space, base.alpha, np.asarray(beta, float), base.gamma)


def test_beta_zero_layer_is_absent_from_the_network(space):
    """A layer with beta = 0 contributes no parameters and no computation, and whatever its alpha
    says, the network (and so its key) is the same."""
    base = space.sample_continuous(np.random.default_rng(0), components=3)
    beta = np.array([0.7, 0.0, 0.4, 0.0])
    arch = Architecture(space, base.alpha, beta, base.gamma)
    with_gaps = build_network(arch.plan, WIDTHS, NUM_CLASSES)
    names = {layer.name.split("_")[0] for layer in dense_layers(with_gaps)}
    assert names == {"layer1", "layer2", "output"}  # the two present layers, in order
    other_alpha = base.alpha.copy()
    other_alpha[[1, 3]] = np.eye(space.num_baselines)[[5, 9]]
    same = Architecture(space, other_alpha, beta, base.gamma)
    assert same.key == arch.key and same.plan == arch.plan
    moved = Architecture(space, base.alpha[[0, 2, 1, 3]], beta[[0, 2, 1, 3]], base.gamma)
    assert moved.key == arch.key  # absent layers are the identity wherever they sit


@pytest.mark.parametrize(("layers", "embedding"), DISCRETE_CASES)
def test_num_parameters_equals_the_keras_count_for_discrete_networks(space, layers, embedding):
    arch = space.discrete(layers, embedding)
    assert arch.plan.num_parameters(WIDTHS, NUM_CLASSES) == build_network(arch.plan, WIDTHS, NUM_CLASSES).count_params()


@pytest.mark.parametrize("beta", [[1, 1, 1, 1], [0.3, 0.0, 0.8, 0.0], [0, 0, 0, 0]])
def test_num_parameters_equals_the_keras_count_for_mixture_networks(space, beta):
    arch = continuous_architecture(space, beta)
    assert arch.plan.num_parameters(WIDTHS, NUM_CLASSES) == build_network(arch.plan, WIDTHS, NUM_CLASSES).count_params()


def test_stacked_networks_export_keras_networks_with_identical_logits(space):
    """The stacked trainer's networks, copied into plain Keras models, compute the same logits,
    whatever mix of discrete and continuous networks shares a stack."""
    rng = np.random.default_rng(4)
    discrete = [space.discrete(layers, embedding) for layers, embedding in DISCRETE_CASES]
    continuous = [continuous_architecture(space, beta, seed) for seed, beta in enumerate([[1, 0.5, 0, 0.2], [0.0, 0.0, 0.0, 0.0]])]
    inputs = random_inputs(space.embeddings, rows=9, seed=5)
    for group in (discrete, continuous, [space.sample(rng) for _ in range(3)], [discrete[2], continuous[0], discrete[0]]):
        stack = StackedNetworks(group, WIDTHS, NUM_CLASSES, seed=0)
        stacked_logits = stack(stack.stack_inputs(inputs)).numpy()
        for index, arch in enumerate(group):
            network = stack.to_keras(index)
            keras_logits = network.predict({k: inputs[k] for k in arch.plan.kinds}, verbose=0)
            np.testing.assert_allclose(keras_logits, stacked_logits[index], rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def space_v2():
    from tfx_tanas.search_space import DEFAULT_SPACE

    return DEFAULT_SPACE




def test_version_2_networks_compute_the_patent_formula_with_layer_norm_and_residuals(space_v2):
    """Layer norm blended in and residual additions, discrete and mixed, as the plan says."""
    rng = np.random.default_rng(8)
    archs = [space_v2.sample(rng) for _ in range(12)] + [space_v2.sample_continuous(rng) for _ in range(4)]
    checked = 0
    for arch in archs:
        plan = arch.plan
        if not plan.layers or not (plan.normalization or plan.residual):
            continue
        network = build_network(plan, WIDTHS, NUM_CLASSES)
        inputs = {k: np.random.default_rng(1).normal(size=(7, WIDTHS[k])).astype(np.float32) for k in plan.kinds}
        np.testing.assert_allclose(network.predict(inputs, verbose=0), reference_logits(arch, network, inputs, WIDTHS), rtol=1e-4, atol=1e-4)
        checked += 1
    assert checked >= 4


def reference_logits(arch: Architecture, network: keras.Model, inputs: dict[str, np.ndarray], widths: dict[str, int]) -> np.ndarray:
    """The patent's formula in NumPy with the network's weights: gamma-mixed embeddings, then per
    present layer ``h' = gate * (n(sum_i alpha_i * pad(o_i(h))) + residual * pad(h)) + (1 - gate) * pad(h)``
    where n blends in the layer norm."""
    activations = {"relu": lambda x: np.maximum(x, 0), "tanh": np.tanh, "gelu": lambda x: keras.ops.gelu(x, approximate=False).numpy()}

    def pad(x, width):
        return np.pad(x, [(0, 0), (0, width - x.shape[1])])

    def layer_norm(x):
        return (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-3)

    plan = arch.plan
    width = max(widths[k] for k in plan.kinds)
    h = sum(w * pad(inputs[k], width) for k, w in plan.embeddings)
    dense = iter(dense_layers(network))
    for layer in plan.layers:
        outputs = []
        for component in layer.components:
            kernel, bias = next(dense).get_weights()
            outputs.append((component.weight, activations[component.activation](h @ kernel + bias)))
        mixed_width = max(o.shape[1] for _, o in outputs)
        mixed = sum(w * pad(o, mixed_width) for w, o in outputs)
        mixed = (1 - plan.normalization) * mixed + plan.normalization * layer_norm(mixed)
        if layer.gate < 1.0 or plan.residual:
            out_width = max(mixed_width, h.shape[1])
            skip = pad(h, out_width)
            mixed = layer.gate * (pad(mixed, out_width) + plan.residual * skip) + (1 - layer.gate) * skip
        h = mixed
    kernel, bias = next(dense).get_weights()
    return h @ kernel + bias


def test_version_2_stacked_networks_export_identical_logits(space_v2):
    rng = np.random.default_rng(9)
    group = [space_v2.sample(rng) for _ in range(5)] + [space_v2.sample_continuous(rng) for _ in range(2)]
    inputs = {k: np.random.default_rng(2).normal(size=(6, WIDTHS[k])).astype(np.float32) for k in space_v2.embeddings}
    stack = StackedNetworks(group, WIDTHS, NUM_CLASSES, seed=0)
    stacked_logits = stack(stack.stack_inputs(inputs)).numpy()
    for index, arch in enumerate(group):
        keras_logits = stack.to_keras(index).predict({k: inputs[k] for k in arch.plan.kinds}, verbose=0)
        np.testing.assert_allclose(keras_logits, stacked_logits[index], rtol=1e-4, atol=1e-4)
        assert arch.plan.num_parameters(WIDTHS, NUM_CLASSES) == stack.to_keras(index).count_params()
