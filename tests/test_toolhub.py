"""ToolHub against real MCP servers: the built-in ones over stdio and HTTP, and a misbehaving one.

Every test checks that no process it started is left behind (the ``tag`` fixture).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.events import ToolCall, ToolResult
from assistant.mcp_config import ServerConfig
from assistant.mcp_results import render_result
from assistant.toolhub import McpTool, ToolHub, ToolProgress
from assistant.tools import ToolRegistry
from tests.mcp_helpers import (
    builtin,
    free_port,
    misbehaving,
    new_tag,
    pid_alive,
    start_http_server,
    tagged,
    wait_gone,
)


@pytest.fixture
def tag() -> Iterator[str]:
    value = new_tag()
    yield value
    assert wait_gone(lambda: tagged(value), 15.0) == [], "a server process (or its child) outlived the test"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("The secret word is pelican.\n")
    (tmp_path / "outside.txt").write_text("not yours\n")
    return ws


@pytest.fixture
def http_files(workspace: Path, tag: str) -> Iterator[str]:
    """The built-in files server over streamable HTTP on loopback, started by the test."""
    port = free_port()
    argv = [sys.executable, "-m", "assistant.toolservers.files_server", "--root", str(workspace),
            "--transport", "streamable-http", "--port", str(port)]  # fmt: skip
    yield from start_http_server(argv, port, tag)


@pytest.fixture
async def hub_of(tag: str) -> AsyncIterator[Any]:
    """Hubs closed at the end (before the leftover-process check, which depends on ``tag``)."""
    hubs: list[ToolHub] = []

    async def make(*configs: ServerConfig, registry: ToolRegistry | None = None, **kw: Any) -> ToolHub:
        hub = ToolHub(configs, **kw)
        hubs.append(hub)
        await hub.start()
        if registry is not None:
            hub.register(registry)
        return hub

    yield make
    for hub in hubs:
        await hub.aclose()


async def call(registry: ToolRegistry, name: str, **args: Any) -> ToolResult:
    return await registry.run(ToolCall("call_1", name, json.dumps(args)))


async def test_connects_stdio_and_http_at_once_and_keeps_going_without_the_failures(
    workspace: Path, tag: str, http_files: str, hub_of: Any
) -> None:
    registry = ToolRegistry()
    hub = await hub_of(
        builtin("files", workspace, tag),
        ServerConfig("remote", url=http_files),
        ServerConfig("nocmd", command="/definitely/not/a/server"),
        misbehaving("dies", tag, "--start", "exit"),
        misbehaving("mute", tag, "--start", "hang", startup_timeout=3.0),
        registry=registry,
    )
    states = {name: s.state for name, s in hub.servers.items()}
    assert states == {"files": "connected", "remote": "connected", "nocmd": "failed", "dies": "failed",
                      "mute": "failed"}  # fmt: skip
    assert "command not found: /definitely/not/a/server" in (hub.servers["nocmd"].error or "")
    assert "missing API key" in (hub.servers["dies"].error or ""), "the reason comes from the server's stderr"
    assert "did not finish starting within 3 s" in (hub.servers["mute"].error or "")
    # connected concurrently: the whole start took less than the servers' times added up
    assert hub.start_seconds is not None
    assert hub.start_seconds < sum(s.connect_seconds or 0 for s in hub.servers.values())
    # the same tool names on both: namespaced by server
    assert {"files__read_file", "remote__read_file"} <= set(registry.names())
    assert "read_file" not in registry.names()
    local = await call(registry, "files__read_file", path="notes.txt")
    remote = await call(registry, "remote__read_file", path="notes.txt")
    assert local.content == remote.content == "The secret word is pelican."
    assert not local.is_error and not remote.is_error


async def test_name_collisions_get_the_server_prefix(hub_of: Any, workspace: Path, tag: str) -> None:
    registry = ToolRegistry()

    @registry.function
    def echo(text: str) -> str:
        """A Python tool that was here first."""
        return f"python: {text}"

    await hub_of(builtin("files", workspace, tag), misbehaving("odd", tag), registry=registry)
    names = registry.names()
    assert {"files__read_file", "odd__read_file", "odd__echo", "echo", "list_files", "add"} <= set(names)
    assert (await call(registry, "echo", text="hi")).content == "python: hi"
    assert (await call(registry, "odd__echo", text="hi")).content == "hi"
    assert (await call(registry, "odd__read_file", path="x")).content == "misbehaving read_file(x)"
    assert (await call(registry, "files__read_file", path="notes.txt")).content.startswith("The secret word")


async def test_server_crashing_mid_call_is_restarted_once(hub_of: Any, workspace: Path, tag: str) -> None:
    registry = ToolRegistry()
    hub = await hub_of(misbehaving("fragile", tag), builtin("files", workspace, tag), registry=registry)
    lines: list[str] = []
    hub.on_status = lines.append
    first_pid = hub.servers["fragile"].pid
    result = await call(registry, "crash")
    assert result.is_error
    assert "stopped during the call" in result.content and "crashing on purpose" in result.content
    assert "restarted, and the call was not repeated" in result.content
    assert hub.servers["fragile"].state == "connected" and hub.servers["fragile"].pid != first_pid
    assert lines == ["tool server 'fragile' died (the server exited; stderr: misbehaving: crashing on purpose now); "
                     "reconnected (servers are restarted once)"]  # fmt: skip
    assert (await call(registry, "echo", text="still there?")).content == "still there?"
    again = await call(registry, "crash")  # the second death is final
    assert again.is_error and "unavailable until the assistant restarts" in again.content
    assert hub.servers["fragile"].state == "exited"
    after = await call(registry, "echo", text="still there?")
    assert after.is_error and "not running (exited" in after.content
    assert not (await call(registry, "list_files")).is_error, "the other server keeps working"


async def test_hanging_call_times_out_and_the_server_hears_the_cancel(hub_of: Any, tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "marks"
    marker.mkdir()
    registry = ToolRegistry()
    await hub_of(misbehaving("slow", tag, "--marker", str(marker), timeout=1.5), registry=registry)
    result = await call(registry, "hang")
    assert result.is_error and "did not answer within 1.5 s" in result.content
    assert 1.4 < result.seconds < 6
    for _ in range(100):
        if (marker / "hang-cancelled").exists():
            break
        await asyncio.sleep(0.05)
    assert (marker / "hang-cancelled").exists(), "the server was told to stop the call"
    assert (await call(registry, "echo", text="next")).content == "next", "the server is still usable"


async def test_blocked_server_is_still_killed_on_close(hub_of: Any, tag: str) -> None:
    registry = ToolRegistry()
    hub = await hub_of(misbehaving("stuck", tag, timeout=1.0), registry=registry)
    assert (await call(registry, "hang_hard")).is_error
    assert tagged(tag), "the server is running"
    await hub.aclose()
    assert wait_gone(lambda: tagged(tag), 15.0) == []


async def test_error_result_goes_back_as_an_error(hub_of: Any, tag: str) -> None:
    registry = ToolRegistry()
    await hub_of(misbehaving("grumpy", tag), registry=registry)
    result = await call(registry, "fail", reason="disk full")
    assert result.is_error
    assert result.content == "Error: fail failed: failed on purpose: disk full"


async def test_output_flood_is_truncated_with_a_note(hub_of: Any, tag: str) -> None:
    registry = ToolRegistry(max_result_chars=20_000)
    # 2 MB of stderr at start must not block the server (the hub drains it)
    await hub_of(misbehaving("loud", tag, "--stderr-flood", "2000000"), registry=registry)
    result = await call(registry, "flood", size=3_000_000)
    assert not result.is_error
    assert len(result.content) < 20_100
    assert result.content.endswith("[output truncated: 2980000 more characters cut]")


async def test_invalid_arguments_are_caught_before_the_call(hub_of: Any, tag: str) -> None:
    registry = ToolRegistry()
    await hub_of(misbehaving("strict", tag), registry=registry)
    missing = await call(registry, "echo")
    assert missing.is_error and "invalid arguments for echo: 'text' is a required property" in missing.content
    wrong = await call(registry, "add", a="one", b=2)
    assert wrong.is_error and "a: 'one' is not of type 'integer'" in wrong.content
    bad_json = await registry.run(ToolCall("c", "add", '{"a": 1,'))
    assert bad_json.is_error and "not a valid JSON object" in bad_json.content


async def test_progress_notifications_reach_the_callback(hub_of: Any, tag: str) -> None:
    seen: list[ToolProgress] = []
    registry = ToolRegistry()
    await hub_of(misbehaving("busy", tag), registry=registry, on_progress=seen.append)
    result = await call(registry, "progress", steps=3, delay=0.02)
    assert result.content == "done after 3 steps"
    assert [(p.progress, p.total, p.message) for p in seen] == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert seen[0].describe() == "progress (busy): 1/3 step 1"


async def test_cancelling_the_turn_cancels_the_call_on_the_server(hub_of: Any, tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "marks"
    marker.mkdir()
    first = asyncio.Event()
    registry = ToolRegistry()
    await hub_of(misbehaving("long", tag, "--marker", str(marker)), registry=registry,
                 on_progress=lambda _p: first.set())  # fmt: skip
    task = asyncio.create_task(call(registry, "progress", steps=200, delay=0.1))
    await asyncio.wait_for(first.wait(), 10)
    task.cancel()  # what Ctrl-C does to the turn
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if (marker / "progress-cancelled").exists():
            break
        await asyncio.sleep(0.05)
    assert (marker / "progress-cancelled").exists()
    assert (await call(registry, "echo", text="ok")).content == "ok"


async def test_images_resources_and_structured_content(hub_of: Any, tag: str) -> None:
    registry = ToolRegistry()
    await hub_of(misbehaving("media", tag), registry=registry)
    rich = (await call(registry, "rich")).content
    assert rich.splitlines()[0] == "here is a chart"
    assert "[image: image/png, 2.0 KB; not shown to the model]" in rich
    assert "[resource file:///notes/todo.md (text/markdown)]\n- write tests" in rich
    assert "[resource link: big.csv <file:///data/big.csv> (text/csv): the raw data]" in rich
    structured = (await call(registry, "structured", city="Oslo")).content
    assert json.loads(structured) == {"city": "Oslo", "temp_c": 17, "sky": "light rain"}, "JSON, shown once"


def test_render_result_keeps_text_and_adds_structured_json() -> None:
    from mcp_types import CallToolResult, TextContent

    both = CallToolResult(content=[TextContent(type="text", text="Sunny.")], structured_content={"t": 20})
    assert render_result(both) == ('Sunny.\nstructured content:\n{\n  "t": 20\n}', False)
    only = CallToolResult(content=[], structured_content={"t": 20})
    assert render_result(only) == ('{\n  "t": 20\n}', False)
    empty = CallToolResult(content=[], is_error=True)
    assert render_result(empty) == ("(no output)", True)


async def test_close_takes_the_servers_children_too(hub_of: Any, tag: str) -> None:
    registry = ToolRegistry()
    hub = await hub_of(misbehaving("parent", tag), registry=registry)
    pid = int((await call(registry, "spawn_child")).content)
    assert pid_alive(pid)
    await hub.aclose()
    assert wait_gone(lambda: [pid] if pid_alive(pid) else [], 15.0) == []


async def test_denied_tools_are_not_offered(hub_of: Any, tag: str) -> None:
    registry = ToolRegistry()
    hub = await hub_of(misbehaving("picky", tag, approval={"crash": "deny", "*": "allow"}), registry=registry)
    assert "crash" in hub.tools and hub.tools["crash"].policy == "deny"
    assert "crash" not in registry.names() and "spawn_child" in registry.names()
    assert hub.tools["spawn_child"].policy == "allow", "'*' covers the rest, read-only or not"


async def test_tools_carry_schema_policy_and_timeout(hub_of: Any, workspace: Path, tag: str) -> None:
    hub = await hub_of(builtin("files", workspace, tag, timeout=42.0))
    read, write = hub.tools["read_file"], hub.tools["write_file"]
    assert isinstance(read, McpTool) and read.read_only and read.policy == "allow"
    assert not write.read_only and write.policy == "ask" and write.has_dry_run
    assert read.timeout == 47.0  # the server's timeout, plus a margin for the SDK's own to fire first
    fn = read.schema()["function"]
    assert fn["name"] == "read_file" and fn["parameters"]["required"] == ["path"]
    assert "title" not in fn["parameters"]
    assert write.policy_for({"path": "a", "content": "b", "dry_run": True}) == "allow"


async def test_the_turn_goes_on_after_a_hanging_or_crashing_server(scripted: Any, tag: str) -> None:
    from assistant.agent import Agent
    from assistant.endpoint import Endpoint, EndpointConfig
    from assistant.events import TurnEnd
    from tests.scripted_server import text, tool_calls

    registry = ToolRegistry()
    hub = ToolHub([misbehaving("flaky", tag, timeout=1.0)])
    await hub.start()
    hub.register(registry)
    endpoint = Endpoint(EndpointConfig(base_url=scripted.base_url, model="m", max_retries=0))
    try:
        scripted.script(tool_calls(("hang", {})), text("It timed out."), tool_calls(("crash", {})),
                        text("It crashed."), text("Still talking."))  # fmt: skip
        agent = Agent(endpoint, registry)
        events = [e async for e in agent.run("hang please")]
        assert isinstance(events[-1], TurnEnd) and events[-1].text == "It timed out."
        assert "did not answer within 1 s" in scripted.requests[1]["messages"][-1]["content"]
        assert await agent.ask("crash please") == "It crashed."
        assert "stopped during the call" in scripted.requests[3]["messages"][-1]["content"]
        assert await agent.ask("and now?") == "Still talking."
    finally:
        await endpoint.aclose()
        await hub.aclose()
