"""hybrid: ChatGPT-style streaming for Plotly Dash, served by one ASGI process.

A Starlette root app serves the Dash (Flask) app through a2wsgi and Server-Sent-Events streams natively,
so streaming answers never hold a Flask thread. `create_app` builds it; `Chat` is a streaming chat
component for any Dash app; `stream_endpoint` turns an async generator of text into a stream route;
`stream_on` wires a dash-extensions `SSE` component to one.

Everything the README and the examples use is exported here; `tests/test_public_api.py` pins the list.
"""

from hybrid.app import HybridApp, create_app
from hybrid.auth import Authorize
from hybrid.chat import ChatStream, read_json
from hybrid.dash import route_url, serve_dash, sse_request, stream_on
from hybrid.dash.chat import Chat
from hybrid.dash.serve import signed_in_user
from hybrid.errors import ApiError, StreamError
from hybrid.hooks import StreamHooks, StreamOutcome
from hybrid.limits import ClientLimiter
from hybrid.logs import JsonFormatter, RequestIdFilter
from hybrid.logs import configure as configure_logging
from hybrid.parts import Part, Reasoning, SetProps, to_item
from hybrid.process import configure_process
from hybrid.providers import ChatRequest, Completion, Message, Provider, Reply, Usage, provider_from_settings
from hybrid.settings import Settings, SettingsError
from hybrid.sse import Event
from hybrid.streaming import EventStreamResponse, stream_endpoint
from hybrid.supervisor import StreamSupervisor

__all__ = [
    "ApiError",
    "Authorize",
    "Chat",
    "ChatRequest",
    "ChatStream",
    "ClientLimiter",
    "Completion",
    "Event",
    "EventStreamResponse",
    "HybridApp",
    "JsonFormatter",
    "Message",
    "Part",
    "Provider",
    "Reasoning",
    "Reply",
    "RequestIdFilter",
    "SetProps",
    "Settings",
    "SettingsError",
    "StreamError",
    "StreamHooks",
    "StreamOutcome",
    "StreamSupervisor",
    "Usage",
    "configure_logging",
    "configure_process",
    "create_app",
    "provider_from_settings",
    "read_json",
    "route_url",
    "serve_dash",
    "signed_in_user",
    "sse_request",
    "stream_endpoint",
    "stream_on",
    "to_item",
]
