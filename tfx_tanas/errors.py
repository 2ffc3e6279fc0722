"""Error hierarchy: callers decide abort vs. retry by class, the CLI maps them to exit codes.

``InputError`` (and subclasses) means the user's input is wrong: retrying will not help, the CLI
prints its one-line message and exits 2. ``TrainingError`` means one training failed (e.g. NaN
loss); a meta-dataset generator logs it and moves on to the next (task, architecture).
"""


class TanasError(Exception):
    """Base class of every error tfx_tanas raises on purpose."""


class InputError(TanasError, ValueError):
    """Bad user input: a file, a column, an architecture or a configuration is unusable."""


class VersionMismatchError(InputError):
    """An artifact was made for another search-space, meta-feature or records version."""


class TrainingError(TanasError, RuntimeError):
    """A single training run failed; other runs may still succeed."""
