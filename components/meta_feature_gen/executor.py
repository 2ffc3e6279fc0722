"""MetaFeatureGen executor: StatisticsGen statistics + labelled rows (or TFDV's image domain + decoded images) -> ``meta_features.json``."""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from tfx_tanas import options, workflows
from tfx_tanas.components import artifact_io, artifacts, specs
from tfx_tanas.data import clean_frame
from tfx_tanas.image_data import read_image_tfrecords
from tfx_tanas.image_meta_features import image_domain_statistics


class Executor(base_executor.BaseExecutor):
    """Meta-features of one split (default ``train``, the rows the final model trains on)."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        label, split = exec_properties[specs.LABEL_KEY], exec_properties[specs.SPLIT_KEY]
        schema = artifact_io.load_schema(input_dict[specs.SCHEMA_KEY])
        artifact_io.require_label(schema, label)
        patterns = artifact_io.split_file_patterns(input_dict[specs.EXAMPLES_KEY], split)
        image_feature = exec_properties.get(specs.IMAGE_FEATURE_KEY)
        statistics = artifact_io.load_statistics(input_dict[specs.STATISTICS_KEY], split)
        output = artifact_utils.get_single_instance(output_dict[specs.META_FEATURES_KEY])
        if image_feature:  # images: TFDV's count and image domain, the rest from the decoded images
            domain = image_domain_statistics(statistics, image_feature)
            images = read_image_tfrecords(",".join(patterns), image_feature, label, max_images=options.DESCRIBE_MAX_IMAGES)
            meta, num_examples, num_features = workflows.describe_images(images, domain=domain), domain.num_examples, 1
            if domain.formats:
                output.set_string_custom_property(artifacts.IMAGE_FORMATS, domain.describe())
        else:
            frame = clean_frame(artifact_io.read_examples(patterns, schema), label)
            meta, num_examples, num_features = workflows.describe_task(frame, label, statistics), len(frame), len(frame.columns) - 1

        artifact_io.write_json(output.uri, workflows.META_FEATURES_FILE, meta.to_json())
        output.set_int_custom_property(artifacts.META_FEATURE_VERSION, meta.version)
        output.set_int_custom_property(artifacts.NUM_EXAMPLES, num_examples)
        output.set_int_custom_property(artifacts.NUM_FEATURES, num_features)
        output.set_int_custom_property(artifacts.NUM_CLASSES, int(meta.values["num_classes"]))
