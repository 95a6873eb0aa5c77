"""Print ``name==X`` for each package named on the command line, X being the lower bound
(``>=X``) of its requirement in pyproject.toml: what ``make test-oldest`` installs."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def lowest(requirements: list[str], name: str) -> str:
    """``name==X`` for ``name``'s requirement ``name[extras]>=X,...``."""
    pattern = re.compile(rf"{re.escape(name)}(\[[^\]]*\])?\s*(?P<spec>[<>=!~].*)$")
    for requirement in requirements:
        found = pattern.match(requirement)
        if found:
            bound = re.search(r">=\s*([0-9][\w.]*)", found["spec"])
            if bound is None:
                raise SystemExit(f"{name}: no lower bound (>=) in {requirement!r}")
            return f"{name}=={bound[1]}"
    raise SystemExit(f"{name} is not a dependency in pyproject.toml")


def main(names: list[str]) -> None:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    requirements = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    print(" ".join(lowest(requirements, name) for name in names))


if __name__ == "__main__":
    main(sys.argv[1:])
