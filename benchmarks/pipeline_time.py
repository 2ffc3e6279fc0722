"""Wall time of each component of the online pipeline on a 10k-row CSV.

Builds a 10,000-row CSV from examples/chile.csv (rows drawn with replacement, seeded), runs
`tanas run` on it in a temporary directory, and reads each component's execution time from the
run's ML Metadata (from the execution's creation to its last update: the component's own work,
inputs resolution and publishing included). Then runs it again to show what a cached re-run costs.

    .venv/bin/python benchmarks/pipeline_time.py [--rows 10000] [--evaluator DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

from tfx_tanas.cli import main  # noqa: E402
from tfx_tanas.pipelines.commands import METADATA_FILE  # noqa: E402
from tfx_tanas.pipelines.metadata import NodeRun, latest_run, open_store  # noqa: E402

CHILE_CSV = Path(__file__).resolve().parent.parent / "examples" / "chile.csv"
LABEL = "region"


def timed_run(data: Path, out: Path, evaluator: str | None) -> tuple[float, list[NodeRun]]:
    argv = ["run", "--data", str(data), "--label", LABEL, "--out", str(out)]
    if evaluator:
        argv += ["--evaluator", evaluator]
    started = time.perf_counter()
    if main(argv) != 0:
        raise SystemExit("tanas run failed")
    return time.perf_counter() - started, latest_run(open_store(str(out / METADATA_FILE)))


def print_table(title: str, seconds: float, runs: list[NodeRun]) -> None:
    print(f"\n{title}: {seconds:.1f} s wall time for `tanas run` (process start-up excluded)")
    print(f"{'component':<20} {'state':<8} {'seconds':>8}")
    for run in runs:
        print(f"{run.node:<20} {run.state:<8} {run.seconds:>8.1f}")
    print(f"{'sum of components':<29} {sum(r.seconds for r in runs):>8.1f}")


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--evaluator", help="evaluator directory (default: the bundled one)")
    parser.add_argument("--keep", help="run in this directory and keep it (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tanas-pipeline-time-") as temporary:
        root = Path(args.keep or temporary)
        root.mkdir(parents=True, exist_ok=True)
        data = root / "data.csv"
        pd.read_csv(CHILE_CSV).sample(args.rows, replace=True, random_state=0).to_csv(data, index=False)
        print(f"{args.rows} rows, {os.cpu_count()} CPUs, data {data}")
        seconds, runs = timed_run(data, root / "run", args.evaluator)
        print_table("first run", seconds, runs)
        seconds, runs = timed_run(data, root / "run", args.evaluator)
        print_table("second run (cache)", seconds, runs)


if __name__ == "__main__":
    main_benchmark()
