"""`assistant tools add/list/rm`, and approval in the real `chat` (pexpect) and `ask` (--yes) commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from assistant.approval import ApprovalStore
from tests.mcp_helpers import MISBEHAVING, with_cmdline
from tests.scripted_server import ScriptedServer, text, tool_calls
from tests.sigint import default_sigint


def _spawn(*args, **kwargs):  # type: ignore[no-untyped-def]
    """pexpect.spawn with Ctrl-C working even when this run was started with SIGINT ignored."""
    return pexpect.spawn(*args, preexec_fn=default_sigint, **kwargs)


def run(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("alpha\n")
    return root


def no_servers_left(ws: Path) -> bool:
    return not with_cmdline(f"--root {ws.resolve()}")


def test_tools_add_list_rm(ws: Path) -> None:
    added = run("tools", "add", "odd", "--timeout", "30", "--", sys.executable, str(MISBEHAVING), "--name", "odd",
                cwd=ws)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert run("tools", "add", "gone", "--", "/no/such/server", cwd=ws).returncode == 0
    assert run("tools", "add", "web", "--url", "http://127.0.0.1:9/mcp", "-H", "Authorization: Bearer t",
               cwd=ws).returncode == 0  # fmt: skip
    cfg = Path(os.environ["XDG_CONFIG_HOME"]) / "assistant" / "mcp.json"
    servers = json.loads(cfg.read_text())["mcpServers"]
    assert servers["odd"] == {"command": sys.executable, "args": [str(MISBEHAVING), "--name", "odd"], "timeout": 30}
    assert servers["web"] == {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer t"}}

    listed = run("tools", "list", cwd=ws)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert "files  [in-process, built-in]  connected in" in out and "run  [in-process, built-in]  connected in" in out
    assert "    write_file         asks first" in out and "    list_files         runs freely" in out
    assert "    files__read_file   runs freely (on the server: read_file)" in out, "a collision, namespaced"
    assert "    odd__read_file     runs freely (on the server: read_file)" in out
    assert "gone  [stdio, " in out and "failed: command not found: /no/such/server" in out
    assert "web  [http, " in out and "failed: cannot connect to http://127.0.0.1:9/mcp" in out
    assert "bubblewrap sandbox" in out, "the run server says which isolation is in force"
    as_json = json.loads(run("tools", "list", "--json", cwd=ws).stdout)
    assert {s["name"]: s["state"] for s in as_json} == {"files": "connected", "run": "connected", "odd": "connected",
                                                       "gone": "failed", "web": "failed"}  # fmt: skip

    assert run("tools", "rm", "odd", cwd=ws).returncode == 0
    assert "odd" not in json.loads(cfg.read_text())["mcpServers"]
    missing = run("tools", "rm", "odd", cwd=ws)
    assert missing.returncode == 1 and "no server 'odd'" in missing.stderr
    builtin = run("tools", "rm", "files", cwd=ws)
    assert builtin.returncode == 1 and '"disabled": true' in builtin.stderr
    assert no_servers_left(ws)


def test_tools_add_project_is_trusted(ws: Path) -> None:
    assert run("tools", "add", "proj", "--project", "--", sys.executable, str(MISBEHAVING), cwd=ws).returncode == 0
    assert "proj" in json.loads((ws / ".mcp.json").read_text())["mcpServers"]
    listed = run("tools", "list", cwd=ws).stdout
    assert "proj  [stdio, " in listed and "connected" in listed.split("proj  [stdio, ")[1].splitlines()[0]
    assert run("tools", "rm", "proj", "--project", cwd=ws).returncode == 0


def test_untrusted_project_server_is_not_started_by_list(ws: Path) -> None:
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"evil": {"command": "touch", "args": ["pwned"]}}}))
    listed = run("tools", "list", cwd=ws)
    assert "evil" not in listed.stdout and "not trusted" in listed.stderr
    assert not (ws / "pwned").exists()


def spawn_chat(server: ScriptedServer, ws: Path, *extra: str) -> pexpect.spawn:
    child = _spawn(sys.executable, ["-m", "assistant", "chat", "--base-url", server.base_url, "-m", "m",
                                           *extra], cwd=str(ws), encoding="utf-8", timeout=30,
                          env={**os.environ, "TERM": "dumb"})  # fmt: skip
    child.expect("you> ")
    return child


def test_chat_asks_before_writing(scripted: ScriptedServer, ws: Path) -> None:
    call = ("write_file", {"path": "hello.txt", "content": "hello\n"})
    scripted.script(tool_calls(call), text("Not written."), tool_calls(call), text("Written."), tool_calls(call),
                    text("Written again."))  # fmt: skip
    child = spawn_chat(scripted, ws)
    child.sendline("write hello.txt")
    child.expect("Allow files to run write_file\\?")
    child.expect("preview \\(dry run\\):")
    child.expect("\\+hello")
    child.expect("\\[y\\]es, \\[n\\]o, \\[a\\]lways allow write_file in")
    child.sendline("n")
    child.expect("Not written.")
    child.expect("you> ")
    assert not (ws / "hello.txt").exists()
    child.sendline("please")
    child.expect("Allow files to run write_file\\?")
    child.sendline("a")
    child.expect("Written.")
    child.expect("you> ")
    assert (ws / "hello.txt").read_text() == "hello\n"
    child.sendline("again")
    child.expect("Written again.")
    child.expect("you> ")
    assert "Allow files" not in (child.before or ""), "'always' is remembered"
    child.sendline("/tools")
    child.expect("files  \\[in-process, built-in\\]  connected")
    child.expect("run_command +asks first")
    child.expect("current_time")
    child.expect("you> ")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert scripted.requests[1]["messages"][-1]["content"].startswith("Denied: the user said no.")
    assert ApprovalStore().tool_allowed(str(ws.resolve()), "files", "write_file")
    assert no_servers_left(ws)


@pytest.mark.parametrize("ui", ["terminal UI", "--plain"])
def test_ctrl_c_at_the_question_interrupts_the_turn(scripted: ScriptedServer, ws: Path, ui: str) -> None:
    scripted.script(tool_calls(("run_command", {"command": "echo hi"})), text("Still here."))
    child = spawn_chat(scripted, ws, *([ui] if ui.startswith("--") else []))
    child.sendline("run something")
    child.expect("Allow run to run run_command\\?")
    child.expect("\\[a\\]lways allow run_command in")
    child.sendintr()
    child.expect("interrupted")
    child.expect("you> ")
    child.sendline("hello?")
    child.expect("Still here.")
    child.expect("you> ")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    history = scripted.requests[1]["messages"]
    assert [m["role"] for m in history[1:]] == ["user", "assistant", "tool", "user"]
    assert history[-2]["content"] == "Error: cancelled by the user."


def test_ask_denies_without_a_terminal_and_yes_approves(scripted: ScriptedServer, ws: Path) -> None:
    call = ("edit_file", {"path": "notes.txt", "old_text": "alpha", "new_text": "beta"})
    scripted.script(tool_calls(call), text("Could not edit."), tool_calls(call), text("Edited."))
    denied = run("ask", "edit it", "--base-url", scripted.base_url, "-m", "m", cwd=ws)
    assert denied.returncode == 0, denied.stderr
    assert denied.stdout == "Could not edit.\n" and "nobody could be asked" in denied.stderr
    assert (ws / "notes.txt").read_text() == "alpha\n"
    approved = run("ask", "edit it", "--base-url", scripted.base_url, "-m", "m", "--yes", cwd=ws)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == "Edited.\n" and (ws / "notes.txt").read_text() == "beta\n"
    assert "+beta" in scripted.requests[3]["messages"][-1]["content"], "the diff went back to the model"
    assert no_servers_left(ws)


def test_ask_no_tools_starts_no_server(scripted: ScriptedServer, ws: Path) -> None:
    scripted.script(text("Hi."))
    proc = run("ask", "hi", "--no-tools", "--base-url", scripted.base_url, "-m", "m", cwd=ws)
    assert proc.returncode == 0 and proc.stdout == "Hi.\n"
    assert "tools" not in scripted.requests[0]
