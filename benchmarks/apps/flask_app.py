"""Contender 2 (and the Dash half of 3): Dash with the SSE stream on its own Flask server.

`server` is the WSGI app for gunicorn (gthread or gevent); `python -m benchmarks.apps.flask_app PORT`
serves it on werkzeug's threaded development server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from flask import Response, request

from benchmarks import tokens
from benchmarks.dash_app import build_dash

dash_app = build_dash()
server = dash_app.server


@server.get(tokens.STREAM_PATH)
def bench_stream() -> Response:
    plan = tokens.Plan.from_query(request.args)

    def body() -> Iterator[bytes]:
        for delta in tokens.tokens(plan):
            yield tokens.sse_message(delta)
        yield tokens.DONE

    return Response(body(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})


@server.get(tokens.ACTIVE_PATH)
def bench_active() -> str:
    return str(tokens.active)


if __name__ == "__main__":
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive for Dash requests, chunked streams
    server.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
