"""Servers for tests: a test starts the app in a real server process on a loopback port (`free_port`)
and waits for it to answer (`wait_until_answering`) before it speaks HTTP to it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


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
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # it answers, if not with 200
        except OSError:
            time.sleep(0.05)
    return False
