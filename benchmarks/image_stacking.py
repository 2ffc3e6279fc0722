"""Image networks trained one at a time vs. stacked as one Keras model (tfx_tanas.image_training).

Prints trainings per second for each stack size on a few image tasks, and checks the scores agree
(a stacked network trains exactly as it would alone).

    python benchmarks/image_stacking.py [--archs 8] [--sizes 1,4,8]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfx_tanas.image_tasks import ImageTask  # noqa: E402
from tfx_tanas.image_training import split_images, train_image_architectures  # noqa: E402
from tfx_tanas.search_space import IMAGE_SPACE, sample_architectures  # noqa: E402

TASKS = ("image/digits_plain", "image/shapes_px16_c5_n600_z10_s3", "image/stripes_px32_c4_n1164_z25_s11")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=8)
    parser.add_argument("--sizes", default="1,4,8")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| task | images | " + " | ".join(f"stack {s}: trainings/s" for s in sizes) + " | max score difference |")
    print("| --- | ---: |" + " ---: |" * len(sizes) + " ---: |")
    for task_id in TASKS:
        train, validation = split_images(ImageTask(task_id).load())
        archs = sample_architectures(IMAGE_SPACE, args.archs, seed=1)
        rates, scores = [], []
        for size in sizes:
            started = time.perf_counter()
            results = train_image_architectures(train, validation, archs, stack_size=size)
            rates.append(len(archs) / (time.perf_counter() - started))
            scores.append(np.array([r.score for r in results]))
        difference = max(float(np.nanmax(np.abs(s - scores[0]))) for s in scores)
        print(f"| {task_id} | {len(train.labels) + len(validation.labels)} | " + " | ".join(f"{r:.2f}" for r in rates) + f" | {difference:.4f} |", flush=True)


if __name__ == "__main__":
    main()
