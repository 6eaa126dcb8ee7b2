"""Approval before side effects: policy, asking, remembering per workspace, denial sent to the model."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.approval import (
    Answer,
    ApprovalRequest,
    ApprovalStore,
    Approver,
    format_request,
    parse_answer,
    terminal_ask,
)
from assistant.events import ToolResult
from assistant.toolhub import McpOptions
from tests.mcp_helpers import MISBEHAVING, TAG_VAR, builtin, new_tag, tagged, wait_gone
from tests.scripted_server import ScriptedServer, text, tool_calls


@dataclass
class FakeTool:
    name: str = "write_file"
    server_name: str = "files"
    remote_name: str = "write_file"
    policy: str = "ask"
    previews: list[dict[str, Any]] = field(default_factory=list)
    preview_result: tuple[str, bool] | None = ("+hello", False)

    async def preview(self, arguments: dict[str, Any]) -> tuple[str, bool] | None:
        self.previews.append(arguments)
        return self.preview_result


class Asker:
    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Answer:
        self.requests.append(request)
        return self.answers.pop(0)


@pytest.fixture
def store(tmp_path: Path) -> ApprovalStore:
    return ApprovalStore(tmp_path / "approvals.json")


async def test_policies(tmp_path: Path, store: ApprovalStore) -> None:
    asker = Asker("yes")
    approver = Approver(tmp_path, ask=asker, store=store)
    assert await approver(FakeTool(policy="allow"), {}) is None
    denied = await approver(FakeTool(policy="deny"), {})
    assert denied is not None and denied.startswith("Denied: the approval policy for server 'files' blocks write_file")
    assert await approver(FakeTool(), {"path": "a"}) is None
    assert asker.requests[0].preview == "+hello" and asker.requests[0].arguments == {"path": "a"}
    assert await Approver(tmp_path, yes=True, store=store)(FakeTool(), {}) is None, "--yes"
    nobody = await Approver(tmp_path, store=store)(FakeTool(), {})
    assert nobody is not None and "nobody could be asked" in nobody and "--yes" in nobody
    assert await Approver(tmp_path, store=store)(object(), {}) is None, "plain Python tools run freely"


async def test_always_is_remembered_per_workspace(tmp_path: Path, store: ApprovalStore) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    asker = Asker("always", "no")
    assert await Approver(one, ask=asker, store=store)(FakeTool(), {}) is None
    assert await Approver(one, ask=asker, store=store)(FakeTool(), {}) is None, "not asked again"
    assert len(asker.requests) == 1
    denied = await Approver(two, ask=asker, store=store)(FakeTool(), {})
    assert denied is not None and "the user said no" in denied, "another workspace asks again"
    saved = json.loads(store.path.read_text())
    assert saved["workspaces"][str(one)]["tools"] == ["files/write_file"]


async def test_a_failing_dry_run_answers_without_asking(tmp_path: Path, store: ApprovalStore) -> None:
    asker = Asker()
    tool = FakeTool(preview_result=("old_text was not found in 'a.txt'", True))
    result = await Approver(tmp_path, ask=asker, store=store)(tool, {})
    assert result is not None and "old_text was not found" in result and "nothing changed" in result
    assert asker.requests == []


async def test_terminal_question_and_answers() -> None:
    out = io.StringIO()
    lines = iter(["maybe", "A"])
    ask = terminal_ask(out, read=lambda: next(lines))
    request = ApprovalRequest("tool", "files", "edit_file", "edit_file", {"path": "a.py", "old_text": "x" * 500},
                              preview="--- a/a.py\n+++ b/a.py\n-x\n+y", workspace="/w")  # fmt: skip
    assert await ask(request) == "always"
    shown = out.getvalue()
    assert "Allow files to run edit_file?" in shown and 'path: "a.py"' in shown
    assert "x" * 500 + '"' in shown, "shown in full"
    assert "preview (dry run):" in shown and "    +y" in shown and "Please answer y, n or a" in shown
    assert [parse_answer(a) for a in ("y", "YES", "n", "", "always", "huh")] == ["yes", "yes", "no", "no",
                                                                               "always", None]  # fmt: skip
    assert "wants to start the MCP server 'x'" in format_request(ApprovalRequest("server", "x", detail="cmd"))


def eof() -> str:
    raise EOFError


async def test_ctrl_d_at_the_question_is_no() -> None:
    ask = terminal_ask(io.StringIO(), read=eof)
    assert await ask(ApprovalRequest("tool", "files", "write_file")) == "no"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ws"
    root.mkdir()
    tag = new_tag()
    (root / ".tag").write_text(tag)
    yield root
    assert wait_gone(lambda: tagged(tag)) == []


def resolved(path: Path) -> Path:
    return path.resolve()


def options(ws: Path, store: ApprovalStore, **kw: Any) -> McpOptions:
    tag = (ws / ".tag").read_text()
    return McpOptions(workspace=ws, servers=[builtin("files", ws, tag)], store=store, **kw)


async def test_denied_call_is_reported_to_the_model(scripted: ScriptedServer, ws: Path, store: ApprovalStore) -> None:
    call = ("write_file", {"path": "hello.txt", "content": "hello\n"})
    scripted.script(tool_calls(call), text("I could not."), tool_calls(call), text("Done."), tool_calls(call),
                    text("Done again."))  # fmt: skip
    asker = Asker("no", "always")
    async with Assistant(base_url=scripted.base_url, model="m", history=False,
                         mcp=options(ws, store, ask=asker)) as bot:  # fmt: skip
        events = [e async for e in bot.stream("write hello.txt")]
        result = next(e for e in events if isinstance(e, ToolResult))
        assert result.is_error and result.content.startswith("Denied: the user said no.")
        assert not (ws / "hello.txt").exists()
        sent = scripted.requests[1]["messages"][-1]
        assert sent["role"] == "tool" and sent["content"].startswith("Denied:")
        assert asker.requests[0].preview is not None and "+hello" in asker.requests[0].preview
        assert await bot.ask("try again") == "Done."
        assert (ws / "hello.txt").read_text() == "hello\n"
        assert await bot.ask("once more") == "Done again."
    assert len(asker.requests) == 2, "'always' is not asked again"
    assert store.tool_allowed(str(resolved(ws)), "files", "write_file")


async def test_read_only_tools_run_without_asking(scripted: ScriptedServer, ws: Path, store: ApprovalStore) -> None:
    (ws / "a.txt").write_text("alpha\n")
    scripted.script(tool_calls(("read_file", {"path": "a.txt"})), text("It says alpha."))
    asker = Asker()
    async with Assistant(base_url=scripted.base_url, model="m", history=False,
                         mcp=options(ws, store, ask=asker)) as bot:  # fmt: skip
        assert await bot.ask("read a.txt") == "It says alpha."
    assert asker.requests == []
    assert scripted.requests[1]["messages"][-1]["content"] == "alpha"


def project_file(ws: Path) -> None:
    tag = (ws / ".tag").read_text()
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": {
        "command": sys.executable, "args": [str(MISBEHAVING), "--name", "proj"], "env": {TAG_VAR: tag}}}}))  # fmt: skip


async def test_project_servers_start_only_when_trusted(
    scripted: ScriptedServer, ws: Path, store: ApprovalStore
) -> None:
    project_file(ws)
    said: list[str] = []
    async with Assistant(base_url=scripted.base_url, model="m", history=False, on_status=said.append,
                         mcp=McpOptions(workspace=ws, store=store, yes=True)) as bot:  # fmt: skip
        assert bot.hub is None, "nothing but the untrusted project server was configured"
        assert "add" not in bot.tools.names()
    assert any("ignored: this folder is not trusted" in s for s in said), "--yes does not trust a folder"
    asker = Asker("always")
    async with Assistant(base_url=scripted.base_url, model="m", history=False,
                         mcp=McpOptions(workspace=ws, store=store, ask=asker)) as bot:  # fmt: skip
        assert "add" in bot.tools.names()
    assert asker.requests[0].kind == "folder" and "misbehaving.py" in asker.requests[0].detail
    async with Assistant(base_url=scripted.base_url, model="m", history=False,
                         mcp=McpOptions(workspace=ws, store=store)) as bot:  # fmt: skip
        assert "add" in bot.tools.names(), "trusted from now on in this workspace"


async def test_mcp_false_and_nothing_configured(scripted: ScriptedServer, tmp_path: Path) -> None:
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        assert bot.hub is None and bot.tools.names() == []
    async with Assistant(base_url=scripted.base_url, model="m", history=False,
                         mcp=McpOptions(workspace=tmp_path)) as bot:  # fmt: skip
        assert bot.hub is None, "no servers configured: no hub, no MCP import needed"
