"""How the demo model uses tools, deterministically: a tool is called when the message names it.

A tool is named when every word of its name appears in the user's message (`show_only` in "show only
Europe", `top_products` in "the top three products"; a plural counts). Its arguments come from the
message too, each the one nearest to the words of the parameter's name when the message says them
("the year 1977"), else to the words of the tool's name: a `Literal` (an enum) takes a choice the
message mentions, a number takes digits or a number word ("three") no other argument of the call took,
a string takes quoted text. What the message does not give is left out, so the tool's defaults apply
(or validation says what is missing). After the results come back, the demo answers with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from hybrid._providers.base import Message
from hybrid._wire.parts import ToolCall

_WORD = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'")
_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
}  # fmt: skip


def demo_calls(message: str, tools: Sequence[dict[str, Any]]) -> list[ToolCall]:
    """The calls the demo makes for `message` among `tools` (OpenAI specs), in the order they are offered."""
    words = _WORD.findall(message.lower())
    calls = []
    for spec in tools:
        function = spec.get("function") or {}
        name = function.get("name", "")
        where = _named_at(name, words)
        if where is None:
            continue
        arguments = _arguments(function.get("parameters") or {}, message, words, where)
        calls.append(ToolCall(f"call_demo_{len(calls)}", name, json.dumps(arguments)))
    return calls


def results_answer(messages: Sequence[Message]) -> str:
    """The demo's answer once the last round's results are in: what each call gave, in its order."""
    results: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.insert(0, message)
    asked = next((m for m in reversed(messages) if m.tool_calls), None)
    names = {call.call_id: call for call in asked.tool_calls} if asked else {}
    parts = ["Here is what the tools gave (the demo model lists their results; a real model explains them):"]
    for result in results:
        call = names.get(result.tool_call_id or "")
        title = f"**{call.name}**({_shown(call.arguments)})" if call else "**a tool**"
        parts.append(f"{title}: {_as_markdown(result.content)}")
    return "\n\n".join(parts)


def _named_at(name: str, words: list[str]) -> list[int] | None:
    """The positions (in `words`) of the words of `name` when all of them are in the message, else None."""
    wanted = [word.lower() for word in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]
    if not wanted:
        return None
    found = []
    for word in wanted:
        index = next((i for i, seen in enumerate(words) if _same(seen, word)), None)
        if index is None:
            return None
        found.append(index)
    return found


def _same(seen: str, word: str) -> bool:
    return seen == word or seen == word + "s" or word == seen + "s"


def _arguments(schema: dict[str, Any], message: str, words: list[str], where: list[int]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    taken: set[int] = set()  # the words a value was taken from: each fills one argument
    for name, prop in (schema.get("properties") or {}).items():
        found = _value(prop, message, words, _named_at(name, words) or where, taken)
        if found is not None:
            taken.add(found[0])
            arguments[name] = found[1]
    return arguments


def _value(
    prop: dict[str, Any], message: str, words: list[str], where: list[int], taken: set[int]
) -> tuple[int, Any] | None:
    """Where the message gives one parameter's value, and the value: the one nearest to the
    parameter's name if the message says it, else to the tool's (`where`); None if it gives none."""
    options = prop.get("anyOf", [])
    choices = prop.get("enum") or [choice for option in options for choice in option.get("enum", [])]
    if choices:
        mentioned = [(i, choice) for choice in choices for i in _mentions(choice, words)]
        return _nearest(mentioned, where)
    kind = prop.get("type") or next((o.get("type") for o in options if o.get("type") != "null"), None)
    if kind in ("integer", "number"):
        numbers = [(i, _number(seen)) for i, seen in enumerate(words) if i not in taken]
        found = _nearest([(i, n) for i, n in numbers if n is not None], where)
        return (found[0], int(found[1])) if kind == "integer" and found is not None else found
    if kind == "string":
        quoted = _QUOTED.search(message)
        return (-1, quoted.group(1) or quoted.group(2)) if quoted else None
    return None


def _mentions(choice: Any, words: list[str]) -> list[int]:
    """Where the words of `choice` (a string) appear in the message, one after the other."""
    wanted = _WORD.findall(choice.lower()) if isinstance(choice, str) else []
    return [i for i in range(len(words)) if wanted and words[i : i + len(wanted)] == wanted]


def _number(word: str) -> float | None:
    if word[0].isdigit():
        return float(word)
    return _NUMBER_WORDS.get(word)


def _nearest(candidates: list[tuple[int, Any]], where: list[int]) -> tuple[int, Any] | None:
    if not candidates:
        return None
    return min(candidates, key=lambda item: min(abs(item[0] - i) for i in where))


def _shown(arguments: str) -> str:
    try:
        values = json.loads(arguments)
    except ValueError:
        return arguments
    if not isinstance(values, dict):
        return arguments
    return ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in values.items())


def _as_markdown(output: str) -> str:
    """A result as the demo shows it: a JSON list as a list, an object as its fields, text as it is."""
    try:
        value = json.loads(output)
    except ValueError:
        return output
    if isinstance(value, list) and value:
        return "\n\n" + "\n".join(f"{n}. {_item(item)}" for n, item in enumerate(value, 1))
    if isinstance(value, dict) and value:
        return "\n\n" + "\n".join(f"- {key}: {_item(item)}" for key, item in value.items())
    return output


def _item(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)
