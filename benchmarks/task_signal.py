"""How much could knowing the task gain at all? A model-free ceiling on task-awareness.

Among the networks trained on every task (the random references and the strong portfolio,
:meth:`tfx_tanas.search_space.SearchSpace.portfolio`), each real task in turn is held out; for it, the
network with the best mean within-task standing over its ``k`` nearest real tasks in meta-feature
space (z-scored features, Euclidean) is compared with the best-on-average network of the other
tasks (``k`` = all) and with the task's own best of the set (an oracle). If no ``k`` beats the
best on average, the meta-features do not say which of these networks suits which task, and no
evaluator trained on them can either. Prints a table per network set.

A learned selector gets the same test: random forests mapping meta-features to each shared
network's within-task standing, trained (5 folds over the real tasks) on the other real tasks, or
on every other task of the records (the synthetic prior's too, as the evaluator is), pick the
network of highest predicted standing (algorithm selection, as auto-sklearn 2.0 selects among its
portfolio).

And the evaluator's own test with another model class: gradient-boosted trees mapping (meta-features,
architecture encoding) to the within-task standing, held out over the real tasks exactly as
``benchmarks/evaluator_cv.py --hold-out real`` holds out the evaluator network, pick among each held-out
task's measured networks. Fitted on the encoding alone, with the meta-features but the
fine-structure pair (``numeric_neighbour_agreement_max``, ``numeric_fine_structure_max``: meta-feature
version 3), and with all of them: what each gains over the one before is task signal a model can
read from these records.

    python benchmarks/task_signal.py --records tfx_tanas/assets/records.jsonl.gz
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfx_tanas.evaluator.fit import within_task_standing  # noqa: E402
from tfx_tanas.meta_evaluation import assign_folds, best_on_average, within_task_figures  # noqa: E402
from tfx_tanas.meta_features import META_FEATURE_NAMES  # noqa: E402
from tfx_tanas.meta_training import reference_architectures  # noqa: E402
from tfx_tanas.records import Record, average_over_seeds, read_records, to_arrays  # noqa: E402
from tfx_tanas.search_space import DEFAULT_SPACE  # noqa: E402
from tfx_tanas.tasks import REAL_SOURCES  # noqa: E402

NEIGHBOURS = (5, 10, 20, 40, 80)
SELECTOR_FOLDS = 5


def standing_by_task(scores: np.ndarray) -> np.ndarray:
    """Each row's (task's) scores as normal quantiles of their ranks, the evaluator's "rank" standing."""
    tasks = np.repeat(np.arange(len(scores)), scores.shape[1])
    return within_task_standing(scores.ravel(), tasks, "rank").reshape(scores.shape)


def held_out_gains(scores: np.ndarray, best: np.ndarray, meta: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per task: regret (points) of the best-on-average pick and of the k-nearest-tasks pick."""
    standing = standing_by_task(scores)
    regret = 100.0 * (best[:, None] - scores)
    z = (meta - meta.mean(0)) / (meta.std(0) + 1e-9)
    blind, aware = [], []
    for task in range(len(scores)):
        others = np.delete(np.arange(len(scores)), task)
        nearest = others[np.argsort(((z[others] - z[task]) ** 2).sum(1))[:k]]
        blind.append(regret[task, np.argmax(standing[others].mean(0))])
        aware.append(regret[task, np.argmax(standing[nearest].mean(0))])
    return np.array(blind), np.array(aware)


def selector_gains(scores: np.ndarray, best: np.ndarray, meta: np.ndarray, real: np.ndarray) -> dict[str, np.ndarray]:
    """Per real task: the regret of best-on-average (over every task outside the fold) minus the
    regret of a random-forest selector's pick, the selector trained on the other real tasks or on
    every other task."""
    from sklearn.ensemble import RandomForestRegressor

    standing, regret = standing_by_task(scores), 100.0 * (best[:, None] - scores)
    meta = np.nan_to_num(meta, posinf=0.0, neginf=0.0)
    real_tasks = np.flatnonzero(real)
    fold = np.random.default_rng(0).permutation(len(real_tasks)) % SELECTOR_FOLDS
    gains: dict[str, list[float]] = {"other real tasks": [], "every other task": []}
    for k in range(SELECTOR_FOLDS):
        held = real_tasks[fold == k]
        blind = np.argmax(standing[np.setdiff1d(np.arange(len(scores)), held)].mean(0))
        for name, training in (("other real tasks", np.setdiff1d(real_tasks, held)), ("every other task", np.setdiff1d(np.arange(len(scores)), held))):
            forest = RandomForestRegressor(300, min_samples_leaf=5, max_features=0.3, random_state=0).fit(meta[training], standing[training])
            picks = forest.predict(meta[held]).argmax(1)
            gains[name] += list(regret[held, blind] - regret[held, picks])
    return {name: np.array(values) for name, values in gains.items()}


FINE_STRUCTURE = ("numeric_neighbour_agreement_max", "numeric_fine_structure_max")
TREE_INPUTS = {
    "architecture only": (),
    "meta-features without the fine structure + architecture": tuple(n for n in META_FEATURE_NAMES if n not in FINE_STRUCTURE),
    "meta-features + architecture": META_FEATURE_NAMES,
}


def boosted_tree_figures(records: list[Record], meta_features: tuple[str, ...], seed: int) -> tuple[float, float, np.ndarray]:
    """Leave-task-out over 5 folds of the real tasks (:func:`tfx_tanas.meta_evaluation.assign_folds`, as
    ``leave_task_out`` assigns them for ``seed``; synthetic and prior tasks always train): within-task Spearman, median top-1
    regret, and per real task the pick's gain (points) over the best-on-average network."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    arrays = to_arrays(records)
    keys = np.array([r.architecture.key for r in records])
    discrete = np.array([r.architecture.is_discrete for r in records])
    columns = [META_FEATURE_NAMES.index(name) for name in meta_features]
    inputs = np.hstack([np.nan_to_num(arrays.meta_features[:, columns], posinf=0.0, neginf=0.0), arrays.encodings])
    standing = within_task_standing(arrays.scores.astype(np.float64), arrays.groups, "rank")
    real = np.array([g.split("/")[0] in REAL_SOURCES for g in arrays.groups])
    tasks = np.unique(arrays.groups[real])
    fold_of = assign_folds(tasks, SELECTOR_FOLDS, seed)
    fold = np.array([fold_of.get(t, -1) for t in arrays.groups])  # -1: always in training
    predicted, baseline_picks = np.full(len(records), -np.inf), np.zeros(len(records), dtype=bool)
    for k in range(SELECTOR_FOLDS):
        training, held = fold != k, fold == k
        model = HistGradientBoostingRegressor(max_iter=400, learning_rate=0.05, min_samples_leaf=40, random_state=0)
        predicted[held] = model.fit(inputs[training], standing[training]).predict(inputs[held])
        baseline_picks |= held & (keys == best_on_average([r for r, f in zip(records, fold) if f != k]))
    rows = real & discrete
    figures = within_task_figures(arrays.groups[rows], predicted[rows], arrays.scores[rows], baseline_picks[rows])
    gains = np.array([f.best_on_average_regret_points - f.regret_points for f in figures])
    spearman = float(np.nanmean([f.spearman for f in figures]))
    return spearman, float(np.median([f.regret_points for f in figures])), gains[~np.isnan(gains)]


def print_largest_losses(records: list[Record], by_task: dict[str, dict[str, float]], meta: dict[str, np.ndarray], rows: int = 12) -> None:
    """The real tasks where the best-on-average network trails the task's best recorded network
    most, with the meta-features that should tell them apart."""
    fallback = best_on_average(records)
    real = [t for t in by_task if t.split("/")[0] in REAL_SOURCES and fallback in by_task[t]]
    best_score = {t: max(by_task[t].values()) for t in real}
    loss = {t: 100.0 * (best_score[t] - by_task[t][fallback]) for t in real}
    best = {r.task: r.architecture for r in records if r.task in loss and r.score == best_score[r.task]}
    shown = (*FINE_STRUCTURE, "landmark_linear_gain")
    print(f"the best-on-average network against each real task's best recorded network: mean {np.mean(list(loss.values())):.2f} points, median {np.median(list(loss.values())):.2f}; the largest losses:\n")
    print("| task | points lost | " + " | ".join(shown) + " | the task's best network |")
    print("| --- | ---: | " + "---: | " * len(shown) + "--- |")
    for task in sorted(loss, key=loss.get, reverse=True)[:rows]:
        figures = " | ".join(f"{meta[task][META_FEATURE_NAMES.index(name)]:.2f}" for name in shown)
        print(f"| {task} | {loss[task]:.1f} | {figures} | {best[task].describe()} |")
    print()


def standard_error_line(points: np.ndarray) -> str:
    return f"{points.mean():+.2f} +/- {points.std(ddof=1) / np.sqrt(len(points)):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default=str(Path(__file__).parents[1] / "tfx_tanas" / "assets" / "records.jsonl.gz"))
    parser.add_argument("--fold-seeds", default="0,1,2", help="comma-separated fold assignments of the boosted-tree test")
    args = parser.parse_args()
    records = average_over_seeds(read_records(args.records))
    print("boosted trees as the evaluator, held out over 5 folds of the real tasks (pick among each task's measured networks):\n")
    print("| inputs | fold seed | within-task Spearman | median top-1 regret | pick minus best-on-average (+/- s.e.) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    fine_structure_gains = []
    for seed in (int(value) for value in args.fold_seeds.split(",")):
        gains = {}
        for inputs, names in TREE_INPUTS.items():
            spearman, regret, gains[inputs] = boosted_tree_figures(records, names, seed)
            print(f"| {inputs} | {seed} | {spearman:.3f} | {regret:.2f} | {standard_error_line(gains[inputs])} |", flush=True)
        added = gains["meta-features + architecture"] - gains["meta-features without the fine structure + architecture"]
        fine_structure_gains.append(f"fold seed {seed}: {standard_error_line(added)}")
    print("\nwhat the fine-structure pair adds to the pick, paired over the real tasks: " + "; ".join(fine_structure_gains) + "\n")
    by_task: dict[str, dict[str, float]] = defaultdict(dict)
    meta: dict[str, np.ndarray] = {}
    for record in records:
        by_task[record.task][record.architecture.key] = record.score
        meta[record.task] = record.meta_features.vector(META_FEATURE_NAMES)
    print_largest_losses(records, by_task, meta)
    sets = {
        "references (random)": reference_architectures(DEFAULT_SPACE),
        "portfolio (strong)": DEFAULT_SPACE.portfolio(),
    }
    sets["references + portfolio"] = sets["references (random)"] + sets["portfolio (strong)"]
    for name, archs in sets.items():
        keys = list(dict.fromkeys(a.key for a in archs))
        tasks = [t for t in by_task if not t.startswith(("synthetic/", "prior/")) and all(k in by_task[t] for k in keys)]
        if len(tasks) < 10:
            print(f"{name}: measured on {len(tasks)} real tasks only, skipped")
            continue
        scores = np.array([[by_task[t][k] for k in keys] for t in tasks])
        best = np.array([max(by_task[t].values()) for t in tasks])  # best of every network the task trained
        blind, _ = held_out_gains(scores, best, np.array([meta[t] for t in tasks]), k=len(tasks))
        oracle = 100.0 * (best[:, None] - scores).min(1)
        print(f"\n{name}: {len(keys)} networks on {len(tasks)} real tasks; regret (points to the task's best network)")
        print(f"best-on-average {blind.mean():.2f}, oracle of the set {oracle.mean():.2f}\n")
        print("| k nearest tasks | regret | gain over best-on-average (+/- s.e.) |")
        print("| ---: | ---: | ---: |")
        for k in NEIGHBOURS:
            _, aware = held_out_gains(scores, best, np.array([meta[t] for t in tasks]), k)
            gain = blind - aware
            print(f"| {k} | {aware.mean():.2f} | {gain.mean():+.2f} +/- {gain.std(ddof=1) / np.sqrt(len(gain)):.2f} |")
        every = [t for t in by_task if all(k in by_task[t] for k in keys)]
        real = np.array([not t.startswith(("synthetic/", "prior/")) for t in every])
        gains = selector_gains(
            np.array([[by_task[t][k] for k in keys] for t in every]),
            np.array([max(by_task[t].values()) for t in every]),
            np.array([meta[t] for t in every]),
            real,
        )
        print(f"\nrandom-forest selector ({SELECTOR_FOLDS} folds over the real tasks; {len(every)} tasks measured all {len(keys)}):")
        for name, gain in gains.items():
            print(f"trained on {name}: gain over best-on-average {gain.mean():+.2f} +/- {gain.std(ddof=1) / np.sqrt(len(gain)):.2f}")


if __name__ == "__main__":
    main()
