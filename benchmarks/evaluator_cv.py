"""Choose the evaluator: leave-task-out cross-validation of losses and meta-feature modes.

Prints, for each configuration, the mean within-task Spearman correlation of predicted vs measured
scores and the top-1 regret (points of accuracy lost by taking the evaluator's favourite among a
task's trained architectures instead of the best of them).

    python benchmarks/evaluator_cv.py --records tfx_tanas/assets/records.jsonl.gz [--folds 5]
    python benchmarks/evaluator_cv.py --records tfx_tanas/assets/image_records.jsonl.gz --by-family --configs within_task:tfdv
    python benchmarks/evaluator_cv.py --records ... --configs within_task:tfdv --ensemble 5 --risk-aversion 0,1,2,4
    python benchmarks/evaluator_cv.py --records ... --hold-out real   # synthetic and prior tasks always train
    python benchmarks/evaluator_cv.py --records ... --training-share 0.25,0.5,1   # a learning curve
    python benchmarks/evaluator_cv.py --records ... --hold-out real --prior-tasks 0,100,all   # does the prior pay?
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfx_tanas.evaluator import EvaluatorConfig  # noqa: E402
from tfx_tanas.meta_evaluation import leave_task_out  # noqa: E402
from tfx_tanas.options import RISK_AVERSION  # noqa: E402
from tfx_tanas.records import read_records  # noqa: E402
from tfx_tanas.tasks import REAL_SOURCES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=EvaluatorConfig.epochs)
    parser.add_argument(
        "--hold-out", choices=("all", "real"), default="all",
        help="real: only the real tables are held out and measured; synthetic and prior tasks train every fold's evaluator",
    )
    parser.add_argument(
        "--training-share", default="1",
        help="comma-separated shares of each fold's training tasks to fit on (a learning curve: would more tasks pay?)",
    )
    parser.add_argument(
        "--prior-tasks", default="all",
        help="comma-separated counts of the synthetic prior's tasks to keep (the first by draw index; all: every one): does the prior pay?",
    )
    parser.add_argument("--by-family", action="store_true", help="hold out whole task families together (image tasks)")
    parser.add_argument("--ensemble", type=int, default=1, help="networks per evaluator (the README's tables: 1; the shipped evaluators: 5)")
    parser.add_argument(
        "--risk-aversion", default=str(RISK_AVERSION),
        help="comma-separated values of the pick's mean - risk_aversion * spread (one fit serves all; needs --ensemble > 1)",
    )
    parser.add_argument(
        "--configs",
        default="squared_error:tfdv,pairwise:tfdv,within_task:tfdv,within_task:learned",
        help="comma-separated loss:meta_features[:context_noise] configurations",
    )
    args = parser.parse_args()
    all_records = read_records(args.records)
    prior = sorted({r.task for r in all_records if r.task.startswith("prior/")}, key=lambda t: t.split("_")[1])
    print(f"{len(all_records)} records from {len({r.task for r in all_records})} tasks ({len(prior)} of the prior), {args.folds} folds\n")
    print(
        "| loss | meta-features | context noise | prior tasks | training share | risk aversion | mean within-task Spearman | median top-1 regret (points) "
        "| mean top-1 regret | mean regret of best-on-average | pick minus best-on-average (points, +/- s.e.) | seconds |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    runs = [(s, float(v), n) for s in args.configs.split(",") for v in args.training_share.split(",") for n in args.prior_tasks.split(",")]
    for spec, share, prior_count in runs:
        kept_prior = set(prior if prior_count == "all" else prior[: int(prior_count)])
        records = [r for r in all_records if not r.task.startswith("prior/") or r.task in kept_prior]
        loss, meta_features, *noise = spec.split(":")
        config = EvaluatorConfig(
            loss=loss, meta_features=meta_features, epochs=args.epochs, ensemble_size=args.ensemble,
            context_noise=float(noise[0]) if noise else EvaluatorConfig.context_noise,
        )
        started = time.perf_counter()
        fitted = leave_task_out(
            records, config, folds=args.folds, by_family=args.by_family,
            held_out_sources=REAL_SOURCES if args.hold_out == "real" else None, training_share=share,
        )
        seconds = time.perf_counter() - started
        for risk_aversion in (float(value) for value in args.risk_aversion.split(",")):
            report = fitted.with_risk_aversion(risk_aversion)
            gain, error = report.gain_over_best_on_average
            baseline = np.nanmean([t.best_on_average_regret_points for t in report.tasks])
            print(
                f"| {loss} | {meta_features} | {config.context_noise} | {len(kept_prior)} | {share:g} | {risk_aversion:g} | {report.mean_spearman:.3f} | "
                f"{report.median_regret:.2f} | {report.mean_regret:.2f} | {baseline:.2f} | {gain:+.2f} +/- {error:.2f} | {seconds:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
