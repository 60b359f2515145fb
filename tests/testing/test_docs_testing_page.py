"""docs/testing.md ("Testing your app") as a user follows it: its files written out as the page shows them,
in a folder of their own with no conftest, run by pytest with the plugin the installed package registers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.examples import save

PAGE = "testing.md"
FILES = ("myapp.py", "test_answers.py", "test_tools.py", "test_browser.py")
"""The app under test and the test files the page shows."""


def save_page_files(folder: Path) -> int:
    """Write the page's files into `folder` as a reader saves them; the number of tests they hold."""
    return sum(len(re.findall(r"^def test_", save(folder, PAGE, name).read_text(), re.M)) for name in FILES)


@pytest.mark.browser
def test_the_pages_tests_pass_as_written_with_nothing_but_the_installed_plugin(tmp_path: Path) -> None:
    tests = save_page_files(tmp_path)
    # A user's run: pytest's defaults in a folder of its own (not hybrid's options, which leave dash's
    # plugin out), none of this suite's PYTEST_* settings, the environment's model left as it is.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(rf"^{tests} passed\b", run.stdout, re.M), run.stdout
