"""Image classification tasks for meta-training, all made offline: scikit-learn's digits, families
derived from them, and synthetic families.

* ``image/digits_<variant>``: the 1797 8x8 digits as they are, upsampled to 16 or 32 px, rotated,
  noisy, coloured (RGB), binary splits and class subsets;
* ``image/<family>_...``: synthetic shapes (circle, square, triangle, cross, ring, bar), stripe orientations,
  blob counts, texture roughness and colour hues, each at a drawn size (8-32 px), class count,
  image count (200-3000) and noise level.

A task id names everything its images are made from (family, size, classes, count, noise, seed),
so ``image_task_from_id`` rebuilds the same images anywhere (a Beam worker, a resumed run).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from tfx_tanas.errors import InputError
from tfx_tanas.image_data import ImageSet

DIGIT_VARIANTS = ("plain", "up16", "up32", "rotated", "noisy", "rgb", "even_odd", "low_high")
SYNTHETIC_FAMILIES = ("shapes", "stripes", "counts", "textures", "hues")
_SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar")


IMAGE_TASK_SOURCE = "image"


@dataclasses.dataclass(frozen=True)
class ImageTask:
    task_id: str
    label: str = "class"

    def load(self, max_rows: int | None = None, seed: int = 0) -> ImageSet:
        """The task's images; at most ``max_rows`` of them (a seeded sample, counts kept)."""
        images = image_task_from_id(self.task_id)
        if max_rows is not None and len(images.labels) > max_rows:
            rows = np.sort(np.random.default_rng(seed).choice(len(images.labels), size=max_rows, replace=False))
            return images.subset(rows)
        return images


def image_tasks(count: int, seed: int = 0) -> list[ImageTask]:
    """The digits variants, eight class subsets of them, then ``count`` minus those synthetic tasks."""
    tasks = [ImageTask(f"image/digits_{variant}") for variant in DIGIT_VARIANTS]
    tasks += [ImageTask(f"image/digits_subset_c{k}_s{s}") for s, k in enumerate((2, 3, 4, 5, 6, 7, 8, 9))]
    rng = np.random.default_rng(seed)
    index = 0
    while len(tasks) < count:
        family = SYNTHETIC_FAMILIES[index % len(SYNTHETIC_FAMILIES)]
        size = int(rng.choice([8, 12, 16, 24, 32]))
        classes = int(rng.integers(2, {"shapes": len(_SHAPES), "counts": 6}.get(family, 8) + 1))
        images = int(np.exp(rng.uniform(np.log(200), np.log(3000))))
        noise = int(rng.choice([0, 10, 25, 50]))
        tasks.append(ImageTask(f"image/{family}_px{size}_c{classes}_n{images}_z{noise}_s{seed * 10000 + index}"))
        index += 1
    return tasks[:count]


def is_image_task(task_id: str) -> bool:
    return task_id.startswith(f"{IMAGE_TASK_SOURCE}/")


def image_task_from_id(task_id: str) -> ImageSet:
    source, _, name = task_id.partition("/")
    if source == IMAGE_TASK_SOURCE and name.startswith("digits_"):
        return _digits(name.removeprefix("digits_"))
    match = re.fullmatch(r"(\w+?)_px(\d+)_c(\d+)_n(\d+)_z(\d+)_s(\d+)", name)
    if source == IMAGE_TASK_SOURCE and match and match.group(1) in SYNTHETIC_FAMILIES:
        family, size, classes, count, noise, seed = match.group(1), *map(int, match.groups()[1:])
        return _synthetic(family, size, classes, count, noise / 100.0, seed)
    raise InputError(f"unknown image task {task_id!r}")


# ---- digits --------------------------------------------------------------------------------------
def _digits(variant: str) -> ImageSet:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1) in [0, 1]
    labels = digits.target.astype(np.int64)
    classes = [str(c) for c in range(10)]
    rng = np.random.default_rng(sum(map(ord, variant)))  # a variant's images are always the same
    subset = re.fullmatch(r"subset_c(\d+)_s(\d+)", variant)
    if variant == "plain":
        pass
    elif variant in ("up16", "up32"):
        images = _resize(images, int(variant[2:]))
    elif variant == "rotated":
        images = np.stack([_rotate(image, rng.uniform(-40, 40)) for image in _resize(images, 16)])
    elif variant == "noisy":
        images = np.clip(images + rng.normal(0, 0.35, images.shape), 0, 1)
    elif variant == "rgb":
        tint = rng.uniform(0.3, 1.0, (len(images), 1, 1, 3))
        background = rng.uniform(0.0, 0.4, (len(images), 1, 1, 3))
        images = np.clip(background + images * tint, 0, 1)
    elif variant == "even_odd":
        labels, classes = labels % 2, ["even", "odd"]
    elif variant == "low_high":
        labels, classes = (labels >= 5).astype(np.int64), ["0-4", "5-9"]
    elif subset:
        k, seed = int(subset.group(1)), int(subset.group(2))
        chosen = np.sort(np.random.default_rng(seed).choice(10, size=k, replace=False))
        rows = np.isin(labels, chosen)
        images, labels = images[rows], np.searchsorted(chosen, labels[rows])
        classes = [str(c) for c in chosen]
    else:
        raise InputError(f"unknown digits variant {variant!r}; known {DIGIT_VARIANTS} and subset_c<k>_s<seed>")
    return _as_set(images, labels, classes)


# ---- synthetic families ----------------------------------------------------------------------------
def _synthetic(family: str, size: int, classes: int, count: int, noise: float, seed: int) -> ImageSet:
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % classes
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    channels = 3 if family == "hues" else 1
    images = np.zeros((count, size, size, channels), np.float32)
    for index, label in enumerate(labels):
        if family == "shapes":
            images[index, ..., 0] = _shape(_SHAPES[label], xx, yy, rng)
        elif family == "stripes":  # orientation classes spread over 180 degrees, random frequency and phase
            angle = np.pi * (label + rng.uniform(-0.2, 0.2)) / classes
            frequency = rng.uniform(2.0, 4.0)
            images[index, ..., 0] = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
        elif family == "counts":  # label + 1 small blobs at random places
            for _ in range(label + 1):
                cx, cy, radius = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.06, 0.1)
                images[index, ..., 0] = np.maximum(images[index, ..., 0], ((xx - cx) ** 2 + (yy - cy) ** 2 < radius**2).astype(np.float32))
        elif family == "textures":  # smooth to rough: noise upsampled from a grid of 2 + 2 * label cells
            cells = 2 + 2 * label
            grid = rng.uniform(0, 1, (cells, cells, 1)).astype(np.float32)
            images[index] = _resize(grid[None], size)[0]
        else:  # hues: a blob whose colour is one of `classes` hues, on a random grey background
            hue = (label + rng.uniform(-0.15, 0.15)) / classes
            colour = np.clip(np.abs(((hue * 6 + np.array([0.0, 4.0, 2.0])) % 6) - 3) - 1, 0, 1)
            cx, cy, radius = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.35)
            mask = ((xx - cx) ** 2 + (yy - cy) ** 2 < radius**2)[..., None]
            images[index] = np.where(mask, colour, rng.uniform(0.2, 0.8))
    images = np.clip(images + rng.normal(0, noise, images.shape), 0, 1) if noise else images
    names = _SHAPES[:classes] if family == "shapes" else [f"{family}{c}" for c in range(classes)]
    return _as_set(images, labels.astype(np.int64), list(names))


def _shape(kind: str, xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cx, cy, r = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65), rng.uniform(0.18, 0.3)
    dx, dy = xx - cx, yy - cy
    if kind == "circle":
        mask = dx**2 + dy**2 < r**2
    elif kind == "square":
        mask = (np.abs(dx) < r * 0.8) & (np.abs(dy) < r * 0.8)
    elif kind == "triangle":
        mask = (dy < r * 0.7) & (np.abs(dx) < (dy + r) * 0.5)  # apex up
    elif kind == "cross":
        mask = ((np.abs(dx) < r * 0.25) & (np.abs(dy) < r)) | ((np.abs(dy) < r * 0.25) & (np.abs(dx) < r))
    elif kind == "ring":
        mask = (dx**2 + dy**2 < r**2) & (dx**2 + dy**2 > (r * 0.6) ** 2)
    else:  # bar
        mask = (np.abs(dx) < r) & (np.abs(dy) < r * 0.3)
    return mask.astype(np.float32)


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    import tensorflow as tf

    return tf.image.resize(images, (size, size), method="bilinear").numpy().clip(0, 1)


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    from scipy.ndimage import rotate

    return np.clip(rotate(image, degrees, axes=(0, 1), reshape=False, order=1, mode="constant"), 0, 1)


def _as_set(images: np.ndarray, labels: np.ndarray, classes: list[str]) -> ImageSet:
    return ImageSet(np.round(images * 255).astype(np.uint8), labels, classes, len(labels))
