"""In process, under the real-server tests of `test_dash_serving.py`: the bridge's one hand-off, gzip
negotiation, and which scripts `load_only` keeps."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from dash import Dash, dash_table, dcc, html
from starlette.types import Message, Receive, Scope, Send

from hybrid._dash.serving import files as files_module
from hybrid._dash.serving.bridge import DashBridge
from hybrid._dash.serving.files import DashFiles
from hybrid._dash.serving.libraries import libraries_in, library_of, load_only
from hybrid._web.compression import GzipMiddleware, accepts_gzip, compressible
from tests.conftest import run_async


def scope_with(accept: bytes) -> Scope:
    return {"type": "http", "headers": [(b"accept-encoding", accept)]}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (b"gzip, deflate, br, zstd", True),
        (b"br;q=1.0, gzip;q=0.8", True),
        (b"*", True),
        (b"gzip;q=0", False),
        (b"gzip; q=0.000", False),
        (b"identity", False),
        (b"br", False),
        (b"", False),
    ],
)
def test_gzip_is_used_only_when_the_client_takes_it(accept: bytes, expected: bool) -> None:
    assert accepts_gzip(scope_with(accept)) is expected


def test_event_streams_are_not_compressible_whatever_else_is() -> None:
    assert compressible(b"text/html; charset=utf-8")
    assert compressible(b"application/json")
    assert compressible(b"text/javascript; charset=utf-8")
    assert not compressible(b"text/event-stream")
    assert not compressible(b"Text/Event-Stream; charset=utf-8")
    assert not compressible(b"image/png")


def wsgi_app(chunks: list[bytes], length: bool, content_type: str = "text/plain") -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        headers = [("Content-Type", content_type)]
        if length:
            headers.append(("Content-Length", str(sum(map(len, chunks)))))
        start_response("200 OK", headers)
        yield from chunks

    return app


async def collect(app: Any, path: str = "/", accept: bytes = b"") -> list[Message]:
    """The messages `app` sends for one GET, in order."""
    sent: list[Message] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [(b"accept-encoding", accept)] if accept else [],
    }

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:  # the body, then nothing until the client leaves (never, here)
        if requests:
            return requests.pop()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_a_response_with_a_length_is_sent_whole_in_one_body_message() -> None:
    bridge = DashBridge(wsgi_app([b"a" * 10, b"b" * 10], length=True), ThreadPoolExecutor(1))
    messages = run_async(collect(bridge))
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]
    assert messages[1]["body"] == b"a" * 10 + b"b" * 10
    assert not messages[1].get("more_body", False)


def test_a_response_without_a_length_streams_chunk_by_chunk() -> None:
    bridge = DashBridge(wsgi_app([b"one", b"two"], length=False), ThreadPoolExecutor(1))
    messages = run_async(collect(bridge))
    bodies = [(m["body"], m.get("more_body", False)) for m in messages[1:]]
    assert bodies == [(b"one", True), (b"two", True), (b"", False)]


def test_a_response_longer_than_the_buffer_streams() -> None:
    bridge = DashBridge(
        wsgi_app([b"x" * 600, b"y" * 600], length=True), ThreadPoolExecutor(1), buffer_bytes=1000
    )
    messages = run_async(collect(bridge))
    assert len(messages) == 4


def test_the_app_runs_in_the_pool_once_per_request() -> None:
    threads: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        threads.append(threading.current_thread().name)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    bridge = DashBridge(app, ThreadPoolExecutor(1, thread_name_prefix="WSGI"))
    submitted = []
    submit = bridge.executor.submit
    bridge.executor.submit = lambda *a, **k: submitted.append(a) or submit(*a, **k)  # type: ignore[method-assign]
    run_async(collect(bridge))
    assert len(threads) == 1 and threads[0].startswith("WSGI")
    assert len(submitted) == 1  # a2wsgi submits once, then crosses back for the body, start and each chunk


def test_a_client_that_leaves_while_sending_its_body_never_reaches_the_app() -> None:
    called = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Length", "0")])
        return []

    messages = iter(
        [{"type": "http.request", "body": b"half", "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        raise AssertionError("nothing should be sent")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [],
    }
    run_async(DashBridge(app, ThreadPoolExecutor(1))(scope, receive, send))
    assert called == []


def gzip_over(messages: list[Message]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    return GzipMiddleware(app, minimum_size=10)


def start(content_type: bytes) -> Message:
    return {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]}


def test_a_whole_body_is_gzipped_with_its_length_and_vary() -> None:
    body = b"hello " * 50
    sent = run_async(
        collect(
            gzip_over([start(b"text/html"), {"type": "http.response.body", "body": body}]), accept=b"gzip"
        )
    )
    headers = dict(sent[0]["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"vary"] == b"Accept-Encoding"
    assert int(headers[b"content-length"]) == len(sent[1]["body"])
    assert gzip.decompress(sent[1]["body"]) == body


def test_a_streamed_body_and_an_event_stream_pass_through_untouched() -> None:
    chunk = {"type": "http.response.body", "body": b"data: x" * 10, "more_body": True}
    end = {"type": "http.response.body", "body": b""}
    for messages in (
        [start(b"text/plain"), chunk, end],
        [start(b"text/event-stream"), {**chunk, "more_body": False}],
    ):
        sent = run_async(collect(gzip_over(messages), accept=b"gzip"))
        assert sent == messages


def test_resources_belong_to_their_component_library() -> None:
    assert library_of({"namespace": "dash", "relative_package_path": "dcc/dash_core_components.js"}) == (
        "dash_core_components"
    )
    assert library_of({"namespace": "dash", "relative_package_path": "dash_table/bundle.js"}) == "dash_table"
    assert library_of({"namespace": "dash", "relative_package_path": "deps/react@18.3.1.min.js"}) is None
    import dash_extensions  # noqa: F401  (a component library: its components register its namespace)

    assert library_of({"namespace": "dash_extensions", "relative_package_path": "x.js"}) == "dash_extensions"
    assert library_of({"asset_path": "chat.js"}) is None
    assert library_of({"namespace": "hybrid._dash.chat", "relative_package_path": "assets/chat.js"}) is None


def page_scripts(app: Dash) -> str:
    return app.server.test_client().get("/").get_data(as_text=True)


def test_load_only_drops_the_scripts_of_unused_libraries_and_keeps_the_rest() -> None:
    app = Dash(__name__)
    app.layout = html.Div([dcc.Input(id="x")])
    app.scripts.append_script({"relative_package_path": "assets/chat.js", "namespace": "hybrid._dash.chat"})
    load_only(app, libraries_in(app.layout))
    page = page_scripts(app)
    assert "/_dash-component-suites/hybrid._dash.chat/assets/chat" in page  # a script the app added stays
    assert "dash_table/bundle" not in page
    assert "dash_core_components" in page and "dash_html_components" in page and "dash_renderer" in page
    assert "dash_table/bundle.js" not in app.registered_paths["dash"]


def test_without_load_only_dash_keeps_its_own_rule() -> None:
    app = Dash(__name__)
    app.layout = html.Div([dash_table.DataTable(id="t")])
    assert "dash_table/bundle" in page_scripts(app)
    assert libraries_in(app.layout) == {"dash_html_components", "dash_table"}


def test_a_bridged_app_answers_over_httpx_in_process() -> None:
    bridge = GzipMiddleware(DashBridge(wsgi_app([b"z" * 2000], length=True), ThreadPoolExecutor(1)))

    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=bridge), base_url="http://t"
        ) as client:
            return await client.get("/", headers={"accept-encoding": "gzip"})

    response = run_async(fetch())
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == b"z" * 2000


def test_made_up_fingerprints_share_one_cached_file() -> None:
    app = Dash(__name__)
    app.layout = html.Div([dcc.Input(id="x")])
    app.server.test_client().get("/")  # Dash registers its files on the first request

    async def flask_would_answer(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError(f"{scope['path']} reached Flask")

    files = DashFiles(flask_would_answer, app)

    async def fetch_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=files)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            paths = [f"/_dash-component-suites/dash/dcc/dash_core_components.v{n}m{n}.js" for n in range(20)]
            return [await client.get(path) for path in paths]

    responses = run_async(fetch_all())
    assert {r.status_code for r in responses} == {200}
    assert {r.headers["cache-control"] for r in responses} == {"max-age=31536000"}
    assert len(files.cache) == 1


def test_a_file_whose_load_failed_is_loaded_again_on_the_next_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: a load that raised anything but `OSError` stayed cached as a failed future, and the file
    answered 500 until a restart."""
    app = Dash(__name__)
    app.layout = html.Div([dcc.Input(id="x")])
    app.server.test_client().get("/")
    files = DashFiles(lambda scope, receive, send: None, app)  # type: ignore[arg-type, return-value]
    load = files_module._load_suite
    failures = iter([ValueError("a passing failure")])

    def flaky(*args: Any) -> Any:
        for failure in failures:
            raise failure
        return load(*args)

    monkeypatch.setattr(files_module, "_load_suite", flaky)

    async def fetch_twice() -> list[int]:
        transport = httpx.ASGITransport(app=files, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            path = "/_dash-component-suites/dash/dcc/dash_core_components.v1m1.js"
            return [(await client.get(path)).status_code for _ in range(2)]

    assert run_async(fetch_twice()) == [500, 200]
