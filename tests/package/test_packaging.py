"""The distribution as users get it: `python -m build` makes the sdist and, from the sdist, the wheel; the
wheel carries every file of the package and says what the package index shows; installed into a clean
virtual environment with the docs' install line, it imports and serves the README's example, and with
its `testing` extra the tests of the docs' testing page pass there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import httpx
import pytest

import hybrid
from hybrid.dev.servers import free_port, wait_until_answering
from tests.conftest import ROOT
from tests.testing.http_chat import ask_page_chat

pytestmark = pytest.mark.server  # it builds, installs and serves in processes of its own

SOURCES = ("pyproject.toml", "PYPI.md", "README.md", "LICENSE", "hybrid")
"""What a build reads: the project's metadata, its long description, its license and the package."""


def source_files() -> list[str]:
    """The files of `SOURCES` a commit of the work tree would hold: tracked or new, not ignored, present."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *SOURCES],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted(path for path in set(listed) if (ROOT / path).is_file())


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from a copy of the source files, as from a clean clone (a stale
    egg-info in the work tree would hide a file the build leaves out)."""
    work = tmp_path_factory.mktemp("build")
    source, out = work / "source", work / "dist"
    for path in source_files():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, source / path)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


def test_the_sdist_and_the_wheel_hold_every_file_of_the_package(dist: Path) -> None:
    # A browser script left out of the package data serves an editable install and breaks every other.
    package = [path for path in source_files() if path.startswith("hybrid/")]
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel:
        in_wheel = set(wheel.namelist())
    with tarfile.open(only(dist, "*.tar.gz")) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert [path for path in package if path not in in_wheel] == []
    assert [path for path in [*package, "pyproject.toml", "PYPI.md", "LICENSE"] if path not in in_sdist] == []


def test_the_wheel_says_what_the_package_index_shows(dist: Path) -> None:
    wheel_path = only(dist, "*.whl")
    assert wheel_path.name == f"dash_hybrid-{hybrid.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel_path) as wheel:
        info = f"dash_hybrid-{hybrid.__version__}.dist-info"
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        licensed = wheel.namelist()
    assert (metadata["Name"], metadata["Version"]) == ("dash-hybrid", hybrid.__version__)
    assert (metadata["License-Expression"], metadata["License-File"]) == ("MIT", "LICENSE")
    assert f"{info}/licenses/LICENSE" in licensed
    assert metadata.get_payload().strip() == (ROOT / "PYPI.md").read_text().strip()  # the short page
    assert len(metadata.get_payload()) < 4_000
    assert {"redis", "examples", "testing"} <= set(metadata.get_all("Provides-Extra"))
    assert re.search(r"^\[pytest11\]\nhybrid = hybrid\.testing\.plugin$", entry_points, re.M)


def readme_example() -> tuple[str, str]:
    """The README's first example that serves a Chat (a python block with `hybrid.Chat` and
    `create_app`), and its Chat's id."""
    for block in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S):
        chat = re.search(r"hybrid\.Chat\(\s*[\"']([^\"']+)[\"']", block)
        if chat and "server = hybrid.create_app(" in block:
            return block, chat[1]
    raise AssertionError("the README shows no example that serves a Chat (`server = hybrid.create_app(app)`)")


@dataclass(frozen=True)
class CleanEnvironment:
    """A new virtual environment with the wheel installed, and how to run its Python away from the
    checkout (its folder, no `PYTHON*` or `HYBRID_*` variables of this run)."""

    python: Path
    env: dict[str, str]

    def run(self, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, *args], cwd=cwd, env=self.env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def clean(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> CleanEnvironment:
    """The docs' install line, `pip install dash-hybrid`, in a new virtual environment, from the wheel
    file (nothing is published)."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "HYBRID_"))}
    environment = CleanEnvironment(venv / "bin" / "python", env)
    installed = environment.run("-m", "pip", "install", "--quiet", only(dist, "*.whl"), cwd=venv)
    assert installed.returncode == 0, installed.stderr
    checked = environment.run("-m", "pip", "check", cwd=venv)
    assert checked.returncode == 0, checked.stdout
    return environment


def test_a_clean_environment_imports_the_wheel_and_serves_the_readme_example(
    clean: CleanEnvironment, tmp_path: Path
) -> None:
    code, chat_id = readme_example()
    (tmp_path / "myapp.py").write_text(code)
    imported = clean.run(
        "-c",
        "import hybrid, hybrid.main, hybrid.testing, hybrid.dev.simulator, myapp\n"
        "print(hybrid.__version__, hybrid.__file__)",
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
    version, location = imported.stdout.split()
    assert version == hybrid.__version__ and Path(location).is_relative_to(clean.python.parent.parent)

    port = free_port()
    log = tmp_path / "server.log"
    env = clean.env | {"HYBRID_DEMO_TTFT_MS": "0", "HYBRID_DEMO_TOKEN_MS": "0"}
    with log.open("wb") as output:
        server = subprocess.Popen(
            [clean.python, "-m", "uvicorn", "myapp:server", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        assert wait_until_answering(server, url + "healthz", log, seconds=30), log.read_text()
        with httpx.Client(base_url=url, timeout=20) as client:
            page = client.get("")
            assert page.status_code == 200 and "_dash-renderer" in page.text
            text, done = ask_page_chat(client, chat_id, "How did sales go?")
        assert done and text.strip(), text
    finally:
        server.terminate()
        server.wait(10)
