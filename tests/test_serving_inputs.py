"""What the served model does with imperfect tf.Examples (documented in kubeflow/README.md)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from synthetic import FAST_PROTOCOL, LABEL

from tfx_tanas.serving import export_serving_model
from tfx_tanas.training import train_and_select


@pytest.fixture(scope="module")
def serve(tiny_frame, space, tmp_path_factory):
    trained = train_and_select(tiny_frame, LABEL, [space.sample(np.random.default_rng(2))], protocol=FAST_PROTOCOL)
    version = export_serving_model(trained.serving_module, tmp_path_factory.mktemp("serving"))
    return tf.saved_model.load(str(version)).signatures["serving_default"]


def example(**features) -> bytes:
    def feature(value):
        if isinstance(value, str):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        if isinstance(value, int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))

    return tf.train.Example(features=tf.train.Features(feature={k: feature(v) for k, v in features.items()})).SerializeToString()


COMPLETE = {"signal": 0.3, "noise": -0.2, "count": 4, "color": "red"}


def probabilities(serve, **features) -> np.ndarray:
    return serve(examples=tf.constant([example(**features)]))["probabilities"].numpy()[0]


def test_a_missing_feature_is_served_as_a_missing_value(serve):
    without_noise = {k: v for k, v in COMPLETE.items() if k != "noise"}
    assert np.isclose(probabilities(serve, **without_noise).sum(), 1.0)
    np.testing.assert_allclose(probabilities(serve, **{**COMPLETE, "noise": float("nan")}), probabilities(serve, **without_noise), rtol=1e-6)
    assert np.isclose(probabilities(serve).sum(), 1.0)  # nothing at all: every feature missing, still an answer


def test_an_unseen_category_shares_the_out_of_vocabulary_bucket_with_a_missing_one(serve):
    unseen = probabilities(serve, **{**COMPLETE, "color": "ultraviolet"})
    missing = probabilities(serve, **{k: v for k, v in COMPLETE.items() if k != "color"})
    np.testing.assert_allclose(unseen, missing, rtol=1e-6)


def test_an_extra_feature_is_ignored(serve):
    np.testing.assert_allclose(probabilities(serve, **COMPLETE, extra=1.5), probabilities(serve, **COMPLETE), rtol=1e-6)


@pytest.mark.parametrize(("column", "value"), [("count", 2.5), ("signal", "high")])
def test_a_wrong_type_is_an_error_naming_the_feature(serve, column, value):
    with pytest.raises(tf.errors.InvalidArgumentError, match=column):
        probabilities(serve, **{**COMPLETE, column: value})
