"""Fixtures: real uvicorn servers on ephemeral loopback ports, and Debian's Chromium through Playwright.

Every test belongs to one layer, a marker: `unit` (in process: no process started, no socket connected;
`make test-fast`), `server` (real servers: uvicorn, Redis, the simulator), `browser` (Chromium) and
`soak` (many streams at once; `make soak` runs them at full scale). A test with no marker is a browser
test if it uses the `page` or `browser` fixture, a server test if it uses one that starts a server, and
else a unit test, held to it: starting a process or connecting a socket fails it, naming the marker it
needs.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hybrid.dev.browser import CHROMIUM, CHROMIUM_ARGS
from hybrid.dev.servers import free_port, wait_until_answering
from hybrid.dev.tickets import chat_ticket

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "hybrid-tests-shared-secret"
FAST_DEMO = {
    "HYBRID_DEMO_TTFT_MS": "50",
    "HYBRID_DEMO_TOKEN_MS": "10",
    "HYBRID_CLIENT_RATE_PER_MINUTE": "0",
    "HYBRID_CLIENT_TICKETS_PER_MINUTE": "0",
    "HYBRID_SECRET_KEY": TEST_SECRET,
}


LAYERS = {
    "unit": "in process: no process started, no socket connected (make test-fast)",
    "server": "real servers on loopback: uvicorn, Redis, the simulator",
    "browser": "Debian's Chromium through Playwright, against real servers",
    "soak": "many streams at once (small in make test, full scale in make soak)",
}


def pytest_configure(config: pytest.Config) -> None:
    for layer, meaning in LAYERS.items():
        config.addinivalue_line("markers", f"{layer}: {meaning}")
    _keep_data_out_of_home()


def _keep_data_out_of_home() -> None:
    """No test, nor any server it starts, writes into a real home or a real database: the data folder
    (`hybrid._settings.data_dir`) is a temporary one for the session, and the database settings of the
    shell running the tests are ignored."""
    for name in ("HYBRID_DATA_DIR", "HYBRID_DATABASE_URL"):
        os.environ.pop(name, None)
    data_home = Path(tempfile.mkdtemp(prefix="hybrid-tests-data-"))
    os.environ["XDG_DATA_HOME"] = str(data_home)
    atexit.register(shutil.rmtree, data_home, ignore_errors=True)


BROWSER_FIXTURES = frozenset({"page", "browser", "dash_hybrid"})
SERVER_FIXTURES = frozenset(
    {"serve", "server", "simulator", "redis_server", "postgres_server", "hybrid_server"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the fixtures it uses (a browser's makes it a browser test, whatever its module
    says); a test with no layer and no such fixture is a unit test."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        marked = {mark.name for mark in item.iter_markers()} & LAYERS.keys()
        if fixtures & BROWSER_FIXTURES:
            if "browser" not in marked:
                item.add_marker("browser")
        elif not marked:
            item.add_marker("server" if fixtures & SERVER_FIXTURES else "unit")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _in_process(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _in_process(item):
        return (yield)


@contextlib.contextmanager
def _in_process(item: pytest.Item) -> Iterator[None]:
    """Hold a unit test (and the fixtures it sets up) to running in process."""
    if item.get_closest_marker("unit") is None:
        yield
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(
            f"{item.nodeid} is a unit test, which runs in process: mark it `server` "
            "(pytestmark = pytest.mark.server) if it needs a process or a socket"
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse)
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield


def signed(
    body: dict[str, Any], secret: str = TEST_SECRET, *, user: str | None = None, mount: str = ""
) -> dict[str, str]:
    """The stream request a Chat sends for `body`, signed with the server's key as its callback signs it
    for the app at `mount`: `{"chat", "messages", "context"}` for any Chat, or `messages` and the built-in
    page's settings (`model`, `preset`, `temperature`) for the page's Chat."""
    chat = body.get("chat", "chat")
    context = (
        body["context"]
        if "chat" in body
        else [body.get("model"), body.get("preset"), body.get("temperature")]
    )
    return chat_ticket(body["messages"], secret, chat=chat, context=context, user=user, mount=mount)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: Playwright's sync API keeps a loop running in this one."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Server:
    """A uvicorn process serving one app on a loopback port."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    app: str = "hybrid.main:app",
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    log: Path,
    command: list[str] | None = None,
) -> Server:
    """Start `uvicorn app` (or `command`, given the port) and wait until `/healthz` answers."""
    port = free_port()
    argv = command or [sys.executable, "-m", "uvicorn", app, "--app-dir", str(ROOT)]
    argv = [*argv, "--host", "127.0.0.1", "--port", str(port), *args]
    full_env = {**os.environ, **FAST_DEMO, **(env or {})}
    full_env.pop("SCRIPT_NAME", None)
    handle = log.open("wb")
    process = subprocess.Popen(argv, env=full_env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log)
    if wait_until_answering(process, server.url + "/healthz", log, seconds=30):
        return server
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.output()}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers for one test; all are stopped at its end."""
    servers: list[Server] = []

    def start(app: str = "hybrid.main:app", **kwargs: object) -> Server:
        server = start_server(app, log=tmp_path / f"server-{len(servers)}.log", **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default app (demo model, fast cadence), shared by a module's tests."""
    running = start_server(log=tmp_path_factory.mktemp("server") / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """`python -m hybrid.dev.simulator` with fast defaults; tests choose faults per request (model
    directives)."""
    from tests.support.simulator_fixture import start_simulator

    running = start_simulator(tmp_path_factory.mktemp("simulator") / "simulator.log")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real redis-server on a free loopback port for the whole session; stopped at its end."""
    from tests.support.redis_fixture import start_redis

    running = start_redis(tmp_path_factory.mktemp("redis") / "redis.log")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A real Postgres (Debian's) from `initdb` in a temporary folder, on a free loopback port, for the
    whole session; stopped and deleted at its end. Each test makes its own database in it."""
    from hybrid.dev.postgres import start_postgres

    running = start_postgres()
    yield running
    running.stop()
