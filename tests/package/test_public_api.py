"""The public surface: `hybrid.__all__` is exactly what the package defines, and the docs, the README and
the examples use nothing else."""

from __future__ import annotations

import re
import types

import hybrid
from tests.conftest import ROOT

PUBLIC_MODULES = {"hybrid", "hybrid.main", "hybrid.dev", "hybrid.testing"}
"""Modules code outside the package may import: the package, the servable app, the development tools (the
simulator, `python -m hybrid.dev.simulator`), and the pytest plugin. Everything else is `hybrid._*`."""


def test_all_names_exactly_what_hybrid_defines_and_each_resolves() -> None:
    # As httpx pins its surface: every public name of the module is in `__all__`, sorted, and no other.
    # Public submodules imported meanwhile (`hybrid.main`, ...) are attributes of the package too.
    defined = sorted(
        name
        for name, value in vars(hybrid).items()
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, types.ModuleType)
    )
    assert hybrid.__all__ == sorted(hybrid.__all__), "keep __all__ sorted"
    assert sorted(hybrid.__all__) == defined


def test_internal_modules_are_marked_as_such() -> None:
    for path in (ROOT / "hybrid").iterdir():
        if path.name.startswith(("_", ".")) or path.suffix == ".typed":
            continue
        assert f"hybrid.{path.stem}" in PUBLIC_MODULES, (
            f"hybrid/{path.name} is public by name: prefix it with _"
        )


def _python_code() -> list[tuple[str, str]]:
    """The Python a user copies: the docs' and the README's python blocks, and the examples."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    blocks = [
        (page.name, block)
        for page in pages
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    ]
    return blocks + [(path.name, path.read_text()) for path in sorted((ROOT / "examples").glob("*.py"))]


def test_the_docs_and_the_examples_use_only_the_public_surface() -> None:
    for source, code in _python_code():
        for module in re.findall(r"^\s*(?:from|import) (hybrid[\w.]*)", code, re.M):
            assert _in_public(module), f"{source} imports the private module {module}"
        for parenthesised, names in re.findall(
            r"^\s*from hybrid import (?:\(([^)]*)\)|([\w, ]+))", code, re.M
        ):
            for name in filter(None, (n.strip() for n in (parenthesised or names).split(","))):
                assert name in hybrid.__all__, f"{source} imports hybrid.{name}, which hybrid does not export"
        for name in re.findall(r"\bhybrid\.(\w+)", code):
            assert name in hybrid.__all__ or _in_public(f"hybrid.{name}"), f"{source} uses hybrid.{name}"


def _in_public(module: str) -> bool:
    return any(
        module == public or module.startswith(public + ".") for public in PUBLIC_MODULES - {"hybrid"}
    ) or (module == "hybrid")
