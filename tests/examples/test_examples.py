"""The examples as their docstrings say to run them: installed with the `examples` extra, served by the
command the docstring gives (on port 8050, as `make run`), answering at the addresses it names.

`tests/docs/test_example_chat.py` drives `chat_with_your_data.py` in Chromium; here each example's
command is run as written, and asked over HTTP what its page would ask.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT, Server
from tests.support.sse_client import answer
from tests.testing.http_chat import ask_page_chat

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
PORT = "8050"


@dataclass(frozen=True)
class Usage:
    """How an example's docstring says to run it: the environment, uvicorn's arguments, the pages."""

    env: dict[str, str]
    args: list[str]
    paths: list[str]


def usage(example: Path) -> Usage:
    doc = ast.get_docstring(ast.parse(example.read_text())) or ""
    commands = re.findall(r"^\s*((?:[A-Z_]+=\S+\s+)*)uvicorn\s+([^#\n]+)", doc, re.M)
    assert len(commands) == 1, f"{example.name}'s docstring should give one `uvicorn ...` command"
    assignments, arguments = commands[0]
    env = dict(pair.split("=", 1) for pair in assignments.split())
    paths = [path or "/" for path in re.findall(rf"http://127\.0\.0\.1:{PORT}(/[^\s,]*?)?[.,]?(?:\s|$)", doc)]
    assert paths, f"{example.name}'s docstring should say where to open it (http://127.0.0.1:{PORT}/...)"
    return Usage(env, shlex.split(arguments), paths)


def served(serve: Any, example: Path) -> tuple[Server, Usage]:
    """The example served by its docstring's command, on a free port instead of 8050."""
    how = usage(example)
    args = list(how.args)
    assert args[args.index("--port") + 1] == PORT, f"{example.name} should say it serves on port {PORT}"
    del args[args.index("--port") : args.index("--port") + 2]  # the test's own port, added by `serve`
    assert args[0] == f"examples.{example.stem}:server", "the ASGI app users run is named `server`"
    return serve(command=[sys.executable, "-m", "uvicorn", *args], env=how.env), how


def test_the_examples_extra_holds_every_library_the_examples_import() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["examples"]]
    installable = {canonicalize_name(Requirement(line).name) for line in requirements}
    providers = packages_distributions()
    for example in EXAMPLES:
        for module in sorted(_imported(example)):
            distributions = {canonicalize_name(name) for name in providers.get(module, ())}
            assert distributions & installable, (
                f"{example.name} imports {module}: neither dash-hybrid nor its `examples` extra installs it"
            )


def _imported(example: Path) -> set[str]:
    """The top-level modules `example` imports from outside the standard library and hybrid."""
    names = set()
    for node in ast.walk(ast.parse(example.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"hybrid", "__future__"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.stem for example in EXAMPLES])
def test_each_example_serves_its_pages_with_the_command_its_docstring_gives(
    serve: Any, example: Path
) -> None:
    server, how = served(serve, example)
    with httpx.Client(base_url=server.url, timeout=20, follow_redirects=True) as client:
        for path in how.paths:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text)
            assert "_dash-renderer" in page.text or path.startswith("/login"), (path, page.text[:200])


def test_chat_with_your_data_answers_what_its_page_asks(serve: Any) -> None:
    server, _ = served(serve, ROOT / "examples" / "chat_with_your_data.py")
    with httpx.Client(base_url=server.url + "/", timeout=20) as client:
        text, done = ask_page_chat(client, "assistant", "Describe the life expectancy column")
    assert done and "**describe_column**" in text, text  # the demo called the tool the question names


def test_custom_stream_explains_the_chart_it_knows_and_nothing_else(serve: Any) -> None:
    server, _ = served(serve, ROOT / "examples" / "custom_stream.py")
    explained = httpx.post(server.url + "/api/explain", json={"chart": "monthly-sales"}, timeout=20)
    text, done = answer(explained.text)
    assert explained.status_code == 200 and done and "Monthly sales" in text, explained.text
    refused = httpx.post(server.url + "/api/explain", json={"chart": "secrets"}, timeout=20)
    assert refused.status_code == 400 and "must be one of monthly-sales" in refused.text


def test_embed_fastapi_runs_two_workers_that_stream_for_signed_in_users_only(serve: Any) -> None:
    server, _ = served(serve, ROOT / "examples" / "embed_fastapi.py")
    with (
        httpx.Client(base_url=server.url + "/chat/", timeout=20) as anonymous,
        pytest.raises(AssertionError, match="the stream answered 403"),
    ):
        ask_page_chat(anonymous, "chat", "Hello")
    with httpx.Client(base_url=server.url, timeout=20) as client:
        assert client.get("/login", params={"user": "ada"}).headers["location"] == "/chat/"
        client.base_url = httpx.URL(server.url + "/chat/")
        for question in ("Hello", "And again"):  # asked of either worker: they share the signing key
            text, done = ask_page_chat(client, "chat", question)
            assert done and text.endswith("the answer ends here."), text
    time.sleep(1)  # a worker that failed to import would have died and been restarted by now
    log = server.output()
    assert log.count("Started server process") == 2 and "died" not in log, log
