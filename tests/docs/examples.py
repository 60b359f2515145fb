"""The code examples of the documentation site (and the README), as a reader copies them.

Every python block of a page names the file it is saved as on its first line (`# myapp.py`); the tests
of `tests/docs/` write those files out as they are and run them as the page says (`uvicorn
myapp:server`). `RUN_BY` says which test module runs each example; `test_site.py` checks that every
python block of every page is in it, so an example added to a page without a test fails the suite.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT, Server

PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
FILE_NAME = re.compile(r"# ([\w.]+\.py)\n")

RUN_BY = {
    ("README.md", "myapp.py"): "tests/docs/test_getting_started.py",
    ("getting-started.md", "myapp.py"): "tests/docs/test_getting_started.py",
    ("getting-started.md", "dashboard.py"): "tests/docs/test_getting_started.py",
    ("chat.md", "plain.py"): "tests/docs/test_chat_page.py",
    ("tools.md", "shop.py"): "tests/docs/test_tools_page.py",
    ("tools.md", "assistant.py"): "tests/docs/test_tools_page.py",
    ("embedding.md", "host.py"): "tests/docs/test_embedding_page.py",
    ("embedding.md", "audit.py"): "tests/docs/test_embedding_page.py",
    ("embedding.md", "countdown.py"): "tests/docs/test_embedding_page.py",
    ("embedding.md", "explain.py"): "tests/docs/test_embedding_page.py",
    ("single-sign-on.md", "sso.py"): "tests/docs/test_single_sign_on_page.py",
    # "Testing your app" runs its own files as a reader would: with pytest, in a folder of their own.
    ("testing.md", "myapp.py"): "tests/testing/test_docs_testing_page.py",
    ("testing.md", "test_answers.py"): "tests/testing/test_docs_testing_page.py",
    ("testing.md", "test_tools.py"): "tests/testing/test_docs_testing_page.py",
    ("testing.md", "test_browser.py"): "tests/testing/test_docs_testing_page.py",
}
"""(page, file) of every example, and the test module that runs it."""


def pages() -> list[Path]:
    """The README and every page of the site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def page_path(page: str) -> Path:
    return ROOT / page if page == "README.md" else ROOT / "docs" / page


def blocks(page: Path) -> list[tuple[str | None, str]]:
    """Each python block of `page`: the file it names on its first line (None if it names none), and its
    code."""
    found = []
    for code in PYTHON_BLOCK.findall(page.read_text()):
        named = FILE_NAME.match(code)
        found.append((named[1] if named else None, code))
    return found


def example(page: str, name: str) -> str:
    """The code of the example `name` on `page` (a page of `docs/`, or `README.md`), as the page shows it."""
    codes = [code for file, code in blocks(page_path(page)) if file == name]
    assert len(codes) == 1, f"{page} should show one python block named {name}, found {len(codes)}"
    assert (page, name) in RUN_BY, f"add ({page!r}, {name!r}) to RUN_BY"
    return codes[0]


def save(folder: Path, page: str, name: str) -> Path:
    """Write the example `name` of `page` into `folder` as a reader saves it."""
    path = folder / name
    path.write_text(example(page, name))
    return path


def serve_saved(serve: Callable[..., Server], folder: Path, app: str, *args: str, **kwargs: object) -> Server:
    """`uvicorn app` (`module:attribute`) run on the files saved in `folder`, as the page says to run it."""
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(folder), *args]
    return serve(command=command, **kwargs)
