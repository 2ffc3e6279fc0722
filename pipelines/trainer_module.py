"""The Trainer's ``run_fn``: train the searched architecture under the protocol and save it.

Used by TFX's standard Trainer as ``run_fn="tfx_tanas.pipelines.trainer_module.run_fn"`` (an import path,
so the same string works locally and inside the Kubeflow image). The architecture arrives as
``fn_args.hyperparameters`` (ArchSearcher's HyperParameters output: one architecture, or with its
``train_top`` option the shortlist, trained one by one, the best on validation kept); ``custom_config`` carries
``label`` and ``seed``, and for image data ``image_feature`` (the feature with the encoded image).

The SavedModel has two signatures on serialized tf.Examples:

* ``serving_default``: the core's, unchanged (probabilities, class_id, class_name);
* ``evaluation``: what TFMA needs to score it. TFMA turns a string label into a class index
  only through an ``all_classes`` output, and takes an integer label as the index itself, so
  this signature adds ``all_classes`` and, for integer labels, puts each class's probability
  at the position of its label value.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.utils import io_utils

from tfx_tanas.components.artifact_io import read_examples
from tfx_tanas.errors import InputError
from tfx_tanas.image_data import read_image_tfrecords
from tfx_tanas.image_training import train_and_select_images
from tfx_tanas.protocol import protocol_for
from tfx_tanas.serving import ImageServingModule, ServingModule
from tfx_tanas.training import train_and_select
from tfx_tanas.workflows import METRICS_FILE, architectures_from_hyperparameters, metrics_jsonl

EVALUATION_SIGNATURE = "evaluation"


def run_fn(fn_args: FnArgs) -> None:
    config = fn_args.custom_config or {}
    if "label" not in config:
        raise InputError("Trainer custom_config needs 'label'")
    if not fn_args.hyperparameters:
        raise InputError("Trainer needs the architecture: pass ArchSearcher's 'hyperparameters' output")
    label, seed = config["label"], int(config.get("seed", 0))
    architectures = architectures_from_hyperparameters(fn_args.hyperparameters)  # one, or ArchSearcher's train_top shortlist
    space = architectures[0].space
    protocol = protocol_for(space.version, space.modality)
    image_feature = config.get("image_feature")
    if image_feature:  # images (claim 15): the examples carry encoded images
        train_images = read_image_tfrecords(",".join(fn_args.train_files), image_feature, label)
        eval_images = read_image_tfrecords(",".join(fn_args.eval_files), image_feature, label, classes=train_images.classes)
        trained = train_and_select_images(train_images, architectures, eval_images, protocol, seed, image_feature=image_feature)
        classes = train_images.classes
    else:
        schema = io_utils.SchemaReader().read(fn_args.schema_path)
        train = read_examples(fn_args.train_files, schema)
        evaluation = read_examples(fn_args.eval_files, schema)
        trained = train_and_select(train, label, architectures, eval_frame=evaluation, protocol=protocol, seed=seed)
        classes = trained.serving_module.schema.classes

    module = EvaluationModule(trained.serving_module, classes)
    tf.saved_model.save(
        module, fn_args.serving_model_dir, signatures={"serving_default": module.serving.serve, EVALUATION_SIGNATURE: module.evaluate}
    )
    io_utils.write_string_file(
        os.path.join(fn_args.model_run_dir, METRICS_FILE), metrics_jsonl(trained)
    )


class EvaluationModule(tf.Module):
    """The core's serving module plus the ``evaluation`` signature laid out for TFMA's labels."""

    def __init__(self, serving: ServingModule | ImageServingModule, classes: Sequence[str]):
        super().__init__()
        self.serving = serving
        positions, vocabulary = tfma_label_layout(classes)
        self.positions = tf.constant([[p] for p in positions], tf.int32)
        self.vocabulary = tf.constant(vocabulary)
        self.evaluate = tf.function(self._evaluate, input_signature=[tf.TensorSpec([None], tf.string, name="examples")])

    def _evaluate(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = self.serving.serve(examples)["probabilities"]
        batch = tf.shape(probabilities)[0]
        width = tf.shape(self.vocabulary)[0]
        laid_out = tf.transpose(tf.scatter_nd(self.positions, tf.transpose(probabilities), tf.stack([width, batch])))
        return {"probabilities": laid_out, "all_classes": tf.tile(self.vocabulary[None, :], tf.stack([batch, 1]))}


def tfma_label_layout(classes: Sequence[str]) -> tuple[list[int], list[str]]:
    """Where each class's probability goes, and the class names TFMA maps string labels with.

    Text labels keep the model's order. Numeric labels (a column CsvExampleGen wrote as numbers)
    must be non-negative integers, which TFMA uses as indices: class ``"k"`` goes to position k.
    """
    numbers = [_number(c) for c in classes]
    if any(n is None for n in numbers):
        return list(range(len(classes))), list(classes)
    if any(n < 0 or n != int(n) for n in numbers):
        raise InputError(f"numeric labels must be non-negative integers for evaluation, got classes {list(classes)[:10]}")
    positions = [int(n) for n in numbers]
    return positions, [str(k) for k in range(max(positions) + 1)]


def _number(name: str) -> float | None:
    try:
        return float(name)
    except ValueError:
        return None
