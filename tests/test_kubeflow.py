"""`tanas compile`: a Kubeflow Pipelines V2 spec whose every executor and artifact type resolves in
the image, and whose container entrypoint runs a tanas component as written in the spec."""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from google.protobuf import json_format
from kfp import components as kfp_components
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.types.artifact import Artifact
from tfx.utils import import_utils
from tfx_inputs import CHILE_CSV, LABEL, fitted_evaluator

from tfx_tanas.cli import _parser, main
from tfx_tanas.components import artifacts
from tfx_tanas.meta_features import meta_features_for_frame
from tfx_tanas.pipelines.online import PIPELINE_NAME
from tfx_tanas.search_space import Architecture, SearchSpace
from tfx_tanas.tasks import PANEL_PREFIX, Task, task_set
from tfx_tanas.workflows import ARCHITECTURE_FILE, META_FEATURES_FILE

IMAGE = "registry.example.com/tfx-tanas:test"
ROOT = "gs://tanas-bucket/root"


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    assert main(["compile", "--out", str(out), "--image", IMAGE, "--pipeline-root", ROOT, "--data", "gs://tanas-bucket/data", "--label", LABEL]) == 0
    return out


@pytest.fixture(scope="module")
def spec(spec_path: Path) -> dict:
    return yaml.safe_load(spec_path.read_text())


def containers(spec: dict) -> dict[str, dict]:
    return {name: executor["container"] for name, executor in spec["deploymentSpec"]["executors"].items() if "container" in executor}


def executor_class_path(container: dict) -> str:
    args = container["args"]
    return args[args.index("--executor_class_path") + 1]


def artifact_titles(node: object) -> set[str]:
    """Every artifact type title in the spec (component definitions, importer)."""
    if isinstance(node, dict):
        found = {yaml.safe_load(node["instanceSchema"])["title"]} if "instanceSchema" in node else set()
        return found.union(*(artifact_titles(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(artifact_titles(v) for v in node))
    return set()


def test_spec_loads_in_kfp_and_runs_every_step_in_the_image(spec: dict, spec_path: Path) -> None:
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # what kfp.Client parses before submitting
    loaded = kfp_components.load_component_from_file(str(spec_path))
    assert loaded.name == PIPELINE_NAME
    assert loaded.pipeline_spec.default_pipeline_root == ROOT
    assert loaded.pipeline_spec.schema_version == "2.1.0"
    assert {c["image"] for c in containers(spec).values()} == {IMAGE}
    importer = spec["deploymentSpec"]["executors"]["evaluator_importer_executor"]["importer"]
    assert importer["artifactUri"]["constant"] == f"{ROOT}/evaluator"


def test_every_executor_class_and_the_trainer_run_fn_named_in_the_spec_import(spec: dict) -> None:
    paths = {executor_class_path(c) for c in containers(spec).values()}
    assert {"tfx_tanas.components.meta_feature_gen.executor.Executor", "tfx_tanas.components.arch_searcher.executor.Executor"} <= paths
    for path in paths:
        import_utils.import_class_by_path(path)
    trainer_parameters = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    run_fn = trainer_parameters["run_fn"]["runtimeValue"]["constant"]
    assert callable(import_utils.import_func_from_module(*run_fn.rsplit(".", 1)))


def test_every_artifact_type_resolves_as_the_container_resolves_it(spec: dict) -> None:
    titles = artifact_titles(spec)
    assert {"tfx_tanas.MetaFeaturesArtifact", "tfx_tanas.EvaluatorArtifact", "tfx_tanas.ArchitectureArtifact"} <= titles
    for title in titles:
        artifact_class = import_utils.import_class_by_path(compiler_utils.TITLE_TO_CLASS_PATH.get(title, title))
        assert issubclass(artifact_class, Artifact)
        if title.startswith("tfx_tanas."):
            assert artifact_class.TYPE_NAME == title


def test_arch_searcher_runs_through_the_spec_container_command(spec: dict, tmp_path: Path) -> None:
    """The entrypoint, executor class and parameters exactly as the spec gives them, on local files."""
    frame = pd.read_csv(CHILE_CSV).sample(300, random_state=0)
    (tmp_path / "meta_features").mkdir()
    (tmp_path / "meta_features" / META_FEATURES_FILE).write_text(json.dumps(meta_features_for_frame(frame, LABEL).to_json()))
    fitted_evaluator(SearchSpace()).save(tmp_path / "evaluator")

    component = spec["components"]["ArchSearcher"]
    task_inputs = spec["root"]["dag"]["tasks"]["ArchSearcher"]["inputs"]["parameters"]

    def runtime_artifact(name: str, definition: dict, uri: Path) -> dict:
        return {"artifacts": [{"name": f"local/{name}", "type": definition["artifactType"], "uri": str(uri)}]}

    executor_input = {
        "inputs": {
            "artifacts": {
                name: runtime_artifact(name, definition, tmp_path / name)
                for name, definition in component["inputDefinitions"]["artifacts"].items()
            },
            "parameterValues": {name: value["runtimeValue"]["constant"] for name, value in task_inputs.items()},
        },
        "outputs": {
            "artifacts": {
                name: runtime_artifact(name, definition, tmp_path / "outputs" / name)
                for name, definition in component["outputDefinitions"]["artifacts"].items()
            },
            "outputFile": str(tmp_path / "outputs" / "executor_output.json"),
        },
    }
    container = containers(spec)[component["executorLabel"]]
    command = [part.replace("{{$}}", json.dumps(executor_input)) for part in container["command"] + container["args"]]
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]

    chosen = Architecture.from_json(json.loads((tmp_path / "outputs" / "architecture" / ARCHITECTURE_FILE).read_text()))
    assert chosen.is_discrete
    output = json.loads((tmp_path / "outputs" / "executor_output.json").read_text())
    [reported] = output["artifacts"]["architecture"]["artifacts"]
    assert reported["metadata"][artifacts.ARCHITECTURE_KEY] == chosen.key
    assert reported["metadata"][artifacts.DESCRIPTION] == chosen.describe()


def test_image_steps_start_where_no_copy_of_the_sources_hides_the_installed_package() -> None:
    """Steps run ``python -m ...`` in the image's WORKDIR, which comes first on sys.path: a copied
    ``tfx_tanas/`` there (without components/ and pipelines/) would shadow the installed package."""
    workdir, copied_into = "/", set()
    for line in (Path(__file__).resolve().parent.parent / "kubeflow" / "Dockerfile").read_text().splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "WORKDIR":
            workdir = posixpath.join(workdir, rest.strip())
        elif instruction == "COPY" and "tfx_tanas" in rest.split()[:-1]:
            copied_into.add(posixpath.normpath(posixpath.join(workdir, rest.split()[-1])))
    assert copied_into, "the Dockerfile copies no tfx_tanas sources"
    assert posixpath.join(workdir, "tfx_tanas") not in copied_into, workdir


def test_the_default_offline_spec_measures_what_build_evaluator_measures(tmp_path: Path) -> None:
    """The Kubeflow offline pipeline regenerates the bundled records' kind of meta-dataset: the
    same tasks as ``tanas build-evaluator``'s defaults (the prior and its panel tables included),
    each with its default number of networks."""
    out = tmp_path / "offline.yaml"
    assert main(["compile", "--out", str(out), "--pipeline", "offline", "--image", IMAGE, "--pipeline-root", ROOT]) == 0
    parameters = yaml.safe_load(out.read_text())["root"]["dag"]["tasks"]["ArchitectureRecordsGen"]["inputs"]["parameters"]
    compiled = [Task(**fields).task_id for fields in json.loads(parameters["tasks"]["runtimeValue"]["constant"])]
    build = _parser().parse_args(["build-evaluator", "--records", "r.jsonl", "--out", "e"])
    expected = task_set(build.tasks, build.synthetic, build.seed, build.prior, prior_max_rows=build.prior_max_rows, panel_count=build.panel)
    assert compiled == [task.task_id for task in expected]
    assert sum(task_id.startswith(f"prior/{PANEL_PREFIX}") for task_id in compiled) == build.panel > 0
    assert build.archs_per_task is None and parameters["architectures_per_task"]["runtimeValue"]["constant"] == 0
