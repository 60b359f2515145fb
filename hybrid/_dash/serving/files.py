"""`DashFiles`: Dash's component suites and `/assets/` files served on the event loop, gzipped once.

Dash serves both from Flask, so every script of a page took a thread of a2wsgi's pool and five
crossings between it and the loop, and went out uncompressed. Here they are answered before the
request reaches Flask, with the headers Dash and Flask give them:

* `/_dash-component-suites/<package>/<file>`: only the files Dash registered for its pages
  (`Dash.registered_paths`, exactly what its own route accepts); a fingerprinted name is cached for a
  year (`Cache-Control: max-age=31536000`), any other gets Dash's ETag (the SHA-1 of the file) and 304s;
  a file Dash did not register is a 404 (Dash itself answers 500), and so is any name with a NUL byte;
* `<assets_url_path>/<file>`: files inside `assets_folder` (no path leaves it), with Flask's
  `Cache-Control: no-cache`, `Last-Modified` and ETag, and its 304s.

Each file is read once, gzipped once at level 9 in a thread (the whole chat page: about 40 ms of CPU),
and kept in memory; an asset is read again when its size or modification time changes. A client that
accepts gzip gets the gzipped copy (`Vary: Accept-Encoding`).

Whatever this cannot answer exactly as Flask would goes on to Dash: a request before Dash has set
itself up (its first request registers the paths), a method other than GET and HEAD, a `Range`
request, a Flask app with request hooks of its own (an authentication hook must see every request),
`SEND_FILE_MAX_AGE_DEFAULT`, and assets that are missing, over `MAX_FILE_BYTES` or not named in ASCII.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
import os
import pkgutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import PurePosixPath
from stat import S_ISREG
from typing import Any

from dash import Dash
from dash.fingerprint import check_fingerprint
from starlette.types import ASGIApp, Receive, Scope, Send
from werkzeug.http import dump_options_header, is_resource_modified
from werkzeug.security import safe_join
from werkzeug.utils import get_content_type

from hybrid._compat.dash import app_hooks, is_set_up
from hybrid._errors import error_response
from hybrid._web.compression import accepts_gzip, add_vary, compressible
from hybrid._web.urls import route_path

SUITES = "_dash-component-suites/"
YEAR = b"max-age=31536000"
MAX_FILE_BYTES = 8 * 1_048_576
"""Largest asset kept in memory; larger ones are left to Flask (which streams them from disk)."""
GZIP_LEVEL = 9
"""Compressed once per file, so the smallest output: level 9 costs 25 % more CPU than 6 for 0.4 % fewer
bytes on Dash's bundles, once."""


@dataclass(frozen=True)
class StaticFile:
    """A file as sent: its bytes and headers, and its gzipped bytes and headers (None: not worth it)."""

    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    gzipped: bytes | None = None
    gzip_headers: tuple[tuple[bytes, bytes], ...] = ()
    etags: tuple[bytes, ...] = ()
    """The ETags of both forms of this version of the file, for `If-None-Match`."""
    modified: datetime | None = None
    version: tuple[int, int] = (0, 0)
    """An asset's (size, mtime_ns) when it was read: a change on disk reads it again."""

    @staticmethod
    def of(
        body: bytes,
        mimetype: str,
        headers: list[tuple[bytes, bytes]],
        etag: str | None = None,
        **fields: Any,
    ) -> StaticFile:
        """The file `body` of `mimetype` with `headers` (called in a thread: this gzips)."""
        content_type = get_content_type(mimetype, "utf-8").encode("latin1")
        headers = [(b"content-type", content_type), *headers]
        plain = [*headers, (b"etag", etag.encode())] if etag else headers
        gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0) if compressible(content_type) else body
        if len(gzipped) >= len(body):
            return StaticFile(body, tuple(plain), etags=(etag.encode(),) if etag else (), **fields)
        # the gzipped form is other bytes, so another (strong) ETag: a cache must not mix the two up
        gzip_etag = f'{etag[:-1]}-gzip"' if etag else None
        packed = [*headers, (b"content-encoding", b"gzip")]
        packed += [(b"etag", gzip_etag.encode())] if gzip_etag else []
        etags = (etag.encode(), gzip_etag.encode()) if etag and gzip_etag else ()
        return StaticFile(
            body, tuple(add_vary(plain)), gzipped, tuple(add_vary(packed)), etags=etags, **fields
        )


class DashFiles:
    """Serves `dash_app`'s component suites and assets in front of `app` (Dash through a2wsgi)."""

    def __init__(self, app: ASGIApp, dash_app: Dash) -> None:
        self.app = app
        self.dash_app = dash_app
        prefix = dash_app.config.routes_pathname_prefix
        self.suites = prefix + SUITES
        self.assets = prefix + dash_app.config.assets_url_path.strip("/") + "/"
        self.files = (self.suites, self.assets)
        self.folder = os.fspath(dash_app.config.assets_folder)
        self.cache: dict[tuple[str, str, bool], asyncio.Future[StaticFile | None]] = {}
        """Per file: (package, path, fingerprinted) for a suite, ("", filename, False) for an asset."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\0" in scope["path"] and route_path(scope).startswith(self.files):
            # no file is named so; `os.stat` (here, or in Flask) would raise on it: a 500
            await error_response(404, "not_found", "no such file")(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = route_path(scope)
            served = None
            if path.startswith(self.suites) and self._flask_adds_nothing(scope):
                served = await self._suite(path[len(self.suites) :], scope, receive, send)
            elif path.startswith(self.assets) and self._flask_adds_nothing(scope):
                served = await self._asset(path[len(self.assets) :], scope, send)
            if served:
                return
        await self.app(scope, receive, send)

    def _flask_adds_nothing(self, scope: Scope) -> bool:
        """Whether Flask would answer a file exactly as this does: Dash set up, no hooks of the app's own."""
        server = self.dash_app.server
        return (
            is_set_up(self.dash_app)
            and not app_hooks(self.dash_app)
            and not any(server.after_request_funcs.values())
            and server.config.get("SEND_FILE_MAX_AGE_DEFAULT") is None
            and not any(name == b"range" for name, _ in scope["headers"])
        )

    async def _suite(self, rest: str, scope: Scope, receive: Receive, send: Send) -> bool:
        package, _, fingerprinted = rest.partition("/")
        path, has_fingerprint = check_fingerprint(fingerprinted)
        if (
            package not in self.dash_app.registered_paths
            or path not in self.dash_app.registered_paths[package]
        ):
            response = error_response(404, "not_found", "no such file among this app's component suites")
            await response(scope, receive, send)
            return True
        # keyed by the file, not the name asked for: any fingerprint is accepted (as Dash does), and a
        # cache keyed by it would grow with every made-up one
        key = (package, path, has_fingerprint)
        found = await self._cached(key, lambda: _load_suite(package, path, has_fingerprint))
        if found is None:
            return False
        await _respond(found, scope, send)
        return True

    async def _asset(self, name: str, scope: Scope, send: Send) -> bool:
        filename = safe_join(self.folder, name) if name else None
        if filename is None:
            return False  # leaves the folder: Flask answers it (404)
        try:
            stat = os.stat(filename)
        except OSError:
            return False
        if not S_ISREG(stat.st_mode) or stat.st_size > MAX_FILE_BYTES or not filename.isascii():
            return False
        key = ("", filename, False)
        found = await self._cached(key, lambda: _load_asset(filename, stat))
        if found is not None and found.version != (stat.st_size, stat.st_mtime_ns):
            self.cache.pop(key, None)  # changed on disk since it was read
            found = await self._cached(key, lambda: _load_asset(filename, stat))
        if found is None:
            return False
        await _respond(found, scope, send)
        return True

    async def _cached(
        self, key: tuple[str, str, bool], load: Callable[[], StaticFile | None]
    ) -> StaticFile | None:
        """The file under `key`, loaded once (in a thread) however many requests ask for it at once."""
        task = self.cache.get(key)
        if task is None:
            task = self.cache[key] = asyncio.ensure_future(asyncio.to_thread(load))
        try:
            return await asyncio.shield(task)
        except Exception as exc:
            # Not cached: the next request loads it again (a file fixed on disk, a passing failure).
            if self.cache.get(key) is task:
                del self.cache[key]
            if not isinstance(exc, OSError):
                raise
            return None


def _mimetype(path: str) -> str:
    """The type Dash gives a component-suite file (by extension, as `serve_component_suites` does)."""
    return mimetypes.types_map.get(PurePosixPath(path).suffix, "application/octet-stream")


def _load_suite(package: str, path: str, has_fingerprint: bool) -> StaticFile | None:
    data = pkgutil.get_data(package, path)
    if data is None:
        return None
    if has_fingerprint:
        return StaticFile.of(data, _mimetype(path), [(b"cache-control", YEAR)])
    etag = f'"{hashlib.sha1(data).hexdigest()}"'  # as werkzeug's `add_etag`, which Dash calls
    return StaticFile.of(data, _mimetype(path), [], etag=etag)


def _load_asset(filename: str, stat: os.stat_result) -> StaticFile:
    """An asset, with the headers of Flask's `send_file` (`conditional=True`, no `max_age`)."""
    with open(filename, "rb") as file:
        data = file.read()
    name = os.path.basename(filename)
    check = zlib.adler32(filename.encode()) & 0xFFFFFFFF
    etag = f'"{stat.st_mtime}-{stat.st_size}-{check}"'
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    headers = [
        (b"content-disposition", dump_options_header("inline", {"filename": name}).encode()),
        (b"last-modified", formatdate(int(stat.st_mtime), usegmt=True).encode()),
        (b"cache-control", b"no-cache"),
    ]
    version = (stat.st_size, stat.st_mtime_ns)
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    return StaticFile.of(data, mimetype, headers, etag=etag, modified=modified, version=version)


async def _respond(found: StaticFile, scope: Scope, send: Send) -> None:
    body, headers = found.body, list(found.headers)
    if found.gzipped is not None and accepts_gzip(scope):
        body, headers = found.gzipped, list(found.gzip_headers)
    status = 200
    if found.etags and _not_modified(found, scope):
        status, body = 304, b""
    else:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _not_modified(found: StaticFile, scope: Scope) -> bool:
    """Whether the client's copy is current (`If-None-Match` any of the file's ETags, or
    `If-Modified-Since` for an asset), by werkzeug's rules, as Flask decides it."""
    environ = {"REQUEST_METHOD": scope["method"]}
    for name, value in scope["headers"]:
        if name in (b"if-none-match", b"if-modified-since"):
            environ["HTTP_" + name.decode().upper().replace("-", "_")] = value.decode("latin1")
    if len(environ) == 1:
        return False
    return any(
        not is_resource_modified(environ, etag=etag.decode().strip('"'), last_modified=found.modified)
        for etag in found.etags
    )
