"""Seeded synthetic data the tests share: a tiny labelled table and the rule the tiny evaluator learns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from tfx_tanas.protocol import TrainingProtocol
from tfx_tanas.search_space import Architecture

LABEL = "y"
FAST_PROTOCOL = TrainingProtocol(epochs=3)


def make_table(rows: int, seed: int) -> pd.DataFrame:
    """An easy binary task with every column kind the library handles.

    ``signal`` and ``color`` decide the label; ``noise`` has missing values; ``count`` is an
    integer column; ``color`` is categorical text.
    """
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    noise = rng.normal(size=rows)
    noise[rng.random(rows) < 0.1] = np.nan
    color = rng.choice(["red", "green", "blue"], size=rows)
    count = rng.integers(0, 10, size=rows)
    label = np.where(signal + 1.5 * (color == "red") > 0.4, "yes", "no")
    return pd.DataFrame({"signal": signal.round(4), "noise": noise.round(4), "count": count, "color": color, LABEL: label})


def rule_score(arch: Architecture) -> float:
    """The known rule the tiny evaluator learns: deeper is better, ``periodic`` is better."""
    return float(0.3 + 0.5 * arch.beta.mean() + 0.2 * arch.gamma[arch.space.embeddings.index("periodic")])


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
