"""The agent loop against the scripted server: statelessness, tool round trips, every failure path."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from assistant.agent import Agent
from assistant.errors import MaxStepsExceeded, StreamInterrupted
from assistant.events import TextDelta, ToolResult, TurnEnd
from assistant.tools import ToolRegistry
from tests.scripted_server import Reply, ScriptedServer, scripted_endpoint, text, tool_calls

pytestmark = pytest.mark.usefixtures("close_endpoints")


def make_agent(server: ScriptedServer, tools: ToolRegistry | None = None, **kw: Any) -> Agent:
    ep = scripted_endpoint(server, "scripted-model")
    return Agent(ep, tools, system_prompt="You are terse.", **kw)


def weather_tools(calls: list[dict[str, Any]]) -> ToolRegistry:
    reg = ToolRegistry(timeout=1.0)

    @reg.function
    def get_weather(city: str, unit: str = "C") -> str:
        """Current weather for a city.

        Args:
            city: City name.
            unit: C or F.
        """
        calls.append({"city": city, "unit": unit})
        return f"{city}: 21 {unit}, sunny"

    @reg.function
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("kaboom")

    @reg.function
    async def sleepy() -> str:
        """Never finishes in time."""
        await asyncio.sleep(30)
        return "late"

    return reg


async def test_every_request_carries_the_whole_conversation(scripted: ScriptedServer) -> None:
    scripted.script(text("Paris."), text("About 2.1 million."))
    agent = make_agent(scripted)
    assert await agent.ask("Capital of France?") == "Paris."
    assert await agent.ask("Population?") == "About 2.1 million."
    first, second = scripted.requests
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert second["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
    ]


async def test_tool_round_trip_feeds_result_back(scripted: ScriptedServer) -> None:
    seen: list[dict[str, Any]] = []
    scripted.script(tool_calls(("get_weather", {"city": "Oslo"})), text("It is sunny in Oslo."))
    agent = make_agent(scripted, weather_tools(seen))
    events = [e async for e in agent.run("Weather in Oslo?")]
    assert seen == [{"city": "Oslo", "unit": "C"}]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert results[0].content == "Oslo: 21 C, sunny" and not results[0].is_error
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.steps == 2 and end.text == "It is sunny in Oslo."
    tools_sent = scripted.requests[0]["tools"]
    fn = next(t["function"] for t in tools_sent if t["function"]["name"] == "get_weather")
    assert fn["parameters"]["required"] == ["city"]
    assert fn["parameters"]["properties"]["city"] == {"type": "string", "description": "City name."}
    msgs = scripted.requests[1]["messages"]
    assert msgs[-2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert msgs[-1] == {"role": "tool", "content": "Oslo: 21 C, sunny", "tool_call_id": "call_0"}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (("get_weather", '{"city": "Oslo"'), "not a valid JSON object"),
        (("get_weather", '{"town": "Oslo"}'), "invalid arguments for get_weather"),
        (("get_wether", {"city": "Oslo"}), "no tool named 'get_wether'"),
        (("explode", {}), "explode failed: RuntimeError: kaboom"),
        (("sleepy", {}), "did not finish within 1 s"),
    ],
)
async def test_tool_failures_go_back_to_the_model(
    scripted: ScriptedServer, call: tuple[str, Any], expected: str
) -> None:
    scripted.script(tool_calls(call), text("Sorry, that failed."))
    agent = make_agent(scripted, weather_tools([]))
    events = [e async for e in agent.run("go")]
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.is_error and expected in result.content
    tool_msg = scripted.requests[1]["messages"][-1]
    assert tool_msg["role"] == "tool" and expected in tool_msg["content"]
    assert isinstance(events[-1], TurnEnd)


async def test_step_limit_is_a_typed_error(scripted: ScriptedServer) -> None:
    scripted.script(*[tool_calls(("get_weather", {"city": "Oslo"})) for _ in range(3)])
    agent = make_agent(scripted, weather_tools([]), max_steps=3)
    with pytest.raises(MaxStepsExceeded):
        await agent.ask("loop forever")
    # history stays valid: every tool call has its result
    roles = [m.role for m in agent.conversation.messages]
    assert roles == ["user"] + ["assistant", "tool"] * 3


async def test_stream_cut_saves_partial_marked(scripted: ScriptedServer) -> None:
    reply = text("The answer is forty two")
    reply.kind, reply.cut_after = "cut", 3
    scripted.script(reply, text("Continuing."))
    agent = make_agent(scripted)
    with pytest.raises(StreamInterrupted):
        await agent.ask("What is the answer?")
    last = agent.conversation.messages[-1]
    assert last.role == "assistant" and last.status == "error" and last.content == "The answer "
    await agent.ask("go on")
    sent = scripted.requests[1]["messages"][2]
    assert sent["content"].startswith("The answer") and "interrupted" in sent["content"]


async def test_cancel_mid_stream_keeps_partial_answer(scripted: ScriptedServer) -> None:
    scripted.script(text("one two three four five six seven eight", delay=0.05), text("ok"))
    agent = make_agent(scripted)
    got: list[str] = []

    async def consume() -> None:
        async for e in agent.run("count"):
            if isinstance(e, TextDelta):
                got.append(e.text)
                if len(got) == 3:
                    task.cancel()

    task = asyncio.create_task(consume())
    with pytest.raises(asyncio.CancelledError):
        await task
    last = agent.conversation.messages[-1]
    assert last.status == "interrupted" and last.content == "one two three "
    assert await agent.ask("again") == "ok"
    assert json.dumps(scripted.requests[-1]["messages"]).count("interrupted") == 1


async def test_turn_with_endpoint_error_keeps_history(scripted: ScriptedServer) -> None:
    scripted.script(text("first"), Reply(kind="status", status=500), text("third"))
    agent = make_agent(scripted)
    await agent.ask("one")
    with pytest.raises(Exception, match="HTTP 500"):
        await agent.ask("two")
    assert await agent.ask("three") == "third"
    contents = [m["content"] for m in scripted.requests[-1]["messages"]]
    assert contents[:3] == ["You are terse.", "one", "first"]


async def test_repeated_identical_call_is_answered_and_tools_withdrawn(scripted: ScriptedServer) -> None:
    seen: list[dict[str, Any]] = []
    scripted.script(
        tool_calls(("get_weather", {"city": "Oslo"})),
        tool_calls(("get_weather", '{"city":  "Oslo"}')),  # same call, other spacing
        text("Sunny, 21 C."),
    )
    agent = make_agent(scripted, weather_tools(seen))
    events = [e async for e in agent.run("Weather in Oslo?")]
    assert seen == [{"city": "Oslo", "unit": "C"}], "the repeated call must not run the tool again"
    results = [e for e in events if isinstance(e, ToolResult)]
    assert len(results) == 2 and "repeats an earlier call" in results[1].content
    assert "tools" in scripted.requests[1] and "tools" not in scripted.requests[2]
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "Sunny, 21 C."


async def test_fold_mode_puts_results_in_the_user_turn_and_withdraws_tools(scripted: ScriptedServer) -> None:
    seen: list[dict[str, Any]] = []
    scripted.script(tool_calls(("get_weather", {"city": "Oslo"})), text("Sunny in Oslo."), text("You're welcome."))
    agent = make_agent(scripted, weather_tools(seen), fold_tool_results=True)
    assert await agent.ask("Weather in Oslo?") == "Sunny in Oslo."
    second = scripted.requests[1]
    assert "tools" not in second
    assert second["messages"] == [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": "Weather in Oslo?\n\n[Answer my request using these tool results:]\n\n"
            '[The tool call get_weather({"city": "Oslo"}) returned:]\nOslo: 21 C, sunny',
        },
    ]
    # history keeps the real structure
    assert [m.role for m in agent.conversation.messages] == ["user", "assistant", "tool", "assistant"]
    await agent.ask("Thanks")
    third = scripted.requests[2]
    assert "tools" in third  # a new turn offers tools again
    assert [m["role"] for m in third["messages"]] == ["system", "user", "assistant", "user"]


async def test_a_run_after_an_edit_runs_again_and_a_read_only_repeat_is_remembered(scripted: ScriptedServer) -> None:
    """The tests run again after a fix must run: answered from memory, the rerun showed the old
    failure in every repository task the 0.5B and the 1.5B fixed. A repeat with nothing changed
    in between is still answered from memory."""
    state = {"code": "bug"}
    ran: list[str] = []
    reg = ToolRegistry(timeout=2.0)

    @reg.function
    def run_tests() -> str:
        """Run the tests."""
        ran.append(state["code"])
        return "FAILED" if state["code"] == "bug" else "OK"

    @reg.function
    def edit(code: str) -> str:
        """Change the code."""
        state["code"] = code
        return "edited"

    scripted.script(
        tool_calls(("run_tests", {})), tool_calls(("edit", {"code": "fixed"})),
        tool_calls(("run_tests", {})), tool_calls(("run_tests", {})), text("Fixed: the tests pass."),
    )  # fmt: skip
    agent = make_agent(scripted, reg)
    events = [e async for e in agent.run("Run the tests, fix what fails, run them again")]
    results = [e.content for e in events if isinstance(e, ToolResult)]
    assert ran == ["bug", "fixed"]  # the rerun after the edit ran; the next repeat did not
    assert results[:3] == ["FAILED", "edited", "OK"] and results[3].startswith("OK")
    assert "repeats an earlier call" in results[3]


def test_a_registry_knows_which_tools_change_nothing() -> None:
    from dataclasses import dataclass

    @dataclass
    class Lookup:
        name: str = "lookup"
        read_only: bool = True

    reg = ToolRegistry()
    reg.add(Lookup())  # type: ignore[arg-type]
    assert reg.read_only("lookup") and not reg.read_only("missing")
