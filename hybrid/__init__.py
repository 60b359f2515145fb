"""hybrid: ChatGPT-style streaming for Plotly Dash, served by one ASGI process.

A Starlette root app mounts the Dash (Flask) app through a2wsgi and serves Server-Sent-Events streams
natively, so streaming answers never hold a Flask thread.
"""

from hybrid.app import create_app
from hybrid.errors import ApiError, StreamError
from hybrid.settings import Settings
from hybrid.streaming import Event, EventStreamResponse, StreamSupervisor, stream_endpoint

__all__ = [
    "ApiError",
    "Event",
    "EventStreamResponse",
    "Settings",
    "StreamError",
    "StreamSupervisor",
    "create_app",
    "stream_endpoint",
]
