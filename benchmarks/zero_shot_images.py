"""Image architecture choice on tasks of families the image evaluator never saw (claim 15).

The image tasks of the records are grouped by family (digits, shapes, stripes, counts, textures,
hues; :func:`tfx_tanas.meta_evaluation.task_family`); each family in turn is held out whole, the
evaluator refit on the others, and every held-out task is split 60/20/20 (train / validation /
test, seeded, stratified). Every method's architectures train on the 60% under the image protocol;
a method choosing among several picks by validation accuracy:

* ``tanas``: the zero-shot pick (gradient search on the image meta-features of the 80% a user has);
* ``tanas-top3``: its 3 best distinct candidates trained, the best on validation kept;
* ``best-on-average``: the reference architecture with the best mean score on the training tasks;
* ``kerastuner-10``: KerasTuner RandomSearch, 10 trials over the same discrete space;
* ``random``: mean over the 10 reference architectures; ``oracle-20``: the best test accuracy of
  20 random architectures (an optimistic upper estimate).

Paired differences come with standard errors. Writes DIR/zero_shot_images.csv, .md and .png.

    python benchmarks/zero_shot_images.py --records tfx_tanas/assets/image_records.jsonl.gz --out out/zero_shot_images [--limit 2] [--resume]
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
from zero_shot import compiled_like_the_protocol, kerastuner_architecture  # noqa: E402  (benchmarks/, the script's own folder)

from tfx_tanas.data import stratified_split  # noqa: E402
from tfx_tanas.evaluator import EvaluatorConfig  # noqa: E402
from tfx_tanas.image_data import ImageSet  # noqa: E402
from tfx_tanas.image_network import build_image_network  # noqa: E402
from tfx_tanas.image_tasks import ImageTask  # noqa: E402
from tfx_tanas.image_training import train_image_architectures  # noqa: E402
from tfx_tanas.meta_evaluation import best_on_average, task_family  # noqa: E402
from tfx_tanas.meta_training import reference_architectures  # noqa: E402
from tfx_tanas.protocol import IMAGE_PROTOCOL  # noqa: E402
from tfx_tanas.records import average_over_seeds, read_records  # noqa: E402
from tfx_tanas.search_space import Architecture, SearchSpace, sample_architectures  # noqa: E402
from tfx_tanas.workflows import choose_architecture, describe_images, train_evaluator  # noqa: E402

PICK = "tanas"
METHODS = (PICK, "tanas-top3", "best-on-average", "kerastuner-10", "random", "oracle-20")
TIMED = (PICK, "tanas-top3", "kerastuner-10")
SOLVED = 0.99  # a task where every method reaches this dilutes every difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default=str(Path(__file__).parents[1] / "tfx_tanas" / "assets" / "image_records.jsonl.gz"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, help="only the first N held-out tasks of each family (a quick run)")
    parser.add_argument("--kt-trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="keep the tasks already in DIR/zero_shot_images.csv")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = average_over_seeds(read_records(args.records))
    space = records[0].architecture.space
    shipped = Path(__file__).parents[1] / "tfx_tanas" / "assets" / "image_evaluator" / "evaluator.json"
    config = EvaluatorConfig.from_dict(json.loads(shipped.read_text())["config"]) if shipped.exists() else EvaluatorConfig()
    families = sorted({task_family(r.task) for r in records})
    done = out / "zero_shot_images.csv"
    rows = pd.read_csv(done).to_dict("records") if args.resume and done.exists() else []
    finished, started = {row["task"] for row in rows}, time.perf_counter()
    for number, family in enumerate(families, start=1):
        heldout = [t for t in sorted({r.task for r in records if task_family(r.task) == family})[: args.limit] if t not in finished]
        if not heldout:
            continue
        training = [r for r in records if task_family(r.task) != family]
        print(f"family {number}/{len(families)} {family}: evaluator on {len({r.task for r in training})} tasks, {len(heldout)} held out", flush=True)
        evaluator = train_evaluator(training, config)
        blind = next(a for a in reference_architectures(space) if a.key == best_on_average(training))
        for index, task_id in enumerate(heldout, start=1):
            row = {"family": family, **evaluate_task(task_id, evaluator, space, blind, args.kt_trials, args.seed)}
            rows.append(row)
            print(f"  [{index}/{len(heldout)}] {task_id}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METHODS) + f"; elapsed {time.perf_counter() - started:.0f}s", flush=True)
            pd.DataFrame(rows).to_csv(out / "zero_shot_images.csv", index=False)
    write_report(pd.DataFrame(rows), out)


def evaluate_task(task_id: str, evaluator, space: SearchSpace, blind: Architecture, kt_trials: int, seed: int) -> dict:
    images = ImageTask(task_id).load()
    first = stratified_split(images.labels, 0.2, seed)  # 80% a user has / 20% test
    user, test = images.subset(first.train), images.subset(first.validation)
    second = stratified_split(user.labels, 0.25, seed)
    train, validation = user.subset(second.train), user.subset(second.validation)

    started = time.perf_counter()
    choice = choose_architecture(describe_images(user, seed), evaluator, seed=seed)
    search_seconds = time.perf_counter() - started
    references = reference_architectures(space)
    groups = {
        PICK: [choice.architecture],
        "tanas-top3": [c.architecture for c in choice.result.shortlist(3)],
        "best-on-average": [blind],
        "random": references,
        "oracle-20": references + sample_architectures(space, 20 - len(references), seed + 1),
    }
    row: dict = {"task": task_id, "images": len(images.labels)}
    started = time.perf_counter()
    groups["kerastuner-10"] = [kerastuner_search(train, validation, space, kt_trials, seed)]
    row["seconds kerastuner-10"] = time.perf_counter() - started
    unique = list({a.key: a for archs in groups.values() for a in archs}.values())
    started = time.perf_counter()
    results = {r.architecture.key: r for r in train_image_architectures(train, validation, unique, IMAGE_PROTOCOL, seed, keep_networks=True)}
    per_training = (time.perf_counter() - started) / len(unique)
    row[f"seconds {PICK}"] = search_seconds + per_training
    row["seconds tanas-top3"] = search_seconds + 3 * per_training
    tested = {key: _accuracy(result.network, test) if result.ok else 0.0 for key, result in results.items()}
    for method, archs in groups.items():
        if method == "random":
            row[method] = float(np.mean([tested[a.key] for a in archs]))
        elif method == "oracle-20":
            row[method] = float(max(tested[a.key] for a in archs))
        else:
            chosen = max(archs, key=lambda a: results[a.key].score if results[a.key].ok else -1.0)
            row[method] = tested[chosen.key]
    row[f"{PICK} architecture"] = choice.architecture.describe()
    keras.backend.clear_session()
    return row


def kerastuner_search(train: ImageSet, validation: ImageSet, space: SearchSpace, trials: int, seed: int) -> Architecture:
    """KerasTuner RandomSearch over the same discrete image space (stem, depth, each block's
    baseline convolution, every knob), each trial a plain Keras fit under the protocol's budget."""
    import keras_tuner

    num_train = len(train.labels)
    batch = IMAGE_PROTOCOL.batch_size(num_train)
    evaluations, steps = IMAGE_PROTOCOL.schedule(num_train)
    epochs = max(1, evaluations * steps * batch // num_train)

    def build(hp: keras_tuner.HyperParameters) -> keras.Model:
        plan = kerastuner_architecture(hp, space).plan
        return compiled_like_the_protocol(build_image_network(plan, train.image_shape, train.num_classes), plan)

    with tempfile.TemporaryDirectory() as directory:
        tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=trials, seed=seed, directory=directory, project_name="kt")
        tuner.search(_floats(train), train.labels, validation_data=(_floats(validation), validation.labels), epochs=epochs, batch_size=batch, verbose=0)
        return kerastuner_architecture(tuner.get_best_hyperparameters(1)[0], space)


def _floats(images: ImageSet) -> np.ndarray:
    return images.images.astype(np.float32) / 255.0


def _accuracy(network: keras.Model, images: ImageSet) -> float:
    logits = network.predict(_floats(images), verbose=0, batch_size=512)
    return float((np.argmax(logits, axis=-1) == images.labels).mean())


def write_report(table: pd.DataFrame, out: Path) -> None:
    seconds = {m: table[f"seconds {m}"].mean() for m in TIMED}
    lines = [
        f"# Image architecture choice on {len(table)} held-out tasks of {table['family'].nunique()} families (each family held out whole)",
        "",
        "| method | mean test accuracy | mean wall time (s) |",
        "| --- | ---: | ---: |",
        *(f"| {m} | {table[m].mean():.4f} | {seconds[m]:.1f} |" if m in seconds else f"| {m} | {table[m].mean():.4f} | |" for m in METHODS),
        "",
        f"| {PICK} vs | mean difference (points) | standard error | wins / losses / ties |",
        "| --- | ---: | ---: | --- |",
    ]
    for method in METHODS[1:]:
        difference = 100 * (table[PICK] - table[method])
        wins, losses = int((difference > 0.05).sum()), int((difference < -0.05).sum())
        error = difference.std() / np.sqrt(len(difference)) if len(difference) > 1 else float("nan")
        lines.append(f"| {method} | {difference.mean():+.2f} | {error:.2f} | {wins} / {losses} / {len(difference) - wins - losses} |")
    unsolved = table[table[[m for m in METHODS if m != "random"]].min(axis=1) < SOLVED]  # random is a mean, not a choice
    lines += [
        "",
        f"{PICK} vs kerastuner-10: {seconds['kerastuner-10'] / seconds[PICK]:.1f}x less wall time",
        "",
        f"Without the {len(table) - len(unsolved)} tasks every method solves (all at {SOLVED} or above), {len(unsolved)} tasks:",
        "",
        f"| {PICK} vs | mean difference (points) | standard error |",
        "| --- | ---: | ---: |",
    ]
    for method in METHODS[1:]:
        difference = 100 * (unsolved[PICK] - unsolved[method])
        error = difference.std() / np.sqrt(len(difference)) if len(difference) > 1 else float("nan")
        lines.append(f"| {method} | {difference.mean():+.2f} | {error:.2f} |")
    (out / "zero_shot_images.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    axis.bar(range(len(METHODS)), [table[m].mean() for m in METHODS], color=["tab:blue", "tab:cyan"] + ["tab:gray"] * (len(METHODS) - 2))
    axis.set_xticks(range(len(METHODS)), METHODS, rotation=30, ha="right")
    axis.set_ylabel("mean test accuracy, held-out families")
    figure.tight_layout()
    figure.savefig(out / "zero_shot_images.png", dpi=110)


if __name__ == "__main__":
    main()
