"""The package's import graph: one way down, no cycles.

Read from the source (AST), so imports inside functions and under
``TYPE_CHECKING`` count too: a cycle hidden in a function is still a cycle
for the next engineer, and the layers of ``docs/architecture.rst`` are
only real if the code keeps them.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = "flask_llm_logs"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in ROOT.rglob("*.py")
        # Migration scripts are loaded by Alembic from their files, never imported.
        if "versions" not in path.relative_to(ROOT).parts
    }


def _imported(
    module: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]
) -> set[str]:
    """The package's modules a statement imports: ``from a import b`` is ``a.b`` if that is
    a module, else ``a``."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if path.name != "__init__.py":
            package.pop()
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        found.add(submodule if submodule in known else base)
    return found & known


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports, anywhere in it."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        imports: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports |= _imported(module, path, node, known)
        graph[module] = imports - {module}
    return graph


def test_the_graph_sees_function_level_and_type_checking_imports() -> None:
    graph = import_graph()
    # The purge job imports the retention module inside its function.
    assert "flask_llm_logs.tracing.retention" in graph["flask_llm_logs.jobs"]
    # state.py names the writer and the prompt store only under TYPE_CHECKING.
    assert {"flask_llm_logs.tracing.writer", "flask_llm_logs.prompts.store"} <= graph[
        "flask_llm_logs.state"
    ]


def test_the_package_has_no_import_cycle() -> None:
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_nothing_below_the_extension_imports_it() -> None:
    importers = {
        module for module, imports in import_graph().items() if f"{PACKAGE}.extension" in imports
    }
    # The package's __init__ re-exports the public API; it is above everything.
    assert importers == {PACKAGE}


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("flask_llm_logs.state", "flask_llm_logs.web"),
        ("flask_llm_logs.tracing", "flask_llm_logs.instrumentation"),
        ("flask_llm_logs.tracing", "flask_llm_logs.batches"),
        ("flask_llm_logs.prompts", "flask_llm_logs.web"),
        ("flask_llm_logs.batches", "flask_llm_logs.web"),
        ("flask_llm_logs.batches", "flask_llm_logs.cli"),
        ("flask_llm_logs.tracing", "flask_llm_logs.insights"),
        ("flask_llm_logs.insights", "flask_llm_logs.web"),
    ],
)
def test_layers_point_one_way(lower: str, higher: str) -> None:
    """A lower layer never imports a higher one (see docs/architecture.rst)."""
    offending = {
        (module, imported)
        for module, imports in import_graph().items()
        if module == lower or module.startswith(lower + ".")
        for imported in imports
        if imported == higher or imported.startswith(higher + ".")
    }
    assert not offending
