"""The tree shows the layers (docs, Architecture): each room imports only rooms on its floor or below, and
the libraries only the rooms that are theirs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "hybrid"

FLOORS = {
    "hybrid._version": 0,
    "hybrid._errors": 0,
    "hybrid._compat": 0,
    "hybrid._settings": 1,
    "hybrid._wire": 1,
    "hybrid._web": 2,
    "hybrid._providers": 2,
    "hybrid._streams": 3,
    "hybrid._tools": 3,
    "hybrid._answers": 4,
    "hybrid._conversations": 4,
    "hybrid._chat": 5,
    "hybrid._stores": 6,
    "hybrid._ops": 7,
    "hybrid._dash": 8,
    "hybrid._app": 9,
    "hybrid": 10,
    "hybrid.main": 10,
    "hybrid.__main__": 10,
    "hybrid.dev": 11,
    "hybrid.testing": 12,
}
"""Each room's floor, from the bottom: a room may import itself and the floors below (so no two rooms
import each other). The architecture page of the docs draws the same floors."""

LIBRARIES = {
    "dash": ("hybrid._dash", "hybrid._compat.dash", "hybrid._app"),
    "dash_extensions": ("hybrid._dash",),
    "flask": ("hybrid._dash",),
    "plotly": ("hybrid._dash",),
    "werkzeug": ("hybrid._dash",),
    "openai": ("hybrid._providers.openai", "hybrid._providers.select", "hybrid._compat.openai"),
    "httpx2": ("hybrid._providers.openai", "hybrid._compat.openai"),
    "aiohttp": ("hybrid._providers.openai", "hybrid._compat.openai"),
    "jiter": ("hybrid._providers.openai",),
    "redis": ("hybrid._stores.redis",),
    "sqlalchemy": ("hybrid._conversations",),
    "alembic": ("hybrid._conversations",),
    "aiosqlite": ("hybrid._conversations",),
    "asyncpg": ("hybrid._conversations",),
    "uvicorn": ("hybrid._ops.cli",),
}
"""Who may import a library: the room it is a detail of (a provider's SDK, the store's client, Dash)."""

PROVIDER_INTERFACE = ("hybrid._providers.base", "hybrid._providers.select")
"""All the rest of hybrid knows of providers: their interface, and the choice from the settings."""


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def _imports(path: Path) -> set[str]:
    """The modules `path` imports, at any depth of its code (a deferred import counts too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _room(module: str) -> str:
    """The room `module` belongs to: the longest name of `FLOORS` it starts with."""
    rooms = [room for room in FLOORS if module == room or module.startswith(room + ".")]
    assert rooms, f"{module} is in no room of the layout: give it a floor in FLOORS (and the docs)"
    return max(rooms, key=len)


def _in(module: str, rooms: tuple[str, ...]) -> bool:
    return any(module == room or module.startswith(room + ".") for room in rooms)


MODULES = _modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[module for module, _ in MODULES])
def test_a_room_imports_only_itself_and_lower_floors(module: str, path: Path) -> None:
    room = _room(module)
    floor = FLOORS[room]
    wrong = sorted(
        name
        for name in _imports(path)
        if name.split(".")[0] == "hybrid"
        and _room(name) != room
        and FLOORS[_room(name)] >= floor
        and room != "hybrid"  # the public surface re-exports every room
    )
    assert wrong == [], f"{module} (floor {floor}) imports from its own floor or above: {wrong}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[module for module, _ in MODULES])
def test_libraries_are_imported_only_by_their_rooms(module: str, path: Path) -> None:
    if _in(module, ("hybrid.dev", "hybrid.testing")):
        return  # development tools may use anything
    wrong = sorted(
        name
        for name in _imports(path)
        if name.split(".")[0] in LIBRARIES and not _in(module, LIBRARIES[name.split(".")[0]])
    )
    assert wrong == [], f"{module} imports {wrong}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[module for module, _ in MODULES])
def test_the_rest_knows_providers_through_their_interface(module: str, path: Path) -> None:
    if _in(module, ("hybrid._providers", "hybrid.dev", "hybrid.testing")):
        return
    wrong = sorted(
        name
        for name in _imports(path)
        if _in(name, ("hybrid._providers",)) and not _in(name, PROVIDER_INTERFACE)
    )
    assert wrong == [], f"{module} imports the providers' insides: {wrong}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[module for module, _ in MODULES])
def test_only_compat_reaches_into_other_projects_private_modules(module: str, path: Path) -> None:
    if _in(module, ("hybrid._compat",)):
        return
    private = sorted(
        name
        for name in _imports(path)
        if name.split(".")[0] not in ("hybrid", "__future__")
        and any(part.startswith("_") for part in name.split(".")[1:])
    )
    assert private == [], f"{module} imports private modules of other projects: {private}"
    assert "sys._getframe" not in path.read_text(), f"{module} reads frames: that belongs in hybrid._compat"


def test_the_server_never_imports_the_development_tools() -> None:
    runtime = [
        (module, path) for module, path in MODULES if not _in(module, ("hybrid.dev", "hybrid.testing"))
    ]
    for module, path in runtime:
        dev = sorted(name for name in _imports(path) if _in(name, ("hybrid.dev", "hybrid.testing")))
        assert dev == [], f"{module} imports development tools: {dev}"


def test_the_architecture_page_draws_the_same_floors() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    drawn: dict[str, int] = {}
    for floor, rooms in re.findall(r"^\| (\d+) \| (`[^|]+`) \|", page, re.M):
        for room in re.findall(r"`([\w.]+)`", rooms):
            drawn[room] = int(floor)
    assert drawn == FLOORS, "docs/architecture.md and FLOORS disagree: change both together"
