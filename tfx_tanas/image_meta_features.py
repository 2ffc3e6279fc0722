"""Meta-features of an image classification task (claim 15's dataset description).

Computed from the decoded images (a seeded sample of at most :data:`SAMPLE_IMAGES`): the size of
the task and its class distribution, the images' size and channels, pixel intensity statistics, how smooth the images are,
the mutual information between downsampled pixels and the label, and cheap landmarkers (what a
logistic regression and a nearest neighbour classifier reach on 8x8 downsampled pixels). The names
and their version are declared with the tabular ones (:mod:`tfx_tanas.meta_features`), their
computation here (:data:`IMAGE_META_FEATURES`); an evaluator refuses another version.

In a pipeline, StatisticsGen's TFDV statistics (with semantic-domain statistics on) give the example
count and the image domain of the image feature, read by :func:`image_domain_statistics`: the count
is the task's size, and a feature TFDV does not see as images is refused before any decoding.
TFDV's image statistics carry no pixel figures, so the rest comes from the decoded sample.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tfx_tanas.errors import InputError
from tfx_tanas.image_data import ImageSet
from tfx_tanas.meta_features import IMAGE_META_FEATURE_NAMES, IMAGE_META_FEATURE_VERSION, MetaFeatures, single_dataset

log = logging.getLogger(__name__)

SAMPLE_IMAGES = 2000
LANDMARK_IMAGES = 1000
_THUMBNAIL = 8


@dataclasses.dataclass
class ImageSummary:
    """What the meta-features are computed from: counts over every image, pixels of a sample."""

    num_examples: int
    class_counts: np.ndarray
    image_shape: tuple[int, int, int]
    pixels: np.ndarray  # float32 (n, height, width, channels) in [0, 1]
    labels: np.ndarray
    thumbnails: np.ndarray  # (n, 64): grey 8x8 thumbnails, standardized per pixel

    @functools.cached_property
    def pixel_label_mi(self) -> np.ndarray:
        """Per thumbnail pixel, its mutual information with the label (two figures read it)."""
        return _mutual_information(self)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _mutual_information(s: ImageSummary) -> np.ndarray:
    """Per thumbnail pixel, the mutual information (nats) of its quartile with the label."""
    bins = np.quantile(s.thumbnails, [0.25, 0.5, 0.75], axis=0)
    quantized = (s.thumbnails[None] > bins[:, None]).sum(axis=0)  # (n, 64) in 0..3
    classes = np.unique(s.labels)
    joint = np.stack([np.stack([(quantized[s.labels == c] == q).sum(0) for q in range(4)]) for c in classes]).astype(float)  # (C, 4, 64)
    joint /= joint.sum(axis=(0, 1), keepdims=True)
    pc, pq = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (pc * pq)), 0.0)
    return terms.sum(axis=(0, 1))


def _landmark(kind: str) -> Callable[[ImageSummary], float]:
    def accuracy(s: ImageSummary) -> float:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.neighbors import KNeighborsClassifier

        x, y = s.thumbnails[:LANDMARK_IMAGES], s.labels[:LANDMARK_IMAGES]
        folds = int(min(3, np.bincount(y).min()))
        if folds < 2:
            return float(np.bincount(y).max() / len(y))
        model = LogisticRegression(max_iter=300) if kind == "logistic" else KNeighborsClassifier(1)
        return float(cross_val_score(model, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=0)).mean())

    return accuracy


# How each of meta_features.IMAGE_META_FEATURE_NAMES (the names and their order, declared there) is computed.
IMAGE_META_FEATURES: dict[str, Callable[[ImageSummary], float]] = dict(
    log_num_examples=lambda s: math.log(s.num_examples),
    num_classes=lambda s: float(len(s.class_counts)),
    log_num_classes=lambda s: math.log(len(s.class_counts)),
    is_binary=lambda s: float(len(s.class_counts) == 2),
    normalized_label_entropy=lambda s: _entropy(s.class_counts) / math.log(len(s.class_counts)),
    minority_class_fraction=lambda s: float(s.class_counts.min() / s.class_counts.sum()),
    log_examples_per_class=lambda s: math.log(s.num_examples / len(s.class_counts)),
    log_height=lambda s: math.log(s.image_shape[0]),
    log_width=lambda s: math.log(s.image_shape[1]),
    channels=lambda s: float(s.image_shape[2]),
    pixel_mean=lambda s: float(s.pixels.mean()),
    pixel_std=lambda s: float(s.pixels.std()),
    colourfulness=lambda s: float(s.pixels.mean(axis=(1, 2)).std(axis=-1).mean()),  # 0 for grey images
    mean_image_std=lambda s: float(s.pixels.std(axis=(1, 2, 3)).mean()),  # contrast within an image
    between_image_std=lambda s: float(s.pixels.std(axis=0).mean()),  # how much images differ pixel by pixel
    smoothness=lambda s: float(1.0 - np.abs(np.diff(s.pixels, axis=2)).mean() / (s.pixels.std() + 1e-6)),
    pixel_label_mi_mean=lambda s: float(s.pixel_label_mi.mean()),
    pixel_label_mi_max=lambda s: float(s.pixel_label_mi.max()),
    landmark_logistic=_landmark("logistic"),
    landmark_nearest_neighbour=_landmark("nearest"),
    majority_accuracy=lambda s: float(s.class_counts.max() / s.class_counts.sum()),
)



@dataclasses.dataclass(frozen=True)
class ImageDomainStatistics:
    """What TFDV's statistics say of a data set's image feature."""

    num_examples: int
    formats: dict[str, int]  # TFDV's image_format_histogram: format -> values of that format
    is_image_domain: bool  # TFDV's domain_info: at least 80% of at least 100 values are images

    def describe(self) -> str:
        return ",".join(f"{name}:{count}" for name, count in sorted(self.formats.items()))


# TFDV's names (tensorflow_data_validation/statistics/generators/image_stats_generator.py)
_DOMAIN_INFO, _IMAGE_DOMAIN, _FORMAT_HISTOGRAM = "domain_info", "image_domain {}", "image_format_histogram"


def image_domain_statistics(statistics: Any, image_feature: str) -> ImageDomainStatistics:
    """The image domain statistics of ``image_feature`` in a TFDV ``DatasetFeatureStatisticsList``
    (StatisticsGen run with ``StatsOptions(enable_semantic_domain_stats=True)``); a feature that is
    missing or numeric is an :class:`~tfx_tanas.errors.InputError`. TFDV states an image domain
    only for at least 100 values of which 80% are images; otherwise the formats are empty (logged)."""
    dataset = single_dataset(statistics)
    features = {(f.path.step[0] if f.path.step else f.name): f for f in dataset.features}
    if image_feature not in features:
        raise InputError(f"image feature '{image_feature}' is not in the statistics (features: {sorted(features)[:10]})")
    feature = features[image_feature]
    if feature.WhichOneof("stats") not in ("string_stats", "bytes_stats"):
        raise InputError(f"image feature '{image_feature}' holds numbers, not encoded images")
    custom = {stat.name: stat for stat in feature.custom_stats}
    is_image_domain = _DOMAIN_INFO in custom and custom[_DOMAIN_INFO].str == _IMAGE_DOMAIN
    formats = {b.label: int(b.sample_count) for b in custom[_FORMAT_HISTOGRAM].rank_histogram.buckets} if _FORMAT_HISTOGRAM in custom else {}
    if not is_image_domain:
        log.info(
            "TFDV's statistics state no image domain for '%s' (semantic-domain statistics off, under 100 values, or under 80%% "
            "of them images); the images are described from their decoded sample", image_feature,
        )
    return ImageDomainStatistics(int(dataset.num_examples), formats, is_image_domain)


def summarize_images(images: ImageSet, seed: int = 0, domain: ImageDomainStatistics | None = None) -> ImageSummary:
    """The summary of ``images`` (a sample of a larger set counts for all of it); with TFDV's
    ``domain`` statistics, the task's size is their example count."""
    import tensorflow as tf

    rows = np.random.default_rng(seed).permutation(len(images.labels))[:SAMPLE_IMAGES]
    pixels = images.images[rows].astype(np.float32) / 255.0
    grey = pixels.mean(axis=-1, keepdims=True)
    thumbnails = tf.image.resize(grey, (_THUMBNAIL, _THUMBNAIL), method="area").numpy().reshape(len(rows), -1)
    thumbnails = (thumbnails - thumbnails.mean(0)) / (thumbnails.std(0) + 1e-6)
    counts = np.bincount(images.labels, minlength=images.num_classes)
    counts = counts[counts > 0]
    num_examples = images.num_available if domain is None else domain.num_examples
    scale = num_examples / len(images.labels)  # a sampled folder: counts for all its images
    return ImageSummary(num_examples, counts * scale, images.image_shape, pixels, images.labels[rows], thumbnails.astype(np.float32))


def image_meta_features(images: ImageSet, seed: int = 0, domain: ImageDomainStatistics | None = None) -> MetaFeatures:
    """The task's meta-features; a figure that cannot be computed (e.g. constant images) is 0."""
    summary = summarize_images(images, seed, domain)
    values = {}
    for name in IMAGE_META_FEATURE_NAMES:
        value = IMAGE_META_FEATURES[name](summary)
        values[name] = float(value) if math.isfinite(value) else 0.0
    return MetaFeatures(values, IMAGE_META_FEATURE_VERSION, modality="image")
