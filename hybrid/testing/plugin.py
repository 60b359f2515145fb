"""The pytest plugin hybrid registers (entry point `pytest11`): a project that installs
`dash-hybrid[testing]` has its fixtures with no conftest.

- `hybrid_server`: serves one app with hybrid's server on a loopback port (`hybrid_server(app)`, then
  `hybrid_server.url`), as dash's `dash_thread_server` serves one with Flask alone;
- `dash_hybrid`: `dash_duo` on that server (see `HybridComposite`).

Both run the test with the demo model at full speed (`DEMO_ENVIRONMENT`), for apps built during the
test. `dash_hybrid` takes dash's command-line options (`--webdriver`, `--headless`, `--remote`,
`--remote-url`, `--pause`, ...) and its `pytest_setup_options` hook when dash's own plugin is loaded, and
runs the browser headless where there is no display to open a window on. Like `dash_duo`, it saves a
screenshot of a failed test under `/tmp/dash_artifacts`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from hybrid.dev.browser import CHROMIUM_ARGS

if TYPE_CHECKING:  # they need dash[testing] (Selenium): imported when a fixture is used
    from hybrid.testing._browser import HybridComposite
    from hybrid.testing._server import HybridRunner

DEMO_ENVIRONMENT = {
    "HYBRID_PROVIDER": "demo",
    "HYBRID_DEMO_TTFT_MS": "0",
    "HYBRID_DEMO_TOKEN_MS": "0",
    "HYBRID_CLIENT_RATE_PER_MINUTE": "0",
}
"""Set for each test that uses a fixture: the demo model, which answers the same text every time, at
once; and no limit on the answers one client starts a minute (the test's browser is one client)."""

NEEDS_TESTING_EXTRA = (
    "the hybrid_server and dash_hybrid fixtures are built on dash.testing (dash_hybrid drives a browser "
    "through Selenium), which is not installed: pip install 'dash-hybrid[testing]'"
)


@pytest.fixture
def hybrid_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HybridRunner]:
    """Serves one app with hybrid's server for this test: `hybrid_server(app, **create_app_options)`."""
    runner_class = _needing_testing_extra("hybrid.testing._server").HybridRunner
    for name, value in DEMO_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with runner_class() as runner:
        yield runner


@pytest.fixture
def dash_hybrid(
    request: pytest.FixtureRequest, hybrid_server: HybridRunner, tmp_path: Path
) -> Iterator[HybridComposite]:
    """`dash_duo` on an app hybrid's server serves: `dash_hybrid.start_server(app)`, then dash_duo's
    browser API, `send_message(chat_id, text)` and `wait_for_answer(chat_id)`."""
    composite_class = _needing_testing_extra("hybrid.testing._browser").HybridComposite
    config = request.config
    browser = config.getoption("webdriver", default="Chrome")
    download = tmp_path / "download"
    download.mkdir()
    with composite_class(
        server=hybrid_server,
        browser=browser,
        remote=config.getoption("remote", default=False),
        remote_url=config.getoption("remote_url", default=None),
        headless=config.getoption("headless", default=False) or not _has_display(),
        options=_browser_options(config, browser),
        download_path=str(download),
        percy_assets_root=config.getoption("percy_assets", default=""),
        percy_finalize=config.getoption("nopercyfinalize", default=True),
        pause=config.getoption("pause", default=False),
    ) as composite:
        yield composite


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """A screenshot of the page when a test that uses `dash_hybrid` fails, as dash_duo takes one."""
    report = yield
    composite = getattr(item, "funcargs", {}).get("dash_hybrid")
    if composite is not None and report.when == "call" and report.failed:
        try:
            composite.take_snapshot(item.name)
        except Exception as exc:  # the failure is the test's; a missing screenshot only says why
            report.sections.append(("dash_hybrid", f"no screenshot was taken: {exc!r}"))
    return report


def _needing_testing_extra(module: str) -> ModuleType:
    """`module`, or the test fails saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{NEEDS_TESTING_EXTRA} ({exc})", pytrace=False)


def _browser_options(config: pytest.Config, browser: str) -> list[Any]:
    """Options for the webdriver: those of dash's `pytest_setup_options` hook when a project implements
    it, else, for Chrome, flags that keep it from calling home (a closed network refuses it)."""
    hook = getattr(config.hook, "pytest_setup_options", None)  # declared by dash's plugin, when loaded
    chosen = hook() if hook is not None else []
    if chosen or browser.lower() != "chrome":
        return list(chosen)
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    return [options]


def _has_display() -> bool:
    """Whether a browser window can open: not on Linux (or a BSD) without an X or Wayland display."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
