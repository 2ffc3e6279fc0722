"""Does the zero-shot pick lose where it leaves the measured networks? The gradient search's pick
against the evaluator's fallback and its best among the 34 networks every meta-training task measured.

Most of the search's leaders are networks no meta-training task measured (the search goes where the
evaluator predicts best, which can be where it only extrapolates). This trains, on held-out real
tasks (the evaluator refit without their fold, as in ``zero_shot.py``, with the same 60/20/20
splits), five choices:

* ``tanas``: the gradient search's pick (what ``tanas search`` writes): its leader, unless that
  leads the evaluator's fallback by no more than the evaluator's fallback margin;
* ``tanas-leader``: the search's leader, the best by the evaluator's pick rule (margin 0);
* ``tanas-shared``: the evaluator's best (by its pick rule) among the shared networks, the 10
  references and the 24 of the portfolio, which every meta-training task measured;
* ``shared-best-on-average``: the shared network with the best mean score on the training tasks
  (the evaluator's fallback);
* ``default-mlp``: two 128-unit ReLU layers, Adam 1e-3.

and prints test accuracies, paired differences with standard errors, how many leaders were shared
networks, and what other fallback margins would have scored. ``--offset`` takes other held-out
tables than a first run's (``--offset 10 --limit 10``: the 11th to 20th of each fold), to check a
margin chosen on one set on another.

    python benchmarks/pick_support.py --records tfx_tanas/assets/records.jsonl.gz --limit 6 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from zero_shot import default_mlp, evaluator_config, held_out_splits  # noqa: E402

from tfx_tanas.evaluator import ArchitectureEvaluator  # noqa: E402
from tfx_tanas.meta_evaluation import assign_folds, best_on_average  # noqa: E402
from tfx_tanas.meta_training import reference_architectures  # noqa: E402
from tfx_tanas.protocol import protocol_for  # noqa: E402
from tfx_tanas.records import average_over_seeds, read_records  # noqa: E402
from tfx_tanas.search_space import Architecture  # noqa: E402
from tfx_tanas.tasks import REAL_SOURCES, task_from_id  # noqa: E402
from tfx_tanas.training import accuracy, train_architectures  # noqa: E402
from tfx_tanas.workflows import choose_architecture, describe_task, train_evaluator  # noqa: E402

METHODS = ("tanas", "tanas-leader", "tanas-shared", "shared-best-on-average", "default-mlp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default=str(Path(__file__).parents[1] / "tfx_tanas" / "assets" / "records.jsonl.gz"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--limit", type=int, help="only N held-out tasks of each fold")
    parser.add_argument("--offset", type=int, default=0, help="skip the first N held-out tasks of each fold")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    records = average_over_seeds(read_records(args.records))
    space = records[0].architecture.space
    shared = {a.key: a for a in reference_architectures(space) + space.portfolio()}
    real = sorted({r.task for r in records if r.task.split("/")[0] in REAL_SOURCES})
    fold_of = assign_folds(real, args.folds, args.seed)
    config = evaluator_config(None)
    rows, started = [], time.perf_counter()
    for fold in range(args.folds):
        heldout = [t for t in real if fold_of[t] == fold][args.offset :][: args.limit]
        training = [r for r in records if fold_of.get(r.task) != fold]
        evaluator = train_evaluator(training, config)
        on_average = shared[best_on_average(training)]  # measured on 90% of the tasks: a shared network
        assert evaluator.fallback is not None and evaluator.fallback.key == on_average.key
        for index, task_id in enumerate(heldout, start=1):
            row = evaluate_task(task_id, evaluator, shared, on_average, args.seed, args.repeats)
            rows.append(row)
            elapsed = time.perf_counter() - started
            print(f"fold {fold + 1} [{index}/{len(heldout)}] {task_id}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METHODS)
                  + f"; leader {'shared' if row['leader is shared'] else 'novel'}, predicted lead {100 * row['predicted lead']:.2f} points;"
                  + f" elapsed {elapsed:.0f}s", flush=True)
    report(pd.DataFrame(rows))


def evaluate_task(task_id: str, evaluator: ArchitectureEvaluator, shared: dict[str, Architecture], on_average: Architecture, seed: int, repeats: int) -> dict:
    task = task_from_id(task_id)
    protocol = protocol_for(evaluator.space.version)
    _, user_rows, prepared, test = held_out_splits(task, seed)
    meta = describe_task(user_rows, task.label)
    choice = choose_architecture(meta, evaluator, seed=seed)
    candidates = list(shared.values())
    predicted = evaluator.predict(meta.vector(evaluator.meta_feature_names), np.stack([a.to_vector() for a in candidates]), meta.sample)
    rule = predicted.mean - evaluator.config.risk_aversion * predicted.std
    chosen = {
        "tanas": choice.architecture,
        "tanas-leader": choice.result.leader.architecture,
        "tanas-shared": candidates[int(np.argmax(rule))],
        "shared-best-on-average": on_average,
        "default-mlp": default_mlp(evaluator.space),
    }
    unique = list({a.key: a for a in chosen.values()}.values())
    tested = np.zeros((repeats, len(unique)))
    for k in range(repeats):
        for i, result in enumerate(train_architectures(prepared, unique, protocol, seed + k, group_size=len(unique), keep_networks=True)):
            tested[k, i] = accuracy(result, test) if result.ok else 0.0
    position = {a.key: i for i, a in enumerate(unique)}
    row = {method: float(tested[:, position[arch.key]].mean()) for method, arch in chosen.items()}
    return {"task": task_id, **row, "leader is shared": choice.result.leader.architecture.key in shared, "predicted lead": choice.result.fallback_lead}


def report(table: pd.DataFrame) -> None:
    print(f"\n{len(table)} held-out real tasks; the search's leader is a shared network on {int(table['leader is shared'].sum())}\n")
    print("| method | mean test accuracy |\n| --- | ---: |")
    for method in METHODS:
        print(f"| {method} | {table[method].mean():.4f} |")
    print("\n| difference | mean (points) | standard error | wins / losses / ties |\n| --- | ---: | ---: | --- |")
    novel = table[~table["leader is shared"]]
    for name, part, left, right in (
        ("tanas - shared-best-on-average", table, "tanas", "shared-best-on-average"),
        ("tanas-leader - tanas-shared", table, "tanas-leader", "tanas-shared"),
        ("tanas-leader - tanas-shared, novel leaders only", novel, "tanas-leader", "tanas-shared"),
        ("tanas-leader - shared-best-on-average", table, "tanas-leader", "shared-best-on-average"),
        ("tanas-shared - shared-best-on-average", table, "tanas-shared", "shared-best-on-average"),
        ("tanas - default-mlp", table, "tanas", "default-mlp"),
    ):
        difference = 100 * (part[left] - part[right])
        wins, losses = int((difference > 0.05).sum()), int((difference < -0.05).sum())
        print(f"| {name} | {difference.mean():+.2f} | {difference.std() / np.sqrt(max(len(difference), 1)):.2f} | "
              f"{wins} / {losses} / {len(difference) - wins - losses} |")
    print("\nother fallback margins: the search's leader only where the evaluator predicts it ahead of the fallback "
          "(shared-best-on-average) by more than the margin (its pick rule's lower bounds):\n")
    print("| margin (points) | leaders kept | mean test accuracy | minus shared-best-on-average (points) |\n| ---: | ---: | ---: | ---: |")
    for margin in (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0):
        kept = table["predicted lead"] > margin / 100
        accuracy = np.where(kept, table["tanas-leader"], table["shared-best-on-average"])
        difference = 100 * (accuracy - table["shared-best-on-average"])
        print(f"| {margin:g} | {int(kept.sum())} | {accuracy.mean():.4f} | {difference.mean():+.2f} +/- {difference.std() / np.sqrt(len(table)):.2f} |")


if __name__ == "__main__":
    main()
