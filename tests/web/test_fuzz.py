"""Random requests never get a 5xx or a stack trace: only 2xx/4xx, errors as JSON, and the server stays up."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
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
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    chat_like.map(lambda value: json.dumps(value).encode()),
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
    ["/api/stream", "/healthz", "/_dash-update-component", "/_dash-layout", "/api/stream/x"]
)


@pytest.fixture(scope="module")
def client(server: Server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=methods, path=paths, body=bodies, content_type=content_types)
def test_random_requests_get_2xx_or_json_4xx(
    client: httpx.Client, method: str, path: str, body: bytes, content_type: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.request(
        method, path, content=body if method not in ("GET", "HEAD") else None, headers=headers
    )
    assert response.status_code < 500, response.text[:300]
    # Native routes answer JSON errors; Dash's own routes keep Flask's pages, but never a 5xx.
    native = path in ("/api/stream", "/healthz") or (path == "/_dash-update-component" and method == "POST")
    if response.status_code >= 400 and native and method != "HEAD":
        error = response.json()["error"]
        assert error["type"] and error["message"]
        assert "Traceback" not in response.text


def test_the_server_is_healthy_after_the_fuzzing(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "streams": 0}
