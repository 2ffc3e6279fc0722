"""The package's shape: no import cycles, a TFX-free core, and a CLI that starts without TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tfx_tanas
import tfx_tanas.components
import tfx_tanas.pipelines

PACKAGES = {"tfx_tanas": Path(tfx_tanas.__file__).parent}
PACKAGES["tfx_tanas.components"] = Path(tfx_tanas.components.__file__).parent
PACKAGES["tfx_tanas.pipelines"] = Path(tfx_tanas.pipelines.__file__).parent


def project_modules() -> dict[str, Path]:
    """Every module of the installed packages, by dotted name (components and pipelines live in
    their own folders but install under tfx_tanas)."""
    modules = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if package == "tfx_tanas" and (parts[:1] in (["components"], ["pipelines"])):
                continue
            modules[name] = path
    return modules


def imports_of(path: Path, name: str) -> set[str]:
    """Every module an import statement anywhere in the file names (function-local ones too)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: {m for m in imports_of(path, name) if m in modules and m != name} for name, path in modules.items()}


def test_the_import_graph_has_no_cycles():
    graph = project_graph()
    assert len(graph) > 30
    visiting, done = [], set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, f"import cycle: {' -> '.join(visiting[visiting.index(module):] + [module])}"
        visiting.append(module)
        for dependency in sorted(graph[module]):
            # a package's __init__ is imported with its modules; only real module edges count
            if not module.startswith(dependency + "."):
                visit(dependency)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_core_imports_nothing_from_tfx():
    for name, path in project_modules().items():
        if name.startswith(("tfx_tanas.components", "tfx_tanas.pipelines")):
            continue
        tfx_imports = sorted(m for m in imports_of(path, name) if m == "tfx" or m.startswith("tfx."))
        assert not tfx_imports, f"{name} imports {tfx_imports}"


def test_the_cli_starts_without_tensorflow(tmp_path):
    """`tanas --help` and `tanas sample-architectures` load neither TensorFlow nor TFX (nor pandas)."""
    probe = (
        "import sys, contextlib, io\n"
        "from tfx_tanas.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "    main(['sample-architectures', '--n', '2', '--out', sys.argv[1]])\n"
        "print('HEAVY', sorted(m for m in ('tensorflow', 'keras', 'matplotlib', 'tfx', 'pandas') if m in sys.modules))\n"
    )
    out = tmp_path / "archs.jsonl"
    printed = subprocess.run([sys.executable, "-c", probe, str(out)], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in printed, printed
    assert len(out.read_text().splitlines()) == 2
