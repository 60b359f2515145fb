"""The chat page with signed tickets: a Dash callback checks and signs each request, the stream trusts
only tickets. Uses the scripted model of `chat_scripted`, so `GET /test/requests` shows what streamed.
"""

from __future__ import annotations

from starlette.routing import Route

import hybrid
from hybrid.chat import ChatStream
from hybrid.tickets import TicketSigner
from hybrid.ui import build_chat_app
from tests.apps.chat_scripted import ScriptedProvider, recorded_route

provider = ScriptedProvider()
chat = ChatStream(provider, signer=TicketSigner("ui-test-secret"))
app = hybrid.create_app(
    dash_app=build_chat_app(models=provider.models, issue_ticket=chat.issue),
    provider=provider,
    settings=hybrid.Settings.from_env(),
    routes=[recorded_route(provider)],
)
# The signed stream route goes first, ahead of create_app's own `/api/stream`.
app.router.routes.insert(0, Route("/api/stream", hybrid.stream_endpoint(chat), methods=["POST"]))
