"""ArchitectureRecordsGen: the offline meta-training data, generated as a Beam pipeline."""
