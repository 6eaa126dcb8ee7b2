"""MCP beyond tools, against a real stdio MCP server (tests/mcp_servers/featureful.py): prompts,
resources attached with @server:uri, server instructions in the system prompt, tool-list changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant import Assistant
from assistant.attachments import AttachmentError
from assistant.errors import ToolError
from assistant.events import ToolCall
from assistant.mcp_features import (
    parse_prompt_arguments,
    prompt_commands,
    read_resource_text,
    resource_mentions,
    resource_names,
    run_prompt,
)
from assistant.toolhub import McpOptions, ToolHub
from assistant.tools import ToolRegistry
from tests.mcp_helpers import featureful, new_tag, tagged, wait_gone
from tests.scripted_server import ScriptedServer, text


@pytest.fixture
def tag() -> Iterator[str]:
    value = new_tag()
    yield value
    assert wait_gone(lambda: tagged(value), 15.0) == [], "a server process outlived the test"


@pytest.fixture
async def hub(tag: str) -> AsyncIterator[ToolHub]:
    hub = ToolHub([featureful("feat", tag)])
    await hub.start()
    try:
        yield hub
    finally:
        await hub.aclose()


async def test_prompts_become_commands_with_arguments(hub: ToolHub) -> None:
    commands = prompt_commands(hub)
    assert set(commands) == {"/feat:review", "/feat:chat", "/feat:broken"}
    review = commands["/feat:review"]
    assert review.usage() == "/feat:review path=… [focus=…]"
    assert review.description() == "Review a file for one kind of problem."
    assert parse_prompt_arguments(review, "app.py") == {"path": "app.py"}
    assert parse_prompt_arguments(review, "focus='race conditions' app.py") == {"focus": "race conditions",
                                                                                "path": "app.py"}  # fmt: skip
    with pytest.raises(ValueError, match=r"missing path\. Usage: /feat:review path=… \[focus=…\]"):
        parse_prompt_arguments(review, "focus=style")
    with pytest.raises(ValueError, match="too many arguments"):
        parse_prompt_arguments(review, "a b c")
    assert await run_prompt(hub, review, "app.py style") == "Please review app.py, looking for style."
    chat = await run_prompt(hub, commands["/feat:chat"], "topic=owls")
    assert chat == "[user]\nTell me about owls.\n\n[assistant]\nGladly. What would you like to know?"


async def test_a_prompt_the_server_rejects_is_one_line(hub: ToolHub) -> None:
    with pytest.raises(ToolError) as info:
        await run_prompt(hub, prompt_commands(hub)["/feat:broken"], "")
    line = info.value.user_line()
    assert line.startswith("the MCP server 'feat' refused the prompt 'broken': ") and "\n" not in line


async def test_resources_listed_read_and_refused(hub: ToolHub) -> None:
    assert resource_names(hub) == ["@feat:notes://todo", "@feat:notes://broken"]
    assert resource_mentions("see @feat:notes://todo, and mail me@example.com", hub) == [("feat", "notes://todo")]
    assert resource_mentions("@nobody:notes://todo", hub) == []
    assert await read_resource_text(hub, "feat", "notes://todo") == ("text/plain", "1. buy oat milk\n2. fix bug 42")
    with pytest.raises(ToolError, match=r"refused @feat:notes://broken"):
        await read_resource_text(hub, "feat", "notes://broken")


async def test_instructions_are_kept_per_server(hub: ToolHub) -> None:
    ((name, textual),) = hub.instructions()
    assert name == "feat" and textual.startswith("Prefer echo") and "\x1b" in textual  # raw; shown visible


async def test_tool_list_change_updates_the_registry(tag: str) -> None:
    """The SDK's server on a 2026-07-28 session: the change arrives on the subscriptions/listen stream."""
    hub = ToolHub([featureful("feat", tag)])
    await hub.start()
    try:
        await _grow_and_check(hub)
    finally:
        await hub.aclose()


async def test_legacy_tool_list_changed_notification_updates_the_registry(tag: str) -> None:
    """A server that speaks only the handshake era (an SDK from before 2026-07-28): no listen stream,
    the change comes as the older ``notifications/tools/list_changed`` to the client's message handler."""
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    hub = ToolHub([featureful("feat", tag, "--legacy-notify", "--handshake-only")])
    await hub.start()
    try:
        client = await hub.servers["feat"].ready_client()
        assert client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS, client.protocol_version
        await _grow_and_check(hub)
    finally:
        await hub.aclose()


async def test_a_change_announced_while_relisting_is_not_lost(tag: str) -> None:
    """The server changes its tools again while the client lists them after the first change: the second
    announcement arrives before the (already stale) list, and the tools are listed once more."""
    hub = ToolHub([featureful("feat", tag, "--legacy-notify", "--handshake-only", "--late-tool")])
    await hub.start()
    try:
        await _grow_and_check(hub)
        registry = ToolRegistry()
        hub.register(registry)
        for _ in range(100):
            if "late" in registry.names():
                break
            await asyncio.sleep(0.05)
        assert "late" in registry.names(), "the change announced during the relisting was dropped"
    finally:
        await hub.aclose()


async def _grow_and_check(hub: ToolHub) -> None:
    registry = ToolRegistry()
    hub.register(registry)
    lines: list[str] = []
    hub.on_status = lines.append
    assert "extra" not in registry.names()
    grown = await registry.run(ToolCall("c1", "grow", "{}"))
    assert grown.content == "grown"
    for _ in range(100):
        if "extra" in registry.names():
            break
        await asyncio.sleep(0.05)
    assert "extra" in registry.names(), "the list_changed notification did not refresh the tools"
    assert (await registry.run(ToolCall("c2", "extra", json.dumps({"word": "hey"})))).content == "HEY!"
    assert "tool server 'feat' changed its tools: +extra" in lines


async def test_resource_and_instructions_reach_the_request(scripted: ScriptedServer, tag: str) -> None:
    scripted.script(text("You need oat milk."))
    options = McpOptions(servers=[featureful("feat", tag)], remember_tools=False)
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=options) as bot:
        answer = await bot.ask("What is on @feat:notes://todo?")
        report = bot.last_report
        with pytest.raises(AttachmentError, match="refused @feat:notes://broken"):
            await bot.ask("and @feat:notes://broken?")
    assert answer == "You need oat milk."
    assert len(scripted.requests) == 1, "a refused resource sends nothing"
    messages = scripted.requests[0]["messages"]
    system = messages[0]["content"]
    assert 'Instructions from the MCP server "feat"' in system
    assert "\x1b" not in system and "^[]52;c;Zm9v^G" in system, "control characters are made visible"
    user = messages[-1]["content"]
    assert user.startswith("[Attached: feat:notes://todo]\n1. buy oat milk\n2. fix bug 42\n[End of feat:notes://todo]")
    assert user.endswith("What is on @feat:notes://todo?")
    assert report is not None and report.attached == ["feat:notes://todo"] and report.instructions_from == ["feat"]
    assert report.sources["attachments"].messages == 1 and report.sources["attachments"].tokens > 5
    assert report.sources["server_instructions"].tokens > 5 and report.sources["instructions"].tokens == 0


async def test_project_server_instructions_need_trust(tmp_path: Any, tag: str, scripted: ScriptedServer) -> None:
    """A project's .mcp.json counts for nothing until the folder is trusted: no server, no instructions."""
    from tests.mcp_helpers import FEATUREFUL

    project = tmp_path / "proj"
    project.mkdir()
    cfg = {"mcpServers": {"feat": {"command": __import__("sys").executable, "args": [str(FEATUREFUL)],
                                   "env": {"MCP_TEST_TAG": tag}}}}  # fmt: skip
    (project / ".mcp.json").write_text(json.dumps(cfg))
    scripted.script(text("ok"))
    options = McpOptions(workspace=project, remember_tools=False)  # nobody to ask: not trusted
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=options) as bot:
        await bot.ask("hi")
    assert "Instructions from the MCP server" not in scripted.requests[0]["messages"][0]["content"]


def chat_session(hub: ToolHub | None, vision: bool | None = False) -> Any:
    """A ChatSession (the chat's command layer) around a real hub, printing to a string."""
    import io
    from types import SimpleNamespace

    from assistant.cli.commands import ChatSession
    from assistant.cli.render import PlainRenderer
    from assistant.cli.tui import make_console
    from assistant.profile import Capabilities, build_profile

    console = make_console()  # the chat's own console settings (emoji off)
    console.file, console.width = io.StringIO(), 200
    endpoint = SimpleNamespace(config=SimpleNamespace(logprobs=0), tracer=None, logprobs_with_tools=True)
    bot = SimpleNamespace(hub=hub, tools=ToolRegistry(), agent=None, model="m", endpoint=endpoint,
                          profile=build_profile("m", Capabilities("http://x/v1", vision=vision)))  # fmt: skip
    return ChatSession(bot, console, PlainRenderer(out=io.StringIO(), info=io.StringIO()))  # type: ignore[arg-type]


async def test_prompt_commands_help_and_tools(hub: ToolHub) -> None:
    from assistant.cli.commands import Turn

    session = chat_session(hub)
    run = session.commands.run
    assert await run(session, "/feat:review app.py") == Turn("Please review app.py, looking for bugs.")
    assert await run(session, "/feat:review") is None
    out = session.console.file.getvalue
    assert "missing path. Usage: /feat:review path=… [focus=…]" in out()
    assert await run(session, "/feat:broken") is None
    assert "refused the prompt 'broken'" in out()
    assert await run(session, "/feat:nope") is None and "Unknown command /feat:nope" in out()
    await run(session, "/help")
    assert "/feat:review  path=… [focus=…]: Review a file for one kind of problem." in out()
    await run(session, "/tools")
    assert "    prompts: /feat:review, /feat:chat, /feat:broken" in out()
    assert "    resources: @feat:notes://todo, @feat:notes://broken" in out()
    shown = "instructions from feat (in the system prompt): Prefer echo for repeating text.^[]52;c;Zm9v^G Never"
    assert shown in out() and "\x1b" not in out()


async def test_completion_of_prompts_and_resources(hub: ToolHub) -> None:
    session = chat_session(hub)

    def complete(text: str) -> list[str]:
        return [c for c, _, _ in session.commands.completions(session, text)]

    assert complete("/feat:r") == ["/feat:review"]
    assert "/help" in complete("/he") and "/attach" in complete("/att")
    assert complete("what is in @feat:notes://t") == ["@feat:notes://todo"]
    assert complete("plain words") == []


@pytest.mark.parametrize("ui", ["terminal UI", "--plain"])
def test_chat_prompt_command_resource_and_context(scripted: ScriptedServer, tmp_path: Any, tag: str, ui: str) -> None:
    """The real `assistant chat` (terminal UI and plain REPL) with the server in the user's mcp.json."""
    import os
    import sys

    import pexpect

    from tests.mcp_helpers import FEATUREFUL
    from tests.sigint import default_sigint
    from tests.test_tools_cli import run as run_cli

    ws = tmp_path / "ws"
    ws.mkdir()
    added = run_cli("tools", "add", "feat", "-e", f"MCP_TEST_TAG={tag}", "--", sys.executable, str(FEATUREFUL), cwd=ws)
    assert added.returncode == 0, added.stderr
    scripted.script(text("Looks fine."), text("Oat milk."))
    argv = ["-m", "assistant", "chat", "--base-url", scripted.base_url, "-m", "m"] + ([ui] if ui == "--plain" else [])
    child = pexpect.spawn(sys.executable, argv,
                          cwd=str(ws), encoding="utf-8", timeout=30, env={**os.environ, "TERM": "dumb"},
                          preexec_fn=default_sigint)  # fmt: skip
    child.expect("you> ")
    child.sendline("/feat:review app.py")
    child.expect("Looks fine.")
    child.expect("you> ")
    child.sendline("what is on @feat:notes://todo")
    child.expect("Oat milk.")
    child.expect("you> ")
    child.sendline("/context")
    child.expect("MCP server instructions")
    child.expect("Attached to this turn: feat:notes://todo")
    child.expect("you> ")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert scripted.requests[0]["messages"][-1]["content"] == "Please review app.py, looking for bugs."
    assert scripted.requests[1]["messages"][-1]["content"].startswith("[Attached: feat:notes://todo]\n1. buy oat milk")
