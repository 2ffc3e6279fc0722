"""Writing outputs so that nothing half-written is ever visible.

Local paths are written through a sibling temporary file and an atomic rename; URIs (``gs://``,
``s3://``..., what a pipeline root on Kubeflow is) go through ``tf.io.gfile``, whose object stores
publish a file only once it is complete.
"""

from __future__ import annotations

import os
from pathlib import Path


def is_uri(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def write_text(path: str | os.PathLike, text: str) -> None:
    if is_uri(path):
        import tensorflow as tf

        tf.io.gfile.makedirs(os.path.dirname(str(path)))
        with tf.io.gfile.GFile(str(path), "w") as handle:
            handle.write(text)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def read_text(path: str | os.PathLike) -> str:
    if is_uri(path):
        import tensorflow as tf

        with tf.io.gfile.GFile(str(path)) as handle:
            return handle.read()
    return Path(path).read_text()
