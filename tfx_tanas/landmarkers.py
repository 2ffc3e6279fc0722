"""Landmarkers: held-out accuracies of a few cheap classifiers, a data set's shape in one number each.

Statistics describe columns one at a time; they cannot tell a linearly separable task from one
whose classes lie in rings. How much a linear model beats the majority class, and how much a
forest, nearest neighbours or a shallow tree beat the linear model, can: they say whether depth,
width and non-linear activations pay off, which is what the evaluator has to judge. (The idea is
the landmarking of the meta-learning literature, e.g. Pfahringer et al. 2000; auto-sklearn uses
it too.) ``benchmarks/evaluator_cv.py`` on the bundled records, shipped configuration: within-task
Spearman 0.380 without them, 0.391 with them.

Computed on at most :data:`LANDMARK_ROWS` rows (seeded), 70/30 holdout, in well under a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfx_tanas.data import label_to_class

LANDMARK_ROWS = 3000
HOLDOUT_FRACTION = 0.3
TOP_CATEGORIES = 10
LANDMARK_MODELS = ("majority", "linear", "neighbors", "tree", "naive_bayes", "forest")


def landmark_accuracies(frame: pd.DataFrame, label: str, seed: int = 0) -> dict[str, float]:
    """Holdout accuracy of each model of :data:`LANDMARK_MODELS` on the labelled rows.

    With too few rows to fit on (or a single class among the fitting rows) every model is
    credited with the majority class's accuracy: nothing beyond it can be learnt there.
    """
    # imported here: scikit-learn's estimators take a noticeable part of a second to import,
    # which every `import tfx_tanas` would otherwise pay
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    frame = frame.loc[frame[label].notna()]
    if len(frame) > LANDMARK_ROWS:
        frame = frame.sample(LANDMARK_ROWS, random_state=seed)
    y = pd.factorize(frame[label].map(label_to_class))[0]
    x = design_matrix(frame.drop(columns=[label]))
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(round(len(y) * (1 - HOLDOUT_FRACTION)))
    fit_rows, held_rows = order[:cut], order[cut:]
    majority = np.bincount(y[fit_rows]).argmax() if len(fit_rows) else 0
    majority_accuracy = float((y[held_rows] == majority).mean()) if len(held_rows) else 0.0
    if len(held_rows) == 0 or len(np.unique(y[fit_rows])) < 2:
        return dict.fromkeys(LANDMARK_MODELS, majority_accuracy)
    models = {
        "linear": LogisticRegression(max_iter=300),
        "neighbors": KNeighborsClassifier(min(10, len(fit_rows))),
        "tree": DecisionTreeClassifier(max_depth=4, random_state=seed),
        "naive_bayes": GaussianNB(),
        "forest": RandomForestClassifier(50, random_state=seed),
    }
    accuracies = {"majority": majority_accuracy}
    for name, model in models.items():
        predicted = model.fit(x[fit_rows], y[fit_rows]).predict(x[held_rows])
        accuracies[name] = float((predicted == y[held_rows]).mean())
    return accuracies


def design_matrix(features: pd.DataFrame) -> np.ndarray:
    """Standardized numeric columns (missing -> 0) and one-hot columns of each categorical
    column's most frequent values."""
    blocks = []
    for name in features.columns:
        values = features[name]
        if pd.api.types.is_numeric_dtype(values):
            numbers = values.to_numpy(dtype=float, na_value=np.nan)
            std = np.nanstd(numbers) if np.isfinite(numbers).any() else 0.0
            centred = (numbers - np.nanmean(numbers)) / std if std > 1e-12 else np.zeros_like(numbers)
            blocks.append(np.nan_to_num(centred, nan=0.0)[:, None])
        else:
            text = values.astype(str).where(values.notna(), "")
            top = text.value_counts().index[:TOP_CATEGORIES]
            blocks.append((text.to_numpy()[:, None] == np.asarray(top)[None, :]).astype(float))
    return np.hstack(blocks) if blocks else np.zeros((len(features), 1))
