"""How a Dash app's Chats are found and wired: no registry, the app's own layouts say where they are.

`find_chats` walks the app's layout (calling it when it is a function, as Dash itself does to validate
it) and the layouts of its Dash Pages; `attach_chats` gives each Chat found its callbacks on that app, and
the app the Chat's scripts and stylesheet. Two Chats with one id are refused; a Chat the walk cannot
see (one a callback adds later) shows the page a notice that it is not connected.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dash
import flask
from dash import ClientsideFunction, Dash, Input, Output
from dash.development.base_component import Component

from hybrid._chat.stream import CHAT_STREAM_PATH, ChatStream
from hybrid._dash.chat.component import SERVED, Chat
from hybrid._dash.serving.app import signed_in_user
from hybrid._dash.serving.mount import route_url
from hybrid._errors import ApiError
from hybrid._streams.limits import client_in

logger = logging.getLogger("hybrid.dash")

NAMESPACE = "hybrid._dash.chat"
"""The package Dash serves the Chat's files from (`/_dash-component-suites/hybrid._dash.chat/...`)."""
_MANIFEST = Path(__file__).with_name("assets") / "scripts.json"
SCRIPTS = tuple(f"assets/{name}" for name in json.loads(_MANIFEST.read_text("utf-8")))
"""In load order, as `assets/scripts.json` lists them (the scripts' Node tests load them by it too): the
vendored libraries, then the Chat's own scripts. Most of these use each other only when called; the order
matters for those that act as they load: `markdown.js` sets up the vendored libraries, `tickets.js`
registers with `compat-dash-fetch.js`, and `mount.js`, last, starts the controllers."""
STYLESHEET = "assets/chat.css"
_WIRED = "_hybrid_chat_resources"


def find_chats(dash_app: Dash) -> list[Chat]:
    """The Chats in `dash_app`'s layout and its pages' layouts; `ValueError` if two share an id."""
    found: dict[str, Chat] = {}
    for layout in _layouts(dash_app):
        for chat in _walk(layout):
            other = found.setdefault(chat.chat_id, chat)
            if other is not chat:
                raise ValueError(
                    f"two Chats have the id {chat.chat_id!r}: give each Chat its own id (its history, "
                    "callbacks and stream are found by it), and build each once, at module level"
                )
    return list(found.values())


def attach_chats(
    dash_app: Dash, chats: Iterable[Chat], stream: ChatStream, *, page: Mapping[str, Any]
) -> None:
    """Serve `chats` in `dash_app`: their callbacks, answers through `stream`, and their browser files.

    `page` is what each Chat's controller must know of the server (see `Chat.attach`).
    """
    dash_app.server.extensions[SERVED] = True  # a Chat this missed can say so (see `Chat._problem`)
    chats = list(chats)
    if not chats:
        return
    _add_resources(dash_app)
    for chat in chats:
        chat.attach(page)
        _register_callbacks(dash_app, chat, stream)
    stream.serve(chats)


def _layouts(dash_app: Dash) -> Iterator[Any]:
    # Dash calls a layout function once when it is set, to validate callbacks against it: use that.
    yield dash_app.validation_layout or _resolved(dash_app.layout)
    if dash_app.use_pages:
        for page in dash.page_registry.values():
            yield _resolved(page.get("layout"))


def _resolved(layout: Any) -> Any:
    if not callable(layout):
        return layout
    try:
        return layout()
    except TypeError:  # a page layout that needs its path variables: nothing to learn without them
        logger.info("a layout function needs arguments; Chats in it must also appear elsewhere")
        return None


def _walk(node: Any) -> Iterator[Chat]:
    """Every Chat under `node`, through each component prop that holds components (not only children)."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, Chat):
            yield item
        elif isinstance(item, Component):
            pending.extend(value for key, value in vars(item).items() if not key.startswith("_"))
        elif isinstance(item, list | tuple):
            pending.extend(item)


def _add_resources(dash_app: Dash) -> None:
    """The Chat's scripts and stylesheet, served from this package, once per app."""
    if getattr(dash_app, _WIRED, False):
        return
    setattr(dash_app, _WIRED, True)
    for script in SCRIPTS:
        dash_app.scripts.append_script({"relative_package_path": script, "namespace": NAMESPACE})
    dash_app.css.append_css({"relative_package_path": STYLESHEET, "namespace": NAMESPACE})


def _register_callbacks(dash_app: Dash, chat: Chat, stream: ChatStream) -> None:
    """The one server callback per answer that signs its ticket, and the hand-over of what it signed to
    the controller (`tickets.js`; the controllers start by themselves, see `mount.js`)."""
    ids = chat.store_ids
    deliver = ClientsideFunction(namespace="hybridChat", function_name="ticket")
    dash_app.clientside_callback(deliver, Input(ids["ticket"], "data"), prevent_initial_call=True)

    @dash_app.callback(
        Output(ids["ticket"], "data"),
        Input(ids["ticket-request"], "data"),
        *chat.context,
        prevent_initial_call=True,
    )
    def sign(request: Any, *context: Any) -> dict[str, Any]:
        try:
            return sign_ticket(chat, stream, request, context)
        except Exception:  # the answer must fail now, not wait for a ticket that never comes
            logger.exception("signing a ticket for the Chat %r failed", chat.chat_id)
            return _refused(request, "the server hit an unexpected error", 500)

    sign.__name__ = f"sign_{chat.chat_id}"


def sign_ticket(chat: Chat, stream: ChatStream, request: Any, context: Sequence[Any]) -> dict[str, Any]:
    """The answer to a ticket request `{id, body: {messages}}`: `{id, ticket, url}`, or `{id, error}`.

    `stream.issue` counts the client's tickets, checks the conversation and the context values and
    signs them together, for the signed-in user when there is one and for this app (its mount path, as
    this request reached it); the URL is the stream's as this request reached the app.
    """
    body = request.get("body") if isinstance(request, Mapping) else None
    if not isinstance(body, Mapping) or not isinstance(request.get("id"), str):
        return _refused(request, "malformed ticket request", 400)
    mount, client = _asked_from()
    try:
        ticket = stream.issue(
            chat.chat_id, body.get("messages"), context, user=signed_in_user(), mount=mount, client=client
        )
    except ApiError as exc:
        return _refused(request, exc.message, exc.status)
    return {"id": request["id"], "ticket": ticket, "url": route_url(CHAT_STREAM_PATH)}


def _asked_from() -> tuple[str, str]:
    """The mount path the Dash request being served reached the app at, and its client (as the limits
    name it); empty outside a request."""
    if not flask.has_request_context():
        return "", ""
    return flask.request.script_root, client_in(flask.request.environ.get("asgi.scope", {}))


def _refused(request: Any, error: str, status: int) -> dict[str, Any]:
    """A refusal the controller that asked can match (by its request's id, when it sent one)."""
    asked = request.get("id") if isinstance(request, Mapping) else None
    return {"id": asked if isinstance(asked, str) else "", "error": error, "status": status}
