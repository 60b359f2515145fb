"""A bare ASGI app that says, as it is imported, where the server importing it listens (tests/compat)."""

from hybrid._ops.exposure import bound_addresses

print("bound:", bound_addresses(), flush=True)


async def app(scope: dict, receive: object, send: object) -> None:
    return None
