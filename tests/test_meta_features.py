"""Meta-features equal values computed by hand on a ten-row table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.landmarkers import LANDMARK_MODELS, landmark_accuracies
from tfx_tanas.meta_features import (
    META_FEATURE_NAMES,
    META_FEATURE_VERSION,
    MetaFeatures,
    compute_meta_features,
    fine_structure,
    meta_features_for_frame,
    mutual_information,
    statistics_from_frame,
)

# label counts a:5, b:3, c:2
LABELS = ["a"] * 5 + ["b"] * 3 + ["c"] * 2


def entropy(*probabilities: float) -> float:
    return -sum(p * math.log(p) for p in probabilities if p > 0)


LABEL_ENTROPY = entropy(0.5, 0.3, 0.2)


@pytest.fixture(scope="module")
def hand_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "same": [0, 0, 0, 0, 0, 1, 1, 1, 2, 2],  # the label as numbers: all of its information
            "merged": ["p"] * 5 + ["q"] * 5,  # tells a from {b, c}
            "constant": ["k"] * 10,  # no information
            "gappy": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, np.nan, 8.0, 9.0, 10.0],  # rows 3 (a) and 7 (b) missing
            "label": LABELS,
        }
    )


@pytest.fixture(scope="module")
def hand_features(hand_table) -> dict[str, float]:
    return meta_features_for_frame(hand_table, "label").values


def test_counts_and_fractions(hand_features):
    assert hand_features["log_num_examples"] == pytest.approx(math.log(10))
    assert hand_features["log_num_features"] == pytest.approx(math.log(4))
    assert hand_features["log_features_per_example"] == pytest.approx(math.log(4 / 10))
    assert hand_features["categorical_fraction"] == pytest.approx(2 / 4)


def test_class_distribution_and_label_entropy(hand_features):
    assert hand_features["num_classes"] == 3
    assert hand_features["log_num_classes"] == pytest.approx(math.log(3))
    assert hand_features["is_binary"] == 0.0
    assert hand_features["label_entropy"] == pytest.approx(LABEL_ENTROPY)
    assert hand_features["normalized_label_entropy"] == pytest.approx(LABEL_ENTROPY / math.log(3))
    assert hand_features["majority_class_fraction"] == pytest.approx(0.5)
    assert hand_features["minority_class_fraction"] == pytest.approx(0.2)
    assert hand_features["log_imbalance_ratio"] == pytest.approx(math.log(5 / 2))


def test_missing_zeros_cardinality_and_range(hand_features, hand_table):
    assert hand_features["missing_ratio_max"] == pytest.approx(0.2)
    assert hand_features["missing_ratio_min"] == 0.0
    assert hand_features["missing_ratio_mean"] == pytest.approx(0.2 / 4)
    assert hand_features["numeric_zeros_max"] == pytest.approx(5 / 10)  # 'same' is zero in five rows
    assert hand_features["numeric_zeros_min"] == 0.0
    assert hand_features["categorical_log_cardinality_min"] == pytest.approx(math.log1p(1))
    assert hand_features["categorical_log_cardinality_max"] == pytest.approx(math.log1p(2))
    # log(1 + range / population std), over the present values
    same, gappy = hand_table["same"].to_numpy(float), hand_table["gappy"].to_numpy(float)
    assert hand_features["numeric_log_range_min"] == pytest.approx(math.log1p(2 / same.std()), rel=1e-4)
    assert hand_features["numeric_log_range_max"] == pytest.approx(math.log1p(9 / np.nanstd(gappy)), rel=1e-4)


def test_mutual_information_equals_hand_values(hand_table):
    informations = mutual_information(hand_table, "label", ["same", "merged", "constant", "gappy"])
    # merged: H(Y | X) = 0 for p (all a), H(0.6, 0.4) for q (three b, two c), each half the rows
    merged = (LABEL_ENTROPY - 0.5 * entropy(0.6, 0.4)) / LABEL_ENTROPY
    # gappy: each present value is its own bin; the missing bin holds one a and one b
    gappy = (LABEL_ENTROPY - 0.2 * entropy(0.5, 0.5)) / LABEL_ENTROPY
    np.testing.assert_allclose(informations, [1.0, merged, 0.0, gappy], atol=1e-9)


def test_mutual_information_of_an_independent_feature_is_zero():
    frame = pd.DataFrame({"x": ["u", "v"] * 4, "y": ["a"] * 4 + ["b"] * 4})
    np.testing.assert_allclose(mutual_information(frame, "y", ["x"]), [0.0], atol=1e-12)


def test_mutual_information_of_a_partly_informative_feature():
    frame = pd.DataFrame({"x": list("uuuvuvvv"), "y": ["a"] * 4 + ["b"] * 4})
    # joint (u,a)=(v,b)=3/8, (v,a)=(u,b)=1/8, marginals 1/2
    expected = (2 * 3 / 8 * math.log(1.5) + 2 * 1 / 8 * math.log(0.5)) / math.log(2)
    np.testing.assert_allclose(mutual_information(frame, "y", ["x"]), [expected], atol=1e-12)


def test_mutual_information_aggregates(hand_features, hand_table):
    informations = mutual_information(hand_table, "label", ["same", "merged", "constant", "gappy"])
    assert hand_features["mutual_information_max"] == pytest.approx(1.0)
    assert hand_features["mutual_information_min"] == pytest.approx(0.0, abs=1e-9)
    assert hand_features["mutual_information_sum"] == pytest.approx(informations.sum())
    assert hand_features["mutual_information_mean"] == pytest.approx(informations.mean())


def test_names_order_and_version_are_stable(hand_features, hand_table):
    assert tuple(hand_features) == META_FEATURE_NAMES
    assert len(set(META_FEATURE_NAMES)) == len(META_FEATURE_NAMES)
    assert all(math.isfinite(v) for v in hand_features.values())
    meta = MetaFeatures(hand_features)
    assert meta.version == META_FEATURE_VERSION
    np.testing.assert_array_equal(meta.vector(), np.array([hand_features[n] for n in META_FEATURE_NAMES], np.float32))
    assert MetaFeatures.from_json(meta.to_json()).values == pytest.approx(meta.values, rel=1e-6)


def test_statistics_path_equals_the_frame_path(hand_table, hand_features):
    """What a pipeline computes from StatisticsGen's output is what `tanas search` computes."""
    statistics = statistics_from_frame(hand_table)
    assert compute_meta_features(statistics, "label", hand_table).values == pytest.approx(hand_features)


def test_meta_features_of_another_version_are_refused(hand_features):
    with pytest.raises(VersionMismatchError):
        MetaFeatures(hand_features, version=META_FEATURE_VERSION + 1).vector()
    reordered = dict(reversed(list(hand_features.items())))
    with pytest.raises(VersionMismatchError):
        MetaFeatures(reordered).vector()


def test_all_numeric_table_gives_finite_meta_features():
    frame = pd.DataFrame({"x": np.arange(20.0), "y": [0, 1] * 10})
    values = meta_features_for_frame(frame, "y").values
    assert all(math.isfinite(v) for v in values.values())
    assert values["categorical_fraction"] == 0.0
    assert values["categorical_log_cardinality_max"] == 0.0
    assert values["is_binary"] == 1.0


def test_single_class_label_is_refused():
    frame = pd.DataFrame({"x": np.arange(6.0), "y": ["a"] * 6})
    with pytest.raises(InputError, match="single class"):
        meta_features_for_frame(frame, "y")


def test_landmarkers_tell_a_linear_task_from_a_non_linear_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    linear = meta_features_for_frame(pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": x[:, 0] + x[:, 1] > 0}), "y").values
    xor = meta_features_for_frame(pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": x[:, 0] * x[:, 1] > 0}), "y").values
    assert linear["landmark_linear_gain"] > 0.35  # about 0.5 -> 1.0
    assert abs(linear["landmark_forest_over_linear"]) < 0.1
    assert xor["landmark_linear_gain"] < 0.1  # a line cannot split XOR
    assert xor["landmark_forest_over_linear"] > 0.3
    assert xor["landmark_neighbors_over_linear"] > 0.3


def test_fine_structure_tells_an_entity_id_from_a_smooth_trend():
    """Panel data: rows of one subject share its label, so neighbours by id agree far more than
    the id's quantile bins do; a label that is a threshold of a column agrees in both ways."""
    rng = np.random.default_rng(0)
    subject = np.repeat(np.arange(300), 8)
    panel = pd.DataFrame({"id": subject, "noise": rng.normal(size=len(subject)), "y": rng.integers(0, 3, 300)[subject]})
    x = rng.normal(size=2400)
    trend = pd.DataFrame({"x": x, "noise": rng.normal(size=2400), "y": x > 0})
    by_id = meta_features_for_frame(panel, "y").values
    by_trend = meta_features_for_frame(trend, "y").values
    assert by_id["numeric_fine_structure_max"] > 0.7
    assert by_id["numeric_neighbour_agreement_max"] > 0.7
    assert by_trend["numeric_neighbour_agreement_max"] > 0.9
    assert by_trend["numeric_fine_structure_max"] < 0.15
    neighbour, coarse = fine_structure(trend, "y", ["noise"])
    assert abs(neighbour[0]) < 0.1 and abs(coarse[0]) < 0.1  # a column unrelated to the label: chance


def test_fine_structure_skips_columns_with_few_values(hand_table):
    neighbour, coarse = fine_structure(hand_table, "label", ["same", "gappy"])  # 3 and 8 distinct values
    assert len(neighbour) == len(coarse) == 0


def test_landmarkers_of_too_few_rows_credit_every_model_with_the_majority():
    accuracies = landmark_accuracies(pd.DataFrame({"a": [1.0, 2.0], "y": ["p", "q"]}), "y")
    assert set(accuracies) == set(LANDMARK_MODELS)
    assert len(set(accuracies.values())) == 1


def test_a_table_read_as_a_sample_is_described_at_the_files_size(tmp_path, tiny_frame):
    """`tanas search` reads at most DESCRIBE_MAX_ROWS rows of a large file: the meta-features
    still say how large the table is; the other figures come from the sample."""
    from synthetic import LABEL

    from tfx_tanas.data import ROWS_IN_FILE, read_csv
    from tfx_tanas.workflows import describe_task

    path = tmp_path / "table.csv"
    tiny_frame.to_csv(path, index=False)
    sample = read_csv(path, max_rows=100, seed=1)
    assert len(sample) == 100 and sample.attrs[ROWS_IN_FILE] == len(tiny_frame)
    assert read_csv(path, max_rows=100, seed=1).equals(sample)  # seeded
    whole = describe_task(read_csv(path), LABEL)
    described = describe_task(sample, LABEL)
    assert described.values["log_num_examples"] == pytest.approx(math.log(len(tiny_frame)))
    assert described.values["log_features_per_example"] == pytest.approx(whole.values["log_features_per_example"])
    assert read_csv(path, max_rows=10_000).attrs == {}  # a file within the bound is read whole
