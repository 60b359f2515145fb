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
    if not is_unicode(body):
        raise _invalid(NOT_UNICODE)
    return body


NOT_UNICODE = "the body holds a lone surrogate (a \\ud800-\\udfff escape without its pair): not text"


def is_unicode(value: Any) -> bool:
    """Whether every string in `value` (JSON data: keys too) is text that UTF-8 can encode.

    JSON's `\\udfff` escape parses into a lone surrogate, which no encoder takes: the first place that
    writes it (a signature, a log line, the provider's request) would fail with a server error.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return True


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
