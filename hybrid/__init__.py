"""hybrid: ChatGPT-style streaming for Plotly Dash, served by one ASGI process.

A Starlette root app serves the Dash (Flask) app through a2wsgi and Server-Sent-Events streams natively,
so streaming answers never hold a Flask thread. `create_app` builds it; `stream_endpoint` turns an async
generator of text into a stream route; `hybrid.components` wires a dash-extensions `SSE` component to one.
"""

from hybrid.app import HybridApp, create_app
from hybrid.auth import Authorize
from hybrid.errors import ApiError, StreamError
from hybrid.limits import ClientLimiter
from hybrid.settings import Settings
from hybrid.streaming import Event, EventStreamResponse, StreamOutcome, StreamSupervisor, stream_endpoint

__all__ = [
    "ApiError",
    "Authorize",
    "ClientLimiter",
    "Event",
    "EventStreamResponse",
    "HybridApp",
    "Settings",
    "StreamError",
    "StreamOutcome",
    "StreamSupervisor",
    "create_app",
    "stream_endpoint",
]
