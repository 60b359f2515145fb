"""`Tool`: a Python function of the app that the model may call, described to it by its signature.

`Tool.from_function(fn)` reads the JSON schema of the arguments from the signature and type hints
(`Literal`, numbers, strings, lists, pydantic models: pydantic does the work) and the description from
the docstring. A call is validated against the signature before the function runs; what goes wrong (bad
arguments, an exception, a timeout) becomes the tool's result, so the model can see it and try again,
and the chat shows it. Nothing the model sends is evaluated: arguments are JSON. A sync tool runs on
the app's threads for synchronous code (`hybrid._tools.threads`), never on asyncio's default executor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args, get_type_hints

import pydantic

from hybrid._errors import HybridError
from hybrid._tools.context import ToolContext
from hybrid._tools.threads import SyncThreadsBusy, ThreadCall, default_threads
from hybrid._wire.page_props import UnsafeProp
from hybrid._wire.parts import ToolCall, ToolResult

logger = logging.getLogger("hybrid.tools")

DEFAULT_TIMEOUT = 30.0
"""Seconds a tool may run before its call is given up (an async tool is cancelled)."""
MAX_RESULT_CHARS = 20_000
"""The most of a tool's result the model is sent; a longer one is cut, and says so."""
NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""What OpenAI accepts as a tool's name."""


class ToolError(HybridError):
    """Raised by a tool to tell the model what went wrong in a sentence of its own."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="tool_error")


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
        except (ToolError, UnsafeProp) as exc:
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
        except SyncThreadsBusy as exc:
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
                threads = context.threads or default_threads()
                on_thread = threads.submit(self.name, functools.partial(self.function, **kwargs))
                return await on_thread.result()
        except TimeoutError:
            if deadline.expired():
                raise _TimedOut(started=on_thread is None or on_thread.started) from None
            raise  # the tool's own timeout (a request it made, say): a failure of the tool


class _TimedOut(HybridError):
    """A tool outlived its timeout; `started` is false for a sync one that never got a thread."""

    def __init__(self, *, started: bool) -> None:
        super().__init__("the tool timed out", type="tool_timeout")
        self.started = started


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
