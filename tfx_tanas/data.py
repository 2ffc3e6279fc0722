"""Reading tabular data, checking it, and the schema a model is built and served with.

Every check that a user's file can fail raises :class:`InputError` with one line naming the
problem; nothing here writes to the user's files.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tfx_tanas.errors import InputError

log = logging.getLogger(__name__)
ROWS_IN_FILE = "rows_in_file"  # DataFrame.attrs key of a sampled table: the rows of the whole file

MAX_CATEGORIES = 50  # most frequent values kept per categorical column; the rest share one bucket
NUM_QUANTILE_BUCKETS = 8
MAX_CLASSES = 100
MIN_ROWS_PER_CLASS = 2  # on average: with fewer, most classes have one row, as an identifier has
REGRESSION_DISTINCT = 10  # a float label with more distinct non-integer values than this is a regression target
_NUMERIC_TEXT_SHARE = 0.9  # an object column this numeric is a numeric column holding stray text


def count_rows(path: str | Path) -> int:
    """Data lines of a CSV file (lines after the header), counted in 1 MiB blocks: no table in memory."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def read_csv(path: str | Path, max_rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Read a CSV file, turning every way it can be unreadable into an :class:`InputError`.

    With ``max_rows``, a larger file is read as a seeded uniform sample of that many rows (the
    other lines are skipped while parsing, so memory follows the sample, not the file); the
    sample's ``attrs[ROWS_IN_FILE]`` holds the file's row count."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"data file not found: {path}")
    if path.is_dir():
        raise InputError(f"data path is a directory, expected a CSV file: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"data file is empty: {path}")
    skip, total = None, None
    if max_rows is not None and (total := count_rows(path)) > max_rows:
        kept = set((np.random.default_rng(seed).choice(total, max_rows, replace=False) + 1).tolist())  # line 0 is the header
        skip = lambda line: line > 0 and line not in kept  # noqa: E731
        log.info("%s: %d rows; reading a uniform sample of %d (seed %d)", path, total, max_rows, seed)
    try:
        frame = pd.read_csv(path, low_memory=False, skiprows=skip)
    except pd.errors.EmptyDataError:
        raise InputError(f"data file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        reason = str(err).strip().splitlines()[-1]
        raise InputError(f"data file is not a readable CSV: {path} ({reason})") from None
    if frame.empty:
        raise InputError(f"data file has a header but no rows: {path}")
    frame = _restore_integer_columns(frame, path, skip)
    _warn_of_a_row_number(frame)
    if skip is not None:
        frame.attrs[ROWS_IN_FILE] = total  # the meta-features describe the whole table's size
    return frame


def _warn_of_a_row_number(frame: pd.DataFrame) -> None:
    """A first column without a header that counts up in file order is the row index
    ``DataFrame.to_csv`` writes by default. It stays a feature (CsvExampleGen keeps it too), but a
    model that learns a table's order (R tables are often sorted by the label) serves a new row
    whatever its number says: worth a warning, not a refusal."""
    first = frame.columns[0]
    values = frame[first]
    if not str(first).startswith("Unnamed: 0") or not pd.api.types.is_integer_dtype(values) or values.isna().any() or len(values) < 2:
        return
    if (np.diff(values.to_numpy(dtype=np.int64)) > 0).all():
        log.warning(
            "column '%s' has no header and counts the rows (the index DataFrame.to_csv writes): it is used as a feature; "
            "if the rows' order means nothing, drop it or write the file with index=False",
            first,
        )


def _restore_integer_columns(frame: pd.DataFrame, path: Path, skip: Callable[[int], bool] | None = None) -> pd.DataFrame:
    """Integer columns with empty cells come back from pandas as floats; make them nullable ints.

    TFX's CsvExampleGen writes such a column as an int64 feature, so the serving signature must
    parse it as int64: the column's type is decided from its text, as CsvExampleGen does.
    """
    candidates = [
        c for c in frame.columns
        if pd.api.types.is_float_dtype(frame[c]) and frame[c].isna().any() and np.all(np.mod(frame[c].dropna(), 1) == 0)
    ]
    if not candidates:
        return frame
    text = pd.read_csv(path, usecols=candidates, dtype=str, keep_default_na=False, skiprows=skip)
    for column in candidates:
        if not text[column].str.contains(r"[.eE]", regex=True).any():
            frame[column] = frame[column].astype("Int64")
    return frame


def clean_frame(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Validate a training frame: a usable label, usable features, no infinities.

    Feature columns that are entirely empty are dropped with a warning; rows without a label
    are dropped with a warning. Returns a new frame, the input is not modified.
    """
    if label not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:10]))
        raise InputError(f"label column '{label}' not found; columns are: {shown}")
    labels = frame[label]
    if labels.isna().all() or (labels.astype(str).str.strip() == "").all():
        raise InputError(f"label column '{label}' is empty in every row")
    frame = frame.copy()
    missing_label = labels.isna()
    if missing_label.any():
        log.warning("dropping %d row(s) with an empty label '%s'", int(missing_label.sum()), label)
        frame = frame.loc[~missing_label].reset_index(drop=True)
    num_classes = frame[label].nunique()
    if num_classes < 2:
        raise InputError(f"label column '{label}' has a single class ({frame[label].iloc[0]!r}); need at least 2")
    values = frame[label]
    if pd.api.types.is_float_dtype(values) and num_classes > REGRESSION_DISTINCT and np.any(np.mod(values.dropna(), 1) != 0):
        raise InputError(
            f"label column '{label}' holds {num_classes} distinct non-integer numbers: it looks like a regression target; "
            "tanas does classification only"
        )
    if num_classes > MAX_CLASSES:
        raise InputError(
            f"label column '{label}' has {num_classes} distinct values; tanas does classification "
            f"with at most {MAX_CLASSES} classes"
        )
    if len(frame) < MIN_ROWS_PER_CLASS * num_classes:
        raise InputError(
            f"label column '{label}' has {num_classes} classes for {len(frame)} rows: fewer than {MIN_ROWS_PER_CLASS} rows per class "
            "to learn from (is it an identifier, or a regression target?); tanas does classification only"
        )
    for column in [c for c in frame.columns if c != label]:
        values = frame[column]
        if values.isna().all():
            log.warning("dropping feature column '%s': it is empty in every row", column)
            frame = frame.drop(columns=[column])
            continue
        frame[column] = _coerce_column(column, values)
    if len(frame.columns) < 2:
        raise InputError("data has no usable feature columns besides the label")
    return frame


def _coerce_column(name: str, values: pd.Series) -> pd.Series:
    """Numbers stay numbers, booleans and text become categories; stray text or inf is an error.

    A mostly numeric column whose other values are codes of the same numbering (``207a``,
    ``136A``: each holds a digit) is an identifier or code column, so it is text, as TFX's
    CsvExampleGen types it; text without a digit there (``n/a?``, ``abc``) is a stray value."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(str)
    if pd.api.types.is_numeric_dtype(values):
        _reject_infinite(name, values)
        return values
    as_numbers = pd.to_numeric(values, errors="coerce")
    text = values.astype(str).str.strip()
    present = values.notna() & (text != "")
    parsed = as_numbers.notna() & present
    if present.sum() and parsed.sum() / present.sum() >= _NUMERIC_TEXT_SHARE and parsed.sum() < present.sum():
        unparsed = present & ~parsed
        stray = unparsed & ~text.str.contains(r"\d")
        if stray.any():
            row = int(np.flatnonzero(stray)[0])
            raise InputError(f"column '{name}' is numeric but row {row + 1} holds text {values.iloc[row]!r}")
        row = int(np.flatnonzero(unparsed)[0])
        log.warning("column '%s' mixes numbers with codes such as %r (row %d): read as text (categories)", name, values.iloc[row], row + 1)
        return text.where(present, None)
    return values.where(present, None)


def _reject_infinite(name: str, values: pd.Series) -> None:
    infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise InputError(f"column '{name}' holds an infinite value in row {row + 1}")


def label_to_class(value: Any) -> str:
    """Canonical class name: integral numbers print without '.0' so CSV and tf.Example agree."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return str(value)


@dataclasses.dataclass
class NumericColumn:
    name: str
    dtype: str  # "int64" or "float32": the tf.Example feature type that serving parses
    mean: float
    std: float
    boundaries: list[float]  # quantile bucket boundaries
    has_missing: bool


@dataclasses.dataclass
class CategoricalColumn:
    name: str
    vocabulary: list[str]


@dataclasses.dataclass
class TabularSchema:
    """What the model needs to know about the columns: fitted on training rows only."""

    label: str
    classes: list[str]
    numeric: list[NumericColumn]
    categorical: list[CategoricalColumn]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.numeric] + [c.name for c in self.categorical]

    @classmethod
    def fit(cls, frame: pd.DataFrame, label: str, classes: list[str] | None = None) -> TabularSchema:
        """Fit on a frame that went through :func:`clean_frame`; ``classes`` default to its labels."""
        classes = classes if classes is not None else class_names(frame[label])
        numeric, categorical = [], []
        for name in [c for c in frame.columns if c != label]:
            values = frame[name]
            if pd.api.types.is_numeric_dtype(values):
                numeric.append(_fit_numeric(name, values))
            else:
                counts = values.dropna().astype(str).value_counts()
                categorical.append(CategoricalColumn(name, [str(v) for v in counts.index[:MAX_CATEGORIES]]))
        return cls(label, classes, numeric, categorical)

    def encode_labels(self, values: pd.Series) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        names = [label_to_class(v) for v in values]
        unknown = sorted({n for n in names if n not in index})
        if unknown:
            raise InputError(f"label '{self.label}' has values never seen in training: {unknown[:5]}")
        return np.array([index[n] for n in names], dtype=np.int64)

    def raw_features(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Columns as the model's raw inputs: float32 with NaN for missing, str with '' for missing."""
        missing = [n for n in self.feature_names if n not in frame.columns]
        if missing:
            raise InputError(f"data lacks feature column(s) the model needs: {missing[:5]}")
        features: dict[str, np.ndarray] = {}
        for column in self.numeric:
            values = frame[column.name]
            if not pd.api.types.is_numeric_dtype(values):
                values = pd.to_numeric(values, errors="coerce").where(values.notna())
                if values.isna().sum() > frame[column.name].isna().sum():
                    raise InputError(f"column '{column.name}' must be numeric but holds text")
            _reject_infinite(column.name, values)
            features[column.name] = values.to_numpy(dtype=np.float32, na_value=np.nan)
        for column in self.categorical:
            values = frame[column.name]
            features[column.name] = np.array(
                ["" if _is_missing(v) else label_to_class(v) for v in values], dtype=object
            )
        return features

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TabularSchema:
        try:
            return cls(
                label=data["label"],
                classes=list(data["classes"]),
                numeric=[NumericColumn(**c) for c in data["numeric"]],
                categorical=[CategoricalColumn(**c) for c in data["categorical"]],
            )
        except (KeyError, TypeError) as err:
            raise InputError(f"malformed data schema ({err})") from None


def _fit_numeric(name: str, values: pd.Series) -> NumericColumn:
    array = values.to_numpy(dtype=float, na_value=np.nan)
    present = array[~np.isnan(array)]
    is_int = pd.api.types.is_integer_dtype(values)
    std = float(present.std()) if present.size > 1 else 0.0
    quantiles = np.quantile(present, np.linspace(0, 1, NUM_QUANTILE_BUCKETS + 1)[1:-1])
    return NumericColumn(
        name=name,
        dtype="int64" if is_int else "float32",
        mean=float(present.mean()),
        std=std if std > 1e-12 else 1.0,
        boundaries=[float(b) for b in np.unique(quantiles)],
        has_missing=bool(np.isnan(array).any()),
    )


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def class_names(values: pd.Series) -> list[str]:
    """Sorted distinct class names (numerically when they are numbers)."""
    return sorted({label_to_class(v) for v in values}, key=_class_sort_key)


def _class_sort_key(name: str) -> tuple[int, float | str]:
    try:
        return (0, float(name))
    except ValueError:
        return (1, name)


@dataclasses.dataclass
class Split:
    """Index arrays of a seeded, stratified split."""

    train: np.ndarray
    validation: np.ndarray


def stratified_split(labels: np.ndarray, validation_fraction: float, seed: int) -> Split:
    """Stratified when every class has two rows, plain random otherwise; always both parts non-empty."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    if len(labels) < 4:
        raise InputError(f"need at least 4 labelled rows to train and validate, got {len(labels)}")
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    n_val = max(1, int(round(len(labels) * validation_fraction)))
    n_val = max(n_val, len(np.unique(labels))) if stratify is not None else n_val
    train, validation = train_test_split(indices, test_size=n_val, random_state=seed, stratify=stratify)
    return Split(np.sort(train), np.sort(validation))
