"""The Dash side over real HTTP: Dash's files served natively with Dash's headers, gzip when asked (never
for event streams), the one-hand-off bridge (bodies, 413, streams, disconnects, mount paths), and the
chat page without the libraries it does not use, in Chromium."""

from __future__ import annotations

import functools
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from dash import Dash, dcc, html
from playwright.sync_api import expect

from tests.conftest import Server, start_server
from tests.support.watched import watched_page  # noqa: F401 (a fixture: this module's `page` is watched)

pytestmark = pytest.mark.server

APP = "tests.apps.dash_serving:app"
GZIP = {"accept-encoding": "gzip"}
IDENTITY = {"accept-encoding": "identity"}
SCRIPT = re.compile(r'<script src="([^"]+)"')
STYLE = re.compile(r'<link rel="stylesheet" href="([^"]+)"')


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("assets")
    (folder / "site.css").write_text("body { color: #123456; }\n" * 200)
    (folder / "notes.txt").write_text("plain notes\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.js").write_text("console.log('deep');\n" * 100)
    return folder


@pytest.fixture(scope="module")
def dash_server(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Iterator[Server]:
    # one Dash thread: whatever is served while a slow callback holds it did not need a thread
    env = {"DASH_ASSETS": str(assets), "HYBRID_WSGI_THREADS": "1"}
    server = start_server(APP, env=env, log=tmp_path_factory.mktemp("dash") / "server.log")
    yield server
    server.stop()


def page_files(server: Server, prefix: str = "") -> list[str]:
    html = httpx.get(server.url + prefix + "/", timeout=10).text
    return SCRIPT.findall(html) + STYLE.findall(html)


def suites(server: Server) -> list[str]:
    return [url for url in page_files(server) if "/_dash-component-suites/" in url]


@functools.cache
def reference(folder: str) -> Dash:
    """A Dash app of the same libraries and assets folder, served by its own Flask in this process."""
    app = Dash(__name__, assets_folder=folder)
    app.layout = html.Div([dcc.Input(id="x")])
    app.server.test_client().get("/")  # Dash registers the page's files on its first request
    return app


def flask_answer(path: str, folder: Path) -> Any:
    """What Dash itself (Flask) answers for `path`: the reference for the native answers."""
    return reference(str(folder)).server.test_client().get(path)


def raw_get(server: Server, target: str) -> tuple[int, bytes]:
    """A GET of `target` exactly as written (httpx would resolve `..`): the status and the body."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def callback(server: Server, size: int, headers: dict[str, str]) -> httpx.Response:
    body = {
        "output": "big.children",
        "outputs": {"id": "big", "property": "children"},
        "inputs": [{"id": "size", "property": "value", "value": size}],
        "changedPropIds": ["size.value"],
        "state": [],
    }
    return httpx.post(server.url + "/_dash-update-component", json=body, headers=headers, timeout=10)


def test_component_suites_are_served_with_dashs_own_bytes_and_year_long_caching(
    dash_server: Server, assets: Path
) -> None:
    files = suites(dash_server)
    assert any("dash_renderer" in url for url in files)
    for url in files:
        native = httpx.get(dash_server.url + url, headers=IDENTITY, timeout=10)
        dash = flask_answer(url, assets)
        assert native.status_code == dash.status_code == 200, url
        assert native.content == dash.data, url
        assert native.headers["content-type"] == dash.headers["content-type"]
        assert native.headers["cache-control"] == dash.headers["cache-control"] == "max-age=31536000"
        assert "content-encoding" not in native.headers


def test_a_component_suite_without_fingerprint_gets_dashs_etag_and_304(
    dash_server: Server, assets: Path
) -> None:
    url = "/_dash-component-suites/dash/dcc/dash_core_components.js"
    page_files(dash_server)
    first = httpx.get(dash_server.url + url, headers=IDENTITY, timeout=10)
    assert first.status_code == 200
    assert first.headers["etag"] == flask_answer(url, assets).headers["etag"]
    again = httpx.get(dash_server.url + url, headers={**IDENTITY, "if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_the_pages_files_are_gzipped_once_when_the_browser_asks(dash_server: Server) -> None:
    for url in page_files(dash_server):
        plain = httpx.get(dash_server.url + url, headers=IDENTITY, timeout=10)
        packed = httpx.get(
            dash_server.url + url, headers={"accept-encoding": "gzip, deflate, br"}, timeout=10
        )
        assert packed.headers["content-encoding"] == "gzip", url
        assert "accept-encoding" in packed.headers["vary"].lower()
        assert int(packed.headers["content-length"]) < len(plain.content) / 2, url
        assert packed.content == plain.content  # httpx decoded it
    refused = httpx.get(dash_server.url + suites(dash_server)[0], headers={"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_files_are_served_while_every_dash_thread_is_busy(dash_server: Server) -> None:
    files = page_files(dash_server)
    slow = {
        "output": "slow-out.children",
        "outputs": {"id": "slow-out", "property": "children"},
        "inputs": [{"id": "slow-in", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["slow-in.n_clicks"],
        "state": [],
    }
    holder = threading.Thread(
        target=httpx.post, args=(dash_server.url + "/_dash-update-component",), kwargs={"json": slow}
    )
    holder.start()
    time.sleep(0.3)  # the one Dash thread sleeps in the callback for 2 s
    began = time.perf_counter()
    statuses = [httpx.get(dash_server.url + url, headers=GZIP, timeout=10).status_code for url in files]
    took = time.perf_counter() - began
    holder.join()
    assert statuses == [200] * len(files)
    assert took < 1.0, f"the files waited for the busy Dash thread: {took:.2f} s"


def test_assets_keep_flasks_headers_and_conditional_answers(dash_server: Server, assets: Path) -> None:
    for name in ("site.css", "notes.txt", "sub/deep.js"):
        path = f"/assets/{name}"
        native = httpx.get(dash_server.url + path, headers=IDENTITY, timeout=10)
        flask = flask_answer(path, assets)
        assert native.status_code == 200
        assert native.content == (assets / name).read_bytes()
        for header in ("content-type", "cache-control", "etag", "last-modified", "content-disposition"):
            assert native.headers[header] == flask.headers[header], (name, header)
        again = httpx.get(
            dash_server.url + path, headers={**IDENTITY, "if-none-match": native.headers["etag"]}
        )
        assert again.status_code == 304
        since = {**IDENTITY, "if-modified-since": native.headers["last-modified"]}
        assert httpx.get(dash_server.url + path, headers=since).status_code == 304


def test_a_gzipped_asset_has_its_own_etag_and_revalidates(dash_server: Server) -> None:
    plain = httpx.get(dash_server.url + "/assets/site.css", headers=IDENTITY, timeout=10)
    packed = httpx.get(dash_server.url + "/assets/site.css", headers=GZIP, timeout=10)
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["etag"] != plain.headers["etag"]
    again = httpx.get(
        dash_server.url + "/assets/site.css", headers={**GZIP, "if-none-match": packed.headers["etag"]}
    )
    assert again.status_code == 304


def test_an_asset_changed_on_disk_is_served_anew(dash_server: Server, assets: Path) -> None:
    target = assets / "changing.js"
    target.write_text("var version = 1;\n")
    first = httpx.get(dash_server.url + "/assets/changing.js", timeout=10)
    time.sleep(0.01)
    target.write_text("var version = 22;\n")
    second = httpx.get(dash_server.url + "/assets/changing.js", timeout=10)
    assert first.text == "var version = 1;\n"
    assert second.text == "var version = 22;\n"
    assert second.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    "target",
    [
        "/assets/../../../etc/passwd",
        "/assets/%2e%2e/%2e%2e/etc/passwd",
        "/assets/sub/../../serving.py",
        "/assets/missing.js",
        "/_dash-component-suites/dash/../../../etc/passwd",
        "/_dash-component-suites/dash/dcc/not-a-file.js",
        "/_dash-component-suites/dash/dcc/__init__.py",
        "/_dash-component-suites/os/os.py",
        "/_dash-component-suites/dash/dash.py",
    ],
)
def test_only_files_dash_would_serve_are_served(dash_server: Server, target: str) -> None:
    page_files(dash_server)
    status, body = raw_get(dash_server, target)
    assert status == 404, body[:200]
    assert b"root:" not in body and b"import " not in body


def test_an_unregistered_component_file_is_a_json_404_not_dashs_500(dash_server: Server) -> None:
    page_files(dash_server)
    response = httpx.get(dash_server.url + "/_dash-component-suites/dash/dcc/not-a-file.js")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_dash_answers_are_gzipped_when_asked_and_only_then(dash_server: Server) -> None:
    for path, marker in (
        ("/", b"_dash-config"),
        ("/_dash-layout", b'"big"'),
        ("/_dash-dependencies", b"size"),
    ):
        packed = httpx.get(dash_server.url + path, headers=GZIP, timeout=10)
        plain = httpx.get(dash_server.url + path, headers=IDENTITY, timeout=10)
        assert packed.headers.get("content-encoding") == "gzip", path
        assert "content-encoding" not in plain.headers, path
        assert marker in packed.content and len(packed.content) == len(plain.content), path
    big = callback(dash_server, 500, GZIP)
    assert big.headers["content-encoding"] == "gzip"
    assert big.json()["response"]["big"]["children"].count("lorem") == 500
    small = callback(dash_server, 1, GZIP)  # under the minimum size: not worth it
    assert "content-encoding" not in small.headers


def test_event_streams_are_never_compressed(dash_server: Server) -> None:
    with httpx.stream("GET", dash_server.url + "/api/events", headers=GZIP, timeout=10) as native:
        assert native.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in native.headers
        native.read()
    with httpx.stream("GET", dash_server.url + "/flask/events", headers=GZIP, timeout=10) as flask:
        assert flask.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in flask.headers
        assert next(flask.iter_bytes()).startswith(b"data: ")


def test_a_streaming_flask_route_still_streams(dash_server: Server) -> None:
    arrivals = []
    began = time.perf_counter()
    with httpx.stream("GET", dash_server.url + "/flask/ticks", headers=GZIP, timeout=10) as response:
        assert "content-encoding" not in response.headers  # a stream is passed on as it comes
        for line in response.iter_lines():
            arrivals.append((time.perf_counter() - began, line[:6]))
    assert [line for _, line in arrivals] == [f"tick {i}" for i in range(10)]
    assert arrivals[-1][0] - arrivals[0][0] > 0.6, f"the lines arrived together: {arrivals}"


def test_a_flask_stream_stops_when_its_client_leaves(dash_server: Server) -> None:
    before = httpx.get(dash_server.url + "/flask/closed").json()["closed"]
    with httpx.stream("GET", dash_server.url + "/flask/events", timeout=10) as response:
        for _ in zip(range(3), response.iter_bytes(), strict=False):
            pass
    deadline = time.monotonic() + 5
    while httpx.get(dash_server.url + "/flask/closed").json()["closed"] == before:
        assert time.monotonic() < deadline, "the Flask generator kept producing after its client left"
        time.sleep(0.05)


def test_a_flask_route_reads_the_whole_body_with_the_mount_and_the_scope(dash_server: Server) -> None:
    body = b"x" * 300_000
    response = httpx.post(dash_server.url + "/flask/echo", content=body, timeout=10)
    assert response.json() == {"length": 300_000, "script_root": "", "scope_path": "/flask/echo"}


def test_a_body_over_the_limit_to_a_flask_route_is_a_json_413(dash_server: Server) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        for _ in range(12):
            yield b"y" * 100_000

    response = httpx.post(dash_server.url + "/flask/echo", content=chunks(), timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "body_too_large"


def test_files_and_bodies_follow_uvicorns_root_path(serve: Any, assets: Path) -> None:
    # a proxy in front took `/sub` off: uvicorn puts it back into the scope's path and root_path
    server: Server = serve(APP, env={"DASH_ASSETS": str(assets)}, args=("--root-path", "/sub"))
    files = page_files(server)
    assert files and all(url.startswith("/sub/") for url in files)
    for url in files:
        response = httpx.get(server.url + url.removeprefix("/sub"), headers=GZIP, timeout=10)
        assert response.status_code == 200, url
        if len(response.content) > 1024:  # a tiny file is sent as it is: gzip would not make it smaller
            assert response.headers["content-encoding"] == "gzip", url
        assert "javascript" in response.headers["content-type"] or "css" in response.headers["content-type"]
    echo = httpx.post(server.url + "/flask/echo", content=b"abc", timeout=10).json()
    assert echo == {"length": 3, "script_root": "/sub", "scope_path": "/sub/flask/echo"}


def test_a_user_app_keeps_dashs_libraries(dash_server: Server) -> None:
    assert any("dash_table" in url for url in suites(dash_server))  # Dash's rule, unless the app opts out


def test_the_chat_page_loads_no_library_it_does_not_use(server: Server) -> None:
    files = suites(server)
    assert any("/dcc/" in url for url in files) and any("/html/" in url for url in files)
    assert not any("dash_table" in url for url in files)
    table = "/_dash-component-suites/dash/dash_table/bundle.js"
    assert httpx.get(server.url + table).status_code == 404


def test_the_chat_page_arrives_gzipped_in_chromium_and_works(server: Server, page: Any) -> None:
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(server.url + "/")
    page.locator("#prompt").fill("What is hybrid?")
    page.locator("#send").click()
    expect(page.locator(".assistant-message .message-body").last).to_contain_text("hybrid", timeout=10_000)
    scripts = [r for r in responses if r.request.resource_type in ("script", "stylesheet")]
    assert scripts
    for response in scripts:
        assert response.status == 200, response.url
        assert response.headers.get("content-encoding") == "gzip", response.url
    assert not any("dash_table" in r.url for r in responses)
