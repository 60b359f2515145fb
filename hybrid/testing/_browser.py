"""`HybridComposite`: dash_duo's browser (Selenium, from `dash.testing`) on an app hybrid serves, with a
Chat's part: send a message as a user does, and wait for the answer to finish.

The page marks each answer: `.assistant-message` with `data-status` `streaming`, then `done`, `stopped` or
`error` (with its `.message-error`); its text is in the `.message-body` blocks. A Chat that cannot answer
(its page not served by hybrid) shows why in place of its conversation, with no configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dash.testing import wait
from dash.testing.composite import DashComposite
from dash.testing.errors import TestingTimeoutError
from selenium.webdriver.common.keys import Keys

from hybrid.testing._server import HybridRunner

_CHAT_STATE = """
const root = document.getElementById(arguments[0]);
if (!root) return null;
const problem = root.dataset.config ? null : root.querySelector(".message-error");
const answers = root.querySelectorAll(".assistant-message");
const last = answers[answers.length - 1];
const error = last && last.querySelector(".message-error");
return {
  ready: Boolean(root.hybridChat),
  problem: problem && problem.innerText,
  answers: answers.length,
  status: last ? last.dataset.status : null,
  text: last ? Array.from(last.querySelectorAll(".message-body"), (body) => body.innerText).join("\\n") : "",
  error: error && error.innerText,
};
"""
"""What a test needs to know of a Chat (by id): started, or why not; and its last answer."""

FINISHED = ("done", "stopped", "error")


class ChatProblem(AssertionError):
    """A Chat that cannot answer, or an answer that failed: what the page says."""


class HybridComposite(DashComposite):  # type: ignore[misc]
    """The `dash_hybrid` fixture: everything `dash_duo` offers (`start_server`, `wait_for_element`,
    `find_element`, `wait_for_text_to_equal`, ...), on an app served by hybrid's server.

    `start_server(app, **options)` serves a Dash app (`hybrid.create_app(app, **options)`) or the app
    `create_app` returned, and opens it. `send_message(chat_id, text)` and `wait_for_answer(chat_id)` use a
    Chat as a user does.
    """

    server: HybridRunner

    def send_message(self, chat_id: str, text: str) -> None:
        """Type `text` into the composer of the Chat `chat_id` and press Enter (each line break of `text`
        is typed as Shift+Enter, which adds a line); `ChatProblem` if the Chat cannot answer."""
        self._chat_state(chat_id, lambda state: state["ready"], "start")
        prompt = self.find_element(f"{_by_id(chat_id)} .chat-prompt")
        for index, line in enumerate(text.split("\n")):
            if index:
                prompt.send_keys(Keys.SHIFT, Keys.ENTER, Keys.SHIFT)
            prompt.send_keys(line)
        prompt.send_keys(Keys.ENTER)

    def wait_for_answer(self, chat_id: str, timeout: float | None = None) -> str:
        """Wait until the last answer of the Chat `chat_id` has finished (`done` or `stopped`), and return
        its text; `ChatProblem` with the page's words if it failed, `TestingTimeoutError` after
        `timeout` seconds (by default the browser's `wait_timeout`)."""
        state = self._chat_state(
            chat_id, lambda state: state["status"] in FINISHED, "finish its answer", timeout
        )
        if state["status"] == "error":
            raise ChatProblem(f"the answer of the Chat {chat_id!r} failed: {state['error']}")
        return str(state["text"])

    def _chat_state(
        self,
        chat_id: str,
        condition: Callable[[dict[str, Any]], bool],
        goal: str,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Poll the Chat's state until `condition(state)`; a Chat that cannot answer fails at once."""
        seen: dict[str, Any] = {}

        def reached() -> bool:
            state = self.driver.execute_script(_CHAT_STATE, chat_id)
            seen["state"] = state
            if state is not None and state["problem"]:
                raise ChatProblem(f"the Chat {chat_id!r} cannot answer: {state['problem']}")
            return state is not None and bool(condition(state))

        seconds = self.wait_timeout if timeout is None else timeout
        try:
            wait.until(reached, seconds)
        except TestingTimeoutError:
            raise TestingTimeoutError(
                f"the Chat {chat_id!r} did not {goal} within {seconds} s; last seen: {seen.get('state')}"
            ) from None
        return seen["state"]  # type: ignore[no-any-return]


def _by_id(element_id: str) -> str:
    """A CSS selector for the element of id `element_id`, whatever characters the id holds."""
    return f"[id={json.dumps(element_id)}]"
