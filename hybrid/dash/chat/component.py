"""`Chat`: a streaming chat as a Dash component, with the answer function of its developer.

It is an All-in-One component: an `html.Div` (its DOM id is the one given, its browser configuration in
`data-config`) holding the conversation, the composer and two `dcc.Store`s; its scripts start a
controller (`assets/chat.js`) for each Chat element Dash puts in the page, whenever it does
(`assets/mount.js`), which renders the conversation itself, so a streaming answer costs no Dash callback
or React work.
For each answer one Dash callback (see `wiring.py`) reads the Chat's `context`, checks the conversation
and signs both into a ticket; the stream endpoint streams what that ticket holds.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

import flask
from dash import State, dcc, html
from plotly.io.json import to_json_plotly

from hybrid.parts import Part, Reasoning, SetProps
from hybrid.providers.base import Message
from hybrid.streaming import StreamHost
from hybrid.tools import DEFAULT_TIMEOUT, MAX_ROUNDS, Tool, Toolbox

if TYPE_CHECKING:
    from hybrid.chat import ChatStream

AnswerFunc = Callable[..., Any]
"""`answer(messages, *context)`: an async generator of parts (or a generator, or a function or coroutine
function returning a string or a list of parts)."""
ToolFunc = TypeVar("ToolFunc", bound=Callable[..., Any])

THEMES = ("auto", "light", "dark")
CONTROLS = frozenset({"prompt", "send", "stop"})


class Chat(html.Div):
    """A streaming chat for a Dash app; `hybrid.create_app(app)` finds it in the layout and serves it.

    `id` is the DOM id of its outer element (and names its browser history). `context` are `State`s
    of other components: their values when the user sends reach the answer function after the
    conversation, through the callback that signs the ticket. Decorate the answer function with
    `@chat.answer`; without one the Chat answers from the server's provider. Functions decorated with
    `@chat.tool` are tools the model may call, in either case (`chat.model` offers them).

    `history` keeps the conversation in the browser's localStorage (per Chat id). `examples` are prompts
    offered while the conversation is empty; `placeholder` is the composer's; `new_chat` adds a New chat
    button under it; `theme` is `auto` (the system's light or dark), `light` or `dark`. `control_ids`
    gives DOM ids to the controls inside (keys `prompt`, `send`, `stop`), for pages that address them
    by id; by default they have none. `max_tool_rounds` bounds the rounds of tool calls of one answer.
    """

    def __init__(
        self,
        id: str,
        *,
        context: Sequence[State] = (),
        history: bool = True,
        examples: Sequence[str] = (),
        placeholder: str = "Message",
        new_chat: bool = True,
        theme: str = "auto",
        control_ids: Mapping[str, str] | None = None,
        className: str = "",
        style: dict[str, Any] | None = None,
        max_tool_rounds: int = MAX_ROUNDS,
    ) -> None:
        if not isinstance(id, str) or not id or "." in id or id.startswith("{"):
            raise ValueError(f"a Chat's id must be a non-empty string without '.', got {id!r}")
        for state in context:
            if not isinstance(state, State):
                raise TypeError(f"a Chat's context holds dash.State objects, not {state!r}")
        if theme not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {theme!r}")
        controls = dict(control_ids or {})
        if set(controls) - CONTROLS:
            raise ValueError(f"control_ids may name {', '.join(sorted(CONTROLS))}")
        if max_tool_rounds < 1:
            raise ValueError(f"max_tool_rounds must be at least 1, got {max_tool_rounds!r}")
        self.context = tuple(context)
        self.context_keys = tuple((state.component_id, state.component_property) for state in self.context)
        """Which (component, property) each context value is of: tools that set one change it for the
        rounds of the answer that follow."""
        self.max_tool_rounds = max_tool_rounds
        self.answer_func: AnswerFunc | None = None
        self.toolbox = Toolbox()
        """The tools `@chat.tool` registered, by name."""
        self.stream: ChatStream | None = None
        """The app's chat stream, once `create_app` attached this Chat to it."""
        self.store_ids = {name: f"{id}--{name}" for name in ("ticket-request", "ticket")}
        self.config: dict[str, Any] = {
            "id": id,
            "ticketRequest": self.store_ids["ticket-request"],
            "history": bool(history),
            "examples": list(examples),
        }
        """What the Chat's controller is told (`data-config`, see `to_plotly_json`)."""
        self._conversation = html.Section(
            className="chat-conversation", tabIndex="-1", **{"aria-label": "Conversation"}
        )
        self._send = html.Button("Send", className="chat-send", type="button", **_named("send", controls))
        root_class = " ".join(part for part in ("hybrid-chat", className) if part)
        super().__init__(
            id=id,
            className=root_class,
            style=style,
            children=[
                self._conversation,
                _composer(placeholder, controls, self._send, new_chat=new_chat),
                dcc.Store(id=self.store_ids["ticket-request"]),
                dcc.Store(id=self.store_ids["ticket"]),
            ],
            **{"data-theme": theme},
        )

    @property
    def chat_id(self) -> str:
        return self.id  # type: ignore[no-any-return]

    def answer(self, func: AnswerFunc) -> AnswerFunc:
        """Decorator: `func(messages, *context)` answers this Chat.

        `messages` is the conversation so far (`hybrid.Message`s, newest last), then one argument per
        `context` State, as it was when the user sent. `func` yields the answer's parts: text (`str`),
        `hybrid.Reasoning` and `hybrid.SetProps`; an async generator streams best, but a generator, or a
        function (or coroutine function) returning the whole answer, works too (a synchronous one runs on
        a worker thread). Raise `hybrid.StreamError` to end the answer with your own sentence.
        """
        if not callable(func):
            raise TypeError("@chat.answer decorates a function")
        self.answer_func = func
        return func

    @overload
    def tool(self, function: ToolFunc, /) -> ToolFunc: ...

    @overload
    def tool(
        self, *, name: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> Callable[[ToolFunc], ToolFunc]: ...

    def tool(
        self,
        function: ToolFunc | None = None,
        /,
        *,
        name: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ToolFunc | Callable[[ToolFunc], ToolFunc]:
        """Decorator (`@chat.tool`, or `@chat.tool(name=..., timeout=...)`): a function the model may call.

        Sync or async; its JSON schema comes from the signature and type hints, its description from the
        docstring (see `hybrid.tools.Tool.from_function`). What it returns is what the model sees; a
        parameter annotated `hybrid.tools.ToolContext` gets this Chat's context values as the user sent
        them (in later rounds of an answer, as its tools changed them), and `context.set_props(id,
        props)` changes the page. The function is returned unchanged.
        """

        def register(func: ToolFunc) -> ToolFunc:
            self.toolbox.add(Tool.from_function(func, name=name, timeout=timeout))
            return func

        return register if function is None else register(function)

    def model(
        self,
        messages: Iterable[Message | Mapping[str, str]],
        *,
        system: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        tools: bool = True,
        max_tool_rounds: int | None = None,
    ) -> AsyncIterator[Part]:
        """Stream the server's provider's answer to `messages`, from inside an answer function.

        `system` is a system prompt put first; `model` one of the server's models (by default its first);
        `temperature` from 0 to 2. It yields text and `hybrid.Reasoning` (a reasoning model's thinking).
        When this Chat has tools (and `tools` is true), it runs the tool loop: the model may call them,
        and the calls, their results and the page changes they ask for are parts too, for at most
        `max_tool_rounds` rounds (by default the Chat's). Its token usage (of every round) reaches the
        answer's footer and the metrics.
        """
        return self._attached().model_parts(
            messages,
            system=system,
            model=model,
            temperature=temperature,
            tools=self.toolbox if tools else None,
            max_tool_rounds=self.max_tool_rounds if max_tool_rounds is None else max_tool_rounds,
        )

    def parts(self, messages: Sequence[Message], context: Sequence[Any]) -> AsyncIterator[Part]:
        """The parts of one answer: the answer function's, or the provider's without one."""
        func = self.answer_func
        if func is None:
            return self.model(messages)
        if inspect.isasyncgenfunction(func):
            return func(list(messages), *context)  # type: ignore[no-any-return]
        return _parts_of(func, list(messages), list(context))

    def plain_props(self, props: dict[str, Any]) -> Any:
        """A `SetProps`' values as plain JSON data, encoded as Dash encodes a callback's outputs.

        So an answer may pass Plotly figures, Dash components and `dash.Patch` objects, as a callback
        may return them; what reaches the page is data, which Dash renders (never script).
        """
        return json.loads(to_json_plotly(props))

    def _attached(self) -> ChatStream:
        if self.stream is None:
            raise RuntimeError(
                f"the Chat {self.chat_id!r} is not served yet: pass its Dash app to hybrid.create_app"
            )
        return self.stream

    def to_plotly_json(self) -> dict[str, Any]:
        # Rendered each time Dash sends the Chat (a layout, a page, a callback's output), when it is known
        # whether `create_app` wired it: the controller starts only on an element with a configuration,
        # and an unwired Chat says so in the markup itself.
        connected = self.stream is not None
        self._conversation.children = None if connected else html.P(NOT_CONNECTED, className="message-error")
        self._send.disabled = not connected
        config = {**self.config, "resumeGraceSeconds": _resume_grace()}
        setattr(self, "data-config", json.dumps(config) if connected else None)
        return super().to_plotly_json()  # type: ignore[no-any-return]


NOT_CONNECTED = (
    "This chat is not connected: hybrid.create_app(app) did not find it in the app's layout. Put the Chat "
    "in app.layout (or a page's layout), build it once at module level, and serve the app with "
    "hybrid.create_app."
)


def _resume_grace() -> float:
    """How long the app serving this Dash request keeps an answer for resuming (0: it does not).

    The page resumes a cut answer for that long (`assets/stream.js`). a2wsgi hands Flask the ASGI scope,
    whose `app` is the hybrid app serving the request.
    """
    if not flask.has_request_context():
        return 0.0
    host = flask.request.environ.get("asgi.scope", {}).get("app")
    return float(host.answers.grace) if isinstance(host, StreamHost) else 0.0


def _named(control: str, ids: Mapping[str, str]) -> dict[str, str]:
    return {"id": ids[control]} if control in ids else {}


def _composer(placeholder: str, ids: Mapping[str, str], send: html.Button, *, new_chat: bool) -> html.Div:
    return html.Div(
        className="chat-composer",
        children=[
            html.Div(
                className="chat-composer-row",
                children=[
                    html.Textarea(
                        className="chat-prompt",
                        placeholder=placeholder,
                        rows=1,
                        **_named("prompt", ids),
                        **{"aria-label": "Message"},
                    ),
                    send,
                    html.Button(
                        "Stop", className="chat-stop", type="button", disabled=True, **_named("stop", ids)
                    ),
                ],
            ),
            html.Div(
                className="chat-hint",
                children=[
                    html.Span("Enter sends · Shift+Enter adds a line"),
                    *([html.Button("New chat", className="chat-new", type="button")] if new_chat else []),
                ],
            ),
        ],
    )


async def _parts_of(func: AnswerFunc, messages: list[Message], context: list[Any]) -> AsyncIterator[Part]:
    """What a generator, coroutine or plain function yields or returns, as an async iterator.

    Synchronous code runs on a worker thread, so a blocking call in it does not stall other streams.
    """
    if inspect.isgeneratorfunction(func):
        generator = func(messages, *context)
        try:
            while (part := await asyncio.to_thread(next, generator, _END)) is not _END:
                yield part
        finally:
            generator.close()
        return
    if inspect.iscoroutinefunction(func):
        result = await func(messages, *context)
    else:
        result = await asyncio.to_thread(func, messages, *context)
    if inspect.isawaitable(result):  # a callable object whose `__call__` is a coroutine function
        result = await result
    if hasattr(result, "__aiter__"):  # ... or an async generator function
        async for part in result:
            yield part
        return
    for part in [result] if isinstance(result, str | Reasoning | SetProps) else result or ():
        yield part


_END = object()
