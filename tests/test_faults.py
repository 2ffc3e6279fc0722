"""Faults survived: a command killed at a random moment and run again completes, and nothing
half-written is ever visible."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from synthetic import LABEL, make_table

from tfx_tanas.records import read_records, scan_lines

TANAS = Path(sys.executable).with_name("tanas")


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([str(TANAS), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_after(process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()


def complete_versions(serving: Path) -> list[str]:
    """Version directories TF Serving would load: every visible one must be a whole SavedModel."""
    visible = [p for p in serving.iterdir() if not p.name.startswith(".")] if serving.exists() else []
    for version in visible:
        assert version.name.isdigit() and (version / "saved_model.pb").exists() and (version / "variables").is_dir(), version
    return [p.name for p in visible]


def test_train_killed_at_a_random_moment_then_run_again_completes(tmp_path, space):
    make_table(240, seed=0).to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "architecture.json").write_text(json.dumps(space.sample(np.random.default_rng(3)).to_json()))
    argv = ["train", "--data", str(tmp_path / "train.csv"), "--label", LABEL, "--architecture", str(tmp_path / "architecture.json")]
    out = tmp_path / "out"
    rng = np.random.default_rng(int(time.time()))
    kill_after(start([*argv, "--out", str(out)]), float(rng.uniform(1.0, 12.0)))
    complete_versions(out / "serving")
    again = subprocess.run([str(TANAS), *argv, "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(complete_versions(out / "serving")) >= 1
    assert not list((out / "serving").glob(".staging-*"))
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["error"] is None


def test_build_evaluator_killed_at_a_random_moment_resumes_without_redoing_trainings(tmp_path):
    records = tmp_path / "records.jsonl"
    argv = [
        "build-evaluator", "--records", str(records), "--out", str(tmp_path / "evaluator"), "--tasks", "synthetic", "--synthetic", "2",
        "--archs-per-task", "4", "--measurements", "1", "--ensemble", "1", "--max-rows", "400",
    ]
    rng = np.random.default_rng(int(time.time()))
    kill_after(start(argv), float(rng.uniform(2.0, 25.0)))
    before = scan_lines(records).lines if records.exists() else []
    again = subprocess.run([str(TANAS), *argv], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    stored = read_records(records)  # whole lines only: a torn one was dropped and redone
    pairs = [(r.task, r.architecture.key, r.seeds) for r in stored]
    assert len(pairs) == len(set(pairs))
    after = [line for _, line in scan_lines(records).lines]
    assert all(line in after for _, line in before)  # what the killed run finished is kept, not redone
    # every one of the 2 x 4 trainings counted once: what the killed run finished (moved into the file,
    # or left as a finished part the rerun moves in) is already present, the rest was trained now
    written, present = map(int, re.search(r"records: (\d+) written, (\d+) already present", again.stderr).groups())
    assert written + present == 8 and present >= len(before)
    assert (tmp_path / "evaluator" / "evaluator.json").exists()


def test_run_killed_at_a_random_moment_then_run_again_pushes_a_whole_model(tmp_path, space):
    """`tanas run` (the TFX pipeline) killed mid-way: the next run completes; TF Serving never
    sees a partial version."""
    from tfx_inputs import CHILE_CSV, fitted_evaluator
    from tfx_inputs import LABEL as CHILE_LABEL

    data = tmp_path / "data"
    data.mkdir()
    pd.read_csv(CHILE_CSV).sample(300, random_state=0).to_csv(data / "chile.csv", index=False)
    evaluator = fitted_evaluator(space).save(tmp_path / "evaluator")
    argv = ["run", "--data", str(data), "--label", CHILE_LABEL, "--out", str(tmp_path / "out"), "--evaluator", str(evaluator)]
    rng = np.random.default_rng(int(time.time()))
    kill_after(start(argv), float(rng.uniform(5.0, 60.0)))
    again = subprocess.run([str(TANAS), *argv], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    # TFX's Pusher copies saved_model.pb last; a version a killed push left without it is removed
    assert len(complete_versions(tmp_path / "out" / "serving")) >= 1


def test_a_full_disk_while_exporting_is_one_line_and_leaves_no_partial_model(tmp_path, space):
    """A file-size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it fail as ENOSPC
    would, here while the SavedModel is written."""
    import resource

    make_table(240, seed=0).to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "architecture.json").write_text(json.dumps(space.sample(np.random.default_rng(3)).to_json()))
    inputs = {name: (tmp_path / name).read_bytes() for name in ("train.csv", "architecture.json")}
    out = tmp_path / "out"

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    argv = ["train", "--data", str(tmp_path / "train.csv"), "--label", LABEL, "--architecture", str(tmp_path / "architecture.json"), "--out", str(out)]
    full = subprocess.run([str(TANAS), *argv], capture_output=True, text=True, preexec_fn=small_disk)
    assert full.returncode == 2, full.stderr[-2000:]
    message = full.stderr.strip().splitlines()[-1]
    assert message.startswith("tanas: error:") and "Traceback" not in full.stderr, full.stderr[-2000:]
    assert complete_versions(out / "serving") == []
    assert {name: (tmp_path / name).read_bytes() for name in inputs} == inputs


def test_a_version_a_killed_push_left_without_its_saved_model_is_removed(tmp_path):
    from tfx_tanas.pipelines.commands import remove_partial_versions

    for version, files in {"100": ["saved_model.pb", "variables/variables.index"], "200": ["variables/variables.index"]}.items():
        for name in files:
            (tmp_path / version / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / version / name).write_text("x")
    remove_partial_versions(tmp_path)
    assert complete_versions(tmp_path) == ["100"]
