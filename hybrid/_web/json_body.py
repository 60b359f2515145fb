"""`read_json`: a request's JSON body, with a 4xx naming what is wrong with it."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from hybrid._errors import ApiError

MAX_JSON_DEPTH = 8


async def read_json(request: Request) -> Any:
    """The request's JSON body, or an `ApiError` naming what is wrong with it (415, 400, 413 past the
    body limit)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.body()  # past the body limit: `BodyTooLarge`, a 413
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _invalid("the body is not valid UTF-8") from None
    except RecursionError:
        raise _invalid(f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise _invalid("the body is not valid JSON") from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise _invalid(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    return body


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects, without recursion."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                level.extend((child, depth + 1) for child in children)
    return deepest


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)
