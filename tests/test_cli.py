"""The `tanas` command line end to end: search -> train -> a TF Serving model that answers tf.Examples;
sample-architectures -> train; one real subprocess for the exit codes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from synthetic import LABEL, make_table

from tfx_tanas.cli import main
from tfx_tanas.data import read_csv
from tfx_tanas.meta_features import META_FEATURE_NAMES, META_FEATURE_VERSION, meta_features_for_frame
from tfx_tanas.search_space import Architecture

TANAS = Path(sys.executable).with_name("tanas")
REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("cli")
    make_table(240, seed=0).to_csv(directory / "train.csv", index=False)
    make_table(120, seed=1).to_csv(directory / "eval.csv", index=False)
    return directory


@pytest.fixture(scope="module")
def searched(workspace, tiny_evaluator_dir) -> Path:
    out = workspace / "search"
    argv = ["search", "--data", str(workspace / "train.csv"), "--label", LABEL, "--out", str(out)]
    assert main([*argv, "--evaluator", str(tiny_evaluator_dir), "--seed", "0"]) == 0
    return out


@pytest.fixture(scope="module")
def trained(workspace, searched) -> Path:
    out = workspace / "model"
    argv = ["train", "--data", str(workspace / "train.csv"), "--label", LABEL, "--architecture", str(searched / "architecture.json")]
    assert main([*argv, "--out", str(out), "--eval-data", str(workspace / "eval.csv")]) == 0
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_search_writes_a_discrete_architecture_with_its_predicted_score(searched):
    data = json.loads((searched / "architecture.json").read_text())
    arch = Architecture.from_json(data)
    assert arch.is_discrete
    candidates = read_jsonl(searched / "candidates.jsonl")
    assert len(candidates) == data["metadata"]["num_candidates"] > 10
    assert all(math.isfinite(c["predicted_score"]) for c in candidates)
    best_discrete = max(c["predicted_score"] for c in candidates if c["discrete"])
    assert data["metadata"]["predicted_score"] == pytest.approx(best_discrete, abs=1e-6)
    assert arch.key in {c["key"] for c in candidates if c["predicted_score"] == best_discrete}


def test_search_writes_the_meta_features_of_the_data(searched, workspace):
    written = json.loads((searched / "meta_features.json").read_text())
    assert written["version"] == META_FEATURE_VERSION
    assert tuple(written["features"]) == META_FEATURE_NAMES
    expected = meta_features_for_frame(read_csv(workspace / "train.csv"), LABEL).values
    assert written["features"] == pytest.approx(expected)


def test_search_prints_the_chosen_architecture(workspace, tiny_evaluator_dir, capsys):
    argv = ["search", "--data", str(workspace / "train.csv"), "--label", LABEL, "--out", str(workspace / "search2")]
    assert main([*argv, "--evaluator", str(tiny_evaluator_dir), "--method", "random", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    arch = Architecture.from_json(json.loads((workspace / "search2" / "architecture.json").read_text()))
    assert f"architecture: {arch.describe()}" in printed
    assert "predicted score:" in printed


def test_search_with_train_top_trains_the_best_distinct_candidates_and_keeps_the_best(workspace, tiny_evaluator_dir, searched):
    out = workspace / "search_top3"
    argv = ["search", "--data", str(workspace / "train.csv"), "--label", LABEL, "--out", str(out), "--evaluator", str(tiny_evaluator_dir)]
    assert main([*argv, "--train-top", "3"]) == 0
    data = json.loads((out / "architecture.json").read_text())
    trained = [c for c in read_jsonl(out / "candidates.jsonl") if "measured_score" in c]
    assert len(trained) == len({c["key"] for c in trained}) == 3 == data["metadata"]["trained_candidates"]
    chosen = {c["key"]: c for c in trained}[Architecture.from_json(data).key]
    assert chosen["measured_score"] == data["metadata"]["measured_score"] == max(c["measured_score"] for c in trained)
    # the shortlist is the three best distinct networks by the lower bound the zero-shot pick maximizes
    zero_shot = json.loads((searched / "architecture.json").read_text())
    assert Architecture.from_json(zero_shot).key in {c["key"] for c in trained}


def test_train_appends_its_measurements_and_build_evaluator_refits_on_them(workspace, searched, tmp_path, space):
    """Continual records: what `tanas train --records` measured on the user's data joins the
    evaluator's training tasks."""
    from tfx_tanas.records import Record, append_records, read_records

    user = tmp_path / "user_records.jsonl"
    argv = ["train", "--data", str(workspace / "train.csv"), "--label", LABEL, "--architecture", str(searched / "architecture.json")]
    for run in ("first", "second"):
        assert main([*argv, "--out", str(tmp_path / run), "--records", str(user)]) == 0
    appended = read_records(user)
    assert len(appended) == 2 and len({r.task for r in appended}) == 1 and appended[0].task.startswith("user/")
    [metrics] = read_jsonl(tmp_path / "first" / "metrics.jsonl")
    assert appended[0].score == pytest.approx(metrics["validation_score"])
    assert appended[0].architecture.key == metrics["key"]

    base = tmp_path / "base_records.jsonl"
    rng = np.random.default_rng(0)
    meta = appended[0].meta_features
    append_records(base, [Record(f"synthetic/t{i % 3}", meta, space.sample(rng), float(rng.uniform(0.3, 0.9)), 1.0, 10, 1) for i in range(30)])
    out = tmp_path / "evaluator"
    refit = ["build-evaluator", "--records", str(base), "--extra-records", str(user), "--tasks", "none", "--ensemble", "1", "--out", str(out)]
    assert main(refit) == 0
    assert json.loads((out / "evaluator.json").read_text())["training_summary"]["num_tasks"] == 4


def test_train_writes_one_metrics_line_for_the_architecture(trained, searched):
    [metrics] = read_jsonl(trained / "metrics.jsonl")
    arch = Architecture.from_json(json.loads((searched / "architecture.json").read_text()))
    assert metrics["key"] == arch.key
    assert metrics["eval_split"] == "eval-data"
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0
    assert metrics["train_seconds"] > 0
    assert isinstance(metrics["num_params"], int) and metrics["num_params"] > 0


def serialized_examples(frame: pd.DataFrame) -> list[bytes]:
    """Rows as tf.Examples, the way CsvExampleGen writes them: empty cells are absent features."""
    examples = []
    for row in frame.drop(columns=[LABEL]).to_dict("records"):
        feature = {}
        for name, value in row.items():
            if isinstance(value, str):
                feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
            elif isinstance(value, (int, np.integer)):
                feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
            elif not math.isnan(value):
                feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        examples.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return examples


def test_serving_model_answers_serialized_examples_with_the_reported_accuracy(trained, workspace):
    [version] = [p for p in (trained / "serving").iterdir() if not p.name.startswith(".")]
    assert version.name.isdigit() and (version / "saved_model.pb").exists()
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["examples"]
    frame = pd.read_csv(workspace / "eval.csv")
    outputs = serve(examples=tf.constant(serialized_examples(frame)))
    probabilities = outputs["probabilities"].numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    predicted = [name.decode() for name in outputs["class_name"].numpy()]
    served_accuracy = float(np.mean(np.array(predicted) == frame[LABEL].to_numpy()))
    [metrics] = read_jsonl(trained / "metrics.jsonl")
    assert served_accuracy == pytest.approx(metrics["eval_accuracy"], abs=1.0 / len(frame) + 1e-9)
    majority = frame[LABEL].value_counts(normalize=True).max()
    assert served_accuracy > max(0.75, majority + 0.1)  # the easy table is learnt, not guessed


def test_sampled_architectures_train_one_metrics_line_each_in_input_order(workspace, capsys):
    archs_path = workspace / "archs.jsonl"
    assert main(["sample-architectures", "--n", "2", "--seed", "5", "--out", str(archs_path)]) == 0
    keys = [Architecture.from_json(line).key for line in read_jsonl(archs_path)]
    assert len(keys) == 2 and keys[0] != keys[1]
    out = workspace / "two"
    argv = ["train", "--data", str(workspace / "train.csv"), "--label", LABEL, "--architecture", str(archs_path)]
    assert main([*argv, "--out", str(out), "--max-steps", "40"]) == 0
    metrics = read_jsonl(out / "metrics.jsonl")
    assert [m["key"] for m in metrics] == keys
    assert [m["index"] for m in metrics] == [0, 1]
    for line in metrics:
        assert line["eval_split"] == "validation" and line["steps"] <= 40
        assert 0.0 <= line["eval_accuracy"] <= 1.0 and line["train_seconds"] > 0 and line["num_params"] > 0
    assert len([p for p in (out / "serving").iterdir() if p.name.isdigit()]) == 1


def test_sample_architectures_never_overwrites_a_file(workspace, capsys):
    existing = workspace / "mine.jsonl"
    existing.write_text("keep me\n")
    assert main(["sample-architectures", "--n", "2", "--out", str(existing)]) == 2
    assert existing.read_text() == "keep me\n"
    assert "already exists" in capsys.readouterr().err


def user_environment() -> dict[str, str]:
    """The environment a user runs tanas in: nothing set to quiet TensorFlow, this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPOSITORY), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_installed_command_exits_0_on_success(workspace, tiny_evaluator_dir):
    out = workspace / "subprocess-search"
    argv = ["search", "--data", str(workspace / "train.csv"), "--label", LABEL, "--out", str(out), "--evaluator", str(tiny_evaluator_dir)]
    completed = subprocess.run([str(TANAS), *argv], capture_output=True, text=True, env=user_environment(), timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    assert (out / "architecture.json").exists()


def test_installed_command_exits_2_with_one_line_on_bad_input(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("signal,y\n1.0,yes\nabc,no\n" + "2.0,no\n" * 30)
    before = data.read_bytes()
    architectures = tmp_path / "archs.jsonl"
    assert main(["sample-architectures", "--n", "1", "--out", str(architectures)]) == 0
    argv = ["train", "--data", str(data), "--label", LABEL, "--architecture", str(architectures), "--out", str(tmp_path / "out")]
    completed = subprocess.run([str(TANAS), *argv], capture_output=True, text=True, env=user_environment(), timeout=600)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == ["tanas: error: column 'signal' is numeric but row 2 holds text 'abc'"]
    assert data.read_bytes() == before
