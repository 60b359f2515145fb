"""The request id and signed-in user of the stream being served, in context variables.

A stream's request id is taken from a sane incoming `X-Request-ID` or made up, kept for the stream's task
(and the tasks it starts), sent to the provider and back in the response headers; the logs read both.
"""

from __future__ import annotations

import contextvars
import re
import secrets

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("hybrid_request_id", default=None)
"""The request id of the stream being served in this context, if any."""
user: contextvars.ContextVar[str | None] = contextvars.ContextVar("hybrid_user", default=None)
"""The signed-in user of the stream being served in this context, if the app knows its users."""

# Ids other systems make (UUIDs, hex, ULIDs, dotted trace ids) fit; anything else gets a fresh id. The id is
# copied into log lines (plain or JSON, parsed by other tools), upstream requests and response headers:
# only characters that mean nothing in any of them are taken, and no more than a UUID's worth and then some.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def bind_request_id(incoming: str | None, *, signed_in: str | None = None) -> str:
    """Set this context's request id (`incoming` if it is sane, else a new one) and user; return the id."""
    rid = incoming if incoming and _SANE_ID.fullmatch(incoming) else secrets.token_hex(16)
    request_id.set(rid)
    user.set(signed_in)
    return rid
