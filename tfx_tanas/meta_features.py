"""Meta-features of a data set: the task description the evaluator reads (patent step 202).

Feature statistics come from a TFDV ``DatasetFeatureStatisticsList`` (StatisticsGen's output in a
pipeline, ``tfdv.generate_statistics_from_dataframe`` outside one). Two things statistics cannot
give are computed from the rows themselves: the class distribution (TFDV does not count the values
of an integer label), the mutual information of each feature with the label, the fine structure of
numeric columns (:func:`fine_structure`: labels that follow a column's exact values, as in panel
data keyed by an entity id) and landmarkers (:mod:`tfx_tanas.landmarkers`: what cheap classifiers
achieve, a view of the task as a whole).

Every meta-feature is scale-free (ratios, logs, standardized quantities) so data sets with
different units are comparable. Names and order are fixed by :data:`META_FEATURES`; changing them
bumps :data:`META_FEATURE_VERSION`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from tensorflow_metadata.proto.v0 import statistics_pb2

from tfx_tanas.data import class_names, clean_frame, label_to_class
from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.feature_generator import task_sample
from tfx_tanas.landmarkers import landmark_accuracies

META_FEATURE_VERSION = 3  # 3: the fine-structure pair
MI_SAMPLE_ROWS = 20000
MI_BINS = 16
FINE_STRUCTURE_ROWS = 5000
FINE_STRUCTURE_BINS = 10


@dataclasses.dataclass
class TaskSummary:
    """What the meta-features are computed from: per-feature figures and the label distribution."""

    num_examples: int
    class_counts: np.ndarray
    numeric: pd.DataFrame  # one row per numeric feature: skew, log_range, missing, zeros, log_mean_std
    categorical: pd.DataFrame  # one row per categorical feature: log_cardinality, missing
    mutual_information: np.ndarray  # per feature, normalized by the label entropy
    neighbour_agreement: np.ndarray  # per numeric feature with 10+ values: see fine_structure
    coarse_agreement: np.ndarray
    landmarks: dict[str, float]  # holdout accuracy per model of landmarkers.LANDMARK_MODELS


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _aggregates(prefix: str, values: Callable[[TaskSummary], np.ndarray]) -> list[tuple[str, Callable[[TaskSummary], float]]]:
    """min/max/mean/median/std of a per-feature quantity across the features (0 when there are none)."""

    def make(reduce: Callable[[np.ndarray], float]) -> Callable[[TaskSummary], float]:
        return lambda s: float(reduce(values(s))) if len(values(s)) else 0.0

    return [
        (f"{prefix}_min", make(np.min)),
        (f"{prefix}_max", make(np.max)),
        (f"{prefix}_mean", make(np.mean)),
        (f"{prefix}_median", make(np.median)),
        (f"{prefix}_std", make(np.std)),
    ]


def _num_features(s: TaskSummary) -> int:
    return len(s.numeric) + len(s.categorical)


META_FEATURES: tuple[tuple[str, Callable[[TaskSummary], float]], ...] = (
    ("log_num_examples", lambda s: math.log(s.num_examples)),
    ("log_num_features", lambda s: math.log(_num_features(s))),
    ("log_features_per_example", lambda s: math.log(_num_features(s) / s.num_examples)),
    ("categorical_fraction", lambda s: len(s.categorical) / _num_features(s)),
    ("num_classes", lambda s: float(len(s.class_counts))),
    ("log_num_classes", lambda s: math.log(len(s.class_counts))),
    ("is_binary", lambda s: float(len(s.class_counts) == 2)),  # task type
    ("label_entropy", lambda s: _entropy(s.class_counts)),
    ("normalized_label_entropy", lambda s: _entropy(s.class_counts) / math.log(len(s.class_counts))),
    ("majority_class_fraction", lambda s: float(s.class_counts.max() / s.class_counts.sum())),
    ("minority_class_fraction", lambda s: float(s.class_counts.min() / s.class_counts.sum())),
    ("log_imbalance_ratio", lambda s: math.log(s.class_counts.max() / max(s.class_counts.min(), 1))),
    *_aggregates("numeric_skew", lambda s: s.numeric["skew"].to_numpy()),
    *_aggregates("numeric_log_range", lambda s: s.numeric["log_range"].to_numpy()),
    *_aggregates("numeric_log_mean_over_std", lambda s: s.numeric["log_mean_std"].to_numpy()),
    *_aggregates("numeric_zeros", lambda s: s.numeric["zeros"].to_numpy()),
    *_aggregates("missing_ratio", lambda s: np.concatenate([s.numeric["missing"], s.categorical["missing"]])),
    *_aggregates("categorical_log_cardinality", lambda s: s.categorical["log_cardinality"].to_numpy()),
    *_aggregates("mutual_information", lambda s: s.mutual_information),
    ("mutual_information_sum", lambda s: float(s.mutual_information.sum())),
    ("numeric_neighbour_agreement_max", lambda s: float(s.neighbour_agreement.max(initial=0.0))),
    ("numeric_fine_structure_max", lambda s: float((s.neighbour_agreement - s.coarse_agreement).max(initial=0.0))),
    ("landmark_linear_gain", lambda s: s.landmarks["linear"] - s.landmarks["majority"]),
    *(
        (f"landmark_{model}_over_linear", lambda s, model=model: s.landmarks[model] - s.landmarks["linear"])
        for model in ("forest", "neighbors", "tree", "naive_bayes")
    ),
)
META_FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in META_FEATURES)
# Image tasks (claim 15): computed in tfx_tanas.image_meta_features, declared here with the tabular
# set so records and evaluators check either kind without importing the image code.
IMAGE_META_FEATURE_VERSION = 1
IMAGE_META_FEATURE_NAMES: tuple[str, ...] = (
    "log_num_examples", "num_classes", "log_num_classes", "is_binary", "normalized_label_entropy", "minority_class_fraction",
    "log_examples_per_class", "log_height", "log_width", "channels", "pixel_mean", "pixel_std", "colourfulness",
    "mean_image_std", "between_image_std", "smoothness", "pixel_label_mi_mean", "pixel_label_mi_max", "landmark_logistic",
    "landmark_nearest_neighbour", "majority_accuracy",
)


@dataclasses.dataclass(frozen=True)
class MetaFeatures:
    """A named meta-feature vector with the version it was computed under.

    ``sample`` is the data sample a learned feature generator reads
    (:func:`tfx_tanas.feature_generator.task_sample`); it travels with the statistics so an
    evaluator that learns its meta-features can be used wherever meta-features are.
    """

    values: dict[str, float]
    version: int = META_FEATURE_VERSION
    sample: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)
    modality: str = "tabular"  # "image": the names and version of tfx_tanas.image_meta_features

    def vector(self, names: tuple[str, ...] | None = None) -> np.ndarray:
        expected_names, expected_version = meta_feature_set(self.modality)
        names = expected_names if names is None else names
        if self.version != expected_version or tuple(self.values) != names:
            raise VersionMismatchError(
                f"{self.modality} meta-features are version {self.version} with {len(self.values)} names; "
                f"expected version {expected_version} with {len(names)} names"
            )
        return np.array([self.values[n] for n in names], dtype=np.float32)

    def with_num_examples(self, num_examples: int) -> MetaFeatures:
        """These meta-features, computed on a uniform sample of the rows, for the whole table of
        ``num_examples`` rows: only the size figures depend on the count itself."""
        values = dict(self.values)
        old = values["log_num_examples"]
        values["log_num_examples"] = math.log(num_examples)
        values["log_features_per_example"] += old - values["log_num_examples"]
        return dataclasses.replace(self, values=values)

    def to_json(self, include_sample: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"version": self.version, "features": {k: float(f"{v:.7g}") for k, v in self.values.items()}}
        if self.modality != "tabular":  # tabular files predate the field
            data["modality"] = self.modality
        if include_sample and self.sample is not None:
            data["sample"] = np.round(self.sample, 4).tolist()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetaFeatures:
        try:
            sample = np.asarray(data["sample"], np.float32) if "sample" in data else None
            return cls({str(k): float(v) for k, v in data["features"].items()}, int(data["version"]), sample, str(data.get("modality", "tabular")))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InputError(f"malformed meta-features JSON ({err})") from None


def meta_feature_set(modality: str) -> tuple[tuple[str, ...], int]:
    """The names and version of the meta-features describing a task of ``modality``."""
    return (IMAGE_META_FEATURE_NAMES, IMAGE_META_FEATURE_VERSION) if modality == "image" else (META_FEATURE_NAMES, META_FEATURE_VERSION)


def statistics_from_frame(frame: pd.DataFrame) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV statistics of an in-memory frame (what StatisticsGen computes inside a pipeline)."""
    import tensorflow_data_validation as tfdv

    return tfdv.generate_statistics_from_dataframe(frame)


def meta_features_for_frame(frame: pd.DataFrame, label: str) -> MetaFeatures:
    """Clean a labelled frame, compute its TFDV statistics, then its meta-features."""
    cleaned = clean_frame(frame, label)
    return compute_meta_features(statistics_from_frame(cleaned), label, cleaned)


def compute_meta_features(
    statistics: statistics_pb2.DatasetFeatureStatisticsList | statistics_pb2.DatasetFeatureStatistics,
    label: str,
    frame: pd.DataFrame,
) -> MetaFeatures:
    """Meta-features from TFDV statistics plus labelled rows (for class counts and mutual information)."""
    summary = summarize(statistics, label, frame)
    values = {}
    for name, function in META_FEATURES:
        value = function(summary)
        values[name] = float(value) if math.isfinite(value) else 0.0
    return MetaFeatures(values, sample=task_sample(frame, label))


def summarize(statistics: Any, label: str, frame: pd.DataFrame) -> TaskSummary:
    dataset = single_dataset(statistics)
    features = {_feature_name(f): f for f in dataset.features}
    if label not in features:
        raise InputError(f"label '{label}' is not in the statistics (features: {sorted(features)[:10]})")
    if label not in frame.columns:
        raise InputError(f"label column '{label}' not found in the data")
    labels = frame[label].dropna()
    counts = labels.map(label_to_class).value_counts().reindex(class_names(labels)).to_numpy(dtype=float)
    if len(counts) < 2:
        raise InputError(f"label '{label}' has a single class; need at least 2")
    num_examples = int(dataset.num_examples)
    numeric_rows, categorical_rows = {}, {}
    for name, feature in features.items():
        if name == label:
            continue
        if feature.HasField("num_stats"):
            numeric_rows[name] = _numeric_summary(feature.num_stats, num_examples)
        elif feature.HasField("string_stats"):
            stats = feature.string_stats
            categorical_rows[name] = {
                "log_cardinality": math.log1p(stats.unique),
                "missing": _missing_ratio(stats.common_stats, num_examples),
            }
    if not numeric_rows and not categorical_rows:
        raise InputError("the statistics hold no feature besides the label")
    used = [n for n in [*numeric_rows, *categorical_rows] if n in frame.columns]
    neighbour, coarse = fine_structure(frame, label, [n for n in numeric_rows if n in frame.columns])
    return TaskSummary(
        num_examples=num_examples,
        class_counts=counts,
        numeric=pd.DataFrame.from_dict(numeric_rows, orient="index", columns=_NUMERIC_COLUMNS),
        categorical=pd.DataFrame.from_dict(categorical_rows, orient="index", columns=["log_cardinality", "missing"]),
        mutual_information=mutual_information(frame, label, used),
        neighbour_agreement=neighbour,
        coarse_agreement=coarse,
        landmarks=landmark_accuracies(frame[[*used, label]], label),
    )


_NUMERIC_COLUMNS = ["skew", "log_range", "log_mean_std", "zeros", "missing"]


def _numeric_summary(stats: statistics_pb2.NumericStatistics, num_examples: int) -> dict[str, float]:
    std = stats.std_dev if stats.std_dev > 1e-12 else 1.0
    present = max(stats.common_stats.num_non_missing, 1)
    return {
        "skew": float(np.clip((stats.mean - stats.median) / std, -10, 10)),
        "log_range": math.log1p((stats.max - stats.min) / std),
        "log_mean_std": math.log1p(abs(stats.mean) / std),
        "zeros": stats.num_zeros / present,
        "missing": _missing_ratio(stats.common_stats, num_examples),
    }


def _missing_ratio(common: statistics_pb2.CommonStatistics, num_examples: int) -> float:
    return float(common.num_missing / num_examples) if num_examples else 0.0


def single_dataset(statistics: Any) -> statistics_pb2.DatasetFeatureStatistics:
    if isinstance(statistics, statistics_pb2.DatasetFeatureStatistics):
        return statistics
    if not statistics.datasets:
        raise InputError("statistics hold no data set")
    return statistics.datasets[0]


def _feature_name(feature: statistics_pb2.FeatureNameStatistics) -> str:
    return ".".join(feature.path.step) if feature.path.step else feature.name


def mutual_information(frame: pd.DataFrame, label: str, columns: list[str], seed: int = 0) -> np.ndarray:
    """Mutual information of each column with the label, divided by the label entropy (so in [0, 1]).

    Numeric columns are binned into quantiles, missing values are a bin of their own; computed
    on at most :data:`MI_SAMPLE_ROWS` rows.
    """
    frame = frame.loc[frame[label].notna()]
    if len(frame) > MI_SAMPLE_ROWS:
        frame = frame.sample(MI_SAMPLE_ROWS, random_state=seed)
    y = pd.factorize(frame[label].map(label_to_class))[0]
    label_entropy = _entropy(np.bincount(y).astype(float))
    if label_entropy == 0:
        return np.zeros(len(columns))
    result = []
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            numbers = values.to_numpy(dtype=float, na_value=np.nan)
            edges = np.unique(np.nanquantile(numbers, np.linspace(0, 1, MI_BINS + 1)[1:-1])) if np.isfinite(numbers).any() else []
            codes = np.where(np.isnan(numbers), len(edges) + 1, np.searchsorted(edges, numbers, side="right"))
        else:
            codes = pd.factorize(values.astype(str).where(values.notna(), ""))[0]
        result.append(_discrete_mutual_information(codes, y) / label_entropy)
    return np.array(result, dtype=float)


def fine_structure(frame: pd.DataFrame, label: str, columns: list[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """How far each numeric column's exact values, beyond a smooth trend, tell the label.

    Per column with at least 10 distinct values: the rows sorted by the column, how often
    neighbours share a label (``neighbour``), and how often two rows of one of 10 quantile bins do
    (``coarse``), both as Cohen's-kappa-like lifts over chance (0: no better than the class
    frequencies, 1: always). Neighbours agreeing far more than bins do is the mark of an entity id
    (a subject, household or school whose rows share outcomes): a network can memorize it with a
    high-resolution numeric embedding and light weight decay, where the network best on average
    (coarse embedding, strong decay) loses 10 or more points (benchmarks/task_signal.py). Computed
    on at most :data:`FINE_STRUCTURE_ROWS` seeded rows; ties are in random order.
    """
    frame = frame.loc[frame[label].notna()]
    frame = frame.sample(min(FINE_STRUCTURE_ROWS, len(frame)), random_state=seed)
    y = pd.factorize(frame[label].map(label_to_class))[0]
    chance = float(((np.bincount(y) / max(len(y), 1)) ** 2).sum())
    neighbour, coarse = [], []
    if chance >= 1.0:  # one class: no lift to measure (summarize refuses such labels first)
        return np.array(neighbour, dtype=float), np.array(coarse, dtype=float)
    for column in columns:
        values = frame[column].to_numpy(dtype=float, na_value=np.nan)
        present = np.isfinite(values)
        x, labels = values[present], y[present]
        if len(x) < 20 or len(np.unique(x)) < 10:
            continue
        order = np.argsort(x, kind="stable")  # the sample's order is random, so ties are too
        agree = float((labels[order][1:] == labels[order][:-1]).mean())
        bins = pd.qcut(x, FINE_STRUCTURE_BINS, labels=False, duplicates="drop")
        counts = pd.crosstab(bins, labels).to_numpy(dtype=float)
        within_bin = float((((counts / counts.sum(axis=1, keepdims=True)) ** 2).sum(axis=1) * counts.sum(axis=1)).sum() / counts.sum())
        neighbour.append((agree - chance) / (1 - chance))
        coarse.append((within_bin - chance) / (1 - chance))
    return np.array(neighbour, dtype=float), np.array(coarse, dtype=float)


def _discrete_mutual_information(x: np.ndarray, y: np.ndarray) -> float:
    joint = np.zeros((int(x.max()) + 1, int(y.max()) + 1))
    np.add.at(joint, (x, y), 1.0)
    joint /= joint.sum()
    px, py = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log(joint[nonzero] / (px @ py)[nonzero])).sum())
