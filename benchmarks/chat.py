"""The chat answer of the proxy scenarios (S7, S9), and how each contender is asked for it.

Every contender streams the same answer: the simulator's first `ANSWER_TOKENS` tokens, one per chunk,
`CADENCE_MS` apart, the first at once. The proxies read it from `python -m hybrid.dev.simulator`; the
reference (`benchmarks.apps.hybrid_chat`) yields the same tokens from inside the server. hybrid's chat
route takes a signed ticket, as its page posts it; the recipes take the conversation as JSON.
"""

from __future__ import annotations

import json
import sys

from benchmarks import loadgen
from hybrid.dev.simulator.scenario import answer_tokens

ANSWER_TOKENS = 100
CADENCE_MS = 20.0
ANSWER = tuple(answer_tokens(ANSWER_TOKENS))
MODEL = "sim"
CONVERSATION = {"messages": [{"role": "user", "content": "Why stream?"}], "model": MODEL}

SIMULATOR = (
    sys.executable,
    "-m",
    "hybrid.dev.simulator",
    "--port",
    "{upstream}",
    "--ttft-ms",
    "0",
    "--token-ms",
    f"{CADENCE_MS:g}",
    "--tokens",
    str(ANSWER_TOKENS),
)
"""The upstream of every proxy contender (`{upstream}`: its port), run on the load generator's core."""

UPSTREAM_ENV = {
    "OPENAI_API_KEY": "sk-bench",
    "OPENAI_BASE_URL": "http://127.0.0.1:{upstream}/v1",
    "HYBRID_MODEL": MODEL,
}
"""What hybrid's openai provider and the SDK recipes read to find the simulator."""


def requests(path: str, count: int, secret_key: str | None, *, resumable: bool = False) -> list[bytes]:
    """`count` raw requests for one answer each: ticketed (signed with `secret_key`) or plain JSON;
    `resumable` ones ask for an answer that outlives its connection, as `hybrid.Chat` does."""
    if secret_key is None:
        body = json.dumps(CONVERSATION).encode()
        return [loadgen.http_request("POST", path, body, close=True)] * count
    from hybrid._answers.resumable import RESUMABLE_HEADER
    from hybrid.dev.tickets import chat_ticket

    headers = {RESUMABLE_HEADER: "1"} if resumable else {}
    return [  # each ticket is accepted once: one per stream
        loadgen.http_request(
            "POST",
            path,
            json.dumps(chat_ticket(CONVERSATION["messages"], secret_key, model=MODEL)).encode(),
            close=True,
            headers=headers,
        )
        for _ in range(count)
    ]
