"""Memory of a records-generation worker over many tasks, with and without child processes.

TensorFlow keeps part of every stacked training a process runs (about 0.35 GB per task of the
prior, not returned by ``keras.backend.clear_session()``, ``gc.collect()`` or ``malloc_trim``), so
a Beam worker that trains hundreds of tasks grows until the machine runs out of memory. Generation
therefore trains in a child process replaced every ``elements_per_process`` tasks
(:data:`~tfx_tanas.options.ELEMENTS_PER_PROCESS`). This runs :func:`~tfx_tanas.meta_training.generate_records`
on the same tasks of the prior, once training in the worker's own process and once in children,
each in a fresh Python process that is the worker (the in-process DirectRunner), sampling the
resident memory of that process and its children every half second, and prints the memory once
TensorFlow is imported, the peak and the wall time of each.

    .venv/bin/python benchmarks/generation_memory.py [--tasks 6] [--elements-per-process 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import psutil  # noqa: E402

from tfx_tanas.meta_training import generate_records  # noqa: E402
from tfx_tanas.options import PRIOR_ARCHITECTURES_PER_TASK, PRIOR_MAX_ROWS  # noqa: E402
from tfx_tanas.protocol import PROTOCOL_V2  # noqa: E402
from tfx_tanas.search_space import DEFAULT_SPACE  # noqa: E402
from tfx_tanas.tasks import prior_tasks  # noqa: E402


class PeakMemory:
    """Largest resident memory of this process plus its children while the block runs."""

    def __init__(self) -> None:
        self.start_gb = self.peak_gb = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        self.start_gb = self.peak_gb = _resident_gb()

        def sample() -> None:
            while not self._stop.wait(0.5):
                self.peak_gb = max(self.peak_gb, _resident_gb())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _resident_gb() -> float:
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:  # a child that just ended
            pass
    return total / 2**30


def measure(tasks: int, elements_per_process: int | None) -> dict[str, float]:
    """Generation on the first ``tasks`` of the prior in this process, with its memory and time."""
    with tempfile.TemporaryDirectory() as scratch, PeakMemory() as memory:
        started = time.perf_counter()
        summary = generate_records(
            prior_tasks(tasks, seed=0, max_rows=PRIOR_MAX_ROWS), Path(scratch) / "records.jsonl", DEFAULT_SPACE,
            archs_per_task=PRIOR_ARCHITECTURES_PER_TASK, protocol=PROTOCOL_V2, measurements=1, elements_per_process=elements_per_process,
        )
        seconds = time.perf_counter() - started
    return {"trainings": summary.records_written, "start_gb": memory.start_gb, "peak_gb": memory.peak_gb, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6, help="tasks of the prior (its draws of at most 1000 rows)")
    parser.add_argument("--elements-per-process", type=int, default=2)
    parser.add_argument("--one", choices=["own", "children"], help=argparse.SUPPRESS)  # a variant, in a fresh process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.tasks, None if args.one == "own" else args.elements_per_process)))
        return
    print(f"| {args.tasks} tasks of the prior, trained | trainings | resident memory after import / peak (GB) | wall s |")
    print("| --- | ---: | ---: | ---: |")
    for variant, label in (("own", "in the worker's own process"), ("children", f"in children of {args.elements_per_process} tasks")):
        argv = [sys.executable, __file__, "--tasks", str(args.tasks), "--elements-per-process", str(args.elements_per_process), "--one", variant]
        result = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        print(f"| {label} | {result['trainings']} | {result['start_gb']:.2f} / {result['peak_gb']:.2f} | {result['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
