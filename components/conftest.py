"""Shared fixtures of the executor tests: small real inputs, made once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from components.testing import CHILE_CSV, CONSTANT_COLUMN, fitted_evaluator, upstream_artifacts  # noqa: E402
from tfx_tanas.search_space import SearchSpace  # noqa: E402


@pytest.fixture(scope="session")
def chile_frame() -> pd.DataFrame:
    frame = pd.read_csv(CHILE_CSV).sample(300, random_state=0).reset_index(drop=True)
    frame[CONSTANT_COLUMN] = "CL"
    return frame


@pytest.fixture(scope="session")
def upstream(chile_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Examples, statistics and schema of 300 chile rows, made by TFX's own components."""
    root = tmp_path_factory.mktemp("upstream")
    csv_path = root / "chile.csv"
    chile_frame.to_csv(csv_path, index=False)
    return upstream_artifacts(csv_path, root)


@pytest.fixture(scope="session")
def evaluator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fitted_evaluator(SearchSpace()).save(tmp_path_factory.mktemp("evaluator"))
