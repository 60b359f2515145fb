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

from tests.conftest import ROOT

PAGE = ROOT / "docs" / "testing.md"


def page_files() -> dict[str, str]:
    """The page's Python blocks that name their file on their first line (`# myapp.py`), by file name."""
    blocks = re.findall(r"```python\n# ([\w.]+\.py)\n(.*?)```", PAGE.read_text(), re.S)
    return dict(blocks)


def test_the_page_shows_the_app_and_a_test_file_of_each_kind() -> None:
    assert sorted(page_files()) == ["myapp.py", "test_answers.py", "test_browser.py", "test_tools.py"]


@pytest.mark.browser
def test_the_pages_tests_pass_as_written_with_nothing_but_the_installed_plugin(tmp_path: Path) -> None:
    files = page_files()
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    tests = sum(len(re.findall(r"^def test_", code, re.M)) for name, code in files.items() if name != "myapp.py")
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
