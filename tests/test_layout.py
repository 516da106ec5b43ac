"""One layout for the tests: every folder a package, shared code in tests/helpers/.

A test module that imports ``conftest`` or another test module ties the two
together by file name and import mode (the old ``from web.test_browser import
server``): move what is shared into tests/helpers/ instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def python_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, relative imports resolved to their last part."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names.append(module)
            if not module or node.level:  # from . import x: x may be a module
                names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def is_test_module(name: str) -> bool:
    last = name.rpartition(".")[2]
    return last == "conftest" or last.startswith("test_")


def test_every_test_folder_is_a_package() -> None:
    folders = {path.parent for path in python_files()}
    assert [str(f) for f in sorted(folders) if not (f / "__init__.py").exists()] == []


def test_nothing_imports_conftest_or_a_test_module() -> None:
    offenders = [
        f"{path.relative_to(TESTS)} imports {name}"
        for path in python_files()
        for name in imported_modules(path)
        if is_test_module(name)
    ]
    assert offenders == []


def test_test_folders_hold_only_tests() -> None:
    """Helpers, subprocess scripts and apps live in tests/helpers/."""
    strays = [
        str(path.relative_to(TESTS))
        for path in python_files()
        if "helpers" not in path.relative_to(TESTS).parts
        and path.name != "__init__.py"
        and not is_test_module(path.stem)
    ]
    assert strays == []
