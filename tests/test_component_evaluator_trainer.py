"""EvaluatorTrainer's executor: records.jsonl -> an evaluator directory ArchSearcher can load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfx_tanas.components import artifacts
from tfx_tanas.components.evaluator_trainer.executor import Executor
from tfx_tanas.errors import InputError
from tfx_tanas.evaluator import ArchitectureEvaluator
from tfx_tanas.meta_features import META_FEATURE_NAMES, MetaFeatures
from tfx_tanas.records import RECORDS_FILE, Record, append_records
from tfx_tanas.search_space import SearchSpace, sample_architectures


def write_records(directory: Path, space: SearchSpace, tasks: int = 3, per_task: int = 8) -> None:
    """``per_task`` distinct networks per task, each measured twice."""
    rng = np.random.default_rng(0)
    records = []
    for task in range(tasks):
        meta = MetaFeatures(dict(zip(META_FEATURE_NAMES, rng.normal(size=len(META_FEATURE_NAMES)).tolist())))
        networks = list({a.key: a for a in sample_architectures(space, 3 * per_task, seed=task)}.values())[:per_task]
        for arch in networks:
            for seed in (0, 1):  # two measurements of each architecture
                records.append(Record(f"synthetic/task{task}", meta, arch, float(rng.uniform(0.4, 0.9)), 1.0, 100, 1, seeds=(seed,)))
    append_records(directory / RECORDS_FILE, records)


def run(records_dir: Path, out: Path) -> artifacts.EvaluatorArtifact:
    records = artifacts.RecordsArtifact()
    records.uri = str(records_dir)
    evaluator = artifacts.EvaluatorArtifact()
    evaluator.uri = str(out)
    exec_properties = {
        "loss": "squared_error", "meta_features_mode": "tfdv", "ensemble_size": 1, "epochs": 3, "context_noise": 1.0, "risk_aversion": 0.5,
        "fallback_margin": 0.02, "seed": 0,
    }
    Executor().Do({"records": [records]}, {"evaluator": [evaluator]}, exec_properties)
    return evaluator


def test_trains_an_evaluator_for_the_records_search_space(tmp_path: Path) -> None:
    write_records(tmp_path / "records", SearchSpace())
    output = run(tmp_path / "records", tmp_path / "evaluator")
    loaded = ArchitectureEvaluator.load(output.uri, space=SearchSpace())
    # 48 measurement lines: the evaluator fits one mean score per (task, architecture)
    assert loaded.training_summary == {"num_records": 24, "num_tasks": 3}
    assert (loaded.config.context_noise, loaded.config.risk_aversion, loaded.config.fallback_margin) == (1.0, 0.5, 0.02)  # ArchSearcher's rule
    assert output.get_int_custom_property(artifacts.NUM_RECORDS) == 24
    assert output.get_int_custom_property(artifacts.NUM_TASKS) == 3
    assert output.get_string_custom_property(artifacts.SEARCH_SPACE_FINGERPRINT) == SearchSpace().fingerprint


def test_missing_records_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    with pytest.raises(InputError, match="records file not found"):
        run(tmp_path / "records", tmp_path / "evaluator")
