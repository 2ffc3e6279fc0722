"""Architecture search against a frozen evaluator (patent claims 1, 3-5).

* :func:`gradient_ascent_search`: from several random starts, follow the gradient of the
  evaluator's output with respect to the architecture parameters. The parameters are logits:
  alpha and gamma are softmaxes (they stay on the simplex), beta a sigmoid (it stays in [0, 1]).
* :func:`random_search`: random architectures, then random perturbations of the best so far.

Both score every candidate they visit, discretize the visited points and re-score those, and
score the strong portfolio every meta-training task trained (:meth:`SearchSpace.portfolio`: where
the evaluator has the most evidence, a found network must beat them in its eyes); the discrete
candidate with the highest score is the final architecture (a discrete architecture is what gets
trained and served). With an ensemble evaluator the score is the lower confidence bound
``mean - risk_aversion * spread`` (``risk_aversion=0`` is the plain maximum). The evaluator's
fallback, the network best on average over its training tasks, is kept unless that winner leads it
by more than ``fallback_margin``: on held-out tables the evaluator's small predicted leads did not
come true. All visited candidates are returned with their scores.

A few-shot refinement (:meth:`SearchResult.shortlist`) trains the pick, the search's leader, then
the rest of the evaluator's static portfolio: on held-out tables a static portfolio of 5 tested
above the evaluator's own 5 best, so the shortlist hedges the evaluator's leads with it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from tfx_tanas.errors import InputError
from tfx_tanas.evaluator import ArchitectureEvaluator
from tfx_tanas.meta_features import MetaFeatures
from tfx_tanas.options import DEFAULT_SEARCH_METHOD, search_method
from tfx_tanas.search_space import Architecture


@dataclasses.dataclass
class Candidate:
    architecture: Architecture
    predicted_score: float
    spread: float  # ensemble standard deviation of the prediction
    origin: str  # "gradient", "random", "discretized", "portfolio" or "static-portfolio"
    start: int
    step: int
    measured_score: float | None = None  # validation score, for the candidates a refinement trained

    def to_json(self) -> dict[str, Any]:
        measured = {} if self.measured_score is None else {"measured_score": round(self.measured_score, 6)}
        return {
            "key": self.architecture.key,
            "origin": self.origin,
            "discrete": self.architecture.is_discrete,
            "start": self.start,
            "step": self.step,
            "predicted_score": round(self.predicted_score, 6),
            "spread": round(self.spread, 6),
            "description": self.architecture.describe(),
            "encoding": self.architecture.encoding_json(),
            **measured,
        }


@dataclasses.dataclass(frozen=True)
class PickRule:
    """How the search picks among its discrete candidates: the best ``mean - risk_aversion *
    spread``, unless it leads the evaluator's fallback by no more than ``fallback_margin``."""

    risk_aversion: float
    fallback_margin: float

    def score(self, candidate: Candidate) -> float:
        return candidate.predicted_score - self.risk_aversion * candidate.spread


@dataclasses.dataclass
class SearchResult:
    best: Candidate
    candidates: list[Candidate]
    seconds: float
    method: str
    rule: PickRule
    leader: Candidate  # the best discrete candidate by the rule's score: the pick unless the fallback is kept
    static_portfolio: list[Candidate]  # the evaluator's, as scored for this task; its first is the fallback
    trained: int = 1  # how many shortlisted candidates were trained to pick the winner (1: zero-shot)

    @property
    def fallback(self) -> Candidate | None:
        """The evaluator's fallback as scored for this task (None: the evaluator has none)."""
        return self.static_portfolio[0] if self.static_portfolio else None

    @property
    def fallback_lead(self) -> float | None:
        """How far the rule's score puts the leader ahead of the fallback."""
        return None if self.fallback is None else self.rule.score(self.leader) - self.rule.score(self.fallback)

    @property
    def zero_shot_pick(self) -> Candidate:
        """The leader, unless it is another network leading the fallback by no more than the rule's margin."""
        fallback = self.fallback
        if fallback is None or fallback.architecture.key == self.leader.architecture.key:
            return self.leader
        return fallback if self.rule.score(self.leader) - self.rule.score(fallback) <= self.rule.fallback_margin else self.leader

    def ranked(self) -> list[Candidate]:
        """The distinct discrete networks scored, best first by the pick's rule (the evaluator's lower bound)."""
        return _distinct(sorted((c for c in self.candidates if c.origin != "gradient" and c.architecture.is_discrete), key=self.rule.score, reverse=True))

    def shortlist(self, count: int) -> list[Candidate]:
        """``count`` distinct discrete networks to train: the pick, the leader, the rest of the
        evaluator's static portfolio in its greedy order, then the others by :meth:`ranked`."""
        distinct = _distinct([self.best, self.leader, *self.static_portfolio, *self.ranked()])
        if not 1 <= count <= len(distinct):
            raise InputError(f"--train-top must be between 1 and the {len(distinct)} distinct candidates scored, got {count}")
        return distinct[:count]

    def architecture_json(self, seed: int, meta_features_out_of_range: list[str]) -> dict[str, Any]:
        """``architecture.json``: the chosen architecture, with how it was found."""
        return self.best.architecture.to_json(
            {
                "predicted_score": round(self.best.predicted_score, 6),
                "predicted_score_spread": round(self.best.spread, 6),
                "method": self.method,
                "seed": seed,
                "num_candidates": len(self.candidates),
                "search_seconds": round(self.seconds, 4),
                "meta_features_out_of_range": meta_features_out_of_range,
                "trained_candidates": self.trained,
                **self._fallback_json(),
                **({} if self.best.measured_score is None else {"measured_score": round(self.best.measured_score, 6)}),
            }
        )

    def _fallback_json(self) -> dict[str, Any]:
        lead = self.fallback_lead
        if self.fallback is None or lead is None:
            return {}
        return {
            "fallback": {
                "description": self.fallback.architecture.describe(),
                "leader_predicted_lead": round(lead, 6),
                "margin": self.rule.fallback_margin,
                "zero_shot_pick": self.zero_shot_pick.architecture.key == self.fallback.architecture.key,
            }
        }

    def candidates_jsonl(self) -> str:
        """``candidates.jsonl``: every scored candidate, one JSON object per line."""
        return "".join(json.dumps(c.to_json()) + "\n" for c in self.candidates)


def search(
    evaluator: ArchitectureEvaluator,
    meta_features: MetaFeatures,
    method: str = DEFAULT_SEARCH_METHOD,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    risk_aversion: float | None = None,
    fallback_margin: float | None = None,
) -> SearchResult:
    """Run a method of :data:`~tfx_tanas.options.SEARCH_METHODS` with its defaults updated by
    ``options`` (an option of another method is an :class:`~tfx_tanas.errors.InputError`);
    ``risk_aversion`` and ``fallback_margin`` default to the evaluator's own
    (:class:`~tfx_tanas.evaluator.EvaluatorConfig`)."""
    resolved = search_method(method).resolve(options)
    risk_aversion = evaluator.config.risk_aversion if risk_aversion is None else risk_aversion
    fallback_margin = evaluator.config.fallback_margin if fallback_margin is None else fallback_margin
    if not fallback_margin >= 0.0:
        raise InputError(f"the fallback margin must be at least 0, got {fallback_margin}")
    rule = PickRule(risk_aversion, fallback_margin)
    return _SEARCH_FUNCTIONS[method](evaluator, meta_features, seed=seed, rule=rule, **resolved)


def gradient_ascent_search(
    evaluator: ArchitectureEvaluator,
    meta_features: MetaFeatures,
    *,
    starts: int,
    steps: int,
    learning_rate: float,
    seed: int,
    rule: PickRule,
) -> SearchResult:
    """Multi-start gradient ascent on the evaluator's score over (alpha, beta, gamma) logits and,
    in search space 2, the logits of every knob's weights."""
    started = time.perf_counter()
    space = evaluator.space
    rng = np.random.default_rng(seed)
    score = evaluator.task_scorer(meta_features)
    J, p, E = space.num_layers, space.num_baselines, len(space.embeddings)
    alpha_logits = tf.Variable(rng.normal(0, 1, (starts, J, p)).astype(np.float32))
    beta_logits = tf.Variable(rng.normal(0, 1, (starts, J)).astype(np.float32))
    gamma_logits = tf.Variable(rng.normal(0, 1, (starts, E)).astype(np.float32))
    knob_logits = [tf.Variable(rng.normal(0, 1, (starts, len(getattr(space, knob)))).astype(np.float32)) for knob in space.encoded_knobs]
    variables = [alpha_logits, beta_logits, gamma_logits, *knob_logits]

    def encode() -> tf.Tensor:  # the layout of Architecture.to_vector
        alpha = tf.reshape(tf.nn.softmax(alpha_logits, axis=-1), (starts, J * p))
        simplices = [tf.nn.softmax(logits, axis=-1) for logits in (gamma_logits, *knob_logits)]
        return tf.concat([alpha, tf.sigmoid(beta_logits), *simplices], axis=1)

    @tf.function(autograph=False)
    def ascend() -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            u = encode()
            scores = score(u)
            objective = tf.reduce_sum(scores)  # starts are independent: summing keeps their gradients apart
        for variable, gradient in zip(variables, tape.gradient(objective, variables)):
            variable.assign_add(learning_rate * gradient / (tf.norm(gradient) / np.sqrt(starts) + 1e-8))
        return u, scores

    visited_u, visited_scores = [], []
    for _ in range(steps):
        u, scores = ascend()
        visited_u.append(u.numpy())
        visited_scores.append(scores.numpy())
    final_u = encode().numpy()
    visited_u.append(final_u)
    visited_scores.append(score(tf.constant(final_u)).numpy())
    visited = Architecture.from_vectors(space, np.concatenate(visited_u))  # step by step, start by start
    scores = np.concatenate(visited_scores)
    candidates = [
        Candidate(arch, float(scores[index]), 0.0, "gradient", index % starts, index // starts) for index, arch in enumerate(visited)
    ]
    return _finish(evaluator, meta_features, candidates, started, "gradient", rule)


def random_search(
    evaluator: ArchitectureEvaluator,
    meta_features: MetaFeatures,
    *,
    num_samples: int,
    rounds: int,
    seed: int,
    rule: PickRule,
) -> SearchResult:
    """Half the budget on random discrete architectures, the rest on mutations of the best so far."""
    started = time.perf_counter()
    space = evaluator.space
    rng = np.random.default_rng(seed)
    pool = [space.sample(rng) for _ in range(num_samples // 2)]
    candidates = _score(evaluator, meta_features, pool, "random", step=0)
    per_round = max(1, (num_samples - len(pool)) // rounds)
    for round_index in range(1, rounds + 1):
        best = max(candidates, key=lambda c: c.predicted_score).architecture
        mutants = [mutate(best, rng) for _ in range(per_round)]
        candidates += _score(evaluator, meta_features, mutants, "random", step=round_index)
    return _finish(evaluator, meta_features, candidates, started, "random", rule)


def mutate(arch: Architecture, rng: np.random.Generator) -> Architecture:
    """A neighbour of a discrete architecture: one layer, gate, embedding or knob changed."""
    space = arch.space
    base = arch.discretize()
    alpha, beta, gamma = base.alpha.copy(), base.beta.copy(), base.gamma.copy()
    knobs = {knob: weights.copy() for knob, weights in base.knobs.items()}
    what = rng.integers(0, 4 if space.encoded_knobs else 3)
    j = rng.integers(0, space.num_layers)
    if what == 0:
        alpha[j] = 0.0
        alpha[j, rng.integers(0, space.num_baselines)] = 1.0
    elif what == 1:
        beta[j] = 1.0 - beta[j]
    elif what == 2:
        gamma[:] = 0.0
        gamma[rng.integers(0, len(space.embeddings))] = 1.0
    else:
        knob = space.encoded_knobs[rng.integers(0, len(space.encoded_knobs))]
        knobs[knob] = np.eye(len(knobs[knob]))[rng.integers(0, len(knobs[knob]))]
    return Architecture(space, alpha, beta, gamma, knobs)


def _distinct(candidates: list[Candidate]) -> list[Candidate]:
    """The first candidate of each network, in order."""
    first: dict[str, Candidate] = {}
    for candidate in candidates:
        first.setdefault(candidate.architecture.key, candidate)
    return list(first.values())


def _score(evaluator: ArchitectureEvaluator, meta_features: MetaFeatures, archs: list[Architecture], origin: str, step: int) -> list[Candidate]:
    z = meta_features.vector(evaluator.meta_feature_names)
    prediction = evaluator.predict(z, np.stack([a.to_vector() for a in archs]), meta_features.sample)
    return [
        Candidate(a, float(m), float(s), origin, index, step)
        for index, (a, m, s) in enumerate(zip(archs, prediction.mean, prediction.std))
    ]


def _finish(
    evaluator: ArchitectureEvaluator, meta_features: MetaFeatures, visited: list[Candidate], started: float, method: str, rule: PickRule
) -> SearchResult:
    """Discretize every visited candidate, score the distinct discrete ones not scored yet, the
    space's portfolio and the evaluator's static portfolio, and pick the best lower confidence bound ``mean - risk_aversion *
    spread``: where the ensemble disagrees, the evaluator is extrapolating, and a high mean there is
    more often an error than a find. The fallback stays the pick unless that winner leads it by
    more than the margin."""
    scored = {c.architecture.key for c in visited if c.origin == "random" and c.architecture.is_discrete}
    distinct = {a.key: a for a in Architecture.discretize_all([c.architecture for c in visited])}
    todo = [a for key, a in distinct.items() if key not in scored]
    portfolio = [a for a in evaluator.space.portfolio() if a.key not in scored and a.key not in distinct]
    candidates = visited + (_score(evaluator, meta_features, todo, "discretized", step=-1) if todo else [])
    candidates += _score(evaluator, meta_features, portfolio, "portfolio", step=-1) if portfolio else []
    eligible = [c for c in candidates if c.origin != "gradient" and c.architecture.is_discrete]
    known = {c.architecture.key for c in eligible}
    unscored = [a for a in evaluator.static_portfolio if a.key not in known]
    if unscored:
        candidates += _score(evaluator, meta_features, unscored, "static-portfolio", step=-1)
        eligible += candidates[-len(unscored):]
    leader = max(eligible, key=rule.score)
    by_key = {c.architecture.key: c for c in _distinct(eligible)}
    static_portfolio = [by_key[a.key] for a in evaluator.static_portfolio]
    result = SearchResult(leader, candidates, time.perf_counter() - started, method, rule, leader, static_portfolio)
    return dataclasses.replace(result, best=result.zero_shot_pick)


# One function per method of tfx_tanas.options.SEARCH_METHODS (names and option defaults live there).
_SEARCH_FUNCTIONS = {"gradient": gradient_ascent_search, "random": random_search}
