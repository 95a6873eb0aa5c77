"""The test kit is shared by the tests and the benchmarks, so neither it nor the benchmarks
import the tests (import-linter checks that Vigil and the simulator never import the kit)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _imports_tests(path: Path) -> list[str]:
    return sorted(n for n in _imported(path) if n == "tests" or n.startswith("tests."))


@pytest.mark.parametrize("package", ["testkit", "bench"])
def test_the_kit_and_the_benchmarks_never_import_the_tests(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    found = {str(f.relative_to(ROOT)): _imports_tests(f) for f in files}
    assert {f: names for f, names in found.items() if names} == {}


def test_the_check_sees_an_import_of_the_tests(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom tests.conftest import STORE_KINDS\n")
    assert _imports_tests(module) == ["tests.conftest"]
    module.write_text("def f():\n    import tests.mongo\n")
    assert _imports_tests(module) == ["tests.mongo"]
