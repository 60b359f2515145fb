"""Random requests never get a 5xx or a stack trace: only 2xx/4xx, errors as JSON, and the server stays up."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server

texts = st.text(max_size=20) | st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2
)
"""Strings, some of them lone surrogates (JSON's `\\udfff`, which no encoder takes)."""
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
chat_like = st.fixed_dictionaries(
    {},
    optional={
        "messages": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "role": st.sampled_from(["user", "assistant", "system", "developer", "tool", ""])
                    | json_values,
                    "content": st.text(max_size=50) | json_values,
                },
            ),
            max_size=4,
        ),
        "model": st.sampled_from(["demo", "gpt-4o", ""]) | json_values,
        "temperature": json_values,
        "preset": st.sampled_from(["default", "concise", "nope"]) | json_values,
        "system": json_values,
        "ticket": st.text(max_size=40) | json_values,
    },
)
props = st.fixed_dictionaries(
    {"id": st.sampled_from(["chat--ticket-request", "model", "x"]) | json_values},
    optional={"property": st.sampled_from(["data", "value"]) | json_values, "value": json_values},
)
callback_like = st.fixed_dictionaries(
    {
        "output": st.sampled_from(["chat--ticket.data", "nope.data"]) | json_values,
        "outputs": props | st.lists(props, max_size=3) | json_values,
        "inputs": st.lists(props | st.lists(props, max_size=2), max_size=3) | json_values,
        "changedPropIds": st.lists(st.sampled_from(["chat--ticket-request.data"]) | json_values, max_size=2),
    },
    optional={"state": st.lists(props, max_size=5) | json_values},
)
"""Dash callback requests: the signing callback's, with its parts missing, misshapen or in excess."""
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    chat_like.map(lambda value: json.dumps(value).encode()),
    callback_like.map(lambda value: json.dumps(value).encode()),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data",
        "",
        "APPLICATION/JSON",
    ]
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
paths = st.sampled_from(
    [
        "/api/stream",
        "/healthz",
        "/_dash-update-component",
        "/_dash-layout",
        "/api/stream/x",
        "/api/stream/" + "A" * 22,
        "/assets/%00x.css",
        "/_dash-component-suites/dash/%00.js",
        "/_reload-hash",
    ]
)
printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)
"""What a header value may hold (HTTP clients refuse the rest before sending)."""
headers = st.fixed_dictionaries(
    {},
    optional={
        "origin": st.sampled_from(["https://evil.example", "null", "http://127.0.0.1"]) | printable,
        "sec-fetch-site": st.sampled_from(["cross-site", "same-origin", "same-site", "none"]),
        "x-request-id": printable,
        "last-event-id": printable,
        "hybrid-resume-token": st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
        "hybrid-resumable": st.sampled_from(["1", "0", "yes"]),
    },
)
NATIVE = ("/api/stream", "/healthz", "/assets/", "/_dash-component-suites/", "/_reload-hash")
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@pytest.fixture(scope="module")
def client(server: Server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=methods, path=paths, body=bodies, content_type=content_types, extra=headers)
def test_random_requests_get_2xx_or_json_4xx(
    client: httpx.Client, method: str, path: str, body: bytes, content_type: str, extra: dict[str, str]
) -> None:
    sent = {**extra, "content-type": content_type} if content_type else extra
    response = client.request(
        method, path, content=body if method not in ("GET", "HEAD") else None, headers=sent
    )
    assert response.status_code < 500, response.text[:300]
    # Native routes answer JSON errors; Dash's own routes keep Flask's pages, but never a 5xx.
    native = path.startswith(NATIVE) or (path == "/_dash-update-component" and method == "POST")
    if response.status_code >= 400 and native and method != "HEAD":
        error = response.json()["error"]
        assert error["type"] and error["message"]
        assert "Traceback" not in response.text
    if "x-request-id" in response.headers:
        assert SAFE_REQUEST_ID.fullmatch(response.headers["x-request-id"])


def test_the_server_is_healthy_after_the_fuzzing(client: httpx.Client, server: Server) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "streams": 0, "resumes": 0}
    assert "Traceback" not in server.output(), "a request made the server log a traceback"
