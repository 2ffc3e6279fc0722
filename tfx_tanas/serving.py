"""The served model: serialized tf.Examples in (table rows, or encoded images), class probabilities out, in TF Serving's layout."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from tfx_tanas.data import TabularSchema
from tfx_tanas.embeddings import TabularEncoder


class ServingModule(tf.Module):
    """Serialized tf.Examples -> class probabilities: what TF Serving and TFMA call."""

    def __init__(self, schema: TabularSchema, encoder: TabularEncoder, network: keras.Model, kinds: Sequence[str]):
        super().__init__()
        self.schema = schema
        self.encoder = encoder
        self.network = network
        self.kinds = list(kinds)
        self.class_names = tf.constant(schema.classes)
        self.serve = tf.function(
            self._serve, input_signature=[tf.TensorSpec([None], tf.string, name="examples")]
        )

    def _serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        embeddings = self.encoder(parse_examples(examples, self.schema))
        logits = self.network({k: embeddings[k] for k in self.kinds})
        probabilities = tf.nn.softmax(logits, axis=-1)
        class_id = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "class_name": tf.gather(self.class_names, class_id),
        }


def parse_examples(examples: tf.Tensor, schema: TabularSchema) -> dict[str, tf.Tensor]:
    """Parse serialized tf.Examples; absent features become NaN (numeric) or '' (categorical)."""
    spec = {c.name: tf.io.RaggedFeature(tf.int64 if c.dtype == "int64" else tf.float32) for c in schema.numeric}
    spec.update({c.name: tf.io.RaggedFeature(tf.string) for c in schema.categorical})
    parsed = tf.io.parse_example(examples, spec)
    features = {}
    for column in schema.numeric:
        ragged = parsed[column.name]
        first = tf.cast(ragged.to_tensor(default_value=0, shape=[None, 1])[:, 0], tf.float32)
        features[column.name] = tf.where(ragged.row_lengths() > 0, first, float("nan"))
    for column in schema.categorical:
        features[column.name] = parsed[column.name].to_tensor(default_value="", shape=[None, 1])[:, 0]
    return features


class ImageServingModule(tf.Module):
    """Serialized tf.Examples carrying an encoded image (PNG, JPEG, BMP or GIF bytes in
    ``image_feature``) -> class probabilities; images are resized to the trained size."""

    def __init__(self, network: keras.Model, image_shape: Sequence[int], classes: Sequence[str], image_feature: str):
        super().__init__()
        self.network = network
        self.image_shape = tuple(int(d) for d in image_shape)
        self.image_feature = image_feature
        self.class_names = tf.constant(list(classes))
        self.serve = tf.function(self._serve, input_signature=[tf.TensorSpec([None], tf.string, name="examples")])

    def _serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        encoded = tf.io.parse_example(examples, {self.image_feature: tf.io.FixedLenFeature([], tf.string)})[self.image_feature]
        height, width, channels = self.image_shape

        def decode(data: tf.Tensor) -> tf.Tensor:
            image = tf.io.decode_image(data, channels=channels, expand_animations=False)
            image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, (height, width))
            return tf.ensure_shape(image, self.image_shape)

        images = tf.map_fn(decode, encoded, fn_output_signature=tf.TensorSpec(self.image_shape, tf.float32))
        probabilities = tf.nn.softmax(self.network(images), axis=-1)
        class_id = tf.argmax(probabilities, axis=-1)
        return {"probabilities": probabilities, "class_id": class_id, "class_name": tf.gather(self.class_names, class_id)}


def save_serving_model(module: ServingModule | ImageServingModule, path: str | os.PathLike) -> None:
    """A SavedModel whose ``serving_default`` maps serialized tf.Examples to class probabilities.
    A write the file system refuses (full disk, file-size limit, permissions) is an ``OSError``,
    as for any other file a command writes."""
    try:
        tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    except (tf.errors.ResourceExhaustedError, tf.errors.OutOfRangeError, tf.errors.PermissionDeniedError) as err:
        raise OSError(f"could not write the model ({err.message.rsplit('; ', 1)[-1]})") from None


def export_serving_model(module: ServingModule | ImageServingModule, serving_root: str | os.PathLike) -> Path:
    """Write ``serving_root/<version>/`` (TF Serving's layout) atomically; older versions stay.

    The model is saved under a hidden staging name and renamed into place, so TF Serving never
    sees a partial version; staging left by a killed export is removed (callers hold the output
    directory, so no other export is under way)."""
    serving_root = Path(serving_root)
    serving_root.mkdir(parents=True, exist_ok=True)
    for stale in serving_root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    version = int(time.time())
    while (serving_root / str(version)).exists():
        version += 1
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=serving_root))
    try:
        save_serving_model(module, staging)
        target = serving_root / str(version)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
