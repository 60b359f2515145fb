"""Imports flow one way (README, Architecture): the Dash side and the providers depend on the core, never
the reverse; the core knows providers only through their interface, and imports nothing of Dash."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "hybrid"
COMPOSITION = {"hybrid/__init__.py", "hybrid/app.py", "hybrid/main.py", "hybrid/__main__.py"}
"""Where the pieces are put together: these may import every room."""
ROOMS = ("hybrid/dash/", "hybrid/providers/", "hybrid/simulator/", "hybrid/testing.py")
"""The rooms that depend on the core (`hybrid.testing`, helpers for tests, uses them all)."""
PROVIDER_INTERFACE = "hybrid.providers.base"


def _imports(path: Path) -> set[str]:
    """The modules `path` imports, at any depth of its code (a deferred import counts too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _core() -> list[str]:
    files = (str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py"))
    return sorted(f for f in files if f not in COMPOSITION and not f.startswith(ROOMS))


def _refused_for_core(module: str) -> bool:
    if module in ("hybrid.providers", PROVIDER_INTERFACE) or module.startswith(PROVIDER_INTERFACE + "."):
        return False
    return module.split(".")[0] in ("dash", "flask", "dash_extensions", "openai") or module.startswith(
        ("hybrid.dash", "hybrid.providers.", "hybrid.simulator")
    )


@pytest.mark.parametrize("path", _core())
def test_the_core_imports_no_room_that_depends_on_it(path: str) -> None:
    wrong = sorted(m for m in _imports(ROOT / path) if _refused_for_core(m))
    assert wrong == [], f"{path} imports {wrong}"


@pytest.mark.parametrize(
    "path", sorted(str(p.relative_to(ROOT)) for p in (PACKAGE / "providers").rglob("*.py"))
)
def test_providers_import_nothing_of_the_dash_side(path: str) -> None:
    wrong = sorted(
        m for m in _imports(ROOT / path) if m.startswith("hybrid.dash") or m.split(".")[0] == "dash"
    )
    assert wrong == [], f"{path} imports {wrong}"
