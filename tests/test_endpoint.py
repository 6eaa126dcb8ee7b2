"""The endpoint boundary against the scripted server: events, assembly, retries, faults."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from assistant.endpoint import Endpoint, EndpointConfig
from assistant.errors import (
    AuthenticationFailed,
    BadResponse,
    EndpointUnreachable,
    ModelNotFound,
    RateLimited,
    ServerError,
)
from assistant.events import Event, Finish, StreamError, TextDelta, Timing, ToolCallReady, Usage
from tests.scripted_server import Reply, ScriptedServer, text, tool_calls


def endpoint(server: ScriptedServer, **kw: Any) -> Endpoint:
    cfg = {"base_url": server.base_url, "model": "scripted-model", "max_retries": 2, **kw}
    return Endpoint(EndpointConfig(**cfg))


async def collect(ep: Endpoint, tools: list[dict[str, Any]] | None = None) -> list[Event]:
    try:
        return [e async for e in ep.stream([{"role": "user", "content": "hi"}], tools)]
    finally:
        await ep.aclose()


async def test_text_stream_yields_deltas_usage_timing_finish(scripted: ScriptedServer) -> None:
    scripted.script(text("Hello there, general Kenobi"))
    events = await collect(endpoint(scripted))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 4 and "".join(deltas) == "Hello there, general Kenobi"
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage and usage[0].prompt_tokens == 10
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"
    timing = next(e for e in events if isinstance(e, Timing))
    assert timing.seconds_to_first_token is not None and timing.seconds_total >= timing.seconds_to_first_token
    body = scripted.requests[0]
    assert body["stream"] is True and body["model"] == "scripted-model"
    assert body["stream_options"] == {"include_usage": True}
    assert "tools" not in body


@pytest.mark.parametrize("interleave", [False, True])
async def test_parallel_tool_calls_assembled_by_index(scripted: ScriptedServer, interleave: bool) -> None:
    scripted.script(
        tool_calls(("read_file", {"path": "a.txt"}), ("list_files", {"path": "src/"}), interleave=interleave)
    )
    events = await collect(endpoint(scripted))
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [c.name for c in calls] == ["read_file", "list_files"]
    assert [json.loads(c.arguments) for c in calls] == [{"path": "a.txt"}, {"path": "src/"}]
    assert [c.id for c in calls] == ["call_0", "call_1"]
    assert all(c.source == "native" for c in calls)
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool_calls"


async def test_retries_5xx_and_429_before_first_byte(scripted: ScriptedServer) -> None:
    scripted.script(
        Reply(kind="status", status=503, headers={"retry-after": "0"}),
        Reply(kind="status", status=429, headers={"retry-after": "0"}),
        text("ok"),
    )
    events = await collect(endpoint(scripted))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "ok"
    assert len(scripted.requests) == 3


async def test_5xx_after_retries_is_our_error(scripted: ScriptedServer) -> None:
    scripted.script(*[Reply(kind="status", status=500, headers={"retry-after": "0"}) for _ in range(2)])
    with pytest.raises(ServerError) as info:
        await collect(endpoint(scripted, max_retries=1))
    assert "HTTP 500" in str(info.value) and scripted.base_url in str(info.value)


async def test_429_after_retries(scripted: ScriptedServer) -> None:
    scripted.script(Reply(kind="status", status=429, headers={"retry-after": "0"}))
    with pytest.raises(RateLimited):
        await collect(endpoint(scripted, max_retries=0))


async def test_stream_cut_midway_keeps_partial_text(scripted: ScriptedServer) -> None:
    reply = text("one two three four five six")
    reply.kind, reply.cut_after = "cut", 4
    scripted.script(reply)
    events = await collect(endpoint(scripted))
    err = next(e for e in events if isinstance(e, StreamError))
    assert err.partial_text == "one two three "
    assert "broke mid-answer" in err.message and "connection lost" in err.message
    assert isinstance(events[-1], Finish) and events[-1].reason == "error"
    assert len(scripted.requests) == 1  # never retried once started


async def test_unreachable_endpoint_names_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = Endpoint(EndpointConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=0))
    with pytest.raises(EndpointUnreachable) as info:
        await collect(ep)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "running" in info.value.user_line()


async def test_401_is_authentication_error(scripted: ScriptedServer) -> None:
    scripted.script(Reply(kind="status", status=401, body={"error": {"message": "Invalid API key"}}))
    with pytest.raises(AuthenticationFailed) as info:
        await collect(endpoint(scripted, api_key="sk-wrong"))
    assert "API key" in info.value.user_line()
    assert scripted.headers[0]["authorization"] == "Bearer sk-wrong"


async def test_wrong_model_lists_available(scripted: ScriptedServer) -> None:
    scripted.models = ["llama3", "qwen2.5-coder"]
    scripted.script(Reply(kind="status", status=404, body={"error": {"message": "model 'gpt-9' not found"}}))
    with pytest.raises(ModelNotFound) as info:
        await collect(endpoint(scripted, model="gpt-9"))
    assert info.value.available == ["llama3", "qwen2.5-coder"]
    assert "llama3, qwen2.5-coder" in info.value.user_line()


async def test_html_reply_is_bad_response(scripted: ScriptedServer) -> None:
    scripted.script(Reply(kind="html"))
    with pytest.raises(BadResponse) as info:
        await collect(endpoint(scripted))
    assert "HTML" in str(info.value)


async def test_non_json_error_body(scripted: ScriptedServer) -> None:
    scripted.script(Reply(kind="status", status=502, body="<html>Bad gateway</html>"))
    with pytest.raises(ServerError) as info:
        await collect(endpoint(scripted, max_retries=0))
    assert "<html" not in str(info.value)


async def test_server_timings_are_passed_through(scripted: ScriptedServer) -> None:
    reply = text("hi")
    reply.extra_final = {"timings": {"predicted_per_second": 24.5, "prompt_per_second": 190.0}}
    scripted.script(reply)
    events = await collect(endpoint(scripted))
    timing = next(e for e in events if isinstance(e, Timing))
    assert timing.server_timings["predicted_per_second"] == 24.5


READ_FILE_TOOL = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
}


async def test_text_calls_recognised_when_enabled(scripted: ScriptedServer) -> None:
    answer = 'Let me look.\n```json\n{"name": "read_file", "arguments": {"path": "README.md"}}\n```'
    scripted.script(text(answer, pieces=9))
    events = await collect(endpoint(scripted, text_tool_calls=True), [READ_FILE_TOOL])
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert len(calls) == 1 and calls[0].name == "read_file" and calls[0].source == "text"
    assert json.loads(calls[0].arguments) == {"path": "README.md"}
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "read_file" not in shown and shown.strip() == "Let me look."
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool_calls"


async def test_text_calls_off_leaves_text_alone(scripted: ScriptedServer) -> None:
    answer = '```json\n{"name": "read_file", "arguments": {"path": "README.md"}}\n```'
    scripted.script(text(answer, pieces=5))
    events = await collect(endpoint(scripted, text_tool_calls=False), [READ_FILE_TOOL])
    assert not [e for e in events if isinstance(e, ToolCallReady)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer


@pytest.mark.parametrize(
    "answer",
    [
        "Plain prose answer with no code at all.",
        'Here is JSON you asked for:\n```json\n{"name": "Ada", "age": 36}\n```\nDone.',
        "```python\ndef f(x):\n    return {'name': x}\n```\nThat is the function.",
        '{"name": "read_file"} is how a call starts, but this sentence is prose.',
    ],
)
async def test_text_that_is_not_a_call_streams_unchanged(scripted: ScriptedServer, answer: str) -> None:
    scripted.script(text(answer, pieces=7))
    events = await collect(endpoint(scripted, text_tool_calls=True), [READ_FILE_TOOL])
    assert not [e for e in events if isinstance(e, ToolCallReady)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer


async def test_logprobs_refused_with_tools_are_dropped_and_remembered(scripted: ScriptedServer) -> None:
    refusal = {"error": {"message": "logprobs is not supported with tools + stream"}}
    scripted.script(Reply(kind="status", status=400, body=refusal), text("ok"), text("again"))
    ep = endpoint(scripted, logprobs=5)
    events = [e async for e in ep.stream([{"role": "user", "content": "hi"}], [READ_FILE_TOOL])]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "ok"
    assert "logprobs" in scripted.requests[0] and "logprobs" not in scripted.requests[1]
    assert not ep.logprobs_with_tools
    _ = [e async for e in ep.stream([{"role": "user", "content": "hi"}], [READ_FILE_TOOL])]
    assert "logprobs" not in scripted.requests[2]  # not asked again with tools
    await ep.aclose()
