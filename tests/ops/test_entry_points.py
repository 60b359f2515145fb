"""The server's entry points refuse to start on a bad configuration: at once, with the reason, no traceback.

`python -m hybrid` checks before it starts any worker; `hybrid.main`, imported by every uvicorn or
gunicorn worker, exits with the status both process managers take as "this worker cannot boot" (3), so
they stop instead of starting it again and again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hybrid.dev.servers import free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.server

UNREACHABLE = "HYBRID_REDIS_URL is set, but the Redis at redis://:***@127.0.0.1"
BAD_SETTINGS = {
    "a value": ({"HYBRID_MAX_STREAMS": "-1"}, "HYBRID_MAX_STREAMS must not be negative, got -1"),
    "the provider's": ({"HYBRID_PROVIDER": "openai"}, "the openai provider (HYBRID_PROVIDER=openai) needs"),
}


def started(command: list[str], env: dict[str, str], timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Run `command` until it exits, at most `timeout` seconds (it must not keep restarting workers)."""
    return subprocess.run(
        command,
        env={**os.environ, "HYBRID_SECRET_KEY": "k", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def unreachable_redis() -> dict[str, str]:
    return {"HYBRID_REDIS_URL": f"redis://:hunter2@127.0.0.1:{free_port()}/0"}


def assert_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "hunter2" not in result.stderr


PYTHON_M_HYBRID = [sys.executable, "-m", "hybrid", "--workers", "2", "--port", "0"]


def test_python_m_hybrid_with_workers_refuses_an_unreachable_redis_before_any_worker_starts() -> None:
    assert_refused(started(PYTHON_M_HYBRID, unreachable_redis()), UNREACHABLE)


@pytest.mark.parametrize("bad", BAD_SETTINGS)
def test_python_m_hybrid_with_workers_refuses_a_bad_setting_with_its_message(bad: str) -> None:
    env, message = BAD_SETTINGS[bad]
    assert_refused(started(PYTHON_M_HYBRID, env), message)


def test_a_uvicorn_worker_refuses_an_unreachable_redis_with_the_boot_error_status() -> None:
    result = started([sys.executable, "-m", "uvicorn", "hybrid.main:app", "--port", "0"], unreachable_redis())
    assert_refused(result, UNREACHABLE)
    assert result.returncode == 3


def test_gunicorn_halts_when_its_workers_cannot_reach_redis() -> None:
    command = [
        *(sys.executable, "-m", "gunicorn", "hybrid.main:app", "-k", "uvicorn_worker.UvicornWorker"),
        *("-w", "2", "-b", f"127.0.0.1:{free_port()}"),
    ]
    result = started(command, unreachable_redis(), timeout=20)
    assert_refused(result, UNREACHABLE)
    assert "Worker failed to boot" in result.stderr  # gunicorn stopped rather than boot it again


MISSING_CLIENT = "the Redis client is not installed: pip install 'dash-hybrid[redis]'"


@pytest.mark.parametrize(
    "command",
    [PYTHON_M_HYBRID, [sys.executable, "-m", "uvicorn", "hybrid.main:app", "--port", "0"]],
    ids=["python -m hybrid", "uvicorn"],
)
def test_redis_configured_without_its_client_installed_says_which_extra_to_install(
    command: list[str], tmp_path: Path
) -> None:
    hidden = tmp_path / "redis"  # an environment without the `redis` extra: importing it fails
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError(\"No module named 'redis'\")\n")
    env = {**unreachable_redis(), "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    assert_refused(started(command, env), MISSING_CLIENT)


def test_without_redis_configured_the_server_never_imports_its_client() -> None:
    code = "import sys, hybrid.main; print('redis' in sys.modules)"
    result = started([sys.executable, "-c", code], {})
    assert result.stdout.strip() == "False", result.stderr
