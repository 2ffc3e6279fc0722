"""The synthetic prior: seeded tables that always pass clean_frame and span the ranges they promise;
the older synthetic families keep producing the tables the bundled records were measured on."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from tfx_tanas.data import clean_frame
from tfx_tanas.errors import InputError
from tfx_tanas.meta_features import fine_structure
from tfx_tanas.tasks import (
    MAX_TASK_ROWS,
    MIN_CLASS_ROWS,
    PRIOR_FAMILIES,
    Task,
    make_panel_table,
    make_prior_table,
    panel_tasks,
    prior_tasks,
    synthetic_tasks,
    task_from_id,
    task_set,
)


def csv_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]


def small(task: Task, rows: int = 1500) -> dict:
    """A task's parameters with at most ``rows`` rows (classes capped as prior_tasks caps them), to keep the test fast."""
    params = json.loads(task.params)
    params["rows"] = min(params["rows"], rows)
    params["classes"] = min(params["classes"], params["rows"] // MIN_CLASS_ROWS)
    return params


def check_table(frame: pd.DataFrame) -> None:
    """What every prior table must satisfy: clean_frame accepts it unchanged in shape, no infinities,
    every class with at least MIN_CLASS_ROWS rows."""
    cleaned = clean_frame(frame, "label")
    assert cleaned.shape == frame.shape
    numbers = frame.drop(columns="label").select_dtypes("number").to_numpy(dtype=float, na_value=0.0)
    assert np.isfinite(numbers).all()
    assert frame["label"].value_counts().min() >= MIN_CLASS_ROWS


def test_the_older_synthetic_families_are_unchanged():
    # digests taken before the prior was added: records in tfx_tanas/assets name these tables
    tasks = synthetic_tasks(3, 0)
    assert [t.task_id for t in tasks] == ["synthetic/syn0_000_rings", "synthetic/syn0_001_xor", "synthetic/syn0_002_clusters"]
    assert csv_digest(tasks[0].load()) == "152e2e2921727f0c"
    assert csv_digest(tasks[2].load()) == "5f75ab407656595e"


def test_prior_task_parameters_span_the_promised_ranges():
    params = [json.loads(t.params) for t in prior_tasks(400, seed=0)]
    rows, features, classes = (np.array([p[k] for p in params]) for k in ("rows", "features", "classes"))
    assert rows.min() >= 100 and rows.max() <= 50000 and rows.min() < 150 and rows.max() > 30000
    assert features.min() >= 2 and features.max() <= 200 and features.min() == 2 and features.max() > 150
    assert classes.min() == 2 and 15 < classes.max() <= 20 and (classes == 2).mean() > 0.4
    assert (classes * MIN_CLASS_ROWS <= rows).all()
    assert {p["family"] for p in params} == set(PRIOR_FAMILIES)
    for knob in ("label_noise", "categorical_fraction", "missing_fraction", "irrelevant_fraction"):
        values = np.array([p[knob] for p in params])
        assert 0.2 < (values == 0).mean() < 0.8, knob


def test_prior_tables_are_seeded_and_pass_clean_frame():
    tasks = prior_tasks(40, seed=0)
    frames = [make_prior_table(**small(t)) for t in tasks]
    for frame in frames:
        check_table(frame)
    pd.testing.assert_frame_equal(frames[3], make_prior_table(**small(tasks[3])))
    assert not frames[3].equals(make_prior_table(**{**small(tasks[3]), "seed": 12345}))
    kinds = pd.concat([f.drop(columns="label").dtypes for f in frames]).astype(str).value_counts()
    assert kinds["object"] > 50 and kinds["int64"] > 50 and kinds["float64"] > 50
    assert sum(f.drop(columns="label").isna().any().sum() for f in frames) > 20
    assert {f["label"].nunique() for f in frames} >= {2, 3}
    assert max(f["label"].nunique() for f in frames) >= 10
    assert min(f.shape[1] for f in frames) <= 5 and max(f.shape[1] for f in frames) > 100
    cardinality = [f[c].nunique() for f in frames for c in f.select_dtypes("object").columns]
    assert min(cardinality) == 2 and max(cardinality) > 25


@pytest.mark.parametrize("family", PRIOR_FAMILIES)
def test_prior_tables_at_the_edges_of_the_ranges_are_usable(family: str):
    edges = [
        {"rows": 100, "features": 2, "classes": 10, "class_concentration": 0.3, "label_noise": 0.35, "irrelevant_fraction": 0.97},
        {"rows": 300, "features": 3, "classes": 2, "class_concentration": 30.0, "label_noise": 0.0, "irrelevant_fraction": 0.0},
    ]
    for seed, edge in enumerate(edges):
        for categorical_fraction, missing_fraction in [(1.0, 0.4), (0.0, 0.0)]:
            frame = make_prior_table(
                family=family, categorical_fraction=categorical_fraction, missing_fraction=missing_fraction, seed=seed, **edge
            )
            check_table(frame)
            assert frame.shape == (edge["rows"], edge["features"] + 1)
            assert frame["label"].nunique() == edge["classes"]


def test_impossible_prior_parameters_are_refused():
    base = {"family": "tree", "rows": 100, "features": 3, "classes": 2, "class_concentration": 1.0, "label_noise": 0.0,
            "categorical_fraction": 0.0, "missing_fraction": 0.0, "irrelevant_fraction": 0.0, "seed": 0}
    with pytest.raises(InputError, match="family"):
        make_prior_table(**{**base, "family": "rings"})
    with pytest.raises(InputError, match="rows per class"):
        make_prior_table(**{**base, "classes": 11})


def test_prior_task_ids_round_trip_and_load():
    tasks = prior_tasks(6, seed=3)
    assert tasks[4].task_id.startswith("prior/p3_0004_")
    assert [task_from_id(t.task_id) for t in tasks] == tasks
    assert prior_tasks(6, seed=3) == tasks and prior_tasks(6, seed=4) != tasks
    task = dataclasses.replace(tasks[0], params=json.dumps(small(tasks[0], rows=MAX_TASK_ROWS + 500)))
    frame = task.load()
    assert "label" in frame.columns and len(frame) == min(MAX_TASK_ROWS, json.loads(task.params)["rows"])
    with pytest.raises(InputError):
        task_from_id("prior/q0_0001_tree")


def test_a_row_limited_prior_keeps_each_draws_id_and_table():
    every = prior_tasks(300, seed=0)
    small_only = prior_tasks(40, seed=0, max_rows=1000)
    assert len(small_only) == 40
    assert all(json.loads(t.params)["rows"] <= 1000 for t in small_only)
    # the same draws as the unfiltered prior, in order: records name them by id, and task_from_id finds them
    kept = [t for t in every if json.loads(t.params)["rows"] <= 1000][:40]
    assert small_only == kept
    assert [task_from_id(t.task_id) for t in small_only[:3]] == small_only[:3]
    assert task_set("prior", 0, prior_count=40, prior_max_rows=1000) == small_only  # `tanas build-evaluator --prior-max-rows`
    with pytest.raises(InputError, match="at least 100"):  # no draw could pass: refused, not searched for ever
        prior_tasks(1, max_rows=99)


def test_panel_tasks_are_a_seeded_stream_beside_the_prior_that_leaves_its_draws_alone():
    panels = panel_tasks(12, seed=0)
    assert [t.task_id for t in panels[:2]] == ["prior/panel0_0000", "prior/panel0_0001"]
    assert [task_from_id(t.task_id) for t in panels] == panels and panel_tasks(12, seed=0) == panels
    # the bundled records name the prior's draws: the panel stream must not shift them
    assert task_set("prior", 0, prior_count=5, panel_count=3) == prior_tasks(5, seed=0) + panels[:3]
    assert task_set("all", 0, prior_count=0, panel_count=2)[-2:] == panels[:2]
    for task in panels:
        frame = task.load()
        check_table(frame)
        assert 100 <= len(frame) <= 4000 and {"id", "visit"} <= set(frame.columns)
    pd.testing.assert_frame_equal(panels[5].load(), panels[5].load())


def test_a_panel_whose_outcome_is_the_entitys_own_is_flagged_by_the_fine_structure_meta_feature():
    base = {"entities": 150, "per_entity": 6.0, "features": 4, "classes": 2, "class_concentration": None, "label_noise": 0.0,
            "entity_columns": 0.0, "categorical_fraction": 0.0, "sparse_ids": True, "ordered_ids": False, "seed": 7}
    own = make_panel_table(entity_share=1.0, **base)
    agreement = own.groupby("id")["label"].agg(lambda v: v.value_counts().iloc[0] / len(v)).mean()
    assert agreement > 0.85  # an entity's rows share its label (but near a class boundary)
    neighbour, coarse = fine_structure(own, "label", ["id"])
    assert neighbour[0] - coarse[0] > 0.5  # the id's exact values tell the label; its coarse bins do not
    by_row = make_panel_table(entity_share=0.0, **base)
    neighbour, coarse = fine_structure(by_row, "label", ["id"])
    assert neighbour[0] - coarse[0] < 0.2


def test_impossible_panel_parameters_are_refused():
    base = {"entities": 5, "per_entity": 3.0, "features": 2, "classes": 2, "class_concentration": None, "label_noise": 0.0,
            "entity_share": 1.0, "entity_columns": 0.5, "categorical_fraction": 0.0, "sparse_ids": False, "ordered_ids": False, "seed": 0}
    with pytest.raises(InputError, match="rows per class"):
        make_panel_table(**base)
    with pytest.raises(InputError, match="entities"):
        make_panel_table(**{**base, "entities": 1})
