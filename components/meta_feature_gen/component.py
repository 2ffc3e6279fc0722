"""MetaFeatureGen component definition."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from tfx_tanas.components import artifacts, specs
from tfx_tanas.components.meta_feature_gen import executor


class MetaFeatureGen(base_component.BaseComponent):
    """Computes a data set's meta-features from StatisticsGen's statistics and the examples.

    Statistics give the per-feature figures; the examples of the same split give what statistics
    cannot (class counts of an integer label, mutual information with the label).

    With ``image_feature`` (image data, claim 15) the examples carry an encoded image in that
    feature and the image meta-features are computed from the decoded images.

    Output ``meta_features``: a ``tfx_tanas.MetaFeaturesArtifact`` artifact holding ``meta_features.json``.
    """

    SPEC_CLASS = specs.MetaFeatureGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        examples: types.BaseChannel,
        label: str,
        split: str = "train",
        image_feature: str | None = None,
    ):
        super().__init__(
            spec=specs.MetaFeatureGenSpec(
                statistics=statistics,
                schema=schema,
                examples=examples,
                label=label,
                split=split,
                image_feature=image_feature,
                meta_features=types.Channel(type=artifacts.MetaFeaturesArtifact),
            )
        )
