"""`tanas run` on bad input: exit status 2, one line naming the problem, nothing created."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tfx_inputs import CHILE_CSV, LABEL, fitted_evaluator

from tfx_tanas.cli import main
from tfx_tanas.search_space import SearchSpace


@pytest.fixture
def chile_csv(tmp_path: Path) -> Path:
    path = tmp_path / "chile.csv"
    pd.read_csv(CHILE_CSV).sample(100, random_state=0).to_csv(path, index=False)
    return path


def run_fails(capsys: pytest.CaptureFixture, tmp_path: Path, *argv: str) -> str:
    out = tmp_path / "out"
    assert main(["run", "--out", str(out), *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tanas: error: "), lines
    assert not out.exists()
    return lines[0]


def test_label_not_in_the_data(capsys, tmp_path: Path, chile_csv: Path) -> None:
    assert "label column 'regoin' not found" in run_fails(capsys, tmp_path, "--data", str(chile_csv), "--label", "regoin")


def test_label_with_one_class(capsys, tmp_path: Path) -> None:
    data = tmp_path / "one_class.csv"
    pd.DataFrame({"x": [1, 2, 3, 4], "y": ["a", "a", "a", "a"]}).to_csv(data, index=False)
    assert "has a single class" in run_fails(capsys, tmp_path, "--data", str(data), "--label", "y")


def test_unreadable_csv(capsys, tmp_path: Path) -> None:
    data = tmp_path / "broken.csv"
    data.write_bytes(b"\xff\xfe\x00 not text\n\x00\x01\n")
    assert "not a readable CSV" in run_fails(capsys, tmp_path, "--data", str(data), "--label", LABEL)


def test_directory_without_csv_files(capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "neither .csv files nor images" in run_fails(capsys, tmp_path, "--data", str(tmp_path / "empty"), "--label", LABEL)


def test_csv_files_with_different_headers(capsys, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pd.DataFrame({"x": [1, 2], LABEL: ["a", "b"]}).to_csv(tmp_path / "data" / "a.csv", index=False)
    pd.DataFrame({"z": [1, 2], LABEL: ["a", "b"]}).to_csv(tmp_path / "data" / "b.csv", index=False)
    assert "needs the same header" in run_fails(capsys, tmp_path, "--data", str(tmp_path / "data"), "--label", LABEL)


def test_evaluator_for_another_search_space(capsys, tmp_path: Path, chile_csv: Path) -> None:
    other = fitted_evaluator(SearchSpace(num_layers=2)).save(tmp_path / "evaluator")
    line = run_fails(capsys, tmp_path, "--data", str(chile_csv), "--label", LABEL, "--evaluator", str(other))
    assert "evaluator was trained for search space" in line


def test_rows_without_a_label_are_named_before_the_pipeline_starts(capsys, tmp_path: Path) -> None:
    data = tmp_path / "gaps.csv"
    frame = pd.read_csv(CHILE_CSV).sample(100, random_state=0)
    frame.loc[frame.index[:3], LABEL] = None
    frame.to_csv(data, index=False)
    assert "3 row(s) have an empty label 'region'" in run_fails(capsys, tmp_path, "--data", str(data), "--label", LABEL)
