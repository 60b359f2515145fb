"""An installed hybrid carries every file the package holds, not only its Python modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.server
def test_a_build_of_the_package_holds_every_file_git_tracks_under_hybrid(tmp_path: Path) -> None:
    # build_py is the step of a wheel build that copies modules and package data: a browser script left
    # out of the package data serves an editable install and breaks every installed one. It runs on a
    # copy of the tracked files, as a build from a clean clone does (a stale egg-info would hide a gap).
    tracked = subprocess.run(
        ["git", "ls-files", "pyproject.toml", "README.md", "hybrid"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    source, built = tmp_path / "source", tmp_path / "built"
    for path in tracked:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, source / path)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            built,
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    packaged = {str(path.relative_to(built)) for path in built.rglob("*") if path.is_file()}
    assert [path for path in tracked if path.startswith("hybrid/") and path not in packaged] == []
