"""The tool loop over real HTTP: a hybrid server (`tests/apps/tools_app.py`) in front of the simulator.

What the client gets is read with `tests.support.sse_client`; what went upstream (the `tool` messages) from
the simulator's log. The same app answers with the demo model when no key is set.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hybrid.dev.simulator.scenario import answer_tokens
from tests.conftest import Server, start_server
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.sse_client import answer, parse

APP = "tests.apps.tools_app:app"
ANSWER = "".join(answer_tokens(20))
FIRST_TOKEN_TIMEOUT, GAP_TIMEOUT = 1.0, 0.5


@pytest.fixture(scope="module")
def tools_server(simulator: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": simulator.openai_base_url,
        "HYBRID_MODEL": "sim",
        "HYBRID_FIRST_TOKEN_TIMEOUT_SECONDS": str(FIRST_TOKEN_TIMEOUT),
        "HYBRID_TOKEN_GAP_TIMEOUT_SECONDS": str(GAP_TIMEOUT),
        "HYBRID_CLIENT_RATE_PER_MINUTE": "0",
    }
    server = start_server(APP, env=env, log=tmp_path_factory.mktemp("tools") / "server.log")
    yield server
    server.stop()


def model(directives: str) -> str:
    """A simulator model with `directives`, tagged so the request log's entries are this test's."""
    return f"sim+{directives}+tag={uuid.uuid4().hex[:8]}"


def body(model: str, message: str = "show only Europe", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": message}], **extra}


def ask(server: Server, model: str, message: str = "show only Europe", **extra: Any) -> str:
    response = httpx.post(server.url + "/tools/stream", json=body(model, message, **extra), timeout=15)
    assert response.status_code == 200, response.text
    return response.text


def events(stream: str, name: str) -> list[Any]:
    return [json.loads(m.data) for m in parse(stream) if m.event == name]


def test_split_tool_call_deltas_reach_the_client_and_the_answer_resumes_after_the_round(
    tools_server: Server, simulator: SimulatorProcess
) -> None:
    name = model("tools=show_only+tool_chunk_chars=3")
    stream = ask(tools_server, name)
    deltas = events(stream, "tool_call_delta")
    (call,) = events(stream, "tool_call")
    assert len(deltas) > 4 and {(d["id"], d["name"]) for d in deltas} == {(call["id"], "show_only")}
    assert "".join(d["arguments"] for d in deltas) == call["arguments"] == '{"region": "Europe"}'
    (result,) = events(stream, "tool_result")
    assert (result["id"], result["output"], result["error"]) == (
        call["id"],
        "the dashboard shows Europe",
        False,
    )
    assert events(stream, "set_props") == [{"id": "region", "props": {"value": "Europe"}}]
    assert answer(stream) == (ANSWER, True)
    assert events(stream, "rounds") == [["tool_calls", "stop"]]

    first, second = simulator.requests(name)
    assert first["tools_offered"] == ["show_only", "top_products", "wait", "explode"]
    assert second["tool_calls_received"] == [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": "show_only", "arguments": call["arguments"]},
        }
    ]
    assert second["tool_results_received"] == [
        {"tool_call_id": call["id"], "content": "the dashboard shows Europe"}
    ]


def test_parallel_calls_of_one_round_all_run_and_their_results_go_back_in_call_order(
    tools_server: Server, simulator: SimulatorProcess
) -> None:
    given = json.dumps({"top_products": {"n": 2}})
    name = model(f"tools=top_products,show_only+tool_interleave=1+tool_chunk_chars=2+tool_args={given}")
    stream = ask(tools_server, name, context=["Asia", ""])
    assert [d["index"] for d in events(stream, "tool_call_delta")][:4] == [0, 1, 0, 1]  # interleaved
    calls = events(stream, "tool_call")
    assert [c["name"] for c in calls] == ["top_products", "show_only"]
    results = {r["name"]: r for r in events(stream, "tool_result")}
    # top_products reads the region on screen when the user asked (the context): the round's calls
    # run at once, so it does not see show_only's change.
    assert json.loads(results["top_products"]["output"]) == [
        {"product": "Scooters", "units": 1200},
        {"product": "Bikes", "units": 700},
    ]
    assert answer(stream) == (ANSWER, True)
    sent = simulator.requests(name)[-1]["tool_results_received"]
    assert [r["tool_call_id"] for r in sent] == [c["id"] for c in calls]


@pytest.mark.parametrize(
    ("directives", "output"),
    [
        (
            "tools=top_products+tool_args=" + json.dumps({"top_products": {"n": "many"}}),
            "error: invalid arguments: n: Input should be a valid integer, unable to parse string as an "
            "integer",
        ),
        (
            "tools=show_only+tool_args=" + json.dumps({"show_only": "{not json"}),
            "error: the arguments are not valid JSON",
        ),
        ("tools=explode", "error: the tool failed (RuntimeError: the tool broke: boom)"),  # the model's
        (
            "tools=exec_code",
            "error: there is no tool 'exec_code' (tools: show_only, top_products, wait, explode)",
        ),
    ],
    ids=["bad-arguments", "not-json", "raising-tool", "unknown-tool"],
)
def test_what_goes_wrong_in_a_call_goes_back_to_the_model_and_the_answer_goes_on(
    tools_server: Server, simulator: SimulatorProcess, directives: str, output: str
) -> None:
    name = model(directives)
    stream = ask(tools_server, name)
    (result,) = events(stream, "tool_result")
    # An unexpected exception's text goes to the model only: the page is told its type.
    shown = "error: the tool failed (RuntimeError)" if "explode" in directives else output
    assert (result["output"], result["error"]) == (shown, True)
    assert not events(stream, "set_props") and not events(stream, "error")
    assert answer(stream) == (ANSWER, True)
    assert simulator.requests(name)[-1]["tool_results_received"][0]["content"] == output


def test_a_raising_tool_is_logged_for_the_operator(tools_server: Server) -> None:
    ask(tools_server, model("tools=explode"))
    assert "the tool explode failed" in tools_server.output()
    assert "RuntimeError: the tool broke: boom" in tools_server.output()


def test_a_slow_tool_is_given_up_at_its_timeout_and_the_answer_goes_on(tools_server: Server) -> None:
    started = time.monotonic()
    stream = ask(tools_server, model("tools=wait+tool_args=" + json.dumps({"wait": {"seconds": 10}})))
    (result,) = events(stream, "tool_result")
    assert result["output"] == "error: the tool did not finish within 1 s"
    assert answer(stream) == (ANSWER, True)
    assert time.monotonic() - started < 4


def test_a_model_that_keeps_calling_tools_ends_with_a_notice_after_the_round_limit(
    tools_server: Server, simulator: SimulatorProcess
) -> None:
    name = model("tools=show_only+tool_rounds=99")
    stream = ask(tools_server, name, max_rounds=2)
    reason = "the model was still calling tools after 2 rounds of them"
    assert events(stream, "error") == [{"type": "tool_rounds", "message": reason}]
    assert answer(stream) == (f"\n\n**⚠ The answer stopped: {reason}.**", True)
    assert len(events(stream, "tool_result")) == 2
    assert [r["outcome"] for r in simulator.requests(name)] == ["completed"] * 3


def test_tool_call_deltas_count_as_activity_and_a_tools_run_time_counts_against_no_deadline(
    tools_server: Server,
) -> None:
    # The round of calls streams for about 1.5 s, past the 1 s first-token deadline, in chunks 0.25 s
    # apart (within the 0.5 s gap); then the tool runs 0.7 s, longer than the gap, before the next round.
    given = json.dumps({"wait": {"seconds": 0.7}})
    stream = ask(
        tools_server, model(f"tools=wait+tool_args={given}+tool_chunk_chars=3+token_ms=250+tokens=3")
    )
    assert not events(stream, "error")
    assert events(stream, "tool_result")[0]["output"] == "waited 0.7 s"
    assert answer(stream) == ("".join(answer_tokens(3)), True)


def stream_until(server: Server, name: str, event: str, context: list[str]) -> float:
    """Open the stream, read until the first `event`, then close it; when it was closed."""
    url = server.url + "/tools/stream"
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", url, json=body(name, context=context)) as response,
    ):
        lines = response.iter_lines()
        while next(lines) != f"event: {event}":
            pass
        if event == "tool_call":
            time.sleep(0.1)  # the tool is running now
        return time.time()


def test_stop_during_a_tool_cancels_it_within_100_ms_and_no_upstream_request_is_left_open(
    tools_server: Server, simulator: SimulatorProcess
) -> None:
    name, stream_id = model("tools=wait+tool_args=" + json.dumps({"wait": {"seconds": 10}})), uuid.uuid4().hex
    stopped = stream_until(tools_server, name, "tool_call", ["Europe", stream_id])
    deadline = time.monotonic() + 2
    while (finished := httpx.get(tools_server.url + "/tools/finished").json()).get(stream_id) is None:
        assert time.monotonic() < deadline, "the tool was not cancelled"
        time.sleep(0.01)
    assert finished[stream_id] - stopped < 0.1
    (record,) = simulator.requests(name)  # the round had ended; no next round was asked for
    assert record["outcome"] == "completed"


def test_stop_while_a_call_streams_closes_the_upstream_request_within_100_ms(
    tools_server: Server, simulator: SimulatorProcess
) -> None:
    name = model("tools=show_only+tool_chunk_chars=1+token_ms=50")
    stopped = stream_until(tools_server, name, "tool_call_delta", ["Europe", ""])
    record = simulator.closed(name)
    assert record["outcome"] == "client_closed"
    assert record["closed"] - stopped < 0.1


def test_the_demo_model_calls_the_tools_the_question_names_and_answers_with_their_results(
    serve: Any,
) -> None:
    server = serve(APP)
    stream = ask(server, "demo", "Show only Europe and tell me the top three products", context=["Asia", ""])
    assert [(c["name"], json.loads(c["arguments"])) for c in events(stream, "tool_call")] == [
        ("show_only", {"region": "Europe"}),
        ("top_products", {"n": 3, "region": "Europe"}),
    ]
    assert events(stream, "set_props") == [{"id": "region", "props": {"value": "Europe"}}]
    text, done = answer(stream)
    assert done and "1. product: Bikes, units: 940\n2. product: Helmets" in text and "Lights" in text
    assert "Locks" not in text


def test_the_tool_loop_runs_through_azure_deployment_urls(serve: Any, simulator: SimulatorProcess) -> None:
    env = {
        "HYBRID_PROVIDER": "azure",
        "AZURE_OPENAI_ENDPOINT": simulator.url,
        "AZURE_OPENAI_API_KEY": "azure-key",
        "OPENAI_API_VERSION": "2024-10-21",
        "HYBRID_MODEL": "chat-deployment",
    }
    server = serve(APP, env=env)
    deployment = model("tools=show_only,top_products+tool_chunk_chars=4")  # the deployment names the model
    stream = ask(server, deployment, context=["Asia", ""])
    assert [c["name"] for c in events(stream, "tool_call")] == ["show_only", "top_products"]
    results = {r["name"]: r["output"] for r in events(stream, "tool_result")}
    assert results["show_only"] == "the dashboard shows Europe"  # the simulator's first choice
    assert json.loads(results["top_products"]) == [  # n: 3, made from the schema; the region on screen
        {"product": "Scooters", "units": 1200},
        {"product": "Bikes", "units": 700},
        {"product": "Bells", "units": 90},
    ]
    assert events(stream, "set_props") == [{"id": "region", "props": {"value": "Europe"}}]
    assert answer(stream) == (ANSWER, True)
    asked, answered = simulator.requests(deployment)
    for record in (asked, answered):
        assert record["path"] == f"/openai/deployments/{deployment}/chat/completions"
        assert (record["api_version"], record["auth"]) == ("2024-10-21", "api-key")
    assert asked["tools_offered"] == ["show_only", "top_products", "wait", "explode"]
    assert [r["content"] for r in answered["tool_results_received"]] == [
        results["show_only"],
        results["top_products"],
    ]
