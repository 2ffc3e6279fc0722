"""Every bad input: exit status 2, one line `tanas: error: ...` naming the problem, no traceback,
and the user's files byte for byte unchanged."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from synthetic import LABEL, file_digest, make_table

from tfx_tanas.cli import main
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig
from tfx_tanas.search_space import SearchSpace


def table_text(change: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> str:
    frame = make_table(60, seed=2)
    return (change(frame) if change else frame).to_csv(index=False)


def with_column(name: str, values) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame[name] = values(frame) if callable(values) else values
        return frame

    return change


def with_cell(column: str, row: int, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy().astype({column: object})
        frame.loc[row, column] = value
        return frame

    return change


# case -> (CSV text, or None for no file; words the one-line error must contain)
BAD_DATA = {
    "missing file": (None, "not found"),
    "empty file": ("", "empty"),
    "blank lines only": ("\n\n\n", "empty"),
    "header only": ("signal,noise,count,color,y\n", "header but no rows"),
    "label column missing": (table_text(lambda f: f.drop(columns=[LABEL])), f"label column '{LABEL}' not found"),
    "label with one class": (table_text(with_column(LABEL, "yes")), "single class"),
    "label all empty": (table_text(with_column(LABEL, np.nan)), "empty in every row"),
    "text in a numeric column": (table_text(with_cell("signal", 7, "n/a?")), "column 'signal' is numeric but row 8 holds text"),
    "infinite value": (table_text(with_cell("noise", 4, np.inf)), "column 'noise' holds an infinite value in row 5"),
    "negative infinite value": (table_text(with_cell("count", 9, -np.inf)), "column 'count' holds an infinite value in row 10"),
    "no feature besides the label": (table_text(lambda f: f[[LABEL]]), "no usable feature"),
    "a regression target as label": (table_text(with_column(LABEL, lambda f: f["signal"] * 3.7)), "looks like a regression target"),
    "an identifier as label": (table_text(with_column(LABEL, lambda f: [f"id{i}" for i in range(len(f))])), "fewer than 2 rows per class"),
}


@pytest.fixture
def architecture_file(tmp_path, space) -> Path:
    path = tmp_path / "architecture.json"
    path.write_text(json.dumps(space.sample(np.random.default_rng(0)).to_json()))
    return path


@pytest.fixture
def evaluator_copy(tiny_evaluator_dir, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_evaluator_dir, tmp_path / "evaluator"))


def digests(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): file_digest(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def run_expecting_error(argv: list[str], inputs: Path, capsys) -> str:
    """Run tanas in process; check exit 2, one stderr line, no traceback, inputs untouched; return the line."""
    before = digests(inputs)
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("tanas: error: ")
    assert "Traceback" not in captured.err + captured.out
    assert digests(inputs) == before
    return lines[0]


def command(name: str, data: Path, out: Path, architecture: Path, evaluator: Path) -> list[str]:
    argv = [name, "--data", str(data), "--label", LABEL, "--out", str(out)]
    if name == "train":
        return [*argv, "--architecture", str(architecture), "--max-steps", "40"]
    return [*argv, "--evaluator", str(evaluator)]


@pytest.mark.parametrize("name", ["search", "train"])
@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_exits_2_with_one_line_naming_the_problem(case, name, tmp_path, architecture_file, evaluator_copy, capsys):
    text, expected = BAD_DATA[case]
    data = tmp_path / "data.csv"
    if text is not None:
        data.write_text(text)
    line = run_expecting_error(command(name, data, tmp_path / "out", architecture_file, evaluator_copy), tmp_path, capsys)
    assert expected in line
    assert not (tmp_path / "out" / "architecture.json").exists() and not (tmp_path / "out" / "metrics.jsonl").exists()


def test_bad_evaluation_data_exits_2(tmp_path, tiny_csv, architecture_file, capsys):
    eval_data = tmp_path / "eval.csv"
    eval_data.write_text(table_text(with_cell("signal", 2, np.inf)))
    argv = ["train", "--data", str(tiny_csv), "--label", LABEL, "--architecture", str(architecture_file)]
    line = run_expecting_error([*argv, "--out", str(tmp_path / "out"), "--eval-data", str(eval_data)], tmp_path, capsys)
    assert "infinite" in line


def empty_noise_column(tmp_path: Path) -> Path:
    data = tmp_path / "data.csv"
    data.write_text(table_text(with_column("noise", np.nan)))
    return data


def test_all_empty_feature_column_is_dropped_with_a_warning_in_search(tmp_path, evaluator_copy, caplog):
    data = empty_noise_column(tmp_path)
    before = file_digest(data)
    assert main(command("search", data, tmp_path / "out", tmp_path, evaluator_copy)) == 0
    assert "dropping feature column 'noise'" in caplog.text
    assert (tmp_path / "out" / "architecture.json").exists()
    assert file_digest(data) == before


def test_all_empty_feature_column_is_dropped_with_a_warning_in_train(tmp_path, architecture_file, caplog):
    data = empty_noise_column(tmp_path)
    before = file_digest(data)
    assert main(command("train", data, tmp_path / "out", architecture_file, tmp_path)) == 0
    assert "dropping feature column 'noise'" in caplog.text
    [metrics] = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0
    assert file_digest(data) == before


def test_an_id_column_of_numbers_and_codes_is_read_as_text(tmp_path, architecture_file, caplog):
    """Subjects numbered 100, 101, ... with a few coded 207a, as R data sets hold them: a text
    column (as TFX's CsvExampleGen types it), not stray text in a numeric one."""
    data = tmp_path / "data.csv"
    data.write_text(table_text(lambda f: f.assign(count=[f"{100 + i // 3}" if i % 17 else f"{207 + i}a" for i in range(len(f))])))
    before = file_digest(data)
    assert main(command("train", data, tmp_path / "out", architecture_file, tmp_path)) == 0
    assert "column 'count' mixes numbers with codes such as '207a' (row 1): read as text" in caplog.text
    [version] = (tmp_path / "out" / "serving").iterdir()
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    features = {"signal": [0.3], "noise": [-0.2], "count": [b"207a"], "color": [b"red"]}
    example = tf.train.Example(features=tf.train.Features(feature={
        name: tf.train.Feature(bytes_list=tf.train.BytesList(value=value)) if isinstance(value[0], bytes)
        else tf.train.Feature(float_list=tf.train.FloatList(value=value))
        for name, value in features.items()
    }))
    probabilities = serve(examples=tf.constant([example.SerializeToString()]))["probabilities"].numpy()[0]
    assert np.isclose(probabilities.sum(), 1.0, atol=1e-4)
    assert file_digest(data) == before


def valid_architecture(space: SearchSpace) -> dict:
    """A sampled architecture with hidden layers whose first embedding weight is 0."""
    rng = np.random.default_rng(0)
    return next(a for a in iter(lambda: space.sample(rng), None) if a.hidden_layers and a.gamma[0] == 0.0).to_json()


def edited(change: Callable[[dict], None]) -> Callable[[dict], str]:
    def write(valid: dict) -> str:
        data = json.loads(json.dumps(valid))
        change(data)
        return json.dumps(data)

    return write


# case -> (architecture dict -> file text, words the error must contain)
BAD_ARCHITECTURES = {
    "unknown top-level field": (edited(lambda d: d.update(dropout=0.5)), "unknown field(s) ['dropout']"),
    "unknown encoding field": (edited(lambda d: d["encoding"].update(delta=[0])), "unknown field(s) ['delta']"),
    "alpha of the wrong shape": (edited(lambda d: d["encoding"]["alpha"].pop()), "alpha has shape (3, 12)"),
    "gamma of the wrong shape": (edited(lambda d: d["encoding"]["gamma"].append(0.0)), "gamma has shape (5,)"),
    "NaN in the encoding": (lambda valid: json.dumps(valid).replace('"gamma": [0.0,', '"gamma": [NaN,', 1), "NaN"),
    "layers that disagree": (edited(lambda d: d["layers"].pop(1)), "disagree"),
    "not JSON": (lambda valid: json.dumps(valid)[:-20], "not valid JSON"),
    "empty file": (lambda valid: "", "empty"),
}


@pytest.mark.parametrize("case", BAD_ARCHITECTURES)
def test_bad_architecture_file_exits_2(case, tmp_path, tiny_csv, space, capsys):
    write, expected = BAD_ARCHITECTURES[case]
    text = write(valid_architecture(space))
    if case == "NaN in the encoding":
        assert "NaN" in text
    architecture = tmp_path / "architecture.json"
    architecture.write_text(text)
    argv = ["train", "--data", str(tiny_csv), "--label", LABEL, "--architecture", str(architecture), "--out", str(tmp_path / "out")]
    assert expected in run_expecting_error(argv, tmp_path, capsys)


def test_bad_line_of_an_architectures_jsonl_is_named(tmp_path, tiny_csv, space, capsys):
    valid = valid_architecture(space)
    architectures = tmp_path / "archs.jsonl"
    broken = edited(lambda d: d["encoding"]["beta"].append(1.0))(valid)
    architectures.write_text(json.dumps(valid) + "\n" + broken + "\n")
    argv = ["train", "--data", str(tiny_csv), "--label", LABEL, "--architecture", str(architectures), "--out", str(tmp_path / "out")]
    line = run_expecting_error(argv, tmp_path, capsys)
    assert "archs.jsonl:2:" in line and "beta has shape (5,)" in line


def test_missing_architecture_file_exits_2(tmp_path, tiny_csv, capsys):
    argv = ["train", "--data", str(tiny_csv), "--label", LABEL, "--architecture", str(tmp_path / "nope.json"), "--out", str(tmp_path / "out")]
    assert "architecture file not found" in run_expecting_error(argv, tmp_path, capsys)


def edit_manifest(directory: Path, change: Callable[[dict], None]) -> None:
    manifest = json.loads((directory / "evaluator.json").read_text())
    change(manifest)
    (directory / "evaluator.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda m: m.update(meta_feature_version=m["meta_feature_version"] + 1), "meta-features version", id="meta-feature version"),
        pytest.param(
            lambda m: m["search_space"].update(version=1), "search space version 1 is not supported: this release reads search space version 2",
            id="search space version 1",
        ),
        pytest.param(lambda m: m["search_space"].update(version=99), "search space version 99 is not supported", id="unknown search-space version"),
    ],
)
def test_evaluator_for_another_version_exits_2(change, expected, tmp_path, tiny_csv, evaluator_copy, capsys):
    edit_manifest(evaluator_copy, change)
    argv = ["search", "--data", str(tiny_csv), "--label", LABEL, "--out", str(tmp_path / "out"), "--evaluator", str(evaluator_copy)]
    assert expected in run_expecting_error(argv, tmp_path, capsys)


def test_evaluator_saved_by_another_version_exits_2(tmp_path, tiny_csv, evaluator_copy, capsys):
    edit_manifest(evaluator_copy, lambda m: m["config"].update(hidden_units=[7, 7]))  # weights no longer fit
    argv = ["search", "--data", str(tiny_csv), "--label", LABEL, "--out", str(tmp_path / "out"), "--evaluator", str(evaluator_copy)]
    assert "regenerate" in run_expecting_error(argv, tmp_path, capsys)


def test_evaluator_for_another_search_space_exits_2(tmp_path, tiny_csv, capsys):
    other = ArchitectureEvaluator(SearchSpace(units=(16, 64)), EvaluatorConfig(hidden_units=(4,), epochs=1)).save(tmp_path / "other")
    argv = ["search", "--data", str(tiny_csv), "--label", LABEL, "--out", str(tmp_path / "out"), "--evaluator", str(other)]
    assert "search space" in run_expecting_error(argv, tmp_path, capsys)


def test_directory_that_is_not_an_evaluator_exits_2(tmp_path, tiny_csv, capsys):
    (tmp_path / "empty").mkdir()
    argv = ["search", "--data", str(tiny_csv), "--label", LABEL, "--out", str(tmp_path / "out"), "--evaluator", str(tmp_path / "empty")]
    assert "not an evaluator directory" in run_expecting_error(argv, tmp_path, capsys)


def test_out_that_is_a_file_exits_2(tmp_path, tiny_csv, evaluator_copy, capsys):
    occupied = tmp_path / "occupied"
    occupied.write_text("mine")
    argv = ["search", "--data", str(tiny_csv), "--label", LABEL, "--out", str(occupied), "--evaluator", str(evaluator_copy)]
    assert "is a file" in run_expecting_error(argv, tmp_path, capsys)


def test_build_evaluator_refuses_zero_measurements(tmp_path, capsys):
    argv = ["build-evaluator", "--records", str(tmp_path / "records.jsonl"), "--out", str(tmp_path / "evaluator"),
            "--tasks", "sklearn", "--measurements", "0"]
    assert "measurements must be at least 1" in run_expecting_error(argv, tmp_path, capsys)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_refitting_on_a_corrupt_records_file_names_the_line(compressed, tmp_path, capsys):
    text = '{"task": "sklearn/iris"}\n{"task": \n'
    if compressed:
        records = tmp_path / "records.jsonl.gz"
        records.write_bytes(gzip.compress(text.encode())[:-12])  # a torn write: the trailer is missing
    else:
        records = tmp_path / "records.jsonl"
        records.write_text(text)
    argv = ["build-evaluator", "--records", str(records), "--out", str(tmp_path / "evaluator"), "--tasks", "none"]
    assert "not a complete JSON record" in run_expecting_error(argv, tmp_path, capsys)


@pytest.mark.parametrize("count", ["0", "100000"])
def test_train_top_outside_the_candidates_exits_2(count, tmp_path, tiny_csv, evaluator_copy, capsys):
    argv = ["search", "--data", str(tiny_csv), "--label", LABEL, "--out", str(tmp_path / "out"), "--evaluator", str(evaluator_copy)]
    assert "--train-top must be between 1 and the" in run_expecting_error([*argv, "--train-top", count], tmp_path, capsys)


def test_a_negative_fallback_margin_exits_2(tmp_path, tiny_csv, evaluator_copy, capsys):
    argv = ["search", "--data", str(tiny_csv), "--label", LABEL, "--out", str(tmp_path / "out"), "--evaluator", str(evaluator_copy)]
    assert "fallback margin must be at least 0, got -0.5" in run_expecting_error([*argv, "--fallback-margin", "-0.5"], tmp_path, capsys)


def test_a_second_command_into_a_busy_out_exits_2_and_leaves_it_alone(tmp_path, tiny_csv, architecture_file, capsys):
    """Two `tanas train` into one --out: while the first holds it, the second refuses."""
    from tfx_tanas.files import exclusive_directory

    out = tmp_path / "out"
    out.mkdir()
    with exclusive_directory(out):  # what a running tanas command holds
        argv = ["train", "--data", str(tiny_csv), "--label", LABEL, "--architecture", str(architecture_file), "--out", str(out)]
        assert "another tanas command is writing into" in run_expecting_error(argv, tmp_path, capsys)
    assert not list(out.iterdir())


def test_an_out_that_cannot_be_written_exits_2(tmp_path, tiny_csv, architecture_file, capsys):
    argv = ["train", "--data", str(tiny_csv), "--label", LABEL, "--architecture", str(architecture_file), "--out", "/proc/tanas-cannot-write-here"]
    assert "/proc/tanas-cannot-write-here" in run_expecting_error(argv, tmp_path, capsys)


def test_a_row_number_written_by_to_csv_is_named_in_a_warning(tmp_path, evaluator_copy, caplog):
    """`DataFrame.to_csv` writes the index as a first, unnamed column: the search still runs (the
    column stays a feature, as in CsvExampleGen) and the warning says how to leave it out."""
    data = tmp_path / "data.csv"
    make_table(60, seed=2).sort_values(LABEL).reset_index(drop=True).to_csv(data)
    assert main(command("search", data, tmp_path / "out", tmp_path, evaluator_copy)) == 0
    assert "column 'Unnamed: 0' has no header and counts the rows" in caplog.text
    assert "write the file with index=False" in caplog.text
    caplog.clear()
    headed = tmp_path / "headed.csv"
    make_table(60, seed=2).rename_axis("id").to_csv(headed)
    assert main(command("search", headed, tmp_path / "out2", tmp_path, evaluator_copy)) == 0
    assert "counts the rows" not in caplog.text
