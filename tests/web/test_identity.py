"""A standalone server behind an authenticating proxy: users only, tickets and limits per user, strict CSP."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import hybrid
from hybrid._ops.exposure import Exposure
from hybrid._web.identity import UserHeader, user_name
from hybrid.dev.servers import free_port
from tests.conftest import FAST_DEMO, ROOT, Server, run_async, signed, start_server
from tests.support.sse_client import answer
from tests.support.watched import watched

pytestmark = pytest.mark.server

HEADER = "X-Forwarded-User"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}
ADA = {HEADER: "ada"}


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app as it runs behind oauth2-proxy: it trusts the user header, one stream per user at a time."""
    server = start_server(
        env={"HYBRID_USER_HEADER": HEADER, "HYBRID_CLIENT_STREAMS": "1", "HYBRID_LOG_FORMAT": "json"},
        log=tmp_path_factory.mktemp("proxied") / "server.log",
    )
    yield server
    server.stop()


def ticket_for(user: str | None) -> dict[str, str]:
    return signed(HELLO, user=user)


@pytest.mark.parametrize(
    ("method", "path", "signed_in"),
    [
        ("GET", "/", 200),
        ("GET", "/_dash-layout", 200),
        ("GET", "/assets/page.css", 200),  # Dash's files are served natively, ahead of Flask
        ("GET", "/_dash-component-suites/dash/deps/polyfill@7.12.1.min.js", 200),
        ("POST", "/_dash-update-component", 400),
        ("POST", "/api/stream", 403),
        ("GET", "/api/stream/an-answer", 204),  # resuming, and stopping, an answer
        ("DELETE", "/api/stream/an-answer", 204),
    ],
)
def test_every_request_without_the_user_header_gets_401_json(
    proxied: Server, method: str, path: str, signed_in: int
) -> None:
    token = {"Hybrid-Resume-Token": "a-token"}
    response = httpx.request(method, proxied.url + path, json={}, headers=token, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "unauthenticated",
        "message": f"sign in first: the request has no {HEADER} header",
    }
    admitted = httpx.request(method, proxied.url + path, json={}, headers={**ADA, **token}, timeout=10)
    assert admitted.status_code == signed_in


@pytest.mark.parametrize(
    ("sent", "user"),
    [
        (b"ada", "ada"),
        (b"  ada ", "ada"),
        ("José 李".encode(), "José 李"),
        (b"Jos\xe9", None),  # Latin-1: refused, not guessed (another name may have the same guess)
        (b"a" * 257, None),
        (b"ada\tbob", None),
        (b"", None),
    ],
)
def test_a_user_header_names_its_user_in_utf_8_or_names_none(sent: bytes, user: str | None) -> None:
    assert user_name(sent.decode("latin-1")) == user  # as Starlette hands a header over


@pytest.mark.parametrize(
    ("path", "root_path", "admitted"),
    [
        ("/healthz", "", True),
        ("/chat/healthz", "/chat", True),  # the probes of an app mounted at /chat
        ("/chat/", "/chat", False),
        ("/chat/healthz/x", "/chat", False),
        ("/chathealthz", "/chat", False),
    ],
)
def test_only_the_probes_below_the_mount_path_are_open_without_a_user(
    path: str, root_path: str, admitted: bool
) -> None:
    scope = {"type": "http", "path": path, "root_path": root_path, "headers": []}
    assert (UserHeader(HEADER).admit(scope) is None) is admitted


def test_a_websocket_without_a_user_is_closed_where_the_server_cannot_answer_its_handshake() -> None:
    app = hybrid.create_app(settings=hybrid.Settings(user_header=HEADER, secret_key="k" * 32))
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "root_path": "", "headers": [], "extensions": {}}
    run_async(app(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


def test_the_open_server_warning_counts_public_tcp_addresses_only_and_comes_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exposure = Exposure(paid=True, guarded=False)
    local = [("127.0.0.1", 8050), ("::1", 8050), ("localhost", 8050), ("/run/h.sock", None), "/run/h.sock", 3]
    with caplog.at_level("WARNING", logger="hybrid.identity"):
        exposure.check(local)
        assert exposure.watching and not caplog.records
        exposure.check([("10.0.0.5", 8050)])
        exposure.check([("0.0.0.0", 8050)])
    assert [record.getMessage()[:37] for record in caplog.records] == [
        "hybrid listens on 10.0.0.5:8050 with "
    ]
    assert not exposure.watching  # requests are no longer looked at
    assert not Exposure(paid=True, guarded=True).watching
    assert not Exposure(paid=False, guarded=False).watching


def test_the_probes_stay_open_for_load_balancers_and_prometheus(proxied: Server) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(proxied.url + path, timeout=10).status_code == 200, path


def test_a_ticket_is_its_users_only_and_a_refusal_does_not_use_it_up(proxied: Server) -> None:
    ticket = ticket_for("ada")
    stolen = httpx.post(proxied.url + "/api/stream", json=ticket, headers={HEADER: "mallory"}, timeout=10)
    assert stolen.status_code == 403
    assert stolen.json()["error"]["type"] == "wrong_user"
    with httpx.stream("POST", proxied.url + "/api/stream", json=ticket, headers=ADA, timeout=10) as own:
        assert own.status_code == 200
        assert answer(own.read().decode())[1]


def test_two_users_behind_one_address_each_get_their_own_limit(proxied: Server) -> None:
    with ExitStack() as stack:

        def open_stream(user: str) -> httpx.Response:
            request = httpx.stream(
                "POST", proxied.url + "/api/stream", json=ticket_for(user), headers={HEADER: user}, timeout=10
            )
            return stack.enter_context(request)

        assert open_stream("ada").status_code == 200
        assert open_stream("bob").status_code == 200  # a second user from the same address
        assert open_stream("ada").status_code == 429  # ada's own second stream is over her limit


def test_a_streams_log_lines_carry_its_user(proxied: Server) -> None:
    with httpx.stream(
        "POST", proxied.url + "/api/stream", json=ticket_for("grace"), headers={HEADER: "grace"}
    ) as r:
        r.read()

    def ends() -> list[dict]:
        lines = [json.loads(line) for line in proxied.output().splitlines() if line.startswith("{")]
        return [line for line in lines if line["logger"] == "hybrid.stream" and line.get("user") == "grace"]

    deadline = time.monotonic() + 5  # the line is written as the stream's task ends, after its last byte
    while not ends() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ends() and ends()[-1]["status"] == "finished"


@pytest.mark.parametrize(
    "value", ["a" * 257, b"\xff\xfeada", "ada\tbob"], ids=["too long", "not UTF-8", "a control character"]
)
def test_a_malformed_user_header_gets_401_json_saying_so(proxied: Server, value: str | bytes) -> None:
    response = httpx.get(proxied.url + "/", headers={HEADER: value}, timeout=10)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "unauthenticated"
    assert error["message"].startswith(f"sign in first: the {HEADER} header is malformed")


def test_the_page_says_who_is_signed_in_in_their_own_script_and_chats_with_tickets_bound_to_them(
    proxied: Server, browser: object
) -> None:
    name = "José Ñúñez 李"
    context = browser.new_context()  # type: ignore[attr-defined]
    # The proxy's part: the header, in UTF-8, on every request. (Chromium's own extra headers would send
    # the page's scripts and fetches "Jos\xe9 ?", as no proxy does.)
    context.route("**/*", lambda route: route.continue_(headers={**route.request.headers, HEADER: name}))
    try:
        with watched(context.new_page()) as page:
            page.goto(proxied.url + "/")
            expect(page.locator(".signed-in")).to_have_text(f"Signed in as {name}")
            page.fill("#prompt", "who am I")
            page.press("#prompt", "Enter")
            expect(page.locator(".assistant-message").last).to_have_attribute(
                "data-status", "done", timeout=15_000
            )
    finally:
        context.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A host's app on hybrid.Chat (`tests/apps/host_app.py`) behind the proxy."""
    server = start_server(
        "tests.apps.host_app:server",
        env={"HYBRID_USER_HEADER": HEADER},
        log=tmp_path_factory.mktemp("host") / "server.log",
    )
    yield server
    server.stop()


def test_an_app_on_hybrid_chat_shows_its_signed_in_user(host: Server) -> None:
    layout = httpx.get(host.url + "/_dash-layout", headers={HEADER: "Zoë".encode()}, timeout=10).json()
    assert layout["props"]["children"][0]["props"] == {"children": "Signed in as Zoë", "id": "who"}


def test_a_hosts_websocket_route_admits_signed_in_users_only(host: Server) -> None:
    url = host.url.replace("http://", "ws://") + "/ws/whoami"
    with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=10):
        pass
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["error"]["type"] == "unauthenticated"
    with connect(url, additional_headers=ADA, open_timeout=10) as websocket:
        assert websocket.recv(timeout=10) == "hello ada"


PAID = {
    "HYBRID_PROVIDER": "openai",
    "OPENAI_API_KEY": "sk-test",
    "HYBRID_MODEL": "gpt-test",
    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
}
WARNING = "lets anyone chat: put it behind an authenticating proxy and set HYBRID_USER_HEADER"
MAIN = "hybrid.main:app"


class Launched:
    """A server process started with a paid provider, and its log."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, pass_fds: tuple[int, ...]) -> None:
        full_env = {**os.environ, **FAST_DEMO, **PAID, **env}
        full_env.pop("SCRIPT_NAME", None)
        self.log = log
        with log.open("wb") as handle:
            self.process = subprocess.Popen(
                argv,
                env=full_env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                pass_fds=pass_fds,
                start_new_session=True,  # a group of its own: gunicorn's workers are stopped with it
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_started(self) -> None:
        """Until the app has started (it was imported and its lifespan ran), sending it no request."""
        deadline = time.monotonic() + 30
        while "Application startup complete" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and every process it started, even ones its end left behind."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[object]:
    """Start servers that are asked nothing until the test asks; all are stopped at its end."""
    launched: list[Launched] = []

    def start(argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = ()) -> Launched:
        server = Launched(argv, env, tmp_path / f"server-{len(launched)}.log", pass_fds)
        launched.append(server)
        server.wait_started()
        return server

    yield start
    for server in launched:
        server.stop()


def uvicorn(app: str, bind: str | int) -> list[str]:
    """uvicorn serving `app` on a Unix socket (a path) or on every address at a port."""
    where = ["--uds", bind] if isinstance(bind, str) else ["--host", "0.0.0.0", "--port", str(bind)]
    return [sys.executable, "-m", "uvicorn", app, *where]


def gunicorn(app: str, bind: str | int) -> list[str]:
    """gunicorn with uvicorn's worker, as the README runs it, on a Unix socket or every address."""
    where = f"unix:{bind}" if isinstance(bind, str) else f"0.0.0.0:{bind}"
    return [sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-b", where, app]


@pytest.mark.parametrize(
    ("runner", "app", "on", "env", "warned"),
    [
        (uvicorn, MAIN, "0.0.0.0", {}, True),
        (uvicorn, MAIN, "0.0.0.0", {"HYBRID_USER_HEADER": HEADER}, False),
        (uvicorn, MAIN, "0.0.0.0", {"HYBRID_PROVIDER": "demo"}, False),
        (uvicorn, "tests.apps.host_app:server", "0.0.0.0", {}, False),  # create_app(authorize=...)
        (uvicorn, MAIN, "unix", {}, False),
        (gunicorn, MAIN, "0.0.0.0", {}, True),
        (gunicorn, MAIN, "unix", {}, False),
    ],
    ids=[
        "uvicorn",
        "user header",
        "demo model",
        "authorize hook",
        "uvicorn on a Unix socket",
        "gunicorn",
        "gunicorn on a Unix socket",
    ],
)
def test_a_public_server_with_a_paid_provider_and_no_guard_warns_at_start(
    launch, runner, app: str, on: str, env: dict[str, str], warned: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="hybrid-") as folder:  # short: a socket's path has ~100 bytes
        path, port = os.path.join(folder, "h.sock"), free_port("0.0.0.0")
        server = launch(runner(app, path if on == "unix" else port), env)
        at_start = server.output()
        transport = httpx.HTTPTransport(uds=path) if on == "unix" else None
        with httpx.Client(transport=transport, timeout=10) as client:
            assert client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        after_a_loopback_request = server.output()
        server.stop()  # while its socket is there to remove
    assert (WARNING in at_start) is warned
    assert (WARNING in after_a_loopback_request) is warned
    if warned:
        assert "create_app(authorize=...)" in at_start


def public_address() -> str:
    """An address of this machine other than loopback; skips the test on a machine without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # sends nothing: the kernel only picks the source address
        except OSError:
            pytest.skip("this machine has no route off loopback")
        address = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no address but loopback")
    return address


def test_a_server_that_does_not_say_where_it_listens_warns_once_a_request_arrives_on_a_public_address(
    launch,
) -> None:
    address = public_address()
    with socket.create_server(("0.0.0.0", 0)) as listener:  # handed over as a descriptor, as systemd does
        port, fd = listener.getsockname()[1], listener.fileno()
        server = launch([sys.executable, "-m", "uvicorn", MAIN, "--fd", str(fd)], {}, pass_fds=(fd,))
    for host in ("127.0.0.1", address, address):  # a loopback health check first, then users
        assert httpx.get(f"http://{host}:{port}/healthz", timeout=10).status_code == 200
    assert server.output().count(WARNING) == 1


def directives_of(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def page_policy(server: Server, **client: object) -> dict[str, str]:
    response = httpx.get(server.url + "/", timeout=10, **client)  # type: ignore[arg-type]
    assert response.headers["content-type"].startswith("text/html")
    return directives_of(response.headers["content-security-policy"])


def assert_strict(directives: dict[str, str], extra: list[str]) -> None:
    """The page policy: `'self'`, the hashes of Dash's inline scripts, then the `extra` sources."""
    scripts = directives["script-src"].split()
    hashes = scripts[1 : len(scripts) - len(extra)]
    assert scripts[0] == "'self'"
    assert hashes and all(re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", source) for source in hashes), scripts
    assert scripts[len(scripts) - len(extra) :] == extra
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'self'"
    assert directives["frame-ancestors"] == "'self'"


def test_pages_carry_a_strict_script_policy(proxied: Server) -> None:
    assert_strict(page_policy(proxied, headers=ADA), extra=[])


def test_a_hybrid_chat_apps_pages_carry_the_strict_script_policy(serve) -> None:
    assert_strict(page_policy(serve("tests.apps.chat_component:server")), extra=[])


def test_script_sources_come_after_the_hashes_and_a_star_lifts_the_script_policy(serve) -> None:
    cdn = serve(env={"HYBRID_SCRIPT_SOURCES": "https://cdn.example.com 'unsafe-eval'"})
    assert_strict(page_policy(cdn), extra=["https://cdn.example.com", "'unsafe-eval'"])
    anything = page_policy(serve(env={"HYBRID_SCRIPT_SOURCES": "*"}))
    assert "script-src" not in anything
    assert anything["frame-ancestors"] == "'self'"


INJECT = """() => {
    const script = document.createElement("script");
    script.textContent = "window.injected = true";
    document.body.append(script);
    const link = document.createElement("a");
    link.href = "javascript:window.injected = true";
    document.body.append(link);
    link.click();
}"""


def test_an_injected_inline_script_does_not_run(server: Server, page: Page) -> None:
    page.add_init_script(
        "window.blocked = []; document.addEventListener('securitypolicyviolation', "
        "(event) => window.blocked.push(event.violatedDirective));"
    )
    page.goto(server.url + "/")
    expect(page.locator("#prompt")).to_be_visible()
    page.evaluate(INJECT)
    page.wait_for_timeout(100)
    assert page.evaluate("window.injected") is None
    assert "script-src-elem" in page.evaluate("window.blocked")


def test_a_watched_page_fails_on_a_violation_even_one_before_a_reload(server: Server, page: Page) -> None:
    with pytest.raises(AssertionError, match="blocked"), watched(page):
        page.goto(server.url + "/")
        expect(page.locator("#prompt")).to_be_visible()
        page.evaluate(INJECT)
        page.reload()
        expect(page.locator("#prompt")).to_be_visible()
