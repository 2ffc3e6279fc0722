"""Peak memory and wall time of `tanas search` and `tanas train` as the table grows.

Writes CSVs of 50 mixed columns (40 numeric with missing values, 10 categorical) at each row count
to a temporary directory and runs the installed `tanas` on each as a child process, one at a time;
peak memory is the child's maximum resident set size (GNU time). Prints a table.

    .venv/bin/python benchmarks/scale.py [--rows 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tfx_tanas.tasks import make_synthetic

TANAS = Path(sys.executable).with_name("tanas")


def table(rows: int, path: Path) -> None:
    frame = make_synthetic(
        family="clusters", rows=rows, features=50, classes=4, imbalance=0.5, label_noise=0.05,
        categorical_fraction=0.2, missing_fraction=0.05, seed=rows,
    )
    frame.to_csv(path, index=False)


def child(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one tanas command, measured by GNU time."""
    started = time.perf_counter()
    finished = subprocess.run(["/usr/bin/time", "-f", "peak-kib %M", str(TANAS), *argv], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    lines = finished.stderr.strip().splitlines()
    if finished.returncode != 0:
        raise SystemExit(f"tanas {argv[0]} failed: {lines[-2] if len(lines) > 1 else lines}")
    [peak] = [int(line.split()[1]) for line in lines if line.startswith("peak-kib ")]
    return seconds, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    print("| rows | CSV MiB | search s | search peak MiB | train s | train peak MiB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as directory:
        for rows in sorted(args.rows):  # ascending: the children's peak so far is this size's peak
            csv = Path(directory) / f"rows{rows}.csv"
            table(rows, csv)
            search = child(["search", "--data", str(csv), "--label", "label", "--out", f"{directory}/search{rows}"])
            train = child(
                ["train", "--data", str(csv), "--label", "label", "--architecture", f"{directory}/search{rows}/architecture.json",
                 "--out", f"{directory}/train{rows}"]
            )
            print(f"| {rows} | {csv.stat().st_size / 2**20:.0f} | {search[0]:.1f} | {search[1]:.0f} | {train[0]:.1f} | {train[1]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
