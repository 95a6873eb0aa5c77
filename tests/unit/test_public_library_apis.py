"""Vigil uses its libraries through their public API; what has no public counterpart lives in
one adapter module per library, each with its own upgrade test:

- Strawberry and graphql-core: ``resolvers/strawberry_adapter.py``
  (``tests/unit/test_strawberry_adapter.py``);
- mongomock and mongomock-motor: ``services/store/mongomock_adapter.py``
  (``tests/store/test_mongomock_adapter.py``).

Outside those modules, product code (``api``, ``resolvers``, ``services``, ``simulator``)
imports only Strawberry's documented modules and what ``graphql`` exports, names no
underscore name of any library (``obj._private``, ``getattr(obj, "_private")``,
``from lib import _private``), and overrides no library's underscore method.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import graphql
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "resolvers", "services", "simulator")
ADAPTERS = {
    "resolvers/strawberry_adapter.py": {"strawberry", "graphql", "cross_web"},
    "services/store/mongomock_adapter.py": {"mongomock", "mongomock_motor"},
}
#: Strawberry's modules that its documentation imports from.
PUBLIC_STRAWBERRY = {
    "strawberry",
    "strawberry.asgi",
    "strawberry.exceptions",
    "strawberry.extensions",
    "strawberry.scalars",
    "strawberry.subscriptions",
    "strawberry.types",
}
#: Modules only an adapter may import at all.
ADAPTER_ONLY = {"cross_web", "mongomock", "mongomock_motor"}
#: Third-party packages whose classes product code subclasses.
LIBRARIES = ("strawberry", "graphql", "cross_web", "starlette", "mongomock", "mongomock_motor")


def product_files() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            yield relative, ast.parse(path.read_text(), relative)


FILES = dict(product_files())


def own_names() -> set[str]:
    """Every name Vigil itself defines (functions, classes, attributes, variables)."""
    names: set[str] = set()
    for tree in FILES.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def outside_adapters(library: str) -> Iterator[tuple[str, ast.Module]]:
    for relative, tree in FILES.items():
        if library not in ADAPTERS.get(relative, set()):
            yield relative, tree


def imports(tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every import (``names`` empty for ``import x.y``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [a.name for a in node.names]


def test_strawberry_is_imported_from_its_documented_modules_only() -> None:
    found = [
        f"{path}:{line}: {module} {names}"
        for path, tree in outside_adapters("strawberry")
        for line, module, names in imports(tree)
        if module.split(".")[0] == "strawberry"
        and (module not in PUBLIC_STRAWBERRY or any(n.startswith("_") for n in names))
    ]
    assert not found, (
        "Strawberry imported outside its public modules; use a public extension point or "
        "move the use into resolvers/strawberry_adapter.py (with its upgrade test):\n"
        + "\n".join(found)
    )


def test_graphql_core_is_imported_from_its_top_level_exports_only() -> None:
    public = set(graphql.__all__)
    found = [
        f"{path}:{line}: {module} {names}"
        for path, tree in outside_adapters("graphql")
        for line, module, names in imports(tree)
        if module.split(".")[0] == "graphql" and (module != "graphql" or not set(names) <= public)
    ]
    assert not found, (
        "graphql-core imported beyond `graphql.__all__`; move the use into "
        "resolvers/strawberry_adapter.py (with its upgrade test):\n" + "\n".join(found)
    )


@pytest.mark.parametrize("library", sorted(ADAPTER_ONLY))
def test_adapter_only_modules_are_imported_by_their_adapter(library: str) -> None:
    found = [
        f"{path}:{line}: {module}"
        for path, tree in outside_adapters(library)
        for line, module, _ in imports(tree)
        if module.split(".")[0] == library
    ]
    owner = next(path for path, libraries in ADAPTERS.items() if library in libraries)
    assert not found, f"only {owner} may import {library}:\n" + "\n".join(found)


def test_no_underscore_name_of_a_library_is_used_outside_the_adapters() -> None:
    ours = own_names()
    found: list[str] = []
    for path, tree in FILES.items():
        if path in ADAPTERS:
            continue
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                name = node.args[1].value
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("__strawberry")
            ):
                name = node.value
            if name is None or not name.startswith("_"):
                continue
            foreign = name.startswith("__strawberry") or (
                not name.startswith("__") and name not in ours
            )
            if foreign:
                found.append(f"{path}:{node.lineno}: {name}")
    assert not found, (
        "a library's private name used outside its adapter (resolvers/strawberry_adapter.py, "
        "services/store/mongomock_adapter.py):\n" + "\n".join(found)
    )


def product_classes() -> Iterator[type]:
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__:
                    yield cls


def test_no_library_underscore_method_is_overridden_outside_the_adapters() -> None:
    found = []
    for cls in product_classes():
        path = cls.__module__.replace(".", "/") + ".py"
        for name, value in vars(cls).items():
            method = inspect.isfunction(value) or isinstance(
                value, property | classmethod | staticmethod
            )
            if not method or not name.startswith("_") or name.startswith("__"):
                continue
            for base in cls.__mro__[1:]:
                library = base.__module__.split(".")[0]
                allowed = library in ADAPTERS.get(path, set())
                if library in LIBRARIES and name in vars(base) and not allowed:
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{name} ({base})")
    assert not found, "overrides of a library's private method:\n" + "\n".join(found)
