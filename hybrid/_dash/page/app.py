"""`build_chat_app`: the built-in chat page, a thin layout (`layout.py`) around one `hybrid.Chat`.

The page adds what a whole chat application has around the conversation: a sidebar of conversations
(`assets/page.js`, which talks to the Chat's controller), and settings (model, style, temperature) that
reach the answer as the Chat's `context`. Everything about the conversation itself is the Chat's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from dash import Dash, State

from hybrid._dash.chat.component import Chat
from hybrid._dash.page.layout import EXAMPLES, chat_layout
from hybrid._dash.page.presets import PRESETS, Preset
from hybrid._dash.serving.app import signed_in_user
from hybrid._dash.serving.libraries import libraries_in, load_only
from hybrid._errors import StreamError
from hybrid._wire.parts import Part

CHAT_ID = "chat"


def build_chat_app(
    *,
    models: Sequence[str] = ("demo",),
    presets: Mapping[str, Preset] = PRESETS,
    allow_system_prompt: bool = False,
) -> Dash:
    """The chat UI as a Dash (Flask) app, ready to serve with `hybrid.create_app`.

    `presets` are the system-prompt presets the server accepts (names and labels are shown; the prompts
    stay on the server); `allow_system_prompt` adds a free-text system prompt to the settings.
    """
    app = Dash(__name__, title="hybrid chat", update_title=None)
    app.index_string = with_language(app.index_string, "en")
    chat = page_chat(presets, allow_system_prompt=allow_system_prompt)

    def layout() -> Any:
        return chat_layout(
            chat,
            models=models,
            presets=presets,
            allow_system_prompt=allow_system_prompt,
            user=signed_in_user(),
        )

    app.layout = layout
    load_only(app, libraries_in(layout()))  # no dash_table (34 KB) on a page without a table
    return app


def with_language(index_string: str, language: str) -> str:
    """Dash's page template with the page's language on `<html>` (screen readers pronounce by it;
    Dash's default template names none)."""
    return index_string.replace("<html>", f'<html lang="{language}">', 1)


def page_chat(presets: Mapping[str, Preset], *, allow_system_prompt: bool) -> Chat:
    """The page's Chat: the settings are its context, and its answer is the provider's with them."""
    context = [State("model", "value"), State("preset", "value"), State("temperature", "value")]
    if allow_system_prompt:
        context.append(State("system", "value"))
    chat = Chat(
        CHAT_ID,
        context=context,
        examples=EXAMPLES,
        placeholder="Message hybrid",
        new_chat=False,  # the sidebar has it
        control_ids={"prompt": "prompt", "send": "send", "stop": "stop"},
        className="page-chat",
    )

    @chat.answer
    async def answer(
        messages: Sequence[Any], model: str, preset: str | None, temperature: float | None, system: str = ""
    ) -> AsyncIterator[Part]:
        if allow_system_prompt and system and system.strip():
            prompt = system
        elif preset is None or preset in presets:
            prompt = presets[preset].prompt if preset else ""
        else:
            raise StreamError(f"this server has no style named {preset!r}", type="invalid_request")
        async for part in chat.model(messages, system=prompt or None, model=model, temperature=temperature):
            yield part

    return chat
