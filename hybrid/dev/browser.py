"""Debian's Chromium for browser tests: `CHROMIUM` and the `CHROMIUM_ARGS` that keep it quiet on a closed
network, for `playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)`."""

from __future__ import annotations

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
