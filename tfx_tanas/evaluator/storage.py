"""An evaluator directory: ``evaluator.json`` (what it was trained for) + ``member_<i>.npz`` weights.

Each member's arrays are stored under the names :meth:`MemberNetwork.named_weights` gives them
(``task_hidden/kernel``, ``merit_output/bias``, ``set_encoder/element_0/kernel``, ...), so the files
are readable by NumPy alone and tie to the network by what each array is, not by a framework's
layer numbering. Every refusal is one :class:`InputError` or :class:`VersionMismatchError` line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfx_tanas.errors import InputError, VersionMismatchError
from tfx_tanas.evaluator.config import EvaluatorConfig
from tfx_tanas.meta_features import meta_feature_set
from tfx_tanas.search_space import Architecture, SearchSpace

EVALUATOR_FORMAT_VERSION = 3  # 3: NumPy arrays named by layer (2: Keras .weights.h5 files)
MANIFEST = "evaluator.json"
_REGENERATE = "regenerate it with `tanas build-evaluator`"


def _member_file(index: int) -> str:
    return f"member_{index}.npz"


@dataclasses.dataclass
class StoredEvaluator:
    """Everything an evaluator directory holds: what it was trained for, and its members' arrays."""

    space: SearchSpace
    config: EvaluatorConfig
    meta_feature_names: tuple[str, ...]
    normalization: dict[str, np.ndarray]  # mean, std, min, max of the training meta-features
    training_summary: dict[str, Any]
    members: list[dict[str, np.ndarray]]  # per member: array name -> values
    static_portfolio: list[Architecture] = dataclasses.field(default_factory=list)  # greedy; its first is the fallback


def write(directory: str | os.PathLike, stored: StoredEvaluator) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for index, arrays in enumerate(stored.members):
        np.savez(directory / _member_file(index), **arrays)
    manifest = {
        "format_version": EVALUATOR_FORMAT_VERSION,
        "search_space": stored.space.to_dict(),
        "search_space_fingerprint": stored.space.fingerprint,
        "meta_feature_version": meta_feature_set(stored.space.modality)[1],
        "meta_feature_names": list(stored.meta_feature_names),
        "config": dataclasses.asdict(stored.config),
        "normalization": {key: values.tolist() for key, values in stored.normalization.items()},
        "training_summary": stored.training_summary,
        "static_portfolio": [{"description": network.describe(), "encoding": network.encoding_json()} for network in stored.static_portfolio],
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return directory


def read(directory: str | os.PathLike, space: SearchSpace | None = None) -> StoredEvaluator:
    """Read; refuses an evaluator made for another search space, meta-feature version or format."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        raise InputError(f"not an evaluator directory (no {MANIFEST}): {directory}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"evaluator manifest is malformed: {manifest_path} ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != EVALUATOR_FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise VersionMismatchError(
            f"evaluator format {found} is not supported (this version reads {EVALUATOR_FORMAT_VERSION}); {_REGENERATE}"
        )
    try:
        saved_space = SearchSpace.from_dict(manifest["search_space"])
        config = EvaluatorConfig.from_dict(manifest["config"])
        names = tuple(manifest["meta_feature_names"])
        version = int(manifest["meta_feature_version"])
        normalization = {key: np.float32(manifest["normalization"][key]) for key in ("mean", "std", "min", "max")}
        portfolio = _portfolio(manifest, saved_space)
    except (KeyError, TypeError) as err:
        raise InputError(f"evaluator manifest is malformed: {manifest_path} ({err})") from None
    if space is not None and saved_space != space:
        raise VersionMismatchError(f"evaluator was trained for search space {saved_space.fingerprint}, not {space.fingerprint}")
    expected_names, expected_version = meta_feature_set(saved_space.modality)
    if version != expected_version or names != expected_names:
        raise VersionMismatchError(
            f"evaluator was trained on {saved_space.modality} meta-features version {version}; this is version {expected_version}"
        )
    members = [_read_arrays(directory / _member_file(index)) for index in range(config.ensemble_size)]
    return StoredEvaluator(saved_space, config, names, normalization, manifest.get("training_summary", {}), members, portfolio)


def _portfolio(manifest: dict[str, Any], space: SearchSpace) -> list[Architecture]:
    """The manifest's portfolio. Evaluators saved before portfolios stored only their fallback (a
    portfolio of one, same layout); those saved before fallbacks, neither (an empty portfolio)."""
    legacy = manifest.get("fallback")
    stored = manifest.get("static_portfolio", [] if legacy is None else [legacy])
    try:
        return [Architecture.from_encoding_json(space, network["encoding"]) for network in stored]
    except InputError as err:
        raise InputError(f"evaluator manifest's portfolio is malformed ({err})") from None


def assign(weights: Mapping[str, tf.Variable], arrays: Mapping[str, np.ndarray], directory: str | os.PathLike) -> None:
    """Load one member's stored arrays into its network's variables, refusing any other layout."""
    if set(arrays) != set(weights) or any(arrays[name].shape != tuple(w.shape) for name, w in weights.items()):
        raise VersionMismatchError(f"evaluator weights in {directory} do not fit this version's evaluator network; {_REGENERATE}")
    for name, weight in weights.items():
        weight.assign(arrays[name])


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"evaluator weights unreadable in {path.parent} ({err})") from None
