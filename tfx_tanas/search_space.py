"""The continuous architecture search space (patent claims 2, 6-9).

An architecture is the encoding ``u = (alpha, beta, gamma)``:

* ``alpha[j, i]`` weighs baseline layer ``i`` (a size x activation pair) inside parametrized
  layer ``j``; each row lies on the simplex (claim 6).
* ``beta[j]`` in [0, 1] scales the output of parametrized layer ``j`` (claim 7). A layer is a gated
  skip, ``h_j = beta_j * o_j(h_{j-1}) + (1 - beta_j) * h_{j-1}``, so ``beta_j = 0`` makes the layer
  the identity: it is really absent, not a layer that outputs zeros.
* ``gamma[e]`` weighs baseline embedding ``e`` of the first, parametrized embedding layer
  (claim 8); it lies on the simplex.

A *discrete* architecture has one-hot rows of alpha, one-hot gamma and beta in {0, 1}; it is an
ordinary stack of Dense layers. An image space (claim 15, ``modality="image"``) has the same
encoding over baseline convolutions (filters x kernel size x activation) and baseline stems in
place of embeddings (:data:`IMAGE_SPACE`). Every architecture is held in a canonical form (present layers
first, absent layers' alpha uniform, one rounding), so a network has exactly one encoding and one
key. What the network computes is its :meth:`Architecture.plan`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.network_plan import BaselineLayer, Component, LayerPlan, NetworkPlan

SEARCH_SPACE_VERSIONS = (2,)  # version 1 (tfx-tanas 0.1: no knobs, 8-unit layers) is refused
ARCHITECTURE_SCHEMA_VERSION = 1
ACTIVATIONS = ("relu", "tanh", "gelu")
EMBEDDINGS = ("standard", "quantile", "periodic", "piecewise")
# An image network's first layer: each halves the image's height and width into 16 channels.
STEMS = ("conv3x3", "patchify2", "pool_conv3x3")
MODALITIES = ("tabular", "image")
NORMALIZATIONS = ("none", "layer")
RESIDUALS = ("plain", "residual")
# Global choices of the network and its training, each a simplex over the space's values for it
# (claim 6's alpha, for the whole network). A knob with one value is fixed: it is not encoded.
KNOBS = ("weight_decay", "normalization", "residual", "learning_rate")
_SIMPLEX_TOLERANCE = 1e-3
ENCODING_DECIMALS = 6  # the one rounding of an encoding: JSON, records and keys all use it


# Strong, varied networks trained on every task besides the random references: search decides at
# the top of the ranking, and random references are mostly weak (one of the ten is the best on
# average; the rest lose 2.4-13.8 points on a typical task), so they cannot show the evaluator which
# strong network suits which task. Two factorial slices of the strong region; the first network is
# the best-on-average reference. With them in the records the evaluator's leave-task-out pick moved
# from 0.44 points behind the best on average to level with it (README, benchmarks/task_signal.py).
_PORTFOLIO_KNOBS = {"weight_decay": 1.0, "normalization": "none", "residual": "plain", "learning_rate": 3e-3}
PORTFOLIO: tuple[tuple[tuple[str, ...], str, dict[str, Any]], ...] = (
    *(
        (layers, embedding, {**_PORTFOLIO_KNOBS, "weight_decay": weight_decay})
        for layers in (("dense16_gelu", "dense16_tanh", "dense16_gelu", "dense16_tanh"), ("dense64_gelu", "dense64_gelu"))
        for embedding in ("periodic", "piecewise")
        for weight_decay in (1.0, 0.0)
    ),
    *(
        (layers, embedding, {**_PORTFOLIO_KNOBS, "weight_decay": 0.1, "residual": residual, "learning_rate": learning_rate})
        for layers in (("dense32_gelu", "dense32_gelu", "dense32_gelu"), ("dense128_gelu", "dense64_tanh"))
        for embedding in ("periodic", "piecewise")
        for residual in ("plain", "residual")
        for learning_rate in (3e-3, 1e-3)
    ),
)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """J parametrized layers over p baseline layers, and E baseline embeddings."""

    num_layers: int = 4
    units: tuple[int, ...] = (16, 32, 64, 128)
    activations: tuple[str, ...] = ACTIVATIONS
    embeddings: tuple[str, ...] = EMBEDDINGS
    weight_decay: tuple[float, ...] = (0.0, 0.1, 1.0)  # decoupled (AdamW): each step shrinks kernels by lr * weight_decay
    normalization: tuple[str, ...] = NORMALIZATIONS
    residual: tuple[str, ...] = RESIDUALS
    learning_rate: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    version: int = 2
    modality: str = "tabular"  # "image": baseline convolutions of kernel_sizes, stems in place of embeddings
    kernel_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise InputError(f"search space: modality must be one of {MODALITIES}, got {self.modality!r}")
        image = self.modality == "image"
        if image != bool(self.kernel_sizes) or any(int(k) < 1 for k in self.kernel_sizes):
            raise InputError("search space: an image space needs positive kernel_sizes, a tabular space none")
        if self.version not in SEARCH_SPACE_VERSIONS:
            raise VersionMismatchError(
                f"search space version {self.version} is not supported: this release reads search space version "
                f"{', '.join(map(str, SEARCH_SPACE_VERSIONS))} (rebuild evaluators and records with `tanas build-evaluator`)"
            )
        for knob, known in (("normalization", NORMALIZATIONS), ("residual", RESIDUALS)):
            values = getattr(self, knob)
            if not values or set(values) - set(known):
                raise InputError(f"search space: {knob} values must be among {known}, got {values}")
        if not self.learning_rate or any(not 0 < float(v) < 1 for v in self.learning_rate):
            raise InputError(f"search space: learning rates must lie in (0, 1), got {self.learning_rate}")
        if not self.weight_decay or any(float(v) < 0 for v in self.weight_decay):
            raise InputError(f"search space: weight decays must be non-negative, got {self.weight_decay}")
        if self.num_layers < 1:
            raise InputError(f"search space: num_layers must be >= 1, got {self.num_layers}")
        if not self.units or any(int(u) < 1 for u in self.units):
            raise InputError(f"search space: units must be positive integers, got {self.units}")
        unknown = set(self.activations) - set(ACTIVATIONS)
        if unknown or not self.activations:
            raise InputError(f"search space: unknown activations {sorted(unknown)}; known {ACTIVATIONS}")
        known = STEMS if image else EMBEDDINGS
        unknown = set(self.embeddings) - set(known)
        if unknown or not self.embeddings:
            raise InputError(f"search space: unknown {'stems' if image else 'embeddings'} {sorted(unknown)}; known {known}")

    @functools.cached_property
    def baseline_layers(self) -> tuple[BaselineLayer, ...]:
        if self.modality == "image":
            return tuple(BaselineLayer(u, a, k) for u in self.units for k in self.kernel_sizes for a in self.activations)
        return tuple(BaselineLayer(u, a) for u in self.units for a in self.activations)

    @property
    def num_baselines(self) -> int:
        return len(self.baseline_layers)

    @property
    def max_units(self) -> int:
        return max(self.units)

    @property
    def encoded_knobs(self) -> tuple[str, ...]:
        """The knobs with a choice to make, in encoding order."""
        return tuple(knob for knob in KNOBS if len(getattr(self, knob)) > 1)

    @property
    def encoding_size(self) -> int:
        """Length of the flat vector ``[alpha.ravel(), beta, gamma, *knobs]``."""
        knobs = sum(len(getattr(self, knob)) for knob in self.encoded_knobs)
        return self.num_layers * self.num_baselines + self.num_layers + len(self.embeddings) + knobs

    def encodes_discrete(self, encoding: Sequence[float] | np.ndarray) -> bool:
        """Whether an encoding of this space is a plain network (:attr:`Architecture.is_discrete`):
        static portfolios and fallbacks hold only such networks."""
        return Architecture.from_vector(self, encoding).is_discrete

    @property
    def fingerprint(self) -> str:
        """Identifies the space exactly; artifacts made for another space are refused."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return f"v{self.version}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "num_layers": self.num_layers,
            "units": list(self.units),
            "activations": list(self.activations),
            "embeddings": list(self.embeddings),
        }
        if self.version >= 2:  # version 1 files predate the knobs, and its fingerprint must not move
            data.update({knob: list(getattr(self, knob)) for knob in KNOBS})
        if self.modality != "tabular":  # tabular files predate the field: their fingerprint stays
            data.update({"modality": self.modality, "kernel_sizes": list(self.kernel_sizes)})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        known = {"version", "num_layers", "units", "activations", "embeddings", "modality", "kernel_sizes", *KNOBS}
        _reject_unknown(data, known, "search_space")
        defaults = IMAGE_SPACE if data.get("modality") == "image" else cls()
        try:
            version = int(data.get("version", defaults.version))
            return cls(
                num_layers=int(data.get("num_layers", defaults.num_layers)),
                units=tuple(int(u) for u in data.get("units", defaults.units)),
                activations=tuple(str(a) for a in data.get("activations", defaults.activations)),
                embeddings=tuple(str(e) for e in data.get("embeddings", defaults.embeddings)),
                weight_decay=tuple(float(v) for v in data.get("weight_decay", defaults.weight_decay)),
                normalization=tuple(str(v) for v in data.get("normalization", defaults.normalization)),
                residual=tuple(str(v) for v in data.get("residual", defaults.residual)),
                learning_rate=tuple(float(v) for v in data.get("learning_rate", defaults.learning_rate)),
                version=version,
                modality=str(data.get("modality", defaults.modality)),
                kernel_sizes=tuple(int(k) for k in data.get("kernel_sizes", defaults.kernel_sizes)),
            )
        except (TypeError, ValueError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"search_space: malformed field ({err})") from None

    # ---- sampling ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Architecture:
        """A random discrete architecture: depth uniform in 0..J, then each layer uniform."""
        depth = int(rng.integers(0, self.num_layers + 1))
        alpha = np.zeros((self.num_layers, self.num_baselines))
        alpha[np.arange(self.num_layers), rng.integers(0, self.num_baselines, self.num_layers)] = 1.0
        beta = (np.arange(self.num_layers) < depth).astype(float)
        gamma = np.zeros(len(self.embeddings))
        gamma[rng.integers(0, len(self.embeddings))] = 1.0
        knobs = {knob: np.eye(len(getattr(self, knob)))[rng.integers(0, len(getattr(self, knob)))] for knob in self.encoded_knobs}
        return Architecture(self, alpha, beta, gamma, knobs)

    def portfolio(self) -> list[Architecture]:
        """The :data:`PORTFOLIO` networks this space can express: every meta-training task trains
        them, and every search scores them beside what it visits (the evaluator knows them best)."""
        networks = []
        for layers, embedding, knobs in PORTFOLIO:
            try:
                networks.append(self.discrete(layers, embedding, **{k: v for k, v in knobs.items() if k in self.encoded_knobs}))
            except InputError:  # a smaller space (tests, custom spaces) lacks some of its layers
                continue
        return list({a.key: a for a in networks}.values())

    def discrete(self, layers: Sequence[str], embedding: str, **knobs: Any) -> Architecture:
        """The discrete architecture named the way :meth:`Architecture.describe` prints it:
        baseline layer names (e.g. ``"dense64_gelu"``), an embedding, and any knob's value
        (``weight_decay=1.0``); an unnamed knob takes its first value."""
        names = [b.name for b in self.baseline_layers]
        unknown = [name for name in layers if name not in names]
        if unknown or embedding not in self.embeddings or len(layers) > self.num_layers:
            raise InputError(f"architecture: layers {list(layers)} with embedding {embedding!r} are not in this search space")
        alpha = np.zeros((self.num_layers, self.num_baselines))
        alpha[:, 0] = 1.0
        beta = np.zeros(self.num_layers)
        for row, name in enumerate(layers):
            alpha[row] = np.eye(self.num_baselines)[names.index(name)]
            beta[row] = 1.0
        gamma = np.eye(len(self.embeddings))[self.embeddings.index(embedding)]
        weights = {}
        for knob, value in knobs.items():
            values = getattr(self, knob, None) if knob in self.encoded_knobs else None
            if values is None or value not in values:
                raise InputError(f"architecture: {knob}={value!r} is not in this search space")
            weights[knob] = np.eye(len(values))[values.index(value)]
        return Architecture(self, alpha, beta, gamma, weights)

    def sample_continuous(self, rng: np.random.Generator, components: int = 2) -> Architecture:
        """A random mixture: each layer mixes ``components`` random baselines with Dirichlet weights,
        the embedding mixes two embeddings, the gates are uniform in [0, 1]."""
        alpha = np.zeros((self.num_layers, self.num_baselines))
        for row in alpha:
            chosen = rng.choice(self.num_baselines, size=min(components, self.num_baselines), replace=False)
            row[chosen] = rng.dirichlet(np.ones(len(chosen)))
        gamma = np.zeros(len(self.embeddings))
        chosen = rng.choice(len(self.embeddings), size=min(2, len(self.embeddings)), replace=False)
        gamma[chosen] = rng.dirichlet(np.ones(len(chosen)))
        beta = rng.uniform(0.0, 1.0, self.num_layers)
        knobs = {knob: rng.dirichlet(np.ones(len(getattr(self, knob)))) for knob in self.encoded_knobs}
        return Architecture(self, alpha, beta, gamma, knobs)


@dataclasses.dataclass(frozen=True, eq=False)
class Architecture:
    """A point ``u = (alpha, beta, gamma)`` of a :class:`SearchSpace`, kept in canonical form.

    Canonical form makes one network one encoding, hence one key: values are rounded to
    :data:`ENCODING_DECIMALS` once, here (JSON, records and keys all see these values); a layer with
    beta = 0 is the identity, so it moves after the present layers and its alpha row becomes
    uniform (it chooses nothing).
    """

    space: SearchSpace
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    knobs: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)  # knob -> simplex weights; default: its first value

    def __post_init__(self) -> None:
        space = self.space
        unknown = set(self.knobs) - set(space.encoded_knobs)
        if unknown:
            raise InputError(f"architecture: unknown knob(s) {sorted(unknown)}; this space encodes {list(space.encoded_knobs)}")
        knobs = {
            knob: _as_array(self.knobs[knob], knob, (len(getattr(space, knob)),)) if knob in self.knobs else np.eye(len(getattr(space, knob)))[0]
            for knob in space.encoded_knobs
        }
        alpha = _as_array(self.alpha, "alpha", (space.num_layers, space.num_baselines))
        beta = _as_array(self.beta, "beta", (space.num_layers,))
        gamma = _as_array(self.gamma, "gamma", (len(space.embeddings),))
        alpha, beta, gamma, knobs = _canonical(space, alpha[None], beta[None], gamma[None], {k: w[None] for k, w in knobs.items()})
        self._set(alpha[0], beta[0], gamma[0], {k: w[0] for k, w in knobs.items()})

    def _set(self, alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray, knobs: dict[str, np.ndarray]) -> None:
        for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma), ("knobs", knobs)):
            object.__setattr__(self, name, value)

    # ---- encodings ----------------------------------------------------------------------------
    def to_vector(self) -> np.ndarray:
        """The flat encoding the evaluator reads: ``[alpha.ravel(), beta, gamma, *knobs]``."""
        knobs = [self.knobs[knob] for knob in self.space.encoded_knobs]
        return np.concatenate([self.alpha.ravel(), self.beta, self.gamma, *knobs]).astype(np.float32)

    @classmethod
    def from_vector(cls, space: SearchSpace, vector: Sequence[float] | np.ndarray) -> Architecture:
        vector = np.asarray(vector, dtype=float)
        if vector.shape != (space.encoding_size,):
            raise InputError(f"architecture vector has shape {vector.shape}, expected ({space.encoding_size},)")
        return cls.from_vectors(space, vector[None])[0]

    @classmethod
    def from_vectors(cls, space: SearchSpace, vectors: np.ndarray) -> list[Architecture]:
        """Rows of encodings, validated and put in canonical form as a few array operations (a
        gradient search visits about a thousand points)."""
        vectors = np.asarray(vectors, dtype=float)
        if vectors.ndim != 2 or vectors.shape[1] != space.encoding_size:
            raise InputError(f"architecture vectors have shape {vectors.shape}, expected (N, {space.encoding_size})")
        if not np.all(np.isfinite(vectors)):
            raise InputError("architecture: the encoding contains NaN or infinite values")
        n, J, p = len(vectors), space.num_layers, space.num_baselines
        offset = J * p + J + len(space.embeddings)
        alpha, beta, gamma = vectors[:, : J * p].reshape(n, J, p), vectors[:, J * p : J * p + J], vectors[:, J * p + J : offset]
        knobs = {}
        for knob in space.encoded_knobs:
            size = len(getattr(space, knob))
            knobs[knob], offset = vectors[:, offset : offset + size], offset + size
        alpha, beta, gamma, knobs = _canonical(space, alpha, beta, gamma, knobs)
        architectures = []
        for i in range(n):  # already canonical: wrapped without a second pass
            arch = cls.__new__(cls)
            object.__setattr__(arch, "space", space)
            arch._set(alpha[i], beta[i], gamma[i], {k: w[i] for k, w in knobs.items()})
            architectures.append(arch)
        return architectures

    @functools.cached_property
    def key(self) -> str:
        """Short stable id of the network: equivalent encodings share their canonical form, hence it."""
        return hashlib.sha1(self.to_vector().tobytes()).hexdigest()[:12]

    # ---- the network ------------------------------------------------------------------------
    @functools.cached_property
    def plan(self) -> NetworkPlan:
        """The per-layer plan every view of the network derives from (see :mod:`tfx_tanas.network_plan`)."""
        embeddings = tuple((kind, float(w)) for kind, w in zip(self.space.embeddings, self.gamma) if w > 0)
        layers = tuple(
            LayerPlan(
                gate=float(gate),
                components=tuple(
                    Component(b.units, b.activation, b.kernel, float(w)) for b, w in zip(self.space.baseline_layers, row) if w > 0
                ),
            )
            for row, gate in zip(self.alpha, self.beta)
            if gate > 0
        )
        return NetworkPlan(
            embeddings,
            layers,
            modality=self.space.modality,
            normalization=self.knob_weight("normalization", "layer"),
            residual=self.knob_weight("residual", "residual"),
            learning_rate=float(np.exp(np.dot(self.knob_weights("learning_rate"), np.log(self.space.learning_rate)))),
            weight_decay=float(np.dot(self.knob_weights("weight_decay"), self.space.weight_decay)),
        )

    def knob_weights(self, knob: str) -> np.ndarray:
        """Simplex weights over the space's values of ``knob`` (``[1]`` for a fixed knob)."""
        return self.knobs.get(knob, np.ones(1))

    def knob_weight(self, knob: str, value: str) -> float:
        """The weight of one value of a knob (0 when the space does not offer it)."""
        values = getattr(self.space, knob)
        return round(float(self.knob_weights(knob)[values.index(value)]), ENCODING_DECIMALS) if value in values else 0.0

    @property
    def is_discrete(self) -> bool:
        """A plain network: one embedding, every present layer one baseline behind an open gate,
        one value of every knob."""
        one_value = all(np.isclose(weights.max(), 1.0) for weights in self.knobs.values())
        return self.plan.is_dense_stack and one_value and bool(np.all(np.isin(self.beta, (0.0, 1.0))))

    def discretize(self) -> Architecture:
        """Nearest discrete architecture: argmax alpha, gamma and knobs, beta >= 0.5."""
        alpha = np.eye(self.space.num_baselines)[np.argmax(self.alpha, axis=1)]
        gamma = np.eye(len(self.space.embeddings))[np.argmax(self.gamma)]
        knobs = {knob: np.eye(len(weights))[np.argmax(weights)] for knob, weights in self.knobs.items()}
        return Architecture(self.space, alpha, (self.beta >= 0.5).astype(float), gamma, knobs)

    @staticmethod
    def discretize_all(architectures: Sequence[Architecture]) -> list[Architecture]:
        """The distinct results of :meth:`discretize` over many architectures of one space, in
        first-seen order: the choices are read off all encodings at once and only the distinct
        ones built (a gradient search discretizes about a thousand visited points)."""
        if not architectures:
            return []
        stacked = {name: np.stack([getattr(a, name) for a in architectures]) for name in ("alpha", "beta", "gamma")}
        knobs = [np.stack([a.knobs[knob] for a in architectures]) for knob in architectures[0].space.encoded_knobs]
        choices = np.column_stack(
            [np.argmax(stacked["alpha"], axis=-1), stacked["beta"] >= 0.5, np.argmax(stacked["gamma"], axis=-1), *(np.argmax(k, axis=-1) for k in knobs)]
        )
        _, first = np.unique(choices, axis=0, return_index=True)
        distinct: dict[str, Architecture] = {}
        for index in sorted(first):
            discrete = architectures[index].discretize()
            distinct.setdefault(discrete.key, discrete)
        return list(distinct.values())

    @property
    def embedding(self) -> str:
        """The dominant baseline embedding (the only one for a discrete architecture)."""
        return self.space.embeddings[int(np.argmax(self.gamma))]

    @property
    def hidden_layers(self) -> list[BaselineLayer]:
        """The Dense layers of the discretized architecture, input to output."""
        return [BaselineLayer(c.units, c.activation, c.kernel) for layer in self.discretize().plan.layers for c in layer.components]

    def describe(self) -> str:
        """One line a person reads, e.g. ``periodic -> dense64_relu -> dense32_tanh -> softmax``
        (with the knobs' values, e.g. ``[learning_rate 0.003, residual]``, when the space has knobs)."""
        if not self.is_discrete:
            return f"continuous mixture ({self.discretize().describe()} when discretized)"
        text = " -> ".join([self.embedding, *(layer.name for layer in self.hidden_layers), "softmax"])
        if self.knobs:
            chosen = [(knob, getattr(self.space, knob)[int(np.argmax(w))]) for knob, w in self.knobs.items()]
            text += " [" + ", ".join(f"{knob} {value}" for knob, value in chosen) + "]"
        return text

    # ---- JSON -------------------------------------------------------------------------------
    def layers(self) -> list[dict[str, Any]]:
        """Architecture data: each layer's operation and its inputs (the connectivity)."""
        return self.plan.to_json()

    def encoding_json(self) -> dict[str, list]:
        """The encoding as JSON lists: the canonical values, exactly."""
        data = {name: getattr(self, name).tolist() for name in ("alpha", "beta", "gamma")}
        data.update({knob: weights.tolist() for knob, weights in self.knobs.items()})
        return data

    def to_json(self, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": ARCHITECTURE_SCHEMA_VERSION,
            "search_space": self.space.to_dict(),
            "encoding": self.encoding_json(),
            "layers": self.layers(),
        }
        if self.space.version >= 2:
            data["training"] = self.plan.training_json()
        if metadata:
            data["metadata"] = dict(metadata)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Architecture:
        """Parse and validate; ``layers``, when present, must agree with the encoding."""
        if not isinstance(data, Mapping):
            raise InputError("architecture JSON must be an object")
        _reject_unknown(data, {"schema_version", "search_space", "encoding", "layers", "training", "metadata"}, "architecture")
        version = data.get("schema_version")
        if version != ARCHITECTURE_SCHEMA_VERSION:
            raise InputError(
                f"architecture schema_version {version!r} is not supported (expected {ARCHITECTURE_SCHEMA_VERSION})"
            )
        if "encoding" not in data:
            raise InputError("architecture JSON has no 'encoding' field")
        space = SearchSpace.from_dict(data.get("search_space", {}))
        arch = cls.from_encoding_json(space, data["encoding"])
        if "layers" in data and data["layers"] != arch.layers():
            raise InputError("architecture 'layers' disagree with its encoding (edit the encoding, not the layers)")
        if "training" in data and data["training"] != arch.plan.training_json():
            raise InputError("architecture 'training' disagrees with its encoding (edit the encoding)")
        return arch

    @classmethod
    def from_encoding_json(cls, space: SearchSpace, encoding: Any) -> Architecture:
        """The inverse of :meth:`encoding_json`, validated."""
        if not isinstance(encoding, Mapping):
            raise InputError("architecture 'encoding' must be an object with alpha, beta, gamma")
        _reject_unknown(encoding, {"alpha", "beta", "gamma", *space.encoded_knobs}, "architecture encoding")
        missing = {"alpha", "beta", "gamma", *space.encoded_knobs} - set(encoding)
        if missing:
            raise InputError(f"architecture encoding lacks {sorted(missing)}")
        knobs = {knob: encoding[knob] for knob in space.encoded_knobs}
        return cls(space, encoding["alpha"], encoding["beta"], encoding["gamma"], knobs)


def _canonical(
    space: SearchSpace, alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray, knobs: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The canonical form of N encodings (alpha ``[N, J, p]``, beta ``[N, J]``, gamma ``[N, E]``,
    knobs ``[N, size]``), checked to be on their simplices: rounded to :data:`ENCODING_DECIMALS`,
    present layers (beta > 0) first in their order, absent layers' alpha rows uniform."""
    for knob, weights in knobs.items():
        if np.any(weights < -_SIMPLEX_TOLERANCE) or np.any(np.abs(weights.sum(axis=-1) - 1) > _SIMPLEX_TOLERANCE):
            raise InputError(f"architecture: {knob} must be non-negative and sum to 1")
    if np.any(alpha < -_SIMPLEX_TOLERANCE) or np.any(np.abs(alpha.sum(axis=-1) - 1) > _SIMPLEX_TOLERANCE):
        raise InputError("architecture: every row of alpha must be non-negative and sum to 1")
    if np.any(beta < -_SIMPLEX_TOLERANCE) or np.any(beta > 1 + _SIMPLEX_TOLERANCE):
        raise InputError("architecture: beta values must lie in [0, 1]")
    if np.any(gamma < -_SIMPLEX_TOLERANCE) or np.any(np.abs(gamma.sum(axis=-1) - 1) > _SIMPLEX_TOLERANCE):
        raise InputError("architecture: gamma must be non-negative and sum to 1")
    beta = np.round(np.clip(beta, 0.0, 1.0), ENCODING_DECIMALS)
    order = np.argsort(beta <= 0.0, axis=1, kind="stable")  # present layers first, each group in its order
    alpha = np.take_along_axis(_on_simplex(alpha), order[:, :, None], axis=1)
    beta = np.take_along_axis(beta, order, axis=1)
    alpha[beta <= 0.0] = _on_simplex(np.ones(space.num_baselines))
    return alpha, beta, _on_simplex(gamma), {knob: _on_simplex(weights) for knob, weights in knobs.items()}


def _on_simplex(values: np.ndarray) -> np.ndarray:
    """Clipped, normalized and rounded along the last axis (each row is a simplex); values that are
    already a rounded point of the simplex are only re-rounded, so the canonical form is a fixed
    point (reloading never moves a value)."""
    values = np.clip(values, 0.0, None)
    sums = values.sum(axis=-1, keepdims=True)
    off = np.abs(sums - 1.0) > 10 ** -ENCODING_DECIMALS * values.shape[-1]
    return np.round(np.where(off, values / sums, values), ENCODING_DECIMALS)


def _as_array(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"architecture: {name} must be numeric") from None
    if array.shape != shape:
        raise InputError(f"architecture: {name} has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"architecture: {name} contains NaN or infinite values")
    return array


def _reject_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(data) - known
    if unknown:
        raise InputError(f"{where}: unknown field(s) {sorted(unknown)}; allowed {sorted(known)}")


# Search space 2 adds to the patent's alphas, betas and gammas the choices whose best value depends
# on the task (Kadra et al. 2021, Gorishniy et al. 2022): regularization (weight decay), layer
# normalization, residual connections, the learning rate and a piecewise-linear numeric embedding
# (8-unit layers gave way to them).
DEFAULT_SPACE = SearchSpace()  # the space `tanas search`, `tanas train` and the bundled evaluator use
# Image classification (claim 15): J blocks over 12 baseline convolutions, three stems; pooling
# between blocks is the network's, not a choice (tfx_tanas.image_network).
IMAGE_SPACE = SearchSpace(
    num_layers=4,
    units=(16, 32, 64),
    activations=("relu", "gelu"),
    embeddings=STEMS,
    weight_decay=(0.0, 0.1),
    normalization=("none",),
    residual=("plain",),
    learning_rate=(1e-3, 3e-3),
    modality="image",
    kernel_sizes=(3, 5),
)


def sample_architectures(space: SearchSpace, count: int, seed: int, continuous_fraction: float = 0.0) -> list[Architecture]:
    """``count`` architectures, a ``continuous_fraction`` of them continuous mixtures; seeded."""
    discrete, continuous = sample_discrete_and_continuous(space, count, seed, continuous_fraction)
    return discrete + continuous


def sample_discrete_and_continuous(
    space: SearchSpace, count: int, seed: int, continuous_fraction: float
) -> tuple[list[Architecture], list[Architecture]]:
    """The draws of :func:`sample_architectures`, discrete ones and continuous mixtures apart, for
    a caller that takes a share of each."""
    rng = np.random.default_rng(seed)
    num_continuous = int(round(count * continuous_fraction))
    discrete = [space.sample(rng) for _ in range(count - num_continuous)]
    return discrete, [space.sample_continuous(rng) for _ in range(num_continuous)]


def default_space(modality: str) -> SearchSpace:
    """The search space of a kind of data: :data:`DEFAULT_SPACE` for tables, :data:`IMAGE_SPACE` for images."""
    return IMAGE_SPACE if modality == "image" else DEFAULT_SPACE
