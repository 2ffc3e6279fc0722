"""How long picking an architecture takes on a 100k-row CSV, beside one `tanas train` of it.

Builds a synthetic 100k-row CSV in a temporary directory and times, in this process:

  (a) TFDV statistics of the cleaned table,
  (b) the meta-features from those statistics (class counts and mutual information read the rows),
  (c) the search step itself with the evaluator (gradient ascent and random search), both the
      first call in a process (what one `tanas search` pays, tracing included) and warm calls,

then, as separate processes, one `tanas search` end to end and one `tanas train` of the chosen
architecture under the default protocol. Target: the search step under 1 s.

    .venv/bin/python benchmarks/search_latency.py [--rows 100000] [--evaluator DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tfx_tanas.data import clean_frame, read_csv
from tfx_tanas.evaluator import ArchitectureEvaluator
from tfx_tanas.meta_features import compute_meta_features, statistics_from_frame
from tfx_tanas.search import search
from tfx_tanas.search_space import SearchSpace
from tfx_tanas.tasks import make_synthetic
from tfx_tanas.workflows import bundled_evaluator_path

TANAS = Path(sys.executable).with_name("tanas")
SEARCH_TARGET_SECONDS = 1.0


def timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process): on a shared machine the two differ."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_tanas(argv: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run([str(TANAS), *argv], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"tanas {argv[0]} failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--evaluator", help="evaluator directory (default: the bundled one)")
    parser.add_argument("--repeats", type=int, default=3, help="warm search calls to time per method")
    args = parser.parse_args()
    evaluator_dir = Path(args.evaluator) if args.evaluator else bundled_evaluator_path()

    rows: list[tuple[str, str, str, str]] = []  # (step, wall seconds, CPU seconds, note)
    with tempfile.TemporaryDirectory(prefix="tanas-latency-") as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "data.csv"
        frame = make_synthetic(
            family="clusters", rows=args.rows, features=16, classes=3, imbalance=0.5,
            label_noise=0.05, categorical_fraction=0.25, missing_fraction=0.05, seed=0,
        )
        frame.to_csv(data, index=False)
        size_mb = data.stat().st_size / 1e6
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
        print(f"data: {args.rows} rows x {frame.shape[1] - 1} features (4 categorical), 3 classes, {size_mb:.1f} MB CSV")

        table, wall, cpu = timed(read_csv, data)
        rows.append(("read CSV", f"{wall:.2f}", f"{cpu:.2f}", "pandas"))
        cleaned, wall, cpu = timed(clean_frame, table, "label")
        rows.append(("validate columns", f"{wall:.2f}", f"{cpu:.2f}", "label, types, infinities"))
        stats, wall, cpu = timed(statistics_from_frame, cleaned)
        rows.append(("(a) TFDV statistics", f"{wall:.2f}", f"{cpu:.2f}", "generate_statistics_from_dataframe"))
        meta, wall, cpu = timed(compute_meta_features, stats, "label", cleaned)
        rows.append(("(b) meta-features", f"{wall:.2f}", f"{cpu:.2f}", f"{len(meta.values)} values, MI on <= 20k rows"))
        evaluator, wall, cpu = timed(ArchitectureEvaluator.load, evaluator_dir, SearchSpace())
        rows.append(("load evaluator", f"{wall:.2f}", f"{cpu:.2f}", str(evaluator_dir)))

        search_seconds = {}
        for method in ("gradient", "random"):
            result, first, first_cpu = timed(search, evaluator, meta, method=method, seed=0)
            warm = [timed(search, evaluator, meta, method=method, seed=seed)[1] for seed in range(1, args.repeats + 1)]
            search_seconds[method] = first
            note = f"first call; {len(result.candidates)} candidates scored"
            rows.append((f"(c) search, {method}", f"{first:.3f}", f"{first_cpu:.3f}", note))
            rows.append((f"    again, {method}", f"{statistics.median(warm):.3f}", "", f"median (min {min(warm):.3f}) of {len(warm)} calls"))
            if method == "gradient":
                chosen = result.best.architecture
                (tmp_path / "architecture.json").write_text(json.dumps(chosen.to_json()))

        common = ["--data", str(data), "--label", "label"]
        seconds = run_tanas(["search", *common, "--out", str(tmp_path / "search"), "--evaluator", str(evaluator_dir)])
        rows.append(("`tanas search` process", f"{seconds:.1f}", "", "start-up + all of the above, gradient"))
        seconds = run_tanas(["train", *common, "--architecture", str(tmp_path / "architecture.json"), "--out", str(tmp_path / "model")])
        metrics = json.loads((tmp_path / "model" / "metrics.jsonl").read_text().splitlines()[0])
        note = f"{chosen.describe()}; fit {metrics['train_seconds']:.1f} s, validation accuracy {metrics['eval_accuracy']:.3f}"
        rows.append(("(d) `tanas train` process", f"{seconds:.1f}", "", note))

    width = max(len(row[0]) for row in rows)
    print(f"\n{'step':<{width}}  {'wall s':>7}  {'CPU s':>6}  note")
    for step, wall, cpu, note in rows:
        print(f"{step:<{width}}  {wall:>7}  {cpu:>6}  {note}")
    slowest = max(search_seconds.values())
    verdict = "meets" if slowest < SEARCH_TARGET_SECONDS else "MISSES"
    print(f"\nsearch step (first call, slowest method): {slowest:.3f} s -> {verdict} the {SEARCH_TARGET_SECONDS:.0f} s target")


if __name__ == "__main__":
    main()
