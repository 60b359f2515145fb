"""URLs under the mount path: encoded once on the way out, and the mount path taken off on the way in."""

from __future__ import annotations

import pytest

from hybrid._web.urls import mounted, route_path


def test_a_mount_path_with_url_syntax_is_percent_encoded_once() -> None:
    assert mounted("/team #1?x", "/api/stream/a1") == "/team%20%231%3Fx/api/stream/a1"
    assert mounted("", "/api/stream/a1") == "/api/stream/a1"


@pytest.mark.parametrize(
    ("path", "root_path", "below"),
    [
        ("/chat/_dash-layout", "/chat", "/_dash-layout"),
        ("/chat", "/chat", ""),
        ("/_dash-layout", "", "/_dash-layout"),
        # A root path counts only up to a `/`: `/chatty` is not below `/chat`.
        ("/chatty/_dash-layout", "/chat", "/chatty/_dash-layout"),
        ("/other", "/chat", "/other"),
    ],
)
def test_the_route_path_is_the_path_below_the_mount_path(path: str, root_path: str, below: str) -> None:
    assert route_path({"type": "http", "path": path, "root_path": root_path}) == below
