"""MetaFeatureGen executor: StatisticsGen statistics + labelled rows -> ``meta_features.json``."""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from tfx_tanas import workflows
from tfx_tanas.components import artifact_io, artifacts, specs
from tfx_tanas.data import clean_frame


class Executor(base_executor.BaseExecutor):
    """Meta-features of one split (default ``train``, the rows the final model trains on)."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        label, split = exec_properties[specs.LABEL_KEY], exec_properties[specs.SPLIT_KEY]
        schema = artifact_io.load_schema(input_dict[specs.SCHEMA_KEY])
        artifact_io.require_label(schema, label)
        statistics = artifact_io.load_statistics(input_dict[specs.STATISTICS_KEY], split)
        frame = clean_frame(artifact_io.read_examples(artifact_io.split_file_patterns(input_dict[specs.EXAMPLES_KEY], split), schema), label)
        meta = workflows.describe_task(frame, label, statistics)

        output = artifact_utils.get_single_instance(output_dict[specs.META_FEATURES_KEY])
        artifact_io.write_json(output.uri, workflows.META_FEATURES_FILE, meta.to_json())
        output.set_int_custom_property(artifacts.META_FEATURE_VERSION, meta.version)
        output.set_int_custom_property(artifacts.NUM_EXAMPLES, len(frame))
        output.set_int_custom_property(artifacts.NUM_FEATURES, len(frame.columns) - 1)
        output.set_int_custom_property(artifacts.NUM_CLASSES, int(meta.values["num_classes"]))
