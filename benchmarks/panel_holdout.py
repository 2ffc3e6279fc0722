"""Do evaluators pick well on panel tables they never saw? Fresh draws of the prior's panel family.

Draws ``--count`` panel tables with a seed no records file used (``tasks.panel_tasks``, seed 1:
ids ``prior/panel1_*``), splits each as ``zero_shot.py`` does (60/20/20, seeded, stratified) and,
for every evaluator given, trains its zero-shot pick (``tanas search``'s choice, fallback margin
included) and its search's leader (margin 0); plus the best-on-average network of the bundled
records (the fallback). Prints test accuracies and paired differences with standard errors. An
evaluator fitted on the panel family's seed-0 draws should pick better here than one fitted
without them; this does not say how much it helps on real tables (``evaluator_cv.py --hold-out
real`` and ``zero_shot.py`` do).

    python benchmarks/panel_holdout.py --evaluator before=DIR --evaluator after=tfx_tanas/assets/evaluator --count 12
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
from zero_shot import held_out_splits  # noqa: E402

from tfx_tanas.evaluator import ArchitectureEvaluator  # noqa: E402
from tfx_tanas.meta_evaluation import best_on_average  # noqa: E402
from tfx_tanas.protocol import protocol_for  # noqa: E402
from tfx_tanas.records import average_over_seeds, read_records  # noqa: E402
from tfx_tanas.search_space import Architecture  # noqa: E402
from tfx_tanas.tasks import panel_tasks  # noqa: E402
from tfx_tanas.training import accuracy, train_architectures  # noqa: E402
from tfx_tanas.workflows import choose_architecture, describe_task  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluator", action="append", required=True, metavar="NAME=DIR", help="an evaluator to compare (repeatable)")
    parser.add_argument("--records", default=str(Path(__file__).parents[1] / "tfx_tanas" / "assets" / "records.jsonl.gz"))
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--draw-seed", type=int, default=1, help="the panel family's seed (0 made the bundled records' tables)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    evaluators = {name: ArchitectureEvaluator.load(path) for name, path in (spec.split("=", 1) for spec in args.evaluator)}
    space = next(iter(evaluators.values())).space
    protocol = protocol_for(space.version)
    records = average_over_seeds(read_records(args.records))
    fallback_key = best_on_average(records)
    fallback = next(r.architecture for r in records if r.architecture.key == fallback_key)
    rows, started = [], time.perf_counter()
    tasks = panel_tasks(args.count, args.draw_seed)
    for index, task in enumerate(tasks, start=1):
        frame, user_rows, prepared, test = held_out_splits(task, args.seed)
        meta = describe_task(user_rows, task.label)
        chosen: dict[str, Architecture] = {"best-on-average": fallback}
        for name, evaluator in evaluators.items():
            choice = choose_architecture(meta, evaluator, seed=args.seed)
            chosen[f"{name} pick"] = choice.architecture
            chosen[f"{name} leader"] = choice.result.leader.architecture
        unique = list({a.key: a for a in chosen.values()}.values())
        results = train_architectures(prepared, unique, protocol, args.seed, group_size=len(unique), keep_networks=True)
        tested = {a.key: accuracy(r, test) if r.ok else 0.0 for a, r in zip(unique, results)}
        row = {"task": task.task_id, "rows": len(frame), "fine structure": meta.values["numeric_fine_structure_max"]}
        row.update({method: tested[a.key] for method, a in chosen.items()})
        rows.append(row)
        elapsed = time.perf_counter() - started
        print(
            f"[{index}/{len(tasks)}] {task.task_id} ({len(frame)} rows): " + ", ".join(f"{m} {row[m]:.3f}" for m in chosen)
            + f"; elapsed {elapsed:.0f}s, ETA {elapsed / index * (len(tasks) - index):.0f}s",
            flush=True,
        )
    table = pd.DataFrame(rows)
    print("\n| method | mean test accuracy | minus best-on-average (points, +/- s.e.) |\n| --- | ---: | ---: |")
    for method in [c for c in table.columns if c not in ("task", "rows", "fine structure")]:
        gain = 100 * (table[method] - table["best-on-average"])
        print(f"| {method} | {table[method].mean():.4f} | {gain.mean():+.2f} +/- {gain.std(ddof=1) / np.sqrt(len(gain)):.2f} |")
    first, *others = evaluators
    for name in others:
        gain = 100 * (table[f"{name} pick"] - table[f"{first} pick"])
        print(f"\n{name} pick minus {first} pick (paired): {gain.mean():+.2f} +/- {gain.std(ddof=1) / np.sqrt(len(gain)):.2f} points")
    for name in evaluators:
        print(f"{name} pick left the fallback on {(table[f'{name} pick'] != table['best-on-average']).sum()} of {len(table)} tables")


if __name__ == "__main__":
    main()
