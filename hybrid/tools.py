"""Tools: Python functions of the app that the model may call, described to it by their signatures.

`Tool.from_function(fn)` reads the JSON schema of the arguments from the signature and type hints
(`Literal`, numbers, strings, lists, pydantic models: pydantic does the work) and the description from
the docstring. A call is validated against the signature before the function runs; what goes wrong (bad
arguments, an exception, a timeout, an unknown tool) becomes the tool's result, so the model can see it
and try again, and the chat shows it. Nothing the model sends is evaluated: arguments are JSON. A sync
tool runs on the tool threads (`hybrid.tool_threads`), never on asyncio's default executor.

A parameter annotated `ToolContext` is not shown to the model: hybrid passes the request's context
values there (following the tools' own changes from one round to the next), and a way to change the
page (`context.set_props`).

`answer_with_tools` is the tool loop: it asks the model, runs the calls it makes, sends their results
back and asks again, streaming every part of the answer as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import inspect
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args, get_type_hints

import pydantic

from hybrid.errors import StreamError
from hybrid.parts import Part, SetProps, ToolCall, ToolResult
from hybrid.providers.base import ChatRequest, Completion, Message, Provider
from hybrid.tool_threads import ThreadCall, ToolThreads, ToolThreadsBusy, fallback_tool_threads

__all__ = [
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "Toolbox",
    "answer_with_tools",
]

logger = logging.getLogger("hybrid.tools")

DEFAULT_TIMEOUT = 30.0
"""Seconds a tool may run before its call is given up (an async tool is cancelled)."""
MAX_RESULT_CHARS = 20_000
"""The most of a tool's result the model is sent; a longer one is cut, and says so."""
MAX_ROUNDS = 5
"""Rounds of tool calls one answer may make before the loop stops it (a model calling tools forever)."""
NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""What OpenAI accepts as a tool's name."""


@dataclass(slots=True)
class ToolContext:
    """What a tool may ask for besides its arguments: the request's context values, and the page.

    Each call gets its own copy, so the changes a call asks for come back with its result.
    """

    values: tuple[Any, ...] = ()
    """The chat's context values, in the chat's order: as the user sent them, then as the tools of
    earlier rounds of the answer changed them (see `keys`)."""
    changes: list[SetProps] = field(default_factory=list)
    keys: tuple[tuple[str | dict[str, Any], str], ...] = ()
    """The (component id, property) each value is of, when known (a Chat's context `State`s): a call's
    `set_props` of one of them changes that value for the calls of the rounds that follow."""
    threads: ToolThreads | None = None
    """The threads sync tools run on: the app's (`HYBRID_TOOL_THREADS`); unset, a default pool."""

    def set_props(self, component_id: str | dict[str, Any], props: dict[str, Any]) -> None:
        """Change properties of a component of the page once the call returns (Dash's `set_props`)."""
        self.changes.append(SetProps(component_id, props))

    def follow(self, changes: Iterable[SetProps]) -> None:
        """Take the values `changes` set on the context's (component, property) pairs, in their order.

        Only plain JSON data is taken: a figure object or a `dash.Patch` becomes data in the page alone.
        """
        values = list(self.values)
        for change in changes:
            for index, (component_id, prop) in enumerate(self.keys[: len(values)]):
                value = change.props.get(prop, _UNSET)
                if change.component_id == component_id and isinstance(value, _PLAIN):
                    values[index] = value
        self.values = tuple(values)


_UNSET = object()
_PLAIN = (str, int, float, bool, list, dict, type(None))


class ToolError(Exception):
    """Raised by a tool to tell the model what went wrong in a sentence of its own."""


@dataclass(frozen=True)
class Tool:
    """A function the model may call, with the schema it is described by."""

    name: str
    description: str
    function: Callable[..., Any]
    timeout: float = DEFAULT_TIMEOUT
    context_parameter: str | None = None
    arguments: pydantic.TypeAdapter[dict[str, Any]] = field(repr=False, compare=False, kw_only=True)
    """Validates the model's arguments against the signature, and gives them as the function takes them."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise ValueError(
                f"a tool's name must be 1 to 64 letters, digits, _ or - (OpenAI refuses a request whose "
                f"tools are named otherwise), got {self.name!r}: give it one with name=..."
            )

    @classmethod
    def from_function(
        cls, function: Callable[..., Any], *, name: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> Tool:
        """Describe `function` as a tool: a function (sync or async), a callable object or a
        `functools.partial`. The docstring's first paragraph describes it (a callable object's
        `__call__`'s, else its class's); the arguments a partial binds are not shown to the model.
        """
        described = _described(function)
        context_parameter = _context_parameter(described)
        doc = inspect.getdoc(described) or inspect.getdoc(function) or ""
        return cls(
            name=name if name is not None else _default_name(function),
            description=" ".join(doc.split("\n\n")[0].split()),  # one line, as the docstring wraps it
            function=function,
            timeout=timeout,
            context_parameter=context_parameter,
            arguments=_arguments_of(function, described, context_parameter),
        )

    @property
    def asynchronous(self) -> bool:
        """Awaited on the event loop; otherwise the function runs on one of the tool threads."""
        return inspect.iscoroutinefunction(_described(self.function))

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments, as the model is shown it."""
        schema = self.arguments.json_schema()
        schema.pop("title", None)
        return schema

    def spec(self) -> dict[str, Any]:
        """The tool as OpenAI's chat completions API describes one."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Validate `call` against the signature, run it within the timeout, and say how it went.

        The page changes the call asks for are in the result, unless it failed.
        """
        started = time.monotonic()
        own = dataclasses.replace(context, changes=[])
        shown = None
        try:
            output = _as_text(await self._run(call.arguments, own))
            error = False
        except ToolError as exc:
            output, error = f"error: {exc}", True
        except pydantic.ValidationError as exc:
            output, error = f"error: invalid arguments: {_problems(exc)}", True
        except _TimedOut as exc:
            output = (
                f"error: the tool did not finish within {self.timeout:g} s"
                if exc.started
                else f"error: the tool did not start within {self.timeout:g} s: the tool threads were busy"
            )
            error = True
        except ToolThreadsBusy as exc:
            output, error = f"error: the tool was not run: {exc}", True
        except Exception as exc:
            logger.warning("the tool %s failed", self.name, exc_info=True)
            # The model gets the text to correct its call or explain; the page, which the user may copy
            # or show, only the type: an exception's text can name hosts, paths and data of the server.
            output, error = f"error: the tool failed ({type(exc).__name__}: {exc})", True
            shown = f"error: the tool failed ({type(exc).__name__})"
        changes = () if error else tuple(own.changes)
        seconds = time.monotonic() - started
        return ToolResult(call.call_id, self.name, _bounded(output), error, seconds, changes, shown)

    async def _run(self, arguments: str, context: ToolContext) -> Any:
        try:
            values = json.loads(arguments or "{}")
        except ValueError:
            raise ToolError("the arguments are not valid JSON") from None
        if not isinstance(values, dict):
            raise ToolError("the arguments must be a JSON object")
        kwargs = self.arguments.validate_python(values)
        if self.context_parameter:
            kwargs[self.context_parameter] = context
        deadline = asyncio.timeout(self.timeout)
        on_thread: ThreadCall | None = None
        try:
            async with deadline:
                if self.asynchronous:
                    return await self.function(**kwargs)
                # A sync tool runs on a tool thread, so a slow one stalls no stream; past the timeout it
                # is given up (a thread cannot be cancelled), and the answer goes on.
                threads = context.threads or fallback_tool_threads()
                on_thread = threads.submit(self.name, functools.partial(self.function, **kwargs))
                return await on_thread.result()
        except TimeoutError:
            if deadline.expired():
                raise _TimedOut(started=on_thread is None or on_thread.started) from None
            raise  # the tool's own timeout (a request it made, say): a failure of the tool


class _TimedOut(Exception):
    """A tool outlived its timeout; `started` is false for a sync one that never got a thread."""

    def __init__(self, *, started: bool) -> None:
        super().__init__()
        self.started = started


class Toolbox:
    """The tools of one chat, by name: only these can be called."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def __bool__(self) -> bool:
        return bool(self.tools)

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"two tools are named {tool.name!r}")
        self.tools[tool.name] = tool

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self.tools.values()]

    async def run(self, calls: Sequence[ToolCall], context: ToolContext) -> AsyncIterator[ToolResult]:
        """Run the calls of one round at once, and give each result as soon as it is ready.

        Closing the iterator, or cancelling the task that reads it, cancels the calls still running.
        """
        tasks = [asyncio.ensure_future(self.call(call, context)) for call in calls]
        try:
            for ready in asyncio.as_completed(tasks):
                yield await ready
        finally:
            for task in tasks:
                task.cancel()

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run one call, if a tool of its name is here; an unknown name is an error the model is told."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return ToolResult(
                call.call_id, call.name, f"error: there is no tool {call.name!r} (tools: {known})", True, 0.0
            )
        return await tool.call(call, context)


async def answer_with_tools(
    provider: Provider,
    request: ChatRequest,
    toolbox: Toolbox,
    context: ToolContext | None = None,
    *,
    max_rounds: int = MAX_ROUNDS,
    on_completion: Callable[[Completion], None] | None = None,
) -> AsyncIterator[Part]:
    """Answer `request` with `toolbox`'s tools: the tool loop, as an async iterator of parts.

    Each round asks the model (offering the tools) and streams its text and `ToolCallDelta`s. When the
    round ends in tool calls, it yields each `ToolCall` (its arguments complete), runs the calls at once
    with `context`, yields each `ToolResult` as it is ready and the `SetProps` that call asked for, then
    asks again with the calls and their results appended to the conversation. After `max_rounds` rounds
    of calls, a model that still calls tools ends the answer with a `StreamError` that says so.

    The calls of one round all see `context` as the round began; between rounds it follows the changes
    the round's calls made to its `keys` (`ToolContext.follow`), so a later round reads the page as the
    tools left it.

    `on_completion` is told each round's `Completion` (usage, finish reason). Cancelling the task that
    reads the parts (Stop) cancels the tools still running, and closes a round still streaming.
    """
    if max_rounds < 1:
        raise ValueError("max_rounds must be at least 1")
    context = context if context is not None else ToolContext()
    specs = toolbox.specs()
    messages = list(request.messages)
    for rounds_done in range(max_rounds + 1):
        text: list[str] = []
        asked = dataclasses.replace(request, messages=tuple(messages), tools=specs)
        async with contextlib.aclosing(provider.reply(asked)) as reply:
            async for delta in reply:
                if type(delta) is str:
                    text.append(delta)
                yield delta
        completion = reply.completion
        if completion is None:
            return
        if on_completion is not None:
            on_completion(completion)
        calls = completion.tool_calls
        if not calls:
            return
        if rounds_done == max_rounds:
            rounds = f"{max_rounds} round{'s' if max_rounds > 1 else ''}"
            raise StreamError(f"the model was still calling tools after {rounds} of them", type="tool_rounds")
        for call in calls:
            yield call
        results: dict[str, ToolResult] = {}
        async with contextlib.aclosing(toolbox.run(calls, context)) as running:
            async for result in running:
                results[result.call_id] = result
                yield result
                for change in result.changes:
                    yield change
        messages.append(Message("assistant", "".join(text), tool_calls=calls))
        messages.extend(
            Message("tool", results[call.call_id].output, tool_call_id=call.call_id) for call in calls
        )
        # The next round sees the page as this one left it: changes in the order of the calls, so the
        # later call wins whichever finished first.
        context.follow(change for call in calls for change in results[call.call_id].changes)


def _unwrapped(function: Callable[..., Any]) -> tuple[Callable[..., Any], set[str]]:
    """The callable inside any `functools.partial`s, and the arguments they give by name (fixed by the
    app, so not the model's to give)."""
    bound: set[str] = set()
    while isinstance(function, functools.partial):
        bound |= set(function.keywords)
        function = function.func
    return function, bound


def _described(function: Callable[..., Any]) -> Callable[..., Any]:
    """What describes `function` (hints, docstring, sync or async): the function a partial wraps, a
    callable object's `__call__`."""
    inner, _ = _unwrapped(function)
    return inner if inspect.isroutine(inner) else type(inner).__call__


def _default_name(function: Callable[..., Any]) -> str:
    """A function's name, a partial's function's, or a callable object's class's."""
    inner, _ = _unwrapped(function)
    return getattr(inner, "__name__", None) or type(inner).__name__


def _context_parameter(function: Callable[..., Any]) -> str | None:
    """The parameter annotated `ToolContext` (or `ToolContext | None`), if any."""
    hints = get_type_hints(function)
    names = [name for name, hint in hints.items() if hint is ToolContext or ToolContext in get_args(hint)]
    if len(names) > 1:
        raise TypeError(f"{function.__name__} takes more than one ToolContext")
    return names[0] if names else None


def _arguments_of(
    function: Callable[..., Any], described: Callable[..., Any], context_parameter: str | None
) -> pydantic.TypeAdapter[Any]:
    """A validator of `function`'s arguments (its `ToolContext` and a partial's bound keywords left out)
    that returns them as keywords."""
    hidden = {context_parameter, *_unwrapped(function)[1]}
    shown = [p for p in inspect.signature(function).parameters.values() if p.name not in hidden]
    for parameter in shown:
        if parameter.kind in _UNNAMED:
            taken = _UNNAMED[parameter.kind].format(parameter.name)
            raise TypeError(
                f"the tool {_default_name(function)} takes {taken}: the model sends named arguments only, "
                "so each of a tool's parameters needs a name of its own"
            )
    # With their extras: `Annotated[int, Field(ge=1)]` keeps its bounds in the schema and the validation.
    hints = get_type_hints(described, include_extras=True)
    hints = {parameter.name: hints[parameter.name] for parameter in shown if parameter.name in hints}

    def arguments(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    arguments.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in shown],
        return_annotation=dict[str, Any],
    )
    arguments.__annotations__ = {**hints, "return": dict[str, Any]}
    return pydantic.TypeAdapter(arguments)


_UNNAMED = {
    inspect.Parameter.VAR_POSITIONAL: "*{}",
    inspect.Parameter.VAR_KEYWORD: "**{}",
    inspect.Parameter.POSITIONAL_ONLY: "{} as positional-only",
}
"""Parameters a call by name cannot fill, as the refusal names them."""


def _problems(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False, default=str)


def _bounded(text: str) -> str:
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + f"\n[cut: the result had {len(text)} characters]"
