"""Writing outputs so that nothing half-written is ever visible.

Local paths are written through a sibling temporary file and an atomic rename; URIs (``gs://``,
``s3://``..., what a pipeline root on Kubeflow is) go through ``tf.io.gfile``, whose object stores
publish a file only once it is complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from tfx_tanas.errors import InputError


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
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # two writers never share one
    temporary.write_text(text)
    temporary.replace(path)


def read_text(path: str | os.PathLike) -> str:
    if is_uri(path):
        import tensorflow as tf

        with tf.io.gfile.GFile(str(path)) as handle:
            return handle.read()
    return Path(path).read_text()


def join(directory: str | os.PathLike, name: str) -> str:
    """``directory/name`` for a local path or a URI alike."""
    return f"{str(directory).rstrip('/')}/{name}"


def make_directories(directory: str | os.PathLike) -> None:
    if is_uri(directory):
        import tensorflow as tf

        tf.io.gfile.makedirs(str(directory))
    else:
        Path(directory).mkdir(parents=True, exist_ok=True)


def list_files(directory: str | os.PathLike) -> list[str]:
    """Names in ``directory`` not starting with a dot (temporary files of :func:`write_text`);
    none when it does not exist."""
    if is_uri(directory):
        import tensorflow as tf

        names = tf.io.gfile.listdir(str(directory)) if tf.io.gfile.isdir(str(directory)) else []
    else:
        names = os.listdir(directory) if os.path.isdir(directory) else []
    return [name.rstrip("/") for name in names if not name.startswith(".")]


def remove(path: str | os.PathLike) -> None:
    if is_uri(path):
        import tensorflow as tf

        tf.io.gfile.remove(str(path))
    else:
        os.remove(path)


@contextlib.contextmanager
def exclusive_directory(directory: str | os.PathLike) -> Iterator[None]:
    """Hold ``directory`` for one tanas command: a second command writing into it at the same time
    is refused with one line instead of interleaving its outputs. The lock dies with the process,
    so a killed run never leaves the directory claimed. The directory itself is locked: no file is
    added to it."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another tanas command is writing into {directory}; wait for it to finish or choose another --out") from None
        yield
    finally:
        os.close(handle)  # releases the lock
