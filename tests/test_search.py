"""Search against the frozen tiny evaluator: gradient ascent climbs, random search keeps its best,
every candidate carries the evaluator's score, the chosen architecture is discrete."""

from __future__ import annotations

import numpy as np
import pytest

from tfx_tanas.errors import InputError
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.search import search


@pytest.fixture(scope="module")
def gradient_result(tiny_evaluator, tiny_meta_features):
    return search(tiny_evaluator, tiny_meta_features, "gradient", seed=0, options={"starts": 6, "steps": 25})


@pytest.fixture(scope="module")
def random_result(tiny_evaluator, tiny_meta_features):
    return search(tiny_evaluator, tiny_meta_features, "random", seed=0, options={"num_samples": 120, "rounds": 3})


def scores_by_step(result) -> dict[int, np.ndarray]:
    steps: dict[int, dict[int, float]] = {}
    for candidate in result.candidates:
        if candidate.origin == "gradient":
            steps.setdefault(candidate.step, {})[candidate.start] = candidate.predicted_score
    return {step: np.array([by_start[s] for s in sorted(by_start)]) for step, by_start in steps.items()}


def test_gradient_ascent_raises_the_evaluators_score(gradient_result):
    by_step = scores_by_step(gradient_result)
    first, last = by_step[0], by_step[max(by_step)]
    assert len(first) == len(last) == 6
    assert np.all(last > first), (first, last)
    assert gradient_result.best.predicted_score >= first.max()


def test_gradient_ascent_moves_towards_what_the_evaluator_rewards(gradient_result):
    """The tiny evaluator rewards depth and the periodic embedding; the chosen architecture has both."""
    best = gradient_result.best.architecture
    assert best.embedding == "periodic"
    assert best.beta.sum() >= 3


def test_gradient_candidates_stay_in_the_search_space(gradient_result):
    for candidate in gradient_result.candidates:
        arch = candidate.architecture
        np.testing.assert_allclose(arch.alpha.sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(arch.gamma.sum(), 1.0, atol=1e-5)
        assert np.all((arch.beta >= 0) & (arch.beta <= 1))


@pytest.mark.parametrize("which", ["gradient_result", "random_result"])
def test_every_candidate_carries_the_evaluators_score(which, request, tiny_evaluator, tiny_meta_features):
    result = request.getfixturevalue(which)
    assert len(result.candidates) > 10
    encodings = np.stack([c.architecture.to_vector() for c in result.candidates])
    predicted = tiny_evaluator.predict(tiny_meta_features.vector(), encodings).mean
    recorded = np.array([c.predicted_score for c in result.candidates])
    assert np.all(np.isfinite(recorded))
    np.testing.assert_allclose(recorded, predicted, atol=1e-4)


@pytest.mark.parametrize("which", ["gradient_result", "random_result"])
def test_the_chosen_architecture_is_the_best_scored_discrete_candidate(which, request):
    result = request.getfixturevalue(which)
    assert result.best.architecture.is_discrete
    discrete_scores = [c.predicted_score for c in result.candidates if c.architecture.is_discrete]
    assert result.best.predicted_score == max(discrete_scores)


@pytest.fixture(scope="module")
def mixture_loving_evaluator(space, task_meta_features):
    """An evaluator that prefers half-open gates: every continuous midpoint beats every discrete network.

    One training task: the rule holds everywhere, and with a few random tasks the ensemble's
    members (each fitted on a bootstrap of tasks) would mostly learn the tasks apart instead."""
    rng = np.random.default_rng(5)
    archs = [space.sample(rng) if i % 3 == 0 else space.sample_continuous(rng) for i in range(300)]
    groups = np.zeros(300, dtype=int)
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(16,), epochs=150, learning_rate=0.01, ensemble_size=1, seed=0))
    evaluator.fit(
        task_meta_features[groups],
        np.stack([a.to_vector() for a in archs]),
        np.array([0.9 - np.abs(a.beta - 0.5).mean() for a in archs], np.float32),
        groups,
    )
    return evaluator


def test_the_chosen_architecture_is_discrete_even_when_mixtures_score_higher(mixture_loving_evaluator, tiny_meta_features):
    result = search(mixture_loving_evaluator, tiny_meta_features, "gradient", seed=0, options={"starts": 4, "steps": 10})
    best_overall = max(result.candidates, key=lambda c: c.predicted_score)
    assert not best_overall.architecture.is_discrete  # the premise: a mixture scores highest
    assert result.best.architecture.is_discrete
    assert result.best.predicted_score < best_overall.predicted_score - 0.05  # a real preference, not rounding
    discrete = [c for c in result.candidates if c.architecture.is_discrete]
    # the winner has the best lower confidence bound (mean - spread, the default risk aversion)
    assert result.best.predicted_score - result.best.spread == max(c.predicted_score - c.spread for c in discrete)


def test_gradient_search_rescores_the_discretized_points(gradient_result):
    rescored = [c for c in gradient_result.candidates if c.origin == "discretized"]
    assert rescored and all(c.architecture.is_discrete for c in rescored)
    assert len({c.architecture.key for c in rescored}) == len(rescored)


@pytest.mark.parametrize("which", ["gradient_result", "random_result"])
def test_every_search_scores_the_whole_portfolio(which, request, tiny_evaluator):
    """The strong networks every meta-training task trained are always candidates, scored once."""
    result = request.getfixturevalue(which)
    portfolio = {a.key for a in tiny_evaluator.space.portfolio()}
    assert len(portfolio) == 24
    scored = [c.architecture.key for c in result.candidates if c.architecture.is_discrete and c.origin != "gradient"]
    assert portfolio <= set(scored)
    added = [c.architecture.key for c in result.candidates if c.origin == "portfolio"]
    assert len(added) == len(set(added)) and not set(added) & {c.architecture.key for c in result.candidates if c.origin != "portfolio"}


def test_random_search_returns_the_best_it_scored(random_result):
    assert all(c.architecture.is_discrete for c in random_result.candidates)
    assert random_result.best.predicted_score - random_result.best.spread == max(
        c.predicted_score - c.spread for c in random_result.candidates
    )
    assert random_result.method == "random"


def test_risk_aversion_zero_takes_the_plain_maximum(tiny_evaluator, tiny_meta_features):
    result = search(tiny_evaluator, tiny_meta_features, "random", seed=1, options={"num_samples": 60, "rounds": 2}, risk_aversion=0.0)
    assert result.best.predicted_score == max(c.predicted_score for c in result.candidates)


def test_search_picks_and_shortlists_by_its_evaluators_risk_aversion(tmp_path, space, task_meta_features, tiny_meta_features):
    """The risk aversion an evaluator was built with (saved with it) is the search's rule, for the
    winner and for the shortlist a refinement trains."""
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(120)]
    groups = np.repeat(np.arange(3), 40)
    results = {}
    for risk_aversion in (0.0, 5.0):
        config = EvaluatorConfig(hidden_units=(8, 4), epochs=3, ensemble_size=3, risk_aversion=risk_aversion)
        evaluator = ArchitectureEvaluator(space, config)
        evaluator.fit(task_meta_features[groups], np.stack([a.to_vector() for a in archs]), rng.uniform(0.3, 0.9, 120).astype(np.float32), groups)
        loaded = ArchitectureEvaluator.load(evaluator.save(tmp_path / f"risk_{risk_aversion}"), space)
        assert loaded.config.risk_aversion == risk_aversion
        result = search(loaded, tiny_meta_features, "random", seed=1, options={"num_samples": 60, "rounds": 2})
        rule = [c.predicted_score - risk_aversion * c.spread for c in result.candidates]
        assert result.best.predicted_score - risk_aversion * result.best.spread == max(rule)
        assert result.shortlist(1)[0].architecture.key == result.best.architecture.key
        results[risk_aversion] = result
    assert all(c.spread > 0 for c in results[5.0].candidates)  # an ensemble: the rule is not the plain maximum


def test_search_is_seeded(tiny_evaluator, tiny_meta_features, random_result):
    again = search(tiny_evaluator, tiny_meta_features, "random", seed=0, options={"num_samples": 120, "rounds": 3})
    assert again.best.architecture.key == random_result.best.architecture.key
    assert [c.architecture.key for c in again.candidates] == [c.architecture.key for c in random_result.candidates]


def test_unknown_method_is_refused(tiny_evaluator, tiny_meta_features):
    with pytest.raises(ValueError, match="unknown search method"):
        search(tiny_evaluator, tiny_meta_features, method="annealing")


@pytest.fixture(scope="module")
def fallback_evaluator(space, task_meta_features, tmp_path_factory):
    """Fitted on records where two discrete networks and one mixture were measured on every task
    (the mixture best, then ``strong``, then ``weak``) beside random networks measured once; saved and loaded."""
    rng = np.random.default_rng(2)
    strong = space.discrete(["dense64_relu", "dense64_relu"], space.embeddings[0])
    weak = space.discrete(["dense16_tanh"], space.embeddings[0])
    mixture = space.sample_continuous(rng)
    archs, groups, scores = [], [], []
    for task in range(len(task_meta_features)):
        for arch, score in [(mixture, 0.95), (strong, 0.85), (weak, 0.6)] + [(space.sample(rng), rng.uniform(0.3, 0.9)) for _ in range(20)]:
            archs.append(arch)
            groups.append(task)
            scores.append(score)
    groups = np.array(groups)
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(8, 4), epochs=3, ensemble_size=2))
    evaluator.fit(task_meta_features[groups], np.stack([a.to_vector() for a in archs]), np.array(scores, np.float32), groups)
    loaded = ArchitectureEvaluator.load(evaluator.save(tmp_path_factory.mktemp("fallback") / "evaluator"), space)
    return loaded, strong, weak


def test_an_evaluator_falls_back_to_the_discrete_network_best_on_average_over_its_tasks(fallback_evaluator):
    evaluator, strong, weak = fallback_evaluator
    assert evaluator.fallback is not None and evaluator.fallback.key == strong.key  # the mixture is not a network to train
    assert [a.key for a in evaluator.static_portfolio] == [strong.key, weak.key]  # random networks: measured on one task


def test_the_search_keeps_the_fallback_unless_its_best_leads_by_more_than_the_margin(fallback_evaluator, tiny_meta_features):
    evaluator, strong, weak = fallback_evaluator
    options = {"num_samples": 60, "rounds": 2}
    free = search(evaluator, tiny_meta_features, "random", seed=1, options=options, fallback_margin=0.0)
    assert free.best is free.leader and free.fallback_lead >= 0.0  # the fallback is a candidate: the leader is at least as good
    assert free.best.predicted_score - free.rule.risk_aversion * free.best.spread == max(
        free.rule.score(c) for c in free.candidates if c.origin != "gradient" and c.architecture.is_discrete
    )
    guarded = search(evaluator, tiny_meta_features, "random", seed=1, options=options, fallback_margin=free.fallback_lead + 0.01)
    assert guarded.best.architecture.key == strong.key and guarded.leader.architecture.key == free.leader.architecture.key
    hedged = list(dict.fromkeys([strong.key, guarded.leader.architecture.key, weak.key]))
    assert [c.architecture.key for c in guarded.shortlist(len(hedged))] == hedged  # the pick, the leader, the portfolio
    written = guarded.architecture_json(seed=1, meta_features_out_of_range=[])["metadata"]["fallback"]
    assert written["zero_shot_pick"] and written["margin"] == pytest.approx(free.fallback_lead + 0.01)
    assert written["description"] == strong.describe()


def test_the_fallback_margin_defaults_to_the_evaluators_and_is_not_negative(fallback_evaluator, tiny_meta_features):
    evaluator, _, _ = fallback_evaluator
    result = search(evaluator, tiny_meta_features, "random", seed=1, options={"num_samples": 20, "rounds": 1})
    assert result.rule.fallback_margin == evaluator.config.fallback_margin
    with pytest.raises(InputError, match="fallback margin must be at least 0"):
        search(evaluator, tiny_meta_features, "random", seed=1, fallback_margin=-0.1)
