"""`Exposure`: a warning, once and loudly, when a server on a public address spends money for anyone.

Without a guard (`HYBRID_USER_HEADER`, an `authorize` hook), a paid provider behind a public address lets
anyone on the network chat at the owner's cost.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable

from hybrid._compat.gunicorn import gunicorn_config
from hybrid._compat.uvicorn import uvicorn_config

logger = logging.getLogger("hybrid.identity")

Address = tuple[str, int | None] | str | int
"""Where a server listens: `(host, port)`, a Unix socket's path, or a file descriptor it was handed. (A
request's `scope["server"]` on a Unix socket is `(path, None)`.)"""


@functools.lru_cache(maxsize=64)  # asked per request while a paid, open server looks: its few addresses
def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_public(address: Address) -> bool:
    """Whether a server listening on `address` is reachable from other machines: a TCP address other
    than loopback. A Unix socket is local; a descriptor it was handed is unknown until requests come."""
    return isinstance(address, tuple) and address[1] is not None and not is_loopback(address[0])


class Exposure:
    """Warns, once and loudly, when a server on a public address spends money for anyone.

    The server's bound addresses are checked at start-up when it says what they are (uvicorn and
    gunicorn do); then each request's local address is, until one is public. Checks stop at once when
    nothing could warn: a free provider, or a guard (the user header, an authorize hook).
    """

    def __init__(self, *, paid: bool, guarded: bool) -> None:
        self.watching = paid and not guarded

    def check(self, addresses: Iterable[Address]) -> None:
        """Warn if one of `addresses` is public (the first one seen, once)."""
        if not self.watching:
            return
        public = next((address for address in addresses if is_public(address)), None)
        if public is None:
            return
        self.watching = False
        logger.warning(
            "hybrid listens on %s:%s with a paid model provider and lets anyone chat: put it behind an "
            "authenticating proxy and set HYBRID_USER_HEADER (e.g. X-Forwarded-User), or pass "
            "create_app(authorize=...) to decide who may stream",
            public[0],
            public[1],
        )


def bound_addresses() -> list[Address] | None:
    """Where the uvicorn or gunicorn importing this app listens; None under another server (or when the
    app is built outside an import by the server)."""
    uvicorn = uvicorn_config()
    if uvicorn is not None:
        if uvicorn.uds:
            return [uvicorn.uds]
        if uvicorn.fd is not None:
            return [uvicorn.fd]
        return [(uvicorn.host, uvicorn.port)]
    gunicorn = gunicorn_config()
    return None if gunicorn is None else list(gunicorn.address)
