"""hybrid: ChatGPT-style streaming for Plotly Dash, served by one ASGI process.

A Starlette root app serves the Dash (Flask) app through a2wsgi and Server-Sent-Events streams natively,
so streaming answers never hold a Flask thread. `create_app` builds it; `Chat` is a streaming chat
component for any Dash app; `stream_endpoint` turns an async generator of text into a stream route;
`stream_on` wires a dash-extensions `SSE` component to one.

These names are hybrid's public surface; the modules behind them (`hybrid._*`) are internal. Public
modules besides this one: `hybrid.main` (the servable app) and `hybrid.dev` (the simulator and test
helpers). `tests/package/test_public_api.py` pins `__all__` to exactly what this module defines.
"""

from hybrid._app import HybridApp, create_app
from hybrid._dash.chat.component import Chat
from hybrid._dash.serving.app import serve_dash, signed_in_user
from hybrid._dash.serving.mount import route_url
from hybrid._dash.sse_component import sse_request, stream_on
from hybrid._errors import ApiError, ConfigurationError, HybridError, StreamError
from hybrid._ops.logs import JsonFormatter, RequestIdFilter
from hybrid._ops.logs import configure as configure_logging
from hybrid._ops.process import configure_process
from hybrid._providers.base import ChatRequest, Completion, Message, Provider, Reply, Usage
from hybrid._providers.select import provider_from_settings
from hybrid._settings import Settings, SettingsError
from hybrid._streams.endpoint import stream_endpoint
from hybrid._streams.hooks import StreamHooks, StreamOutcome
from hybrid._streams.limits import ClientLimiter
from hybrid._streams.response import EventStreamResponse
from hybrid._streams.supervisor import StreamSupervisor
from hybrid._tools.context import ToolContext
from hybrid._tools.loop import answer_with_tools
from hybrid._tools.tool import Tool, ToolError
from hybrid._tools.toolbox import Toolbox
from hybrid._version import __version__
from hybrid._web.authorize import Authorize
from hybrid._web.json_body import read_json
from hybrid._wire.parts import Part, Reasoning, SetProps, ToolCall, ToolCallDelta, ToolResult, to_event
from hybrid._wire.sse import Event

__all__ = [
    "ApiError",
    "Authorize",
    "Chat",
    "ChatRequest",
    "ClientLimiter",
    "Completion",
    "ConfigurationError",
    "Event",
    "EventStreamResponse",
    "HybridApp",
    "HybridError",
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
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "Toolbox",
    "Usage",
    "__version__",
    "answer_with_tools",
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
    "to_event",
]
