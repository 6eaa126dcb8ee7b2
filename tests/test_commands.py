"""One command layer for both chats: the registry, its completion, and the plain REPL with every command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from types import SimpleNamespace

from assistant.cli.commands import EXIT, ChatSession, Command, Turn, plain_console
from assistant.cli.render import PlainRenderer
from assistant.cli.slash import builtin_commands
from tests.scripted_server import ScriptedServer, text


def _session() -> ChatSession:
    endpoint = SimpleNamespace(config=SimpleNamespace(logprobs=0), tracer=None, logprobs_with_tools=True)
    bot = SimpleNamespace(endpoint=endpoint, local_server=None, base_url="http://x/v1", model="m", last_report=None)
    return ChatSession(bot, plain_console(io.StringIO()), PlainRenderer(out=io.StringIO(), info=io.StringIO()))  # type: ignore[arg-type]


def _shown(session: ChatSession) -> str:
    out: str = session.console.file.getvalue()
    return out


def test_every_builtin_is_listed_once_and_aliases_resolve() -> None:
    registry = builtin_commands()
    names = registry.names()
    assert len(names) == len(set(names)) == 15
    assert registry.get("/quit") is registry.get("/exit") is not None
    assert registry.get("/CONTEXT") is registry.get("/context")


async def test_an_added_command_is_run_listed_and_completed() -> None:
    session = _session()
    seen: list[str] = []

    async def shout(s: ChatSession, arg: str) -> Turn:
        seen.append(arg)
        return Turn(arg.upper())

    session.commands.add(Command("/srv:shout", "say it loud", shout, complete=lambda s, a: ["loud", "louder"]))
    assert await session.commands.run(session, "/srv:shout hello") == Turn("HELLO") and seen == ["hello"]
    await session.commands.run(session, "/help")
    assert "/srv:shout" in _shown(session) and "say it loud" in _shown(session)
    assert [c for c, _, _ in session.commands.completions(session, "/srv")] == ["/srv:shout"]
    assert session.commands.completions(session, "/srv:shout lou") == [("loud", -3, ""), ("louder", -3, "")]
    assert [c for c, _, _ in session.commands.completions(session, "/context f")] == ["full"]
    assert session.commands.completions(session, "hello /c") == []


async def test_unknown_command_suggests_the_nearest_and_exit_is_exit() -> None:
    session = _session()
    assert await session.commands.run(session, "/contxt") is None
    assert "Unknown command /contxt. Did you mean /context?" in _shown(session)
    assert await session.commands.run(session, "/quit") is EXIT


async def test_markup_in_untrusted_text_is_shown_not_interpreted() -> None:
    session = _session()

    async def echo(s: ChatSession, arg: str) -> None:
        return None

    session.commands.add(Command("/x", "[red]not markup[/] \x1b[2J", echo))
    await session.commands.run(session, "/help")
    shown = _shown(session)
    assert "[red]not markup[/]" in shown and "\x1b" not in shown


def _plain_chat(server: ScriptedServer, lines: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "chat", "--plain", "--base-url", server.base_url, "-m", "m"],
        input="".join(line + "\n" for line in lines), capture_output=True, text=True, timeout=90,
        env={**os.environ, "TERM": "dumb"},
    )  # fmt: skip


def test_the_plain_chat_has_every_command(scripted: ScriptedServer) -> None:
    scripted.script(text("First answer."), text("Second answer."))
    lines = ["/help", "hello", "/context", "/tokens", "/retry", "/history", "/rag", "/sources", "/copy code",
             "/trace", "/nwe", "/quit"]  # fmt: skip
    proc = _plain_chat(scripted, lines)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "Traceback" not in err
    for name in builtin_commands().names():
        assert name in err  # /help lists all 15
    assert "First answer." in proc.stdout and "Second answer." in proc.stdout  # /retry sent it again
    assert "history (earlier turns)" in err and "Re-sent:" in err  # the same report as the terminal UI
    assert "logprobs are off for this endpoint" in err
    assert "The last answer has no code block." in err and "Trace is off." in err
    assert "Did you mean /new?" in err
    assert "1 request · " in err  # the per-turn stats line, as in the terminal UI
    assert [m["content"] for m in scripted.requests[1]["messages"][1:]] == ["hello"]  # /retry dropped the answer


def test_compact_in_the_chat_show_context_and_undo(scripted: ScriptedServer) -> None:
    scripted.script(text("One."), text("Two."), text("- The user is Zed; the box code is 4411."), text("Three."))
    lines = ["My name is Zed and the box code is 4411.", "second", "/compact --show names and codes", "third",
             "/context", "/compact --undo", "/compact --bogus"]  # fmt: skip
    proc = _plain_chat(scripted, lines)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    asked = scripted.requests[2]
    assert "tools" not in asked and "Pay particular attention to: names and codes" in asked["messages"][1]["content"]
    assert "Compacted 1 earlier turn(s) (2 messages" in err
    assert "The user is Zed; the box code is 4411." in err  # --show printed it
    sent = scripted.requests[3]["messages"]
    assert "- The user is Zed; the box code is 4411." in sent[1]["content"]
    assert [m["content"] for m in sent[3:]] == ["second", "Two.", "third"]
    assert "summary of earlier turns" in err and "1. My name is Zed and the box code is 4411." in err
    assert "Summary dropped" in err and "Usage: /compact" in err


def test_the_terminal_ui_runs_the_same_commands(scripted: ScriptedServer) -> None:
    import pexpect

    from tests.test_cli import spawn_chat, wait_prompt

    scripted.script(text("One."), text("Two."), text("- the user said one"))
    child = spawn_chat(scripted)
    for line in ("one", "two"):
        child.send(line + "\r")
        wait_prompt(child)
    child.send("/compact --show\r")
    child.expect("Compacted 1 earlier turn")
    child.expect("the user said one")
    wait_prompt(child)
    child.send("/compact --undo\r")
    child.expect("Summary dropped")
    wait_prompt(child)
    child.send("/exit\r")
    child.expect(pexpect.EOF)
