"""`stream_endpoint` over real HTTP: framing, headers, keep-alive, errors and disconnects."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import Server
from tests.support.sse_client import answer, parse

pytestmark = pytest.mark.server

APP = "tests.apps.streams:app"


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import start_server

    server = start_server(APP, log=tmp_path_factory.mktemp("streams") / "server.log")
    yield server
    server.stop()


def read_stream(url: str, **kwargs: object) -> tuple[httpx.Response, str]:
    with httpx.stream(kwargs.pop("method", "GET"), url, timeout=10, **kwargs) as response:  # type: ignore[arg-type]
        return response, response.read().decode()


def test_stream_headers_disable_caching_and_proxy_buffering(streams: Server) -> None:
    response, _ = read_stream(streams.url + "/ticks?count=2")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers


def test_deltas_reach_the_client_exactly_and_the_stream_ends_with_done(streams: Server) -> None:
    deltas = ["[DONE]", "  spaced  ", "line\nbreak", "cr\r", "\nlf", "the text [DONE] inside", "\n\n"]
    _, body = read_stream(streams.url + "/deltas", method="POST", json={"deltas": deltas})
    assert answer(body) == ("[DONE]  spaced  line\nbreakcr\nlfthe text [DONE] inside\n\n", True)
    assert body.endswith("data: [DONE]\n\n")
    assert body.count("data: [DONE]\n\n") == 1


def test_a_silent_stream_sends_keepalive_comments(streams: Server) -> None:
    _, body = read_stream(streams.url + "/silent?seconds=0.7")
    assert body.count(": keep-alive\n\n") >= 2
    assert answer(body) == ("late", True)


def test_a_failing_generator_ends_with_a_visible_notice_and_done(streams: Server) -> None:
    _, body = read_stream(streams.url + "/broken")
    text, done = answer(body)
    assert done
    assert text.startswith("partial answer")
    assert "The answer stopped: the server hit an unexpected error" in text
    assert "internal detail" not in body
    errors = [m for m in parse(body) if m.event == "error"]
    assert json.loads(errors[0].data)["type"] == "internal_error"
    assert "RuntimeError: internal detail" in streams.output()  # the traceback is logged


def test_a_stream_error_shows_its_own_sentence(streams: Server) -> None:
    _, body = read_stream(streams.url + "/refused")
    text, done = answer(body)
    assert done
    assert text.endswith("The answer stopped: the provider is rate limiting; retry in 20 s.**")
    assert json.loads(next(m for m in parse(body) if m.event == "error").data)["type"] == "rate_limited"


def test_validation_before_streaming_answers_4xx_json(streams: Server) -> None:
    response = httpx.get(streams.url + "/validated")
    assert response.status_code == 400
    assert response.json() == {"error": {"type": "invalid_request", "message": "`name` is required"}}
    _, body = read_stream(streams.url + "/validated?name=ada")
    assert answer(body) == ("hello ada", True)
    assert json.loads(parse(body)[0].data) == {"name": "ada"}


@pytest.mark.parametrize("app", [APP, "tests.apps.streams:app_spec_2_3", "tests.apps.streams:app_spec_2_4"])
def test_client_disconnect_cancels_the_generator_within_100ms(serve, app: str) -> None:
    server = serve(app)
    address = urlparse(server.url)
    latencies = []
    for attempt in range(5):
        stream_id = f"{app}-{attempt}"
        with socket.create_connection((address.hostname, address.port)) as sock:
            sock.sendall(f"GET /ticks?id={stream_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            received = b""
            while received.count(b"tick") < 3:
                received += sock.recv(4096)
            closed_at = time.time()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            finished = httpx.get(server.url + "/closed").json()
            if stream_id in finished:
                latencies.append(finished[stream_id] - closed_at)
                break
            time.sleep(0.01)
        else:
            pytest.fail(f"the generator of {stream_id} was never closed")
    assert max(latencies) < 0.1, latencies
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
