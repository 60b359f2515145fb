"""Logging: text or JSON lines, each carrying the request id of the stream it belongs to.

A stream's request id is taken from a sane incoming `X-Request-ID` or made up, kept in a context variable
for the stream's task (and the tasks it starts), sent to the provider and back in the response headers.
Nothing here logs prompt or answer text.

`configure(settings)` is called by `hybrid.main` and `python -m hybrid` (through `configure_process`);
an app built with `create_app` in your own code leaves logging to you (add `RequestIdFilter` to your
handlers to get the ids).
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from hybrid._settings import Settings
from hybrid._streams.hooks import StreamHooks, StreamOutcome
from hybrid._web.request_id import request_id, user

TEXT_FORMAT = "%(levelname)s:     %(name)s [%(request_id)s %(user)s] %(message)s"
_stream_logger = logging.getLogger("hybrid.stream")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` and `user` (the stream's, or `-`) to every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        record.user = user.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, user, and the record's `fields`.

    Pass structured values with `logger.info(..., extra={"fields": {...}})`.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid and rid != "-":
            entry["request_id"] = rid
        who = getattr(record, "user", None) or user.get()
        if who and who != "-":
            entry["user"] = who
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _, status = record.args
            entry.update(client=client, method=method, path=path, status=status)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class LoggingHooks(StreamHooks):
    """One line per stream as it ends, in the stream's context (so with its request id)."""

    def closed(self, outcome: StreamOutcome) -> None:
        first = outcome.first_delta_seconds
        _stream_logger.info(
            "stream %s%s: %d deltas, first after %s, %.2f s",
            outcome.status,
            f" ({outcome.error})" if outcome.error else "",
            outcome.deltas,
            "-" if first is None else f"{first:.3f} s",
            outcome.duration_seconds,
            extra={
                "fields": {
                    "status": outcome.status,
                    "error": outcome.error,
                    "deltas": outcome.deltas,
                    "first_delta_seconds": first,
                    "duration_seconds": round(outcome.duration_seconds, 6),
                }
            },
        )


def dict_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` (and uvicorn `log_config`) for `settings`.

    `hybrid` loggers log at `HYBRID_LOG_LEVEL`, other libraries' at WARNING. With `json`, uvicorn's own
    lines (start-up, access log) are JSON too, so the output is one JSON object per line throughout.
    """
    formatter: dict[str, Any] = (
        {"()": "hybrid.JsonFormatter"} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "hybrid",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    loggers: dict[str, Any] = {
        "hybrid": {"level": settings.log_level.upper(), "handlers": ["hybrid"], "propagate": False},
    }
    if settings.log_format == "json":
        # No levels: uvicorn sets its own from `--log-level`.
        for name in ("uvicorn", "uvicorn.access"):
            loggers[name] = {"handlers": ["hybrid"], "propagate": False}
        loggers["uvicorn.error"] = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "hybrid.RequestIdFilter"}},
        "formatters": {"hybrid": formatter},
        "handlers": {"hybrid": handler},
        "loggers": loggers,
        "root": {"level": "WARNING", "handlers": ["hybrid"]},
    }


def configure(settings: Settings) -> None:
    """Apply `dict_config(settings)` to this process."""
    logging.config.dictConfig(dict_config(settings))
