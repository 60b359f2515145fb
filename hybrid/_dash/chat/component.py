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

import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar, overload

import flask
from dash import State, dcc, html
from plotly.io.json import to_json_plotly

from hybrid._chat.turn import Turn, current_turn
from hybrid._errors import StreamError
from hybrid._providers.base import Message
from hybrid._tools.loop import MAX_ROUNDS
from hybrid._tools.threads import SyncThreads, SyncThreadsBusy
from hybrid._tools.tool import DEFAULT_TIMEOUT, Tool
from hybrid._tools.toolbox import Toolbox
from hybrid._wire.page_props import check_page_props
from hybrid._wire.parts import Part, Reasoning, SetProps

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
    `allow_props` names props an answer's `SetProps` may set although they put HTML or script into the
    page (`dangerously_allow_html`, `srcDoc`, `dangerouslySetInnerHTML`, a `javascript:` URL): refused
    otherwise, on the server and in the page.

    The context values reach the answer as the client sent them: signed between the signing callback
    and the stream, so they cannot change on the way, but chosen by the client all the same (a user
    can send any value a Dash `State` can hold). Validate them in the answer function as in any
    callback.
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
        allow_props: Collection[str] = (),
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
        self.allow_props = frozenset(allow_props)
        """Props an answer may set although they put HTML or script into the page (see `page_props`)."""
        self.answer_func: AnswerFunc | None = None
        self.toolbox = Toolbox()
        """The tools `@chat.tool` registered, by name."""
        self.served = False
        """Whether `create_app` attached this Chat to an app (see `attach`)."""
        self.store_ids = {name: f"{id}--{name}" for name in ("ticket-request", "ticket")}
        self.config: dict[str, Any] = {
            "id": id,
            "ticketRequest": self.store_ids["ticket-request"],
            "history": bool(history),
            "examples": list(examples),
            "allowProps": sorted(self.allow_props),
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
        docstring (see `hybrid.Tool.from_function`). What it returns is what the model sees; a
        parameter annotated `hybrid.ToolContext` gets this Chat's context values as the user sent
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
        turn = current_turn()
        if turn is None:
            raise RuntimeError(
                f"chat.model() of the Chat {self.chat_id!r} was called outside an answer that hybrid "
                "streams: call it from the Chat's answer function (to test one, see hybrid.testing)"
            )
        return turn.ask(
            messages,
            system=system,
            model=model,
            temperature=temperature,
            tools=self.toolbox if tools else None,
            max_tool_rounds=self.max_tool_rounds if max_tool_rounds is None else max_tool_rounds,
        )

    def respond(self, turn: Turn) -> AsyncIterator[Part]:
        """The parts of the answer to `turn`: the answer function's, or the model's without one."""
        func = self.answer_func
        if func is None:
            return self.model(turn.messages)
        if inspect.isasyncgenfunction(func):
            return func(list(turn.messages), *turn.values)  # type: ignore[no-any-return]
        return _parts_of(func, list(turn.messages), list(turn.values), turn.threads)

    def attach(self, page: Mapping[str, Any]) -> None:
        """Called by `create_app` when it serves this Chat: `page` is what the browser must know of the
        server (how long an answer stays resumable), added to the Chat's configuration."""
        if self.served:
            raise ValueError(f"the Chat {self.chat_id!r} is served by another app already")
        self.served = True
        self.config.update(page)

    def page_props(self, props: dict[str, Any]) -> Any:
        """A `SetProps`' values as plain JSON data, encoded as Dash encodes a callback's outputs.

        So an answer may pass Plotly figures, Dash components and `dash.Patch` objects, as a callback
        may return them; what reaches the page is data, which Dash renders. Props that would render
        HTML or follow a script URL raise `UnsafeProp` (a `StreamError` naming the prop), unless
        `allow_props` names them.
        """
        plain = json.loads(to_json_plotly(props))
        check_page_props(plain, self.allow_props)
        return plain

    def to_plotly_json(self) -> dict[str, Any]:
        # Rendered each time Dash sends the Chat (a layout, a page, a callback's output), when it is known
        # whether `create_app` wired it and hybrid's server serves the page: the controller starts only
        # on an element with a configuration, and a Chat that cannot answer says why in the markup.
        problem = self._problem()
        self._conversation.children = None if problem is None else html.P(problem, className="message-error")
        self._send.disabled = problem is not None
        setattr(self, "data-config", json.dumps(self.config) if problem is None else None)
        return super().to_plotly_json()  # type: ignore[no-any-return]

    def _problem(self) -> str | None:
        """Why this Chat cannot answer on the page being rendered, or None."""
        if flask.has_request_context() and "asgi.scope" not in flask.request.environ:
            return SERVED_BY_FLASK  # a2wsgi gives every request it hands Flask the ASGI scope
        if not self.served:
            return (
                NOT_FOUND
                if flask.has_app_context() and SERVED in flask.current_app.extensions
                else NOT_SERVED
            )
        return None


SERVED = "hybrid"
"""The key `create_app` sets in the Flask app's `extensions` of every Dash app it serves."""
SERVED_BY_FLASK = (
    "This chat cannot answer here: the page is served by Flask alone (app.run(), or a test server that "
    "runs Flask), which cannot stream. Serve the app with hybrid's server: server = hybrid.create_app(app), "
    "then run `uvicorn yourmodule:server` (in tests, the dash_hybrid fixture of hybrid.testing)."
)
NOT_SERVED = (
    "This chat is not connected: its Dash app is not served by hybrid. Build the app's server with "
    "server = hybrid.create_app(app) and run `uvicorn yourmodule:server`."
)
NOT_FOUND = (
    "This chat is not connected: hybrid.create_app(app) did not find it in the app's layout. Put the Chat "
    "in app.layout (or a page's layout), build it once at module level, and serve the app with "
    "hybrid.create_app."
)


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


async def _parts_of(
    func: AnswerFunc, messages: list[Message], context: list[Any], threads: SyncThreads
) -> AsyncIterator[Part]:
    """What a generator, coroutine or plain function yields or returns, as an async iterator.

    Synchronous code runs on the app's answer threads, so a blocking call in it does not stall other
    streams (never on asyncio's default executor, which the server shares with everything else).
    """
    if inspect.isgeneratorfunction(func):
        async with contextlib.aclosing(_generated(func(messages, *context), threads, _name(func))) as parts:
            async for part in parts:
                yield part
        return
    if inspect.iscoroutinefunction(func):
        result = await func(messages, *context)
    else:
        result = await _on_thread(threads, _name(func), lambda: func(messages, *context))
    if inspect.isawaitable(result):  # a callable object whose `__call__` is a coroutine function
        result = await result
    if hasattr(result, "__aiter__"):  # ... or an async generator function
        async for part in result:
            yield part
        return
    for part in [result] if isinstance(result, str | Reasoning | SetProps) else result or ():
        yield part


async def _generated(generator: Any, threads: SyncThreads, name: str) -> AsyncIterator[Part]:
    """A sync generator's parts, each `next` on a thread.

    A generator cannot be closed while a thread runs it, so an answer stopped mid-step (Stop, a deadline,
    shutdown) closes it on that thread once the step returns, and the cancellation goes on at once.
    """
    step = None
    try:
        while True:
            step = _submit(threads, name, lambda: next(generator, _END))
            part = await step.result()
            if part is _END:
                return
            yield part
    finally:
        if step is not None and step.started and not step.future.done():
            step.future.add_done_callback(lambda _: generator.close())
        else:
            generator.close()


async def _on_thread(threads: SyncThreads, name: str, function: Callable[[], Any]) -> Any:
    return await _submit(threads, name, function).result()


def _submit(threads: SyncThreads, name: str, function: Callable[[], Any]) -> Any:
    try:
        return threads.submit(name, function)
    except SyncThreadsBusy as exc:
        raise StreamError(exc.message, type=exc.type) from None


def _name(func: AnswerFunc) -> str:
    return getattr(func, "__name__", type(func).__name__)


_END = object()
