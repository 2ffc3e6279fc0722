"""Image data in: a folder of class sub-folders, or TFRecords of tf.Examples (what ImportExampleGen reads).

* a folder holds one sub-folder of PNG/JPEG/BMP/GIF files per class (Keras's
  ``image_dataset_from_directory`` convention): the class is the sub-folder's name;
* TFRecord files (``.tfrecord``/``.tfrecords``, optionally gzipped as ``.gz``; a comma-separated
  list or a glob) hold tf.Examples with an encoded image in ``image_feature`` and a label
  (integer or string) in ``label_feature``.

Images are decoded with TensorFlow (grayscale and RGB; an alpha channel is dropped). Images of
another size than the most common one are resized to it, and the log says how many. An image that
cannot be decoded is skipped and counted; a data set of mixed channel counts, of one class, or with
nothing decodable is an :class:`~tfx_tanas.errors.InputError`. At most ``max_images`` are read, a
seeded uniform sample of the files or records, so memory stays bounded on a large folder.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from tfx_tanas.errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz")
DEFAULT_IMAGE_FEATURE = "image"
FOLDER_LABEL = "class"  # the label of a folder's images: their sub-folder


@dataclasses.dataclass
class ImageSet:
    """Decoded images of one size: ``images`` uint8 (N, height, width, channels), ``labels`` class indices."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    num_available: int  # images the source holds (more than ``len(images)`` when sampled)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, rows: np.ndarray) -> ImageSet:
        return ImageSet(self.images[rows], self.labels[rows], self.classes, len(rows))


def is_image_data(path: str | os.PathLike) -> bool:
    """A folder without CSV files, or TFRecord files: what :func:`read_images` reads (anything else
    is a table: a CSV file, or a folder of them)."""
    first = str(path).split(",")[0]
    if Path(first).is_dir():
        return not any(Path(first).glob("*.csv"))
    return first.endswith(TFRECORD_SUFFIXES)


def read_images(
    path: str | os.PathLike,
    label: str | None = None,
    image_feature: str = DEFAULT_IMAGE_FEATURE,
    max_images: int | None = None,
    seed: int = 0,
    classes: Sequence[str] | None = None,
) -> ImageSet:
    """A folder or TFRecords, by what ``path`` is; ``classes`` fixes the class order (evaluation
    data read with the training data's classes)."""
    if Path(str(path)).is_dir():
        if label not in (None, FOLDER_LABEL):
            log.warning("--label %s is ignored: a folder's classes are its sub-folders", label)
        return read_image_folder(path, max_images, seed, classes)
    if not label:
        raise InputError("--label names the label feature of the TFRecords' tf.Examples")
    return read_image_tfrecords(path, image_feature, label, max_images, seed, classes)


def read_image_folder(path: str | os.PathLike, max_images: int | None = None, seed: int = 0, classes: Sequence[str] | None = None) -> ImageSet:
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"image folder not found: {root}")
    files = {
        sub.name: sorted(f for f in sub.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        for sub in sorted(root.iterdir())
        if sub.is_dir() and not sub.name.startswith(".")
    }
    files = {name: found for name, found in files.items() if found}
    if not files:
        raise InputError(f"{root} holds neither .csv files nor images in class sub-folders ({root}/<class>/<image>.png)")
    names = list(classes) if classes is not None else sorted(files)
    unknown = set(files) - set(names)
    if unknown:
        raise InputError(f"{root}: classes {sorted(unknown)} are not among the training data's classes")
    pairs = [(f, names.index(name)) for name, found in files.items() for f in found]
    chosen = _sample(len(pairs), max_images, seed)
    decoded = ((str(pairs[i][0]), pairs[i][0].read_bytes(), pairs[i][1]) for i in chosen)
    return _assemble(decoded, names, len(pairs), str(root), need_classes=classes is None)


def read_image_tfrecords(
    path: str | os.PathLike, image_feature: str, label_feature: str, max_images: int | None = None, seed: int = 0, classes: Sequence[str] | None = None
) -> ImageSet:
    import tensorflow as tf

    files = _tfrecord_files(str(path))
    raw: list[tuple[str, bytes, str]] = []
    count = 0
    rng = np.random.default_rng(seed)
    for name, serialized in _records(files):
        example = tf.train.Example.FromString(serialized)
        features = example.features.feature
        if image_feature not in features or not features[image_feature].bytes_list.value:
            raise InputError(f"{name}: record {count + 1} has no bytes feature '{image_feature}' (choose it with --image-feature)")
        if label_feature not in features:
            raise InputError(f"{name}: record {count + 1} has no label feature '{label_feature}'")
        value = _label_value(features[label_feature])
        if value is None:
            raise InputError(f"{name}: record {count + 1} has an empty label '{label_feature}'")
        item = (f"{name}#{count + 1}", features[image_feature].bytes_list.value[0], value)
        count += 1
        if max_images is None or len(raw) < max_images:  # reservoir sampling: a uniform sample, one pass
            raw.append(item)
        elif (slot := rng.integers(0, count)) < max_images:
            raw[slot] = item
    if not count:
        raise InputError(f"{path}: no records found")
    names = list(classes) if classes is not None else sorted({v for _, _, v in raw}, key=_natural)
    unknown = {v for _, _, v in raw} - set(names)
    if unknown:
        raise InputError(f"{path}: labels {sorted(unknown)} are not among the training data's classes")
    decoded = ((where, data, names.index(value)) for where, data, value in raw)
    return _assemble(decoded, names, count, str(path), need_classes=classes is None)


def write_image_folder(images: ImageSet, directory: str | os.PathLike) -> Path:
    """PNG files in one sub-folder per class (a demo or generated data set; never over a file)."""
    import tensorflow as tf

    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        raise InputError(f"{root} exists and is not empty; choose a new folder")
    for name in images.classes:
        (root / name).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images.images, images.labels)):
        (root / images.classes[label] / f"{index:06d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


def write_image_tfrecords(images: ImageSet, path: str | os.PathLike, image_feature: str = DEFAULT_IMAGE_FEATURE, label_feature: str = "label") -> Path:
    """tf.Examples with the PNG-encoded image and the class name: what ImportExampleGen ingests."""
    import tensorflow as tf

    path = Path(path)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for image, label in zip(images.images, images.labels):
            writer.write(encode_example(tf.io.encode_png(image).numpy(), image_feature, {label_feature: images.classes[label]}))
    return path


def encode_example(image_bytes: bytes, image_feature: str = DEFAULT_IMAGE_FEATURE, strings: dict[str, str] | None = None) -> bytes:
    """One serialized tf.Example: an encoded image and string features (a served request's body)."""
    import tensorflow as tf

    feature = {image_feature: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_bytes]))}
    for name, value in (strings or {}).items():
        feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)  # map order fixed: the same bytes every run


def _sample(count: int, max_images: int | None, seed: int) -> np.ndarray:
    if max_images is None or count <= max_images:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=max_images, replace=False))


def _assemble(decoded: Iterator[tuple[str, bytes, int]], classes: list[str], available: int, where: str, need_classes: bool) -> ImageSet:
    """Decode, check channels, resize to the most common size, and check the classes."""
    import tensorflow as tf

    images, labels, corrupt = [], [], []
    for name, data, label in decoded:
        try:
            image = tf.io.decode_image(data, expand_animations=False).numpy()
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError, ValueError):
            corrupt.append(name)
            continue
        if image.shape[-1] in (2, 4):  # grayscale + alpha, RGB + alpha: the alpha channel is dropped
            image = image[..., : image.shape[-1] - 1]
        images.append(image)
        labels.append(label)
    if corrupt:
        log.warning("skipped %d image(s) that could not be decoded, e.g. %s", len(corrupt), corrupt[0])
    if not images:
        raise InputError(f"{where}: none of the images could be decoded")
    channels = collections.Counter(image.shape[-1] for image in images)
    if len(channels) > 1:
        raise InputError(f"{where}: images mix {' and '.join(map(str, sorted(channels)))} channels; convert them to one (all grayscale or all RGB)")
    sizes = collections.Counter(image.shape[:2] for image in images)
    (height, width), _ = sizes.most_common(1)[0]
    if len(sizes) > 1:
        others = sum(n for size, n in sizes.items() if size != (height, width))
        log.info("resized %d image(s) of other sizes to the most common size, %dx%d", others, height, width)
        images = [
            image if image.shape[:2] == (height, width)
            else tf.cast(tf.clip_by_value(tf.round(tf.image.resize(image, (height, width))), 0, 255), tf.uint8).numpy()
            for image in images
        ]
    labels_array = np.array(labels, dtype=np.int64)
    if need_classes and len(np.unique(labels_array)) < 2:
        raise InputError(f"{where}: only one class ({classes[labels_array[0]]!r}); classification needs at least two")
    return ImageSet(np.stack(images).astype(np.uint8), labels_array, classes, available)


def _tfrecord_files(spec: str) -> list[str]:
    files: list[str] = []
    for part in spec.split(","):
        matched = sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
        for name in matched:
            if not Path(name).is_file():
                raise InputError(f"TFRecord file not found: {name}")
            files.append(name)
    if not files:
        raise InputError(f"no TFRecord files match {spec}")
    return files


def _records(files: list[str]) -> Iterator[tuple[str, bytes]]:
    import tensorflow as tf

    for name in files:
        try:
            for serialized in tf.data.TFRecordDataset(name, compression_type="GZIP" if name.endswith(".gz") else ""):
                yield name, serialized.numpy()
        except tf.errors.DataLossError:
            raise InputError(f"{name}: not a readable TFRecord file (corrupt or truncated)") from None


def _label_value(feature) -> str | None:
    for values in (feature.int64_list.value, feature.bytes_list.value, feature.float_list.value):
        if len(values):
            value = values[0]
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def _natural(value: str) -> tuple:
    """Integer labels sort as numbers (2 before 10), others as text."""
    return (0, int(value), "") if value.lstrip("-").isdigit() else (1, 0, value)
