"""A TCP proxy that cuts every answer stream it carries after a number of response bytes, as a flaky
network or an impatient proxy does. Everything else (the page, its scripts, Dash's callbacks) passes.

It reads the requests a connection carries (browsers send one at a time, bodies with `Content-Length`),
and once a request for an answer stream (`/api/stream...`, but not its `DELETE`) is sent, it closes both
sides after `after_bytes` of the response.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STREAM_REQUEST = re.compile(rb"^(POST|GET) /api/stream[/ ?]")
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
Reader, Writer = asyncio.StreamReader, asyncio.StreamWriter


@dataclass
class CuttingProxy:
    """Where the proxy listens (`url`), and how many streams it has cut so far (`cuts`)."""

    url: str = ""
    cuts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cut(self) -> None:
        with self._lock:
            self.cuts += 1


@contextmanager
def cutting_proxy(target_port: int, after_bytes: int) -> Iterator[CuttingProxy]:
    """A proxy to `127.0.0.1:target_port` on a free loopback port, in a thread of its own."""
    proxy = CuttingProxy()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    connections: set[asyncio.Task[None]] = set()

    async def connection(client_reader: Reader, client_writer: Writer) -> None:
        connections.add(asyncio.current_task())  # type: ignore[arg-type]
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        streaming = asyncio.Event()
        upstream = asyncio.create_task(_requests(client_reader, server_writer, streaming))
        try:
            await _responses(server_reader, client_writer, streaming, after_bytes, proxy)
        finally:
            upstream.cancel()
            for writer in (client_writer, server_writer):
                writer.close()
            connections.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def run() -> None:
        server = await asyncio.start_server(connection, "127.0.0.1", 0)
        proxy.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:  # the proxy's end: close what is open
            pass
        finally:
            server.close()
            for task in list(connections):
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)

    main = loop.create_task(run())
    thread = threading.Thread(target=loop.run_until_complete, args=(main,), daemon=True)
    thread.start()
    started.wait(5)
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(main.cancel)
        thread.join(5)
        loop.close()


async def _requests(reader: Reader, writer: Writer, streaming: asyncio.Event) -> None:
    """Pass the client's requests on, one head and body at a time; flag a stream request when it goes."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(length[1])) if length else b""
            writer.write(head + body)
            await writer.drain()
            if STREAM_REQUEST.match(head):
                streaming.set()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _responses(
    reader: Reader,
    writer: Writer,
    streaming: asyncio.Event,
    after_bytes: int,
    proxy: CuttingProxy,
) -> None:
    """Pass the server's bytes on; once a stream was asked for, cut after `after_bytes` of them."""
    sent = 0
    try:
        while chunk := await reader.read(4096):
            if streaming.is_set():
                room = after_bytes - sent
                writer.write(chunk[:room])
                await writer.drain()
                sent += len(chunk)
                if sent >= after_bytes:
                    proxy.cut()
                    return
            else:
                writer.write(chunk)
                await writer.drain()
    except ConnectionError:
        return
