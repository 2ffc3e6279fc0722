"""Meta-training throughput of `tanas build-evaluator`'s Beam generation with 1 and 2 workers.

Runs :func:`tfx_tanas.meta_training.generate_records` on the same synthetic tasks twice, into fresh
records files, on the DirectRunner in multi-processing mode with ``--direct_num_workers`` 1 and
then 2, and prints (task, architecture) trainings per second for each and the speed-up. Run it on
an otherwise idle machine: the figure is the machine's, not the code's alone.

    .venv/bin/python benchmarks/generation_workers.py [--tasks 8] [--archs 20] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfx_tanas.meta_training import generate_records  # noqa: E402
from tfx_tanas.protocol import PROTOCOL_V2  # noqa: E402
from tfx_tanas.search_space import DEFAULT_SPACE  # noqa: E402
from tfx_tanas.tasks import synthetic_tasks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    tasks = synthetic_tasks(args.tasks, seed=11)
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            summary = generate_records(
                tasks, Path(scratch) / "records.jsonl", DEFAULT_SPACE, archs_per_task=args.archs, protocol=PROTOCOL_V2, measurements=1,
                beam_pipeline_args=["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"],
            )
            seconds = time.perf_counter() - started
        rows.append((workers, summary.records_written, seconds))
        print(f"{workers} worker(s): {summary.records_written} trainings in {seconds:.1f}s", flush=True)
    print()
    print("| workers | trainings | wall s | trainings/s | speed-up |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    base = rows[0][1] / rows[0][2]
    for workers, trainings, seconds in rows:
        print(f"| {workers} | {trainings} | {seconds:.1f} | {trainings / seconds:.2f} | {trainings / seconds / base:.2f}x |")


if __name__ == "__main__":
    main()
