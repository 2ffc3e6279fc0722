"""Shared small fixtures: the tiny table as a frame, a prepared task and a CSV file, a tiny evaluator.

Everything is small and seeded so the suite runs in minutes on a loaded two-core machine, and
nothing depends on the quality of the bundled evaluator: the evaluator used here is fitted in
process on synthetic records whose scores follow a known rule (more present layers and the
``periodic`` embedding score higher).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import FAST_PROTOCOL, LABEL, make_table, rule_score

from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.meta_features import META_FEATURE_NAMES, MetaFeatures
from tfx_tanas.search_space import SearchSpace
from tfx_tanas.task_data import prepare_task


@pytest.fixture(scope="session")
def space() -> SearchSpace:
    return SearchSpace()


@pytest.fixture(scope="session")
def tiny_frame() -> pd.DataFrame:
    return make_table(240, seed=0)


@pytest.fixture(scope="session")
def tiny_task(tiny_frame):
    """The tiny table cleaned, split and encoded under the fast protocol."""
    return prepare_task(tiny_frame, LABEL, FAST_PROTOCOL, seed=0)


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    path = tmp_path / "train.csv"
    make_table(240, seed=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def task_meta_features() -> np.ndarray:
    """Meta-feature vectors of the tiny evaluator's six synthetic training tasks."""
    return np.random.default_rng(1).normal(size=(6, len(META_FEATURE_NAMES))).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_evaluator(space, task_meta_features) -> ArchitectureEvaluator:
    """An evaluator fitted in process on synthetic records that follow :func:`rule_score`."""
    rng = np.random.default_rng(0)
    num_tasks, per_task = len(task_meta_features), 80
    archs = [space.sample(rng) if i % 2 else space.sample_continuous(rng) for i in range(num_tasks * per_task)]
    groups = np.repeat(np.arange(num_tasks), per_task)
    evaluator = ArchitectureEvaluator(space, EvaluatorConfig(hidden_units=(32, 16), epochs=60, ensemble_size=1, seed=0))
    evaluator.fit(
        meta_features=task_meta_features[groups],
        encodings=np.stack([a.to_vector() for a in archs]),
        scores=np.array([rule_score(a) for a in archs], np.float32),
        groups=groups,
    )
    return evaluator


@pytest.fixture(scope="session")
def tiny_meta_features(task_meta_features) -> MetaFeatures:
    """Meta-features of one of the tiny evaluator's training tasks."""
    return MetaFeatures(dict(zip(META_FEATURE_NAMES, map(float, task_meta_features[0]))))


@pytest.fixture(scope="session")
def tiny_evaluator_dir(tiny_evaluator, tmp_path_factory) -> Path:
    return tiny_evaluator.save(tmp_path_factory.mktemp("evaluator") / "evaluator")


# ---- TFX component inputs (made by TFX's own components, once per session) ----------------------
@pytest.fixture(scope="session")
def chile_frame() -> pd.DataFrame:
    from tfx_inputs import CHILE_CSV, CONSTANT_COLUMN

    frame = pd.read_csv(CHILE_CSV).sample(300, random_state=0).reset_index(drop=True)
    frame[CONSTANT_COLUMN] = "CL"
    return frame


@pytest.fixture(scope="session")
def upstream(chile_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Examples, statistics and schema of 300 chile rows, made by TFX's own components."""
    from tfx_inputs import upstream_artifacts

    root = tmp_path_factory.mktemp("upstream")
    csv_path = root / "chile.csv"
    chile_frame.to_csv(csv_path, index=False)
    return upstream_artifacts(csv_path, root)


@pytest.fixture(scope="session")
def evaluator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tfx_inputs import fitted_evaluator

    return fitted_evaluator(SearchSpace()).save(tmp_path_factory.mktemp("evaluator"))
