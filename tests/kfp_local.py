"""Test support: execute a compiled Kubeflow Pipelines v2 spec step by step on this machine.

What KFP's backend does per task, done here in plain Python:

- the *driver* resolves the task's inputs: parameters from the task's runtime values, input
  artifacts from the upstream tasks' outputs (name, type, URI and the metadata their executors
  reported), output artifact URIs under the pipeline root, and writes the ``ExecutorInput``;
  an importer task needs no container: its artifact is ``artifactUri`` with ``metadata``;
- the *launcher* runs the container's exact ``command`` + ``args`` with the placeholders (``{{$}}``)
  replaced, then reads the ``ExecutorOutput`` the step wrote to ``outputFile`` and records the
  metadata (custom properties) it set on each output artifact, which downstream tasks receive.

A container's ``lifecycle.preCacheCheck`` hook (TFX's file-based ExampleGen driver, which
computes span and input fingerprint before a cache check) runs first with the same executor
input, and the metadata it reports is merged into the output artifacts before the executor runs;
the executor itself reads the parameters the hook updated from ``outputFile``.

The image is stood in for by this project's environment (:class:`LocalImage`): the venv's
``python`` first on PATH, the repository's packages importable as the image installs them, and
a working directory without sources.

What is reused: inside each step everything is TFX's own (``kubeflow_v2_run_executor`` and
``kubeflow_v2_entrypoint_utils`` parse the executor input and write the executor output; TFX
ships no runner for compiled v2 specs, its v2 end-to-end tests need Vertex AI). ``kfp.local``
(the KFP SDK's local runner, which runs only single lightweight Python components) supplies the
output artifact lists, the typed executor input dict, placeholder resolution and the
``ExecutorOutput`` reader. The DAG walk, input artifact passing, the importer and the hook are
here. Nothing is cached, no ML Metadata store is written, and artifact URIs are local paths.
"""

from __future__ import annotations

import dataclasses
import graphlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.local import executor_input_utils, executor_output_utils, placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2

REPOSITORY = Path(__file__).resolve().parent.parent
# setup.py's package_dir: where each installed package's sources live in the repository
PACKAGE_DIRS = {"components": "components", "pipelines": "pipelines"}


class StepFailed(RuntimeError):
    """A task's container command exited non-zero."""


@dataclasses.dataclass(frozen=True)
class LocalImage:
    """This environment standing in for the image: the venv's interpreter first on PATH, the
    repository's ``tfx_tanas`` (with ``components/`` and ``pipelines/`` inside it, as installed)
    on PYTHONPATH, and a working directory holding no sources, like the image's WORKDIR."""

    site: Path
    workdir: Path
    python: Path = Path(sys.executable)

    @classmethod
    def build(cls, root: Path, repository: Path = REPOSITORY) -> LocalImage:
        """Lay the installed package out under ``root/site`` with links into ``repository``: the
        sources under test are imported, never those an editable install may point at elsewhere."""
        package = root / "site" / "tfx_tanas"
        package.mkdir(parents=True, exist_ok=True)
        for source in (repository / "tfx_tanas").iterdir():
            if source.name != "__pycache__" and not (package / source.name).exists():
                (package / source.name).symlink_to(source)
        for name, directory in PACKAGE_DIRS.items():
            if not (package / name).exists():
                (package / name).symlink_to(repository / directory)
        (root / "workdir").mkdir(exist_ok=True)
        return cls(site=root / "site", workdir=root / "workdir")

    @property
    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = str(self.site)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return env

    def run(self, command: Sequence[str], log: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
        """``command`` in the image; its output goes to ``log`` (or is captured)."""
        if log is None:
            return subprocess.run(list(command), env=self.environment, cwd=self.workdir, capture_output=True, text=True, timeout=timeout)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            return subprocess.run(list(command), env=self.environment, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)


@dataclasses.dataclass
class TaskRun:
    """One executed task: what it was given and what it produced."""

    name: str
    executor_input: dict[str, Any] | None  # None for an importer
    outputs: dict[str, list[dict[str, Any]]]  # output key -> RuntimeArtifact dicts (name, type, uri, metadata)
    output_parameters: dict[str, Any]
    seconds: float
    log: Path | None

    def artifact(self, key: str) -> dict[str, Any]:
        [single] = self.outputs[key]
        return single


def load_spec(path: str | os.PathLike) -> dict[str, Any]:
    """The PipelineSpec ``tanas compile`` wrote, checked as kfp.Client parses it before submitting."""
    spec = yaml.safe_load(Path(path).read_text())
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    return spec


def task_order(spec: Mapping[str, Any]) -> list[str]:
    """The root DAG's tasks, each after every task it depends on (ties by name)."""
    tasks = spec["root"]["dag"]["tasks"]
    sorter = graphlib.TopologicalSorter()
    for name, task in sorted(tasks.items()):
        upstream = set(task.get("dependentTasks", []))
        upstream |= {value["taskOutputArtifact"]["producerTask"] for value in task.get("inputs", {}).get("artifacts", {}).values()}
        sorter.add(name, *sorted(upstream))
    order = []
    sorter.prepare()
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


class LocalSpecRunner:
    """Runs every task of a compiled spec in dependency order, one subprocess per container step."""

    def __init__(self, spec: Mapping[str, Any], image: LocalImage, pipeline_root: str | None = None, timeout: float = 1800):
        self.spec = spec
        self.image = image
        self.pipeline_root = (pipeline_root or spec["defaultPipelineRoot"]).rstrip("/")
        if "://" in self.pipeline_root:
            raise ValueError(f"the local runner writes local paths only, not {self.pipeline_root}")
        self.timeout = timeout
        self.pipeline_name = spec["pipelineInfo"]["name"]
        self.run_id = f"{self.pipeline_name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.run_root = Path(self.pipeline_root) / self.pipeline_name / self.run_id

    def run(self) -> dict[str, TaskRun]:
        done: dict[str, TaskRun] = {}
        for name in task_order(self.spec):
            done[name] = self.run_task(name, done)
        return done

    # ---- the driver ---------------------------------------------------------------------------
    def run_task(self, name: str, done: Mapping[str, TaskRun]) -> TaskRun:
        task = self.spec["root"]["dag"]["tasks"][name]
        component = self.spec["components"][task["componentRef"]["name"]]
        executor = self.spec["deploymentSpec"]["executors"][component["executorLabel"]]
        if "importer" in executor:
            return self.run_importer(name, task, component, executor["importer"])
        if "container" not in executor:
            raise NotImplementedError(f"task {name}: only container and importer executors run locally")
        return self.run_container(name, task, component, executor["container"], done)

    def run_importer(self, name: str, task: Mapping, component: Mapping, importer: Mapping) -> TaskRun:
        uri = self.importer_uri(task, importer)
        [key] = component["outputDefinitions"]["artifacts"]
        artifact = {
            "name": f"{self.run_id}/{name}/{key}",
            "type": importer["typeSchema"],
            "uri": uri,
            "metadata": dict(importer.get("metadata", {})),
        }
        if not Path(uri).exists():
            raise StepFailed(f"importer {name}: nothing at {uri}")
        return TaskRun(name, None, {key: [artifact]}, {}, 0.0, None)

    def importer_uri(self, task: Mapping, importer: Mapping) -> str:
        source = importer["artifactUri"]
        if "constant" in source:
            return source["constant"]
        parameter = source["runtimeParameter"]
        return self.parameter_values(task, {})[parameter]

    def parameter_values(self, task: Mapping, done: Mapping[str, TaskRun]) -> dict[str, Any]:
        values = {}
        for key, value in task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in value:
                values[key] = value["runtimeValue"]["constant"]
            elif "componentInputParameter" in value:
                definition = self.spec["root"].get("inputDefinitions", {}).get("parameters", {})[value["componentInputParameter"]]
                values[key] = definition["defaultValue"]
            elif "taskOutputParameter" in value:
                producer = value["taskOutputParameter"]
                values[key] = done[producer["producerTask"]].output_parameters[producer["outputParameterKey"]]
            else:
                raise NotImplementedError(f"parameter {key}: {value}")
        return values

    def input_artifacts(self, name: str, task: Mapping, component: Mapping, done: Mapping[str, TaskRun]) -> dict[str, list[dict]]:
        resolved = {}
        definitions = component.get("inputDefinitions", {}).get("artifacts", {})
        for key, value in task.get("inputs", {}).get("artifacts", {}).items():
            producer = value["taskOutputArtifact"]
            artifacts = done[producer["producerTask"]].outputs[producer["outputArtifactKey"]]
            expected = _title(definitions[key]["artifactType"])
            for artifact in artifacts:
                if _title(artifact["type"]) != expected:
                    raise StepFailed(f"task {name}: input {key} expects {expected}, {producer['producerTask']} gives {_title(artifact['type'])}")
            resolved[key] = [dict(artifact) for artifact in artifacts]
        return resolved

    def executor_input(self, name: str, task: Mapping, component: Mapping, done: Mapping[str, TaskRun]) -> pipeline_spec_pb2.ExecutorInput:
        component_spec = _component_spec(component)
        task_root = self.run_root / name
        inputs = {
            "parameterValues": {
                **{key: d["defaultValue"] for key, d in component.get("inputDefinitions", {}).get("parameters", {}).items() if "defaultValue" in d},
                **self.parameter_values(task, done),
            },
            "artifacts": {key: {"artifacts": artifacts} for key, artifacts in self.input_artifacts(name, task, component, done).items()},
        }
        outputs = pipeline_spec_pb2.ExecutorInput.Outputs(output_file=str(task_root / "executor_output.json"))
        for key, definition in component_spec.output_definitions.artifacts.items():
            listed = executor_input_utils.make_artifact_list(name=key, artifact_type=definition.artifact_type, task_root=str(task_root))
            listed.artifacts[0].name = f"{self.run_id}/{name}/{key}"  # unique, as MLMD names are
            outputs.artifacts[key].CopyFrom(listed)
        for key in component_spec.output_definitions.parameters:
            outputs.parameters[key].output_file = str(task_root / "parameters" / key)
        executor_input = pipeline_spec_pb2.ExecutorInput(outputs=outputs)
        json_format.ParseDict(inputs, executor_input.inputs)
        return executor_input

    # ---- the launcher -------------------------------------------------------------------------
    def run_container(self, name: str, task: Mapping, component: Mapping, container: Mapping, done: Mapping[str, TaskRun]) -> TaskRun:
        started = time.perf_counter()
        component_spec = _component_spec(component)
        executor_input = self.executor_input(name, task, component, done)
        task_root = Path(executor_input.outputs.output_file).parent
        task_root.mkdir(parents=True, exist_ok=True)
        hook = container.get("lifecycle", {}).get("preCacheCheck")
        if hook:
            self.launch(name, "preCacheCheck", hook, executor_input, component_spec, task_root / "pre_cache_check.log")
            reported = executor_output_utils.load_executor_output(executor_input.outputs.output_file)
            for key, listed in reported.artifacts.items():
                for mine, theirs in zip(executor_input.outputs.artifacts[key].artifacts, listed.artifacts):
                    mine.metadata.update(json_format.MessageToDict(theirs.metadata))
        log = task_root / "executor.log"
        self.launch(name, "executor", container, executor_input, component_spec, log)

        output_file = executor_input.outputs.output_file
        if not Path(output_file).is_file():
            raise StepFailed(f"task {name} wrote no executor output {output_file}")
        reported = executor_output_utils.load_executor_output(output_file)
        outputs = {}
        for key, listed in executor_input.outputs.artifacts.items():
            artifacts = []
            for index, given in enumerate(listed.artifacts):
                artifact = json_format.MessageToDict(given)
                if key in reported.artifacts:
                    written = reported.artifacts[key].artifacts[index]
                    if written.uri and written.uri != given.uri:
                        raise StepFailed(f"task {name}: output {key} reported at {written.uri}, not its URI {given.uri}")
                    artifact["metadata"] = json_format.MessageToDict(written.metadata)
                artifacts.append(artifact)
            outputs[key] = artifacts
        parameters = {key: executor_output_utils.pb2_value_to_python(value) for key, value in reported.parameter_values.items()}
        return TaskRun(name, _executor_input_dict(executor_input, component_spec), outputs, parameters, time.perf_counter() - started, log)

    def launch(
        self,
        name: str,
        what: str,
        container: Mapping,
        executor_input: pipeline_spec_pb2.ExecutorInput,
        component_spec: pipeline_spec_pb2.ComponentSpec,
        log: Path,
    ) -> None:
        command = placeholder_utils.replace_placeholders(
            full_command=list(container.get("command", [])) + list(container.get("args", [])),
            executor_input_dict=_executor_input_dict(executor_input, component_spec),
            pipeline_resource_name=self.run_id,
            task_resource_name=name,
            pipeline_root=self.pipeline_root,
        )
        finished = self.image.run(command, log=log, timeout=self.timeout)
        if finished.returncode != 0:
            tail = log.read_text()[-4000:]
            raise StepFailed(f"task {name} ({what}) exited {finished.returncode}; log {log}:\n{tail}")


def _component_spec(component: Mapping) -> pipeline_spec_pb2.ComponentSpec:
    return json_format.ParseDict(component, pipeline_spec_pb2.ComponentSpec())


def _executor_input_dict(executor_input: pipeline_spec_pb2.ExecutorInput, component_spec: pipeline_spec_pb2.ComponentSpec) -> dict[str, Any]:
    """The executor input as JSON, integer parameters as integers (as KFP's backend writes them)."""
    return executor_input_utils.executor_input_to_dict(executor_input=executor_input, component_spec=component_spec)


def _title(type_schema: Mapping[str, Any]) -> str:
    if "schemaTitle" in type_schema:
        return type_schema["schemaTitle"]
    return yaml.safe_load(type_schema["instanceSchema"])["title"]


def run_spec(spec_path: str | os.PathLike, image: LocalImage, pipeline_root: str | None = None) -> dict[str, TaskRun]:
    """Load a compiled spec and execute every task; the runs by task name."""
    return LocalSpecRunner(load_spec(spec_path), image, pipeline_root).run()


def tanas(image: LocalImage, *arguments: str) -> subprocess.CompletedProcess:
    """The ``tanas`` command line, run in the image (with the sources under test)."""
    return image.run([str(image.python.parent / "tanas"), *arguments])


def compile_spec(image: LocalImage, out: Path, *options: str) -> str:
    """``tanas compile --out OUT OPTIONS...`` in the image; what it printed."""
    finished = tanas(image, "compile", "--out", str(out), *options)
    if finished.returncode != 0:
        raise StepFailed(f"tanas compile exited {finished.returncode}:\n{finished.stderr[-4000:]}")
    return finished.stdout

