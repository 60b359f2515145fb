"""What `hybrid._compat.uvicorn` and `hybrid._compat.gunicorn` read while the server imports the app is
where it was: when a release moves it, these fail and name the module to mend."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hybrid._compat import gunicorn as gunicorn_compat
from hybrid._compat import uvicorn as uvicorn_compat
from hybrid.dev.servers import free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.server

PROBE = "tests.compat.bound:app"
"""An app that prints, as it is imported, where the server importing it says it listens."""


def imported_by(command: list[str]) -> str:
    """The first line the probe app printed while `command` imported it (the server is then stopped)."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("bound: "):
                return line.removeprefix("bound: ").strip()
        raise AssertionError("the server never imported the probe app")
    finally:
        process.terminate()
        process.wait(10)


def test_uvicorns_config_is_found_while_it_imports_the_app() -> None:
    port = free_port()
    found = imported_by([sys.executable, "-m", "uvicorn", PROBE, "--host", "127.0.0.1", "--port", str(port)])
    checked = ", ".join(uvicorn_compat.CHECKED)
    assert found == f"[('127.0.0.1', {port})]", (
        f"uvicorn moved the Config hybrid._compat.uvicorn reads (checked: {checked})"
    )


def test_gunicorns_config_is_found_while_it_imports_the_app() -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        PROBE,
        "-b",
        f"127.0.0.1:{port}",
        "-k",
        "uvicorn_worker.UvicornWorker",
    ]
    checked = ", ".join(gunicorn_compat.CHECKED)
    assert imported_by(command) == f"[('127.0.0.1', {port})]", (
        f"gunicorn moved the Config hybrid._compat.gunicorn reads (checked: {checked})"
    )
