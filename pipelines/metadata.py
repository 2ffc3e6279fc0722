"""Reading a local run back from ML Metadata: what each component did, and what it produced."""

from __future__ import annotations

import dataclasses

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

_STATES = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
}


@dataclasses.dataclass
class NodeRun:
    """One component's execution in a pipeline run."""

    node: str  # the component id, e.g. "Trainer"
    state: str  # "ran", "cached", "failed" or "running"
    seconds: float
    outputs: dict[str, list[metadata_store_pb2.Artifact]]  # output key -> artifacts


def open_store(metadata_path: str) -> mlmd.MetadataStore:
    return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))


def latest_run(store: mlmd.MetadataStore) -> list[NodeRun]:
    """The executions of the most recent pipeline run, in the order they started."""
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        return []
    latest = max(runs, key=lambda context: context.create_time_since_epoch)
    executions = sorted(store.get_executions_by_context(latest.id), key=lambda e: e.create_time_since_epoch)
    events = store.get_events_by_execution_ids([e.id for e in executions])
    artifacts = {a.id: a for a in store.get_artifacts_by_id(list({event.artifact_id for event in events}))}
    node_runs = []
    for execution in executions:
        outputs: dict[str, list[metadata_store_pb2.Artifact]] = {}
        for event in events:
            if event.execution_id == execution.id and event.type == metadata_store_pb2.Event.OUTPUT:
                key = event.path.steps[0].key if event.path.steps else ""
                outputs.setdefault(key, []).append(artifacts[event.artifact_id])
        node_runs.append(
            NodeRun(
                node=_node_id(store, execution),
                state=_STATES.get(execution.last_known_state, "unknown"),
                seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0,
                outputs=outputs,
            )
        )
    return node_runs


def _node_id(store: mlmd.MetadataStore, execution: metadata_store_pb2.Execution) -> str:
    for context in store.get_contexts_by_execution(execution.id):
        if store.get_context_types_by_id([context.type_id])[0].name == "node":
            return context.name.split(".", 1)[-1]
    return execution.type


def custom_property(artifact: metadata_store_pb2.Artifact, name: str) -> str | int | float | None:
    if name not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[name]
    return getattr(value, value.WhichOneof("value"))
