"""How much of a task's architecture ranking can be predicted at all, and from what?

A yardstick for the evaluator's leave-task-out figures (``benchmarks/evaluator_cv.py``): gradient
boosted trees (fast, no tuning of ours) are fitted on the records' within-task standardized
scores from

* the architecture alone, tasks held out: a task-blind prior, the ranking every task shares;
* the architecture and the task's meta-features, tasks held out: what the evaluator attempts;
* the same, architectures held out instead: every task's other architectures were seen, so the
  model knows the task; what is left unexplained there is mostly measurement noise.

Prints the mean within-task Spearman and the median / mean top-1 regret of each, over 5 folds.

    python benchmarks/ranking_ceiling.py --records tfx_tanas/assets/records.jsonl.gz
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402

from tfx_tanas.meta_evaluation import assign_folds, within_task_figures  # noqa: E402
from tfx_tanas.records import read_records, to_arrays  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="fold assignments to average over")
    args = parser.parse_args()
    arrays = to_arrays(read_records(args.records))
    standardized = np.zeros_like(arrays.scores, dtype=float)
    for task in np.unique(arrays.groups):
        rows = arrays.groups == task
        standardized[rows] = (arrays.scores[rows] - arrays.scores[rows].mean()) / (arrays.scores[rows].std() + 1e-3)
    with_meta = np.hstack([arrays.encodings, arrays.meta_features])
    print(f"{len(arrays.scores)} architectures of {len(np.unique(arrays.groups))} tasks, {args.folds} folds x {args.repeats}\n")
    print("| inputs | held out | mean within-task Spearman | median top-1 regret (points) | mean top-1 regret |")
    print("| --- | --- | ---: | ---: | ---: |")
    for inputs, features, hold_out in (
        ("architecture", arrays.encodings, "tasks"),
        ("architecture + meta-features", with_meta, "tasks"),
        ("architecture + meta-features", with_meta, "architectures"),
    ):
        figures = []
        for repeat in range(args.repeats):
            fold = _folds(arrays.groups, args.folds, hold_out, repeat)
            predicted = np.zeros_like(standardized)
            for k in range(args.folds):
                model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, random_state=0)
                model.fit(features[fold != k], standardized[fold != k])
                predicted[fold == k] = model.predict(features[fold == k])
            tasks = within_task_figures(arrays.groups, predicted, arrays.scores)
            figures.append(
                (np.nanmean([t.spearman for t in tasks]), np.median([t.regret_points for t in tasks]), np.mean([t.regret_points for t in tasks]))
            )
        spearman, median_regret, mean_regret = np.mean(figures, axis=0)
        print(f"| {inputs} | {hold_out} | {spearman:.3f} | {median_regret:.2f} | {mean_regret:.2f} |", flush=True)


def _folds(groups: np.ndarray, folds: int, hold_out: str, seed: int) -> np.ndarray:
    if hold_out == "architectures":
        return np.random.default_rng(seed).permutation(np.arange(len(groups)) % folds)
    fold_of = assign_folds(groups, folds, seed)
    return np.array([fold_of[t] for t in groups])


if __name__ == "__main__":
    main()
