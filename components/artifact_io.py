"""Reading TFX artifacts into what :mod:`tfx_tanas` takes: DataFrames, statistics, schemas.

The core library works on labelled pandas frames; in a pipeline the rows live as tf.Examples in
an Examples artifact. Column types follow the schema (INT -> int64, nullable when values are
missing; FLOAT -> float64; BYTES -> str), so the model's serving signature parses each feature
with the type CsvExampleGen wrote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils
from tfx.utils import io_utils

from tfx_tanas.errors import InputError


def single_uri(artifact_list: Sequence[types.Artifact]) -> str:
    return artifact_utils.get_single_uri(list(artifact_list))


def split_file_patterns(examples: Sequence[types.Artifact], split: str) -> list[str]:
    """File patterns of one split of an Examples channel; a missing split is an InputError."""
    for artifact in examples:
        names = artifact_utils.decode_split_names(artifact.split_names)
        if split not in names:
            raise InputError(f"examples have no '{split}' split (splits: {', '.join(names) or 'none'})")
    return [io_utils.all_files_pattern(uri) for uri in artifact_utils.get_split_uris(list(examples), split)]


def load_schema(schema: Sequence[types.Artifact]) -> schema_pb2.Schema:
    return io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(single_uri(schema)))


def load_statistics(statistics: Sequence[types.Artifact], split: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """One split's statistics; a missing split is an InputError naming the splits there are."""
    artifact = artifact_utils.get_single_instance(list(statistics))
    names = artifact_utils.decode_split_names(artifact.split_names)
    if split not in names:
        raise InputError(f"statistics have no '{split}' split (splits: {', '.join(names) or 'none'})")
    return stats_artifact_utils.load_statistics(artifact, split).proto()


def require_label(schema: schema_pb2.Schema, label: str) -> None:
    names = [feature.name for feature in schema.feature]
    if label not in names:
        raise InputError(f"label '{label}' is not in the schema; its features are: {', '.join(names[:10])}")


def read_examples(file_patterns: Sequence[str], schema: schema_pb2.Schema) -> pd.DataFrame:
    """tf.Examples (gzipped or plain TFRecords) -> one row per example, one column per schema feature."""
    files = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
    if not files:
        raise InputError(f"no example files match {list(file_patterns)}")
    columns: dict[str, list[Any]] = {feature.name: [] for feature in schema.feature}
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset(path, compression_type=compression).as_numpy_iterator():
            features = tf.train.Example.FromString(record).features.feature
            for name, values in columns.items():
                values.append(_scalar(name, features.get(name)))
    return pd.DataFrame({feature.name: _typed(feature, columns[feature.name]) for feature in schema.feature})


def _scalar(name: str, feature: tf.train.Feature | None) -> Any:
    kind = feature.WhichOneof("kind") if feature is not None else None
    values = getattr(feature, kind).value if kind else []
    if len(values) > 1:
        raise InputError(f"feature '{name}' holds {len(values)} values in one example; tanas needs one value per column")
    return values[0] if values else None


def _typed(feature: schema_pb2.Feature, values: list[Any]) -> pd.Series:
    if feature.type == schema_pb2.INT:
        return pd.Series(pd.array(values, dtype="Int64")) if None in values else pd.Series(values, dtype="int64")
    if feature.type == schema_pb2.FLOAT:
        return pd.Series([float("nan") if v is None else v for v in values], dtype="float64")
    return pd.Series([None if v is None else v.decode("utf-8", errors="replace") for v in values], dtype=object)


def write_json(directory: str, name: str, data: Any) -> str:
    path = os.path.join(directory, name)
    io_utils.write_string_file(path, json.dumps(data, indent=2))
    return path


def read_json(directory: str, name: str) -> Any:
    path = os.path.join(directory, name)
    if not tf.io.gfile.exists(path):
        raise InputError(f"artifact has no {name}: {directory}")
    try:
        return json.loads(io_utils.read_string_file(path))
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON ({err.msg})") from None


def parse_json_object(text: str | None, name: str) -> dict[str, Any]:
    """A JSON-object execution parameter (None or empty: ``{}``); anything else is an InputError."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{name} is not valid JSON ({err.msg})") from None
    if not isinstance(value, dict):
        raise InputError(f"{name} must be a JSON object, got {text!r}")
    return value
