"""In Debian's Chromium: a prompt sent from the chat page streams an answer that grows, then settles."""

from __future__ import annotations

import itertools
import time

from tests.conftest import Server
from tests.support.watched import watched_page  # noqa: F401 (a fixture: this module's `page` is watched)


def test_the_answer_grows_over_several_steps_before_it_settles(serve, page) -> None:
    server: Server = serve(env={"HYBRID_DEMO_TOKEN_MS": "30"})
    page.goto(server.url + "/")
    page.fill("#prompt", "How does streaming work?")
    page.click("#send")
    answer = page.locator(".assistant-message").last
    answer.wait_for()

    lengths: list[int] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lengths.append(len(answer.inner_text()))
        if "the answer ends here" in answer.inner_text():
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"the answer never finished; lengths seen: {lengths}")

    growing = [later for earlier, later in itertools.pairwise(lengths) if later > earlier]
    assert len(growing) >= 5, lengths
    assert lengths == sorted(lengths), "the answer shrank while streaming"
    assert page.locator(".user-message").last.inner_text().strip() == "How does streaming work?"
    assert page.locator("code", has_text="create_app").count() >= 1  # rendered as markdown
