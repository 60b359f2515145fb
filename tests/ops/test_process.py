"""Process-wide settings: `create_app` changes none of them; `configure_process` (what `hybrid.main` calls)
sets logging and the thread switch interval. Each check runs in a fresh interpreter of its own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

REPORT = """
import json, logging, signal, sys
def state():
    return {"interval": sys.getswitchinterval(), "sigterm": repr(signal.getsignal(signal.SIGTERM)),
            "root_handlers": len(logging.getLogger().handlers),
            "hybrid_level": logging.getLogger("hybrid").level}
"""


def _states(code: str) -> tuple[dict[str, object], dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-c", REPORT + code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    before, after = (json.loads(line) for line in result.stdout.splitlines()[-2:])
    return before, after


@pytest.mark.server
def test_create_app_changes_no_process_wide_setting() -> None:
    before, after = _states(
        "import hybrid\nprint(json.dumps(state()))\nhybrid.create_app()\nprint(json.dumps(state()))"
    )
    assert after == before


@pytest.mark.server
def test_configure_process_sets_logging_and_the_switch_interval() -> None:
    before, after = _states(
        "import hybrid\nprint(json.dumps(state()))\n"
        "hybrid.configure_process(hybrid.Settings(switch_interval_ms=2, log_level='debug'))\n"
        "print(json.dumps(state()))"
    )
    assert before["interval"] == 0.005 and after["interval"] == 0.002
    assert after["root_handlers"] == 1 and after["hybrid_level"] == 10  # DEBUG
