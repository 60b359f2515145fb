"""Signed, short-lived tickets: the server composes a chat request, the stream endpoint trusts only that.

The Dash callback validates what the page asks for and signs the result (HMAC, `itsdangerous`); the
stream endpoint verifies the signature and age. Tickets are stateless, so any worker or host that
shares `HYBRID_SECRET_KEY` accepts them. Replay is bounded twice: a ticket expires after `max_age`
seconds, and its nonce is accepted once: by the process, whatever the number of apps it serves
(`PROCESS_NONCES`), or by the whole cluster with a shared store (`hybrid._stores.redis.nonces.RedisNonces`,
with `HYBRID_REDIS_URL`). A ticket names the user it was issued to (when the app knows its users) and the
app it was signed for (where that app is mounted): no one else, and no other app, may use it.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hybrid._errors import ApiError

_NONCE = "_nonce"
_USER = "_user"
_APP = "_app"


class NonceStore(Protocol):
    """Remembers the nonces of used tickets."""

    async def claim(self, nonce: str, seconds: float) -> bool:
        """True the first time `nonce` is claimed within `seconds`; False for a replay."""
        ...

    def __len__(self) -> int:
        """How many used nonces it remembers in this process."""
        ...


class MemoryNonces:
    """The nonces used in this process."""

    def __init__(self) -> None:
        self._used: dict[str, float] = {}  # nonce -> when it expires
        self._prune_at = 1024

    def __len__(self) -> int:
        """How many used nonces it remembers (expired ones are dropped as the table grows)."""
        return len(self._used)

    async def claim(self, nonce: str, seconds: float) -> bool:
        now = time.monotonic()
        if self._used.get(nonce, 0) > now:
            return False
        self._forget_expired(now)
        self._used[nonce] = now + seconds
        return True

    def _forget_expired(self, now: float) -> None:
        """Drop expired nonces, once the table has doubled since the last time: O(1) per ticket."""
        if len(self._used) < self._prune_at:
            return
        self._used = {nonce: until for nonce, until in self._used.items() if until > now}
        self._prune_at = max(1024, 2 * len(self._used))


PROCESS_NONCES = MemoryNonces()
"""The nonces used in this process, by every app it serves: a ticket is accepted once per process, not once
per app (two apps sharing a key would each take it)."""


class TicketSigner:
    """Issues and verifies tickets that carry a JSON object; `nonces` remembers the used ones (by
    default, the process's)."""

    def __init__(
        self,
        secret_key: str,
        *,
        max_age: float = 60.0,
        salt: str = "hybrid.chat",
        nonces: NonceStore | None = None,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=salt)
        self.max_age = max_age
        self.nonces: NonceStore = nonces if nonces is not None else PROCESS_NONCES

    def __len__(self) -> int:
        """How many used nonces it remembers in this process."""
        return len(self.nonces)

    def issue(self, payload: dict[str, Any], *, user: str | None = None, app: str = "") -> str:
        """A ticket carrying `payload`, for `user` only when there is one, and for the `app` mounted there."""
        return self._serializer.dumps({**payload, _NONCE: secrets.token_urlsafe(12), _USER: user, _APP: app})

    async def verify(self, ticket: Any, *, user: str | None = None, app: str = "") -> dict[str, Any]:
        """The ticket's payload; `ApiError` 403 when forged, used, `user`'s not or signed for another `app`,
        410 when expired.

        A ticket refused for its user or its app is not used up: its owner can still use it where it was
        signed for.
        """
        if not isinstance(ticket, str):
            raise ApiError(403, "invalid_ticket", "the ticket is missing or malformed")
        try:
            payload = self._serializer.loads(ticket, max_age=self.max_age)
        except SignatureExpired:
            raise ApiError(410, "ticket_expired", "the ticket has expired; send the message again") from None
        except BadSignature:
            raise ApiError(403, "invalid_ticket", "the ticket's signature is not valid") from None
        if payload.pop(_USER, None) != user:
            raise ApiError(403, "wrong_user", "this ticket was issued to another user")
        if payload.pop(_APP, None) != app:
            raise ApiError(403, "wrong_app", "this ticket was signed for another app of this server")
        nonce = payload.pop(_NONCE, None)
        # itsdangerous counts whole seconds: a ticket stays valid up to a second past `max_age`.
        if not isinstance(nonce, str) or not await self.nonces.claim(nonce, self.max_age + 1.0):
            raise ApiError(403, "ticket_used", "the ticket has already been used")
        return payload
