"""Memory of a records-generation worker over many tasks, with and without child processes.

TensorFlow keeps part of every stacked training a process runs (about 0.35 GB per task of the
prior, not returned by ``keras.backend.clear_session()``, ``gc.collect()`` or ``malloc_trim``), so
a Beam worker that trains hundreds of tasks grows until the machine runs out of memory. Generation
therefore trains in a child process replaced every ``elements_per_process`` tasks
(:data:`~tfx_tanas.options.ELEMENTS_PER_PROCESS`). This runs :func:`~tfx_tanas.meta_training.generate_records`
on the same tasks of the prior in this process (the in-process DirectRunner, so this process is
the worker), first training in the process itself, then in children, sampling the resident memory
of the process and its children every half second, and prints the peak and the wall time of each.

    .venv/bin/python benchmarks/generation_memory.py [--tasks 6] [--elements-per-process 3]
"""

from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6, help="tasks of the prior (its draws of at most 1000 rows)")
    parser.add_argument("--elements-per-process", type=int, default=3)
    args = parser.parse_args()
    tasks = prior_tasks(args.tasks, seed=0, max_rows=PRIOR_MAX_ROWS)
    rows = []
    # children first: what the worker's own process keeps would otherwise raise the second figure
    for label, per_process in ((f"in children of {args.elements_per_process} tasks", args.elements_per_process), ("in the worker's process", None)):
        with tempfile.TemporaryDirectory() as scratch, PeakMemory() as memory:
            started = time.perf_counter()
            summary = generate_records(
                tasks, Path(scratch) / "records.jsonl", DEFAULT_SPACE, archs_per_task=PRIOR_ARCHITECTURES_PER_TASK,
                protocol=PROTOCOL_V2, measurements=1, elements_per_process=per_process,
            )
            seconds = time.perf_counter() - started
        rows.append((label, summary.records_written, memory.start_gb, memory.peak_gb, seconds))
        print(f"{label}: {summary.records_written} trainings, {memory.start_gb:.2f} GB at the start, peak {memory.peak_gb:.2f} GB, {seconds:.0f} s", flush=True)
    print()
    print(f"| {args.tasks} tasks of the prior, trained | trainings | resident memory at the start / peak (GB) | wall s |")
    print("| --- | ---: | ---: | ---: |")
    for label, trainings, start, peak, seconds in rows:
        print(f"| {label} | {trainings} | {start:.2f} / {peak:.2f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
