"""The root app over real HTTP: Dash through a2wsgi beside native streams, limits, health, shutdown."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import httpx
import pytest

from tests.conftest import Server, run_async, signed
from tests.support.sse_client import answer

ECHO = {
    "output": "echo-out.children",
    "outputs": {"id": "echo-out", "property": "children"},
    "inputs": [{"id": "echo-in", "property": "value", "value": "ping"}],
    "changedPropIds": ["echo-in.value"],
    "state": [],
}


def test_healthz_answers_json(server: Server) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "streams": 0, "resumes": 0}


def test_the_chat_page_and_its_callbacks_are_served_through_the_mount(server: Server) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200
    assert "_dash-renderer" in page.text or "dash_renderer" in page.text
    layout = httpx.get(server.url + "/_dash-layout").text
    for contract_id in ('"prompt"', '"send"', '"stop"', '"new-chat"'):
        assert contract_id in layout


def test_the_chat_stream_streams_the_demo_answer(server: Server) -> None:
    body = signed({"messages": [{"role": "user", "content": "What is hybrid?"}]})
    with httpx.stream("POST", server.url + "/api/stream", json=body, timeout=10) as response:
        text, done = answer(response.read().decode())
    assert response.status_code == 200
    assert done
    assert "What is hybrid?" in text
    assert "```python" in text


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "kind"),
    [
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"{not json", JSON, 400, "invalid_request"),
        (b"\xff\xfe", JSON, 400, "invalid_request"),
        (b"[" * 100_000 + b"]" * 100_000, JSON, 400, "invalid_request"),
        (b" " * 1_100_000, JSON, 413, "body_too_large"),
        (b'{"messages": [{"role": "user", "content": "unsigned"}]}', JSON, 403, "invalid_ticket"),
    ],
)
def test_bad_chat_requests_get_a_4xx_json_error(
    server: Server, body: bytes, headers: dict[str, str], status: int, kind: str
) -> None:
    response = httpx.post(server.url + "/api/stream", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["type"] == kind
    assert response.json()["error"]["message"]


def test_wrong_method_on_the_stream_is_405_json(server: Server) -> None:
    response = httpx.get(server.url + "/api/stream")
    assert response.status_code == 405
    assert response.json()["error"]["message"]


def test_oversized_bodies_to_dash_are_refused_with_413(serve) -> None:
    server = serve("tests.apps.streams:app")
    response = httpx.post(
        server.url + "/_dash-update-component",
        content=b"x" * 20_000,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "body_too_large"


def test_dash_callbacks_answer_promptly_while_200_streams_are_open(serve) -> None:
    server = serve("tests.apps.streams:app")

    async def scenario() -> tuple[float, int]:
        limits = httpx.Limits(max_connections=250)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=20) as client:
            streams = [client.stream("GET", f"/ticks?count=500&id=open-{index}") for index in range(200)]
            responses = await asyncio.gather(*(stream.__aenter__() for stream in streams))
            try:
                assert all(response.status_code == 200 for response in responses)
                open_streams = (await client.get("/healthz")).json()["streams"]
                started = time.perf_counter()
                callback = await client.post("/_dash-update-component", json=ECHO)
                elapsed = time.perf_counter() - started
                assert callback.status_code == 200
                assert "echo: ping" in callback.text
                return elapsed, open_streams
            finally:
                await asyncio.gather(*(stream.__aexit__(None, None, None) for stream in streams))

    elapsed, open_streams = run_async(scenario())
    # 200 open streams would hold 200 Flask threads; here they hold none and the callback is not queued.
    assert open_streams >= 200
    assert elapsed < 1.0


@pytest.mark.parametrize("runner", ["uvicorn", "python -m hybrid"])
def test_sigterm_ends_open_streams_with_a_notice_and_exits_promptly(serve, runner: str) -> None:
    command = [sys.executable, "-m", "hybrid"] if runner == "python -m hybrid" else None
    server = serve(env={"HYBRID_DEMO_TOKEN_MS": "200"}, command=command)
    body = signed({"messages": [{"role": "user", "content": "a long answer please"}]})
    with httpx.stream("POST", server.url + "/api/stream", json=body, timeout=10) as response:
        chunks = response.iter_text()
        received = next(chunks)
        while "data:  is" not in received:  # a few tokens in, the answer is mid-way
            received += next(chunks)
        signalled_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        received += "".join(chunks)
    text, done = answer(received)
    assert done
    assert text.endswith("The answer stopped: the server is restarting.**")
    # uvicorn re-raises SIGTERM once its graceful shutdown is complete.
    assert server.process.wait(timeout=10) in (0, -signal.SIGTERM)
    assert time.monotonic() - signalled_at < 3
    assert "Application shutdown complete" in server.output()
