"""Render the README's screenshots: the chat page, light and dark, and the chat-with-your-data example.

    python scripts/screenshots.py              # starts the apps itself (demo model)
    python scripts/screenshots.py --url URL    # or shoots the chat page of a server already running

Writes docs/chat-light.png, docs/chat-dark.png (desktop), docs/chat-phone-dark.png and
docs/chat-with-your-data.png. Needs Playwright, Debian's Chromium (`make chromium`) and the `examples`
extra (pandas).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"
SHOTS = (  # file, colour scheme, viewport
    ("chat-light.png", "light", {"width": 1280, "height": 800}),
    ("chat-dark.png", "dark", {"width": 1280, "height": 800}),
    ("chat-phone-dark.png", "dark", {"width": 390, "height": 844}),
)


@contextmanager
def demo_server(app: str = "hybrid.main:app") -> Iterator[str]:
    """`uvicorn app` with the demo model on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HYBRID_DEMO_TTFT_MS": "50", "HYBRID_DEMO_TOKEN_MS": "5", "HYBRID_PROVIDER": "demo"}
    argv = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(argv, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def shoot(browser: Browser, url: str, name: str, scheme: str, viewport: dict[str, int]) -> Path:
    context = browser.new_context(color_scheme=scheme, viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector(".empty-state")
    for prompt in ("Compare threads, processes and asyncio", "How does streaming work?"):
        if page.is_visible("#sidebar-toggle"):  # phone: New chat is in the drawer
            page.click("#sidebar-toggle")
        page.click("#new-chat")
        page.fill("#prompt", prompt)
        page.press("#prompt", "Enter")
        page.wait_for_selector(".assistant-message[data-status=done]", timeout=30_000)
    page.locator("#chat .chat-conversation").evaluate("view => { view.scrollTop = 260; }")
    path = DOCS / name
    page.screenshot(path=str(path))
    context.close()
    return path


def shoot_example(browser: Browser, url: str) -> Path:
    """The dashboard of `examples/chat_with_your_data.py` after the assistant called its tools on it."""
    context = browser.new_context(color_scheme="light", viewport={"width": 1400, "height": 820})
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#assistant .empty-state")
    page.fill("#assistant .chat-prompt", "Show only Europe and tell me the top three products")
    page.press("#assistant .chat-prompt", "Enter")
    page.wait_for_selector("#assistant .assistant-message[data-status=done]", timeout=30_000)
    page.locator("#assistant .tool-call summary").last.click()  # unfold a card: its arguments and result
    page.locator("#assistant .chat-conversation").evaluate("view => { view.scrollTop = 0; }")
    page.wait_for_timeout(500)  # the figure's transition
    path = DOCS / "chat-with-your-data.png"
    page.screenshot(path=str(path))
    context.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running hybrid app (default: start the demo)")
    args = parser.parse_args()
    DOCS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        with demo_server() if args.url is None else _given(args.url) as url:
            for name, scheme, viewport in SHOTS:
                print(shoot(browser, url, name, scheme, viewport).relative_to(ROOT))
        with demo_server("examples.chat_with_your_data:server") as url:
            print(shoot_example(browser, url).relative_to(ROOT))
        browser.close()


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    main()
