"""MetaFeatureGen: describe a data set by the meta-features the evaluator reads."""
