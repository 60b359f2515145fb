"""A Chat's answer asked over HTTP as its page asks for it, for tests of a served app without a browser.

The page's Chat has its Dash callback sign the question, with the Chat's context values, into a ticket
(`POST _dash-update-component`), then streams the answer the ticket names from the URL the callback gave.
The callback and its context `State`s come from the app's `_dash-dependencies`, their values from its
`_dash-layout`: so any app's Chat is asked with what its page would send.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.support.sse_client import answer


def ask_page_chat(client: httpx.Client, chat_id: str, question: str) -> tuple[str, bool]:
    """The text of the Chat `chat_id`'s answer to `question`, and whether it came whole (`[DONE]`).

    `client`'s `base_url` is where the app's page is (ending with `/`); its cookies go along.
    """
    output = f"{chat_id}--ticket.data"
    callbacks = [
        c for c in client.get("_dash-dependencies").raise_for_status().json() if c["output"] == output
    ]
    assert callbacks, f"the app has no Chat {chat_id!r} (no callback writes {output})"
    (callback,) = callbacks
    values = dict(_props(client.get("_dash-layout").raise_for_status().json()))
    asked = {"id": "1", "body": {"messages": [{"role": "user", "content": question}]}}
    request = {
        "output": output,
        "outputs": {"id": f"{chat_id}--ticket", "property": "data"},
        "inputs": [{**callback["inputs"][0], "value": asked}],
        "changedPropIds": [f"{chat_id}--ticket-request.data"],
        "state": [
            {**state, "value": values.get((state["id"], state["property"]))} for state in callback["state"]
        ],
    }
    signed = client.post("_dash-update-component", json=request).raise_for_status().json()
    ticket = signed["response"][f"{chat_id}--ticket"]["data"]
    assert "ticket" in ticket, f"the Chat's callback refused: {ticket}"
    streamed = client.post(urljoin(str(client.base_url), ticket["url"]), json={"ticket": ticket["ticket"]})
    assert streamed.status_code == 200, f"the stream answered {streamed.status_code}: {streamed.text}"
    return answer(streamed.text)


def _props(node: Any) -> Iterator[tuple[tuple[str, str], Any]]:
    """((component id, property), value) of every property of every component with an id in a layout."""
    if isinstance(node, list):
        for item in node:
            yield from _props(item)
    elif isinstance(node, dict):
        props = node.get("props", {})
        for name, value in props.items():
            if isinstance(props.get("id"), str):  # (a pattern-matching id is no State of a Chat here)
                yield (props["id"], name), value
            yield from _props(value)
