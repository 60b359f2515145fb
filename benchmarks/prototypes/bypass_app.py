"""Proposal: dispatch stream routes ahead of Starlette's middleware stack.

Every event of a hybrid stream passes through four `send` wrappers (ServerErrorMiddleware, hybrid's
SecurityHeadersMiddleware and BodyLimitMiddleware, Starlette's route-level exception sender), and every
open stream keeps their frames and closures alive. Here the same `EventStreamResponse` and token source
are served by a root dispatcher that hands stream paths straight to the response (adding the security
headers to the start message itself); everything else goes to the unchanged hybrid app.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from benchmarks import tokens
from benchmarks.apps.hybrid_app import app as hybrid_app
from hybrid.streaming import EventStreamResponse


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"] == tokens.STREAM_PATH:
        response = EventStreamResponse(tokens.atokens(tokens.Plan.from_query(Request(scope).query_params)))
        response.raw_headers.append((b"x-content-type-options", b"nosniff"))
        await response(scope, receive, send)
        return
    await hybrid_app(scope, receive, send)
