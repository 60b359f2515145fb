"""The public surface: what `hybrid` exports, and that the README and the examples use nothing else."""

from __future__ import annotations

import re

import hybrid
from tests.conftest import ROOT

EXPORTED = {
    "ApiError",
    "Authorize",
    "Chat",
    "ChatRequest",
    "ChatStream",
    "ClientLimiter",
    "Completion",
    "Event",
    "EventStreamResponse",
    "HybridApp",
    "JsonFormatter",
    "Message",
    "Part",
    "Provider",
    "Reasoning",
    "Reply",
    "RequestIdFilter",
    "SetProps",
    "Settings",
    "SettingsError",
    "StreamError",
    "StreamHooks",
    "StreamOutcome",
    "StreamSupervisor",
    "Usage",
    "configure_logging",
    "configure_process",
    "create_app",
    "provider_from_settings",
    "read_json",
    "route_url",
    "serve_dash",
    "signed_in_user",
    "sse_request",
    "stream_endpoint",
    "stream_on",
    "to_item",
}
"""Changing this set changes hybrid's API: a deliberate act, with the README updated."""

PUBLIC_MODULES = {"hybrid", "hybrid.main", "hybrid.simulator", "hybrid.testing", "hybrid.tools"}
"""Modules code outside the package may import: the package, the servable app, the test helpers, tools."""


def _python_code() -> list[tuple[str, str]]:
    """The Python a user copies: the README's python blocks and the examples."""
    readme = (ROOT / "README.md").read_text()
    blocks = [("README.md", block) for block in re.findall(r"```python\n(.*?)```", readme, re.S)]
    return blocks + [(path.name, path.read_text()) for path in sorted((ROOT / "examples").glob("*.py"))]


def test_hybrid_exports_exactly_its_public_names_and_each_resolves() -> None:
    assert set(hybrid.__all__) == EXPORTED
    for name in EXPORTED:
        assert getattr(hybrid, name) is not None, name


def test_the_readme_and_the_examples_use_only_the_public_surface() -> None:
    for source, code in _python_code():
        for module in re.findall(r"^\s*(?:from|import) (hybrid[\w.]*)", code, re.M):
            assert module in PUBLIC_MODULES, f"{source} imports the private module {module}"
        for parenthesised, names in re.findall(
            r"^\s*from hybrid import (?:\(([^)]*)\)|([\w, ]+))", code, re.M
        ):
            for name in filter(None, (n.strip() for n in (parenthesised or names).split(","))):
                assert name in EXPORTED, f"{source} imports hybrid.{name}, which hybrid does not export"
        for name in re.findall(r"\bhybrid\.(\w+)", code):
            assert name in EXPORTED or f"hybrid.{name}" in PUBLIC_MODULES, f"{source} uses hybrid.{name}"
