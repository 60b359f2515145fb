"""The dashGPT / forum recipe: Dash's Flask server streams the answer of the sync openai SDK.

`server` (for gunicorn gevent or gthread) is `benchmarks.apps.flask_app`'s, plus `POST /bench/chat`:
one `openai.OpenAI()` client per process (it reads `OPENAI_BASE_URL` and `OPENAI_API_KEY`), its parsed
chunks, one SSE message per content delta, then `[DONE]`.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
from flask import Response, request

from benchmarks import tokens
from benchmarks.apps.flask_app import server

client = openai.OpenAI()


@server.post(tokens.CHAT_PATH)
def bench_chat() -> Response:
    body = request.get_json()

    def events() -> Iterator[bytes]:
        stream = client.chat.completions.create(model=body["model"], messages=body["messages"], stream=True)
        for chunk in stream:
            delta = tokens.content(chunk)
            if delta:
                yield tokens.sse_message(delta)
        yield tokens.DONE

    return Response(events(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})
