"""Dash URLs that follow the mount path of each request.

Dash fixes `requests_pathname_prefix` (where the browser fetches its scripts, layout and callbacks) when
the app is constructed, but a hybrid app learns its mount path per request: from Starlette's `Mount`
(`outer.mount("/chat", hybrid.create_app())`), `uvicorn --root-path`, or both. a2wsgi hands that path to
Flask as `SCRIPT_NAME`, so the prefix is read from `flask.request.script_root` each time Dash asks for it.
"""

from __future__ import annotations

import logging
from typing import Any

import flask
from dash import Dash

from hybrid._compat.dash import AttributeDict, swap_config_class
from hybrid._web.urls import mounted

logger = logging.getLogger("hybrid.dash")

PREFIX = "requests_pathname_prefix"


def mount_path() -> str:
    """The mount path of the Dash request being served (`""` outside one), percent-encoded.

    Encoded because it lands in HTML attributes, JSON and URLs, and a mount path with parameters
    (`/{team}/chat`) carries text from the request.
    """
    return mounted(flask.request.script_root, "") if flask.has_request_context() else ""


def route_url(path: str) -> str:
    """The URL of the native route `path` (e.g. `/api/explain`) as the browser reaches it.

    Inside a Dash request (a layout function or a callback) it starts with that request's mount path;
    elsewhere it is `path` itself.
    """
    return mount_path() + path


class MountRelativeConfig(AttributeDict):
    """A Dash config whose `requests_pathname_prefix` starts with the mount path of the current request.

    The prefix is computed on every read from the Flask request of the calling thread (Flask keeps it in
    a context variable), and nothing is stored per request, so a2wsgi's threads can serve the same app
    at `/` and at `/chat/` at once. Outside a request (at start-up) the configured prefix is returned.
    """

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        if key == PREFIX:
            return mount_path() + value
        return value


def follow_mount(dash_app: Dash) -> None:
    """Make `dash_app`'s page, asset and callback URLs follow the mount path of each request.

    Apps that set `requests_pathname_prefix` apart from `routes_pathname_prefix` already describe a
    proxy in front of them; they are left as they are.
    """
    config = dash_app.config
    if isinstance(config, MountRelativeConfig):
        return
    if config[PREFIX] != config.routes_pathname_prefix:
        logger.info("%s is set explicitly: its URLs will not follow the mount path", PREFIX)
        return
    # The class of the existing object is swapped rather than the object replaced: Dash keeps aliases of
    # it that must see the same prefix.
    swap_config_class(dash_app, MountRelativeConfig)
