"""Settings come from one documented place, and bad values fail clearly at start-up."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from hybrid._settings import Settings, SettingsError, reference_table
from tests.conftest import ROOT


def test_the_configuration_page_lists_every_setting() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    table = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", page, re.S)
    assert table, "docs/configuration.md lost its settings-table markers"
    assert table.group(1).strip() == reference_table().strip(), (
        "docs/configuration.md is out of date: paste hybrid._settings.reference_table() between the markers "
        "(python -c 'from hybrid._settings import reference_table; print(reference_table())')"
    )


def test_values_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"PORT": "9001", "HYBRID_KEEPALIVE_SECONDS": "2.5", "HYBRID_WSGI_THREADS": ""}
    )
    assert settings.port == 9001
    assert settings.keepalive_seconds == 2.5
    assert settings.wsgi_threads == Settings().wsgi_threads


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be an integer, got 'eighty'"),
        ({"HYBRID_WSGI_THREADS": "0"}, "HYBRID_WSGI_THREADS must be at least 1"),
        ({"HYBRID_KEEPALIVE_SECONDS": "-1"}, "HYBRID_KEEPALIVE_SECONDS must be positive"),
        ({"HYBRID_PROVIDER": "gemini"}, "HYBRID_PROVIDER must be one of demo, openai, azure, got 'gemini'"),
        ({"HYBRID_LOG_FORMAT": "xml"}, "HYBRID_LOG_FORMAT must be one of text, json, got 'xml'"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("environ", "field", "value"),
    [
        ({"HYBRID_PROVIDER": "Demo"}, "provider", "demo"),
        ({"HYBRID_LOG_FORMAT": "JSON"}, "log_format", "json"),
        ({"HYBRID_LOG_LEVEL": "WARNING"}, "log_level", "warning"),
    ],
)
def test_choices_are_accepted_in_any_case_and_kept_in_lower_case(
    environ: dict[str, str], field: str, value: str
) -> None:
    # Code compares choices exactly: `JSON` accepted but kept as is would silently give text logs.
    assert getattr(Settings.from_env(environ), field) == value
    assert getattr(Settings(**{field: value.upper()}), field) == value


@pytest.mark.server
def test_the_server_refuses_to_start_with_a_bad_value() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import hybrid.main"],
        env={"HYBRID_WSGI_THREADS": "lots", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "HYBRID_WSGI_THREADS must be an integer, got 'lots'" in result.stderr
