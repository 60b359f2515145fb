"""How the simulator calls tools: which of the offered tools, with what arguments, in which pieces.

A request asks for calls with directives (see `Scenario`): `tools=2` calls the first two tools the
request offers, `tools=show_only,nope` calls tools by name (offered or not); the arguments are made up
from each tool's JSON schema unless `tool_args` gives them; `tool_chunk_chars=3` streams the arguments
three characters at a time; `tool_interleave=1` alternates the pieces of parallel calls. A request is a
tool round while the conversation since the last user message holds fewer than `tool_rounds` rounds of
calls; after that the simulator answers in text.
"""

from __future__ import annotations

import json
from typing import Any

from hybrid.dev.simulator.scenario import Scenario


def calls_wanted(scenario: Scenario, body: dict[str, Any], prefix: str) -> list[dict[str, str]]:
    """The calls this request answers with (`id`, `name`, `arguments` as JSON text, ids starting with
    `prefix`); empty for a text answer."""
    if not scenario.tools or rounds_so_far(body.get("messages") or []) >= scenario.tool_rounds:
        return []
    offered = {
        spec["function"]["name"]: spec["function"].get("parameters") or {}
        for spec in body.get("tools") or []
        if isinstance(spec, dict) and isinstance(spec.get("function"), dict) and "name" in spec["function"]
    }
    if scenario.tools.isdigit():
        names = list(offered)[: int(scenario.tools)]
    else:
        names = [name for name in scenario.tools.split(",") if name]
    given = scenario.tool_arguments()
    calls = []
    for index, name in enumerate(names):
        arguments = given.get(name)
        if arguments is None:
            schema = offered.get(name, {})
            arguments = example(schema, schema) if schema else {}
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        calls.append({"id": f"{prefix}_{index}", "name": name, "arguments": text})
    return calls


def rounds_so_far(messages: list[Any]) -> int:
    """Rounds of tool calls (assistant messages with calls) since the last user message."""
    rounds = 0
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") == "user":
            break
        if message.get("role") == "assistant" and message.get("tool_calls"):
            rounds += 1
    return rounds


def fragments(calls: list[dict[str, str]], chunk_chars: int, interleave: bool) -> list[str]:
    """The `delta` of each chunk that streams `calls`, as JSON: a call's id and name first, then its
    arguments in pieces of `chunk_chars` characters (all at once when 0)."""
    per_call: list[list[dict[str, Any]]] = []
    for index, call in enumerate(calls):
        arguments = call["arguments"]
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": ""},
        }
        step = chunk_chars or max(len(arguments), 1)
        pieces = [arguments[i : i + step] for i in range(0, len(arguments), step)]
        per_call.append([head, *({"index": index, "function": {"arguments": p}} for p in pieces)])
    if interleave:
        ordered = [piece for turn in _round_robin(per_call) for piece in turn]
    else:
        ordered = [piece for pieces in per_call for piece in pieces]
    return [
        json.dumps({"tool_calls": [piece]}, ensure_ascii=False, separators=(",", ":")) for piece in ordered
    ]


def message_calls(calls: list[dict[str, str]]) -> list[dict[str, Any]]:
    """`calls` as a non-streamed answer's `message.tool_calls`."""
    return [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": call["arguments"]},
        }
        for call in calls
    ]


def example(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A value that fits `schema` (a JSON schema as pydantic writes one; `$ref`s point into `root`)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example(root.get("$defs", {}).get(name, {}), root)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = [option for option in schema.get(key, []) if option.get("type") != "null"]
        if options:
            return example(options[0], root)
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {name: example(properties[name], root) for name in required if name in properties}
    if kind == "array":
        return [example(schema.get("items", {}), root)]
    if kind == "integer":
        value = max(3, schema.get("minimum", 3))
        return min(value, schema.get("maximum", value))
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "sim"


def _round_robin(lists: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    longest = max((len(items) for items in lists), default=0)
    return [[items[i] for items in lists if i < len(items)] for i in range(longest)]
