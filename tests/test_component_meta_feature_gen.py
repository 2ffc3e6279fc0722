"""MetaFeatureGen's executor on artifacts made by CsvExampleGen, StatisticsGen and SchemaGen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tfx.types import standard_artifacts
from tfx_inputs import CONSTANT_COLUMN, LABEL

from tfx_tanas.components import artifacts
from tfx_tanas.components.meta_feature_gen.executor import Executor
from tfx_tanas.errors import InputError
from tfx_tanas.meta_features import META_FEATURE_NAMES, META_FEATURE_VERSION, MetaFeatures
from tfx_tanas.workflows import META_FEATURES_FILE


def run(upstream: dict, out: Path, label: str = LABEL, split: str = "train", statistics=None) -> artifacts.MetaFeaturesArtifact:
    output = artifacts.MetaFeaturesArtifact()
    output.uri = str(out)
    inputs = {"statistics": [statistics or upstream["statistics"]], "schema": [upstream["schema"]], "examples": [upstream["examples"]]}
    Executor().Do(inputs, {"meta_features": [output]}, {"label": label, "split": split})
    return output


def test_writes_versioned_meta_features_of_the_train_split(upstream: dict, tmp_path: Path) -> None:
    output = run(upstream, tmp_path)
    meta = MetaFeatures.from_json(json.loads((tmp_path / META_FEATURES_FILE).read_text()))
    assert meta.version == META_FEATURE_VERSION
    assert tuple(meta.values) == META_FEATURE_NAMES
    assert meta.values["num_classes"] == 5.0  # chile's five regions
    assert output.get_int_custom_property(artifacts.NUM_CLASSES) == 5
    assert output.get_int_custom_property(artifacts.NUM_FEATURES) == 8
    # CsvExampleGen puts about two thirds of the 300 rows in train
    assert 150 < output.get_int_custom_property(artifacts.NUM_EXAMPLES) < 250


def test_label_missing_from_schema_is_one_clear_error(upstream: dict, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="label 'regio' is not in the schema"):
        run(upstream, tmp_path, label="regio")


def test_label_with_one_class_is_refused(upstream: dict, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"label column '{CONSTANT_COLUMN}' has a single class"):
        run(upstream, tmp_path, label=CONSTANT_COLUMN)


def test_statistics_without_the_split_are_refused(upstream: dict, tmp_path: Path) -> None:
    eval_only = standard_artifacts.ExampleStatistics()
    eval_only.uri = upstream["statistics"].uri
    eval_only.split_names = '["eval"]'
    with pytest.raises(InputError, match=r"statistics have no 'train' split \(splits: eval\)"):
        run(upstream, tmp_path, statistics=eval_only)
    assert not (tmp_path / META_FEATURES_FILE).exists()
