"""Meta-features of an image classification task (claim 15's dataset description).

Computed from the decoded images (a seeded sample of at most :data:`SAMPLE_IMAGES`): the size of
the task and its class distribution (what TFDV's label statistics give), the images' size and
channels (TFDV's image domain statistics), pixel intensity statistics, how smooth the images are,
the mutual information between downsampled pixels and the label, and cheap landmarkers (what a
logistic regression and a nearest neighbour classifier reach on 8x8 downsampled pixels). The names
and their version are declared with the tabular ones (:mod:`tfx_tanas.meta_features`), their
computation here (:data:`IMAGE_META_FEATURES`); an evaluator refuses another version.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np

from tfx_tanas.image_data import ImageSet
from tfx_tanas.meta_features import IMAGE_META_FEATURE_NAMES, IMAGE_META_FEATURE_VERSION, MetaFeatures

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



def summarize_images(images: ImageSet, seed: int = 0) -> ImageSummary:
    import tensorflow as tf

    rows = np.random.default_rng(seed).permutation(len(images.labels))[:SAMPLE_IMAGES]
    pixels = images.images[rows].astype(np.float32) / 255.0
    grey = pixels.mean(axis=-1, keepdims=True)
    thumbnails = tf.image.resize(grey, (_THUMBNAIL, _THUMBNAIL), method="area").numpy().reshape(len(rows), -1)
    thumbnails = (thumbnails - thumbnails.mean(0)) / (thumbnails.std(0) + 1e-6)
    counts = np.bincount(images.labels, minlength=images.num_classes)
    counts = counts[counts > 0]
    scale = images.num_available / len(images.labels)  # a sampled folder: counts for all its images
    return ImageSummary(images.num_available, counts * scale, images.image_shape, pixels, images.labels[rows], thumbnails.astype(np.float32))


def image_meta_features(images: ImageSet, seed: int = 0) -> MetaFeatures:
    """The task's meta-features; a figure that cannot be computed (e.g. constant images) is 0."""
    summary = summarize_images(images, seed)
    values = {}
    for name in IMAGE_META_FEATURE_NAMES:
        value = IMAGE_META_FEATURES[name](summary)
        values[name] = float(value) if math.isfinite(value) else 0.0
    return MetaFeatures(values, IMAGE_META_FEATURE_VERSION, modality="image")
