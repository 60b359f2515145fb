"""Helpers for testing hybrid apps over real HTTP, as hybrid's own tests and benchmarks do.

A test starts the app in a real server process on a loopback port (`free_port`) and waits for it to
answer (`wait_until_answering`) before it speaks HTTP to it; `chat_ticket` makes the body the chat page
would post; `CHROMIUM` and `CHROMIUM_ARGS` launch Debian's Chromium headless through Playwright.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # else it keeps calling home, and a closed network refuses it
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path, *, seconds: float) -> bool:
    """Wait until `url` answers at all; False on time-out, `RuntimeError` with the log if `process` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1)
            return True
        except httpx.HTTPError:
            time.sleep(0.05)
    return False


def chat_ticket(body: dict[str, Any], secret_key: str, *, user: str | None = None) -> dict[str, str]:
    """The body the chat page posts to `/api/stream` for `body`: a ticket signed with the server's key."""
    from hybrid.tickets import TicketSigner

    return {"ticket": TicketSigner(secret_key).issue(body, user=user)}


def long_markdown_answer(count: int = 4000) -> list[str]:
    """About `count` tokens of mixed markdown, as a model streams them: paragraphs, lists, a table and
    fenced code, repeated (what the render budget of the chat is measured on)."""
    from hybrid.providers.demo import tokens

    section = (
        "## Section {n}\n\nThis paragraph explains part {n} of the answer with **bold**, *emphasis* and "
        "`inline code`, and it runs for a while so that the block grows over many tokens before it ends.\n\n"
        "- first point of section {n}\n- second point with a [link](https://example.com/{n})\n"
        "- third point\n\n| key | value |\n|---|---|\n| n | {n} |\n| square | {sq} |\n\n"
        "```python\ndef section_{n}(x: int) -> int:\n    # a comment\n    return x * {n}\n```\n\n"
    )
    out: list[str] = []
    n = 0
    while len(out) < count:
        n += 1
        out += tokens(section.format(n=n, sq=n * n))
    return out[:count]
