"""The Trainer module's SavedModel: the core's serving_default unchanged, plus the `evaluation`
signature laid out so TFMA scores string and integer labels correctly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfx_tanas.errors import InputError
from tfx_tanas.pipelines.trainer_module import EVALUATION_SIGNATURE, EvaluationModule, tfma_label_layout
from tfx_tanas.protocol import TrainingProtocol
from tfx_tanas.search_space import SearchSpace
from tfx_tanas.training import train_and_select

FAST = TrainingProtocol(epochs=3)


def test_text_labels_keep_the_model_order_and_name_every_class() -> None:
    assert tfma_label_layout(["C", "N", "SA"]) == ([0, 1, 2], ["C", "N", "SA"])
    assert tfma_label_layout(["1", "x"]) == ([0, 1], ["1", "x"])  # a text column that holds some numbers


def test_integer_labels_put_each_probability_at_the_label_value() -> None:
    assert tfma_label_layout(["1", "3"]) == ([1, 3], ["0", "1", "2", "3"])


def test_labels_tfma_cannot_index_are_refused() -> None:
    with pytest.raises(InputError, match="non-negative integers"):
        tfma_label_layout(["-1", "1"])
    with pytest.raises(InputError, match="non-negative integers"):
        tfma_label_layout(["0.5", "1.5"])


def test_saved_model_serves_the_core_outputs_and_the_evaluation_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    signal = rng.normal(size=200)
    frame = pd.DataFrame({"signal": signal, "label": np.where(signal > 0, 3, 1)})
    trained = train_and_select(frame, "label", [SearchSpace().sample(np.random.default_rng(0))], protocol=FAST)
    module = EvaluationModule(trained.serving_module, trained.serving_module.schema.classes)
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serving.serve, EVALUATION_SIGNATURE: module.evaluate})

    loaded = tf.saved_model.load(str(tmp_path))
    examples = tf.constant([
        tf.train.Example(features=tf.train.Features(feature={"signal": tf.train.Feature(float_list=tf.train.FloatList(value=[v]))})).SerializeToString()
        for v in (-2.0, 2.0)
    ])
    served = loaded.signatures["serving_default"](examples=examples)
    assert set(served) == {"probabilities", "class_id", "class_name"}
    evaluated = loaded.signatures[EVALUATION_SIGNATURE](examples=examples)
    probabilities = evaluated["probabilities"].numpy()
    assert probabilities.shape == (2, 4)
    np.testing.assert_allclose(probabilities[:, [1, 3]], served["probabilities"].numpy())
    np.testing.assert_allclose(probabilities[:, [0, 2]], 0.0)
    assert evaluated["all_classes"].numpy()[0].astype(str).tolist() == ["0", "1", "2", "3"]
