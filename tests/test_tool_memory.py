"""Built-in servers connected in-process, and remembered tool lists (real MCP servers throughout)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.events import ToolCall, ToolResult
from assistant.mcp_config import ServerConfig, builtin_config
from assistant.tool_memory import RememberedTool, ToolMemory, config_key
from assistant.toolhub import ToolHub
from assistant.tools import ToolRegistry
from tests.mcp_helpers import builtin, misbehaving, new_tag, tagged, wait_gone, with_cmdline


@pytest.fixture
def tag() -> Iterator[str]:
    value = new_tag()
    yield value
    assert wait_gone(lambda: tagged(value), 15.0) == [], "a server process outlived the test"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("The secret word is pelican.\n")
    return ws


@pytest.fixture
def memory(tmp_path: Path) -> ToolMemory:
    return ToolMemory(tmp_path / "mcp-tools")


@pytest.fixture
async def hubs(tag: str) -> AsyncIterator[Any]:
    made: list[ToolHub] = []

    async def make(*configs: ServerConfig, memory: ToolMemory | None = None, workspace: Path | None = None,
                   registry: ToolRegistry | None = None, status: list[str] | None = None) -> ToolHub:  # fmt: skip
        hub = ToolHub(configs)
        hub.memory, hub.workspace = memory, workspace
        hub.on_status = status.append if status is not None else None
        made.append(hub)
        await hub.start()
        if registry is not None:
            hub.register(registry)
        return hub

    yield make
    for hub in made:
        await hub.aclose()


async def call(registry: ToolRegistry, name: str, **args: Any) -> ToolResult:
    return await registry.run(ToolCall("call_1", name, json.dumps(args)))


async def _settled(hub: ToolHub) -> None:
    for server in hub.servers.values():
        if server._background is not None:
            await asyncio.wait({server._background}, timeout=60)


async def test_builtin_files_server_runs_in_process(hubs: Any, workspace: Path) -> None:
    registry = ToolRegistry()
    hub = await hubs(builtin_config("files", workspace), registry=registry)
    server = hub.servers["files"]
    assert server.state == "connected" and server.in_process == ["--root", str(workspace)]
    assert server.pid is None
    assert with_cmdline(f"assistant.toolservers.files_server --root {workspace}") == []  # no process of its own
    result = await call(registry, "read_file", path="notes.txt")
    assert "pelican" in result.content and not result.is_error
    outside = await call(registry, "read_file", path="../notes.txt")
    assert outside.is_error  # still the files server's own confinement


async def test_in_process_run_server_reports_the_same_sandbox_as_the_standalone_one(
    hubs: Any, workspace: Path, tag: str
) -> None:
    inproc, standalone = ToolRegistry(), ToolRegistry()
    await hubs(builtin_config("run", workspace), registry=inproc)
    await hubs(builtin("run", workspace, tag), registry=standalone)  # env set: its own process
    a = await call(inproc, "sandbox_info")
    b = await call(standalone, "sandbox_info")
    assert not a.is_error and a.content == b.content
    ran = await call(inproc, "run_command", command="echo made-in-sandbox > out.txt && cat out.txt")
    assert "made-in-sandbox" in ran.content
    assert (workspace / "out.txt").read_text().strip() == "made-in-sandbox"


async def test_remembered_builtin_is_offered_at_once_and_connects_on_its_first_call(
    hubs: Any, workspace: Path, memory: ToolMemory, tmp_path: Path
) -> None:
    first = ToolRegistry()
    await hubs(builtin_config("files", workspace), memory=memory, workspace=workspace, registry=first)
    # Another folder: the remembered list does not depend on the workspace path.
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("alpha\n")
    second = ToolRegistry()
    hub = await hubs(builtin_config("files", other), memory=memory, workspace=other, registry=second)
    server = hub.servers["files"]
    assert server.state == "standby" and server._client is None  # nothing started, nothing imported for it
    assert second.schemas() == first.schemas()  # byte-identical schemas, same order
    result = await call(second, "read_file", path="a.txt")
    assert "alpha" in result.content
    assert server.state == "connected"


async def test_third_party_server_starts_in_the_background_and_a_changed_list_updates_the_next_request(
    hubs: Any, memory: ToolMemory, tag: str
) -> None:
    config = misbehaving("odd", tag, "--start-delay", "0.5")
    stale = [RememberedTool("old_tool", None, "gone", {"type": "object", "properties": {}}, None)]
    memory.save(config_key(config), stale)
    registry = ToolRegistry()
    hub = await hubs(config, memory=memory, registry=registry)
    assert hub.servers["odd"].state in ("starting", "connecting")
    assert registry.names() == ["old_tool"]  # the first request goes out with the remembered list
    await _settled(hub)
    assert "old_tool" not in registry.names() and {"echo", "add"} <= set(registry.names())
    saved = memory.load(config_key(config))
    assert saved is not None and "echo" in [t.name for t in saved]


async def test_a_call_waits_for_its_starting_server(hubs: Any, memory: ToolMemory, tag: str) -> None:
    config = misbehaving("slow", tag, "--start-delay", "1.0")
    await hubs(config, memory=memory)  # learns the list
    registry = ToolRegistry()
    hub = await hubs(config, memory=memory, registry=registry)
    assert hub.servers["slow"].state in ("starting", "connecting")
    result = await call(registry, "echo", text="waited")
    assert not result.is_error and "waited" in result.content


async def test_remembered_server_that_fails_to_start_drops_its_tools_with_a_line(
    hubs: Any, memory: ToolMemory, tag: str
) -> None:
    good = misbehaving("flaky", tag)
    await hubs(good, memory=memory)
    # A server that worked last time and cannot start now: its remembered list under the failing key.
    failing = misbehaving("flaky", tag, "--start", "exit")
    saved = memory.load(config_key(good))
    assert saved is not None
    memory.save(config_key(failing), saved)
    registry, lines = ToolRegistry(), []
    hub = await hubs(failing, memory=memory, registry=registry, status=lines)
    assert "echo" in registry.names()
    result = await call(registry, "echo", text="x")
    assert result.is_error and "not running" in result.content
    await _settled(hub)
    assert registry.names() == []
    assert any("flaky" in line and "failed" in line for line in lines)


def test_memory_ignores_broken_files_and_never_writes_secrets(tmp_path: Path) -> None:
    memory = ToolMemory(tmp_path)
    config = ServerConfig("gh", command="npx", args=("server",), env={"TOKEN": "sk-secret-value"})
    key = config_key(config)
    (tmp_path / f"{key}.json").write_text("{not json")
    assert memory.load(key) is None
    memory.save(key, [RememberedTool("t", None, "d", {"type": "object"}, None)])
    assert memory.load(key) is not None
    assert "sk-secret-value" not in "".join(p.read_text() + p.name for p in tmp_path.iterdir())
    assert config_key(ServerConfig("gh", command="npx", args=("server",), env={"TOKEN": "other"})) != key



def test_in_process_builtins_import_nothing_from_the_workspace(scripted: Any, tmp_path: Path) -> None:
    """`python -m assistant` in a folder holding an `mcp.py`: the in-process servers still use the real SDK."""
    import os
    import subprocess
    import sys

    from tests.scripted_server import text, tool_calls

    ws = tmp_path / "evil"
    ws.mkdir()
    marker = tmp_path / "imported"
    for name in ("mcp", "pydantic", "anyio"):
        (ws / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r})\nraise SystemExit(9)\n")
    (ws / "notes.txt").write_text("pelican\n")
    scripted.script(tool_calls(("read_file", {"path": "notes.txt"})), text("It says pelican."))
    proc = subprocess.run([sys.executable, "-m", "assistant", "ask", "--yes", "--base-url", scripted.base_url,
                           "-m", "m", "What do my notes say?"], cwd=ws, capture_output=True, text=True, timeout=120,
                          env={**os.environ}, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), "a module from the workspace was imported"
    assert "pelican" in json.dumps(scripted.requests[-1]["messages"])  # the tool ran, in-process
