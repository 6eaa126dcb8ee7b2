"""Finding 5: untrusted text never reaches the terminal with live control characters."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from assistant.cli.render import JsonRenderer, PlainRenderer
from assistant.cli.stream_render import RichRenderer
from assistant.events import Notice, StreamError, TextDelta, ToolCall, ToolCallReady, ToolResult, TurnEnd
from assistant.history import History, Message
from assistant.termsafe import visible
from tests.scripted_server import ScriptedServer, text, tool_calls
from tests.security.conftest import run_cli

INJECTIONS = {
    "osc52-clipboard": "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "clear-screen": "\x1b[2J\x1b[3J\x1b[H",
    "title": "\x1b]0;pwned\x07",
    "cursor-move": "\x1b[10A\x1b[2K",
    "c1-csi": "\x9b31m",
    "carriage-return": "safe\rEVIL",
    "bell-backspace": "\x07\x08\x08",
    "bidi": "\u202egnp.exe",
    "hyperlink": "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
}
RAW = ("\x1b", "\x9b", "\x07", "\x08", "\u202e", "\r")


def clean(shown: str) -> bool:
    return not any(ch in shown for ch in RAW)


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_visible_makes_every_control_character_printable(name: str) -> None:
    shown = visible("before " + INJECTIONS[name] + " after")
    assert clean(shown) and shown.startswith("before ") and shown.endswith(" after")
    assert visible("line one\n\tline two\r\n") == "line one\n\tline two\n", "newlines and tabs stay"


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_plain_renderer_shows_model_text_and_tool_results_visibly(name: str) -> None:
    out, info = io.StringIO(), io.StringIO()
    renderer = PlainRenderer(out=out, info=info)
    payload = INJECTIONS[name]
    call = ToolCall("c1", "read" + payload, json.dumps({"path": payload}))
    for event in (TextDelta("answer " + payload), ToolCallReady(call), ToolResult(call, payload, False, 0.1),
                  Notice("warning", payload), StreamError(payload, ""), TurnEnd("", 1, "stop")):  # fmt: skip
        renderer.handle(event)
    assert clean(out.getvalue()) and clean(info.getvalue())


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_json_output_escapes_every_control_character(name: str) -> None:
    out = io.StringIO()
    JsonRenderer(out).handle(TextDelta(INJECTIONS[name]))
    assert clean(out.getvalue()) and json.loads(out.getvalue())["text"] == INJECTIONS[name]


@pytest.mark.parametrize("name", ["osc52-clipboard", "clear-screen", "title", "c1-csi", "bidi"])
def test_chat_renderer_shows_them_visibly(name: str) -> None:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system="truecolor")
    renderer = RichRenderer(console)
    renderer.start_turn()
    payload = INJECTIONS[name]
    call = ToolCall("c1", "read_file", json.dumps({"path": payload}))
    for event in (TextDelta(f"Here:\n\n```\n{payload}\n```\n\ntext {payload}\n"), ToolCallReady(call),
                  ToolResult(call, payload, False, 0.1), TurnEnd("", 1, "stop")):  # fmt: skip
        renderer.handle(event)
    renderer.finish_text()
    shown = buffer.getvalue()
    assert "\x1b]52" not in shown and "\x1b[2J" not in shown and "\x1b]0;" not in shown
    assert "\x9b" not in shown and "\u202e" not in shown


def test_ask_prints_model_output_visibly(scripted: ScriptedServer, ws: Path) -> None:
    payload = "".join(INJECTIONS.values())
    scripted.script(text("Answer: " + payload))
    done = run_cli("ask", "--no-tools", "--base-url", scripted.base_url, "-m", "m", "hi", cwd=ws)
    assert done.returncode == 0, done.stderr
    shown = done.stdout.decode()
    assert "Answer: " in shown and clean(shown) and "^[]52;c;" in shown


def test_ask_shows_a_hostile_file_read_by_the_model_visibly(scripted: ScriptedServer, ws: Path) -> None:
    (ws / "README.md").write_text("hello " + INJECTIONS["osc52-clipboard"] + INJECTIONS["clear-screen"])
    scripted.script(tool_calls(("read_file", {"path": "README.md"})), text("done"))
    done = run_cli("ask", "--base-url", scripted.base_url, "-m", "m", "read it", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert clean(done.stderr.decode()) and clean(done.stdout.decode())
    assert "hello ^[]52" in done.stderr.decode()


def test_history_list_and_show_print_stored_text_visibly(ws: Path) -> None:
    payload = INJECTIONS["osc52-clipboard"] + INJECTIONS["title"]
    with History() as store:
        cid = store.create(title="title " + payload)
        store.append(cid, Message(role="user", content="question " + payload))
        store.append(cid, Message(role="assistant", content="answer " + payload))
    listed = run_cli("history", "list", cwd=ws)
    shown = run_cli("history", "show", cid, cwd=ws)
    assert listed.returncode == 0 and shown.returncode == 0
    assert clean(listed.stdout.decode()) and clean(shown.stdout.decode())
    assert "answer ^[]52" in shown.stdout.decode()
