"""A standalone server behind an authenticating proxy: users only, tickets and limits per user, strict CSP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Server, start_server
from tests.sse_client import answer

HEADER = "X-Forwarded-User"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}
ADA = {HEADER: "ada"}


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app as it runs behind oauth2-proxy: it trusts the user header, one stream per user at a time."""
    server = start_server(
        env={"HYBRID_USER_HEADER": HEADER, "HYBRID_CLIENT_STREAMS": "1", "HYBRID_LOG_FORMAT": "json"},
        log=tmp_path_factory.mktemp("proxied") / "server.log",
    )
    yield server
    server.stop()


def ticket_for(user: str | None) -> dict[str, str]:
    from hybrid.tickets import TicketSigner
    from tests.conftest import TEST_SECRET

    return {"ticket": TicketSigner(TEST_SECRET).issue(HELLO, user=user)}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/_dash-layout"),
        ("GET", "/assets/chat.js"),
        ("POST", "/_dash-update-component"),
        ("POST", "/api/stream"),
    ],
)
def test_every_request_without_the_user_header_gets_401_json(proxied: Server, method: str, path: str) -> None:
    response = httpx.request(method, proxied.url + path, json={}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "unauthenticated",
        "message": f"sign in first: the request has no {HEADER} header",
    }
    assert httpx.request(method, proxied.url + path, json={}, headers=ADA, timeout=10).status_code != 401


def test_the_probes_stay_open_for_load_balancers_and_prometheus(proxied: Server) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(proxied.url + path, timeout=10).status_code == 200, path


def test_a_ticket_is_its_users_only_and_a_refusal_does_not_use_it_up(proxied: Server) -> None:
    ticket = ticket_for("ada")
    stolen = httpx.post(proxied.url + "/api/stream", json=ticket, headers={HEADER: "mallory"}, timeout=10)
    assert stolen.status_code == 403
    assert stolen.json()["error"]["type"] == "wrong_user"
    with httpx.stream("POST", proxied.url + "/api/stream", json=ticket, headers=ADA, timeout=10) as own:
        assert own.status_code == 200
        assert answer(own.read().decode())[1]


def test_two_users_behind_one_address_each_get_their_own_limit(proxied: Server) -> None:
    with ExitStack() as stack:

        def open_stream(user: str) -> httpx.Response:
            request = httpx.stream(
                "POST", proxied.url + "/api/stream", json=ticket_for(user), headers={HEADER: user}, timeout=10
            )
            return stack.enter_context(request)

        assert open_stream("ada").status_code == 200
        assert open_stream("bob").status_code == 200  # a second user from the same address
        assert open_stream("ada").status_code == 429  # ada's own second stream is over her limit


def test_a_streams_log_lines_carry_its_user(proxied: Server) -> None:
    with httpx.stream(
        "POST", proxied.url + "/api/stream", json=ticket_for("grace"), headers={HEADER: "grace"}
    ) as r:
        r.read()

    def ends() -> list[dict]:
        lines = [json.loads(line) for line in proxied.output().splitlines() if line.startswith("{")]
        return [line for line in lines if line["logger"] == "hybrid.stream" and line.get("user") == "grace"]

    deadline = time.monotonic() + 5  # the line is written as the stream's task ends, after its last byte
    while not ends() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ends() and ends()[-1]["status"] == "finished"


def test_the_page_says_who_is_signed_in_and_chats_with_tickets_bound_to_them(
    proxied: Server, browser: object
) -> None:
    context = browser.new_context(extra_http_headers={HEADER: "ada"})  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        page.goto(proxied.url + "/")
        expect(page.locator(".signed-in")).to_have_text("Signed in as ada")
        page.fill("#prompt", "who am I")
        page.press("#prompt", "Enter")
        expect(page.locator(".assistant-message").last).to_have_attribute(
            "data-status", "done", timeout=15_000
        )
    finally:
        context.close()


@pytest.mark.parametrize(
    ("env", "warned"),
    [
        ({}, True),
        ({"HYBRID_USER_HEADER": HEADER}, False),
        ({"HYBRID_PROVIDER": "demo"}, False),
    ],
)
def test_a_public_server_with_a_paid_provider_and_no_guard_warns_at_start(
    serve, env: dict[str, str], warned: bool
) -> None:
    paid = {"HYBRID_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test", "HYBRID_MODEL": "gpt-test"}
    server = serve(
        env={**paid, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", **env}, args=("--host", "0.0.0.0")
    )
    before_any_request = server.output()
    warning = "lets anyone chat: put it behind an authenticating proxy and set HYBRID_USER_HEADER"
    assert (warning in before_any_request) is warned
    if warned:
        assert "create_app(authorize=...)" in before_any_request


def test_pages_carry_a_strict_script_policy(proxied: Server) -> None:
    policy = httpx.get(proxied.url + "/", headers=ADA, timeout=10).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    scripts = directives["script-src"].split()
    assert scripts[0] == "'self'"
    assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", source) for source in scripts[1:])
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'self'"
    assert directives["frame-ancestors"] == "'self'"


def test_an_injected_inline_script_does_not_run(server: Server, page: Page) -> None:
    page.add_init_script(
        "window.blocked = []; document.addEventListener('securitypolicyviolation', "
        "(event) => window.blocked.push(event.violatedDirective));"
    )
    page.goto(server.url + "/")
    expect(page.locator("#prompt")).to_be_visible()
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            const link = document.createElement("a");
            link.href = "javascript:window.injected = true";
            document.body.append(link);
            link.click();
        }"""
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.injected") is None
    assert "script-src-elem" in page.evaluate("window.blocked")
