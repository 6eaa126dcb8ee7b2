"""End to end (slow): the bundled 0.5B model as an agent, with the grammar profile it gets by default.

One local llama-server for the module (the profile, the grammar and the built-in tools are the
ones `assistant ask` uses); each test works in its own small project folder. A two-step change
(read, then edit) is asserted here; longer chains are measured, not asserted
(benchmarks/bench_tooluse.py --set chains), and their mechanics tested with the scripted server
(tests/test_steps.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from assistant import Assistant
from assistant.events import Decision, ToolCallReady, ToolResult, TurnEnd
from assistant.toolhub import McpOptions

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(shared_local_data: Path) -> AsyncIterator[Any]:
    from assistant.local.server import open_local_server

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_DATA_DIR", str(shared_local_data))
        async with open_local_server(reuse=False, ctx=8192) as srv:
            yield srv


def project(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    (ws / "notes").mkdir(parents=True)
    (ws / "notes" / "todo.txt").write_text("- call the plumber on Tuesday\n- renew the passport\n")
    (ws / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (ws / "README.md").write_text("# calc\nA tiny calculator.\n")
    return ws


async def turn(server: Any, ws: Path, request: str, max_steps: int = 6) -> list[Any]:
    from assistant.config import load_settings

    settings = load_settings({"base_url": server.base_url, "model": server.model, "tool_calls": "grammar",
                              "api_key": server.api_key,
                              "temperature": 0.0, "max_tokens": 200, "max_steps": max_steps})  # fmt: skip
    options = McpOptions(workspace=ws, builtin=("files", "run"), yes=True)
    async with Assistant(settings=settings, history=False, mcp=options, retrieval="off") as bot:
        assert bot.profile is not None and bot.profile.tool_calls == "grammar"
        return [e async for e in bot.stream(request)]


async def test_a_request_that_needs_a_file_is_answered_from_it(server: Any, tmp_path: Path) -> None:
    ws = project(tmp_path)
    events = await turn(server, ws, "What's on my todo list?")
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert calls and calls[0].name == "read_file", calls
    assert json.loads(calls[0].arguments)["path"] == "notes/todo.txt"  # the real path, not an invented one
    results = [e for e in events if isinstance(e, ToolResult)]
    assert "plumber" in results[0].content and not results[0].is_error
    end = events[-1]
    assert isinstance(end, TurnEnd) and ("plumber" in end.text.lower() or "passport" in end.text.lower()), end


async def test_a_request_that_needs_no_file_calls_nothing(server: Any, tmp_path: Path) -> None:
    events = await turn(server, project(tmp_path), "Write a Python function that reverses a string.")
    assert not [e for e in events if isinstance(e, ToolCallReady)]
    assert [e.choice for e in events if isinstance(e, Decision)] == ["answer"]
    assert isinstance(events[-1], TurnEnd) and "def " in events[-1].text


async def test_a_greeting_calls_nothing(server: Any, tmp_path: Path) -> None:
    events = await turn(server, project(tmp_path), "hi there!")
    assert not [e for e in events if isinstance(e, ToolCallReady)]
    assert [e.choice for e in events if isinstance(e, Decision)] == ["answer"]
    assert isinstance(events[-1], TurnEnd) and events[-1].text.strip()


async def test_a_change_is_two_steps_read_then_edit(server: Any, tmp_path: Path) -> None:
    ws = project(tmp_path)
    (ws / "settings.toml").write_text('[defaults]\ntip_percent = 18\ncurrency = "EUR"\nshow_total = true\n')
    events = await turn(server, ws, "Change the currency in settings.toml to USD")
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [c.name for c in calls[:2]] == ["read_file", "edit_file"], calls  # read first, then the edit
    edit = json.loads(calls[1].arguments)
    assert edit["path"] == "settings.toml" and edit["old_text"] == 'currency = "EUR"'
    text = (ws / "settings.toml").read_text()
    assert "USD" in text and "tip_percent = 18\n" in text and "show_total = true" in text, text
    assert isinstance(events[-1], TurnEnd)


async def test_a_failing_test_is_run_read_fixed_and_run_again(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four steps in one turn: the run, the source the failure calls, an edit of its body, the same run."""
    import os
    import sys

    # a developer's shell with the project's virtualenv active: `python` has pytest
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    ws = project(tmp_path)
    (ws / "calc.py").write_text("def percent(part, whole):\n    return part / whole * 10\n")
    (ws / "tests").mkdir()
    (ws / "tests" / "test_calc.py").write_text("from calc import percent\n\n\ndef test_percent():\n"
                                               "    assert percent(1, 4) == 25.0\n")  # fmt: skip
    events = await turn(server, ws, "Run the tests, then fix whatever is failing: percent should multiply by 100",
                        max_steps=8)  # fmt: skip
    calls = [(e.call.name, json.loads(e.call.arguments)) for e in events if isinstance(e, ToolCallReady)]
    names = [name for name, _ in calls]
    assert names[:4] == ["run_command", "read_file", "edit_file", "run_command"], calls
    assert calls[1][1]["path"] == "calc.py"  # named by no one: `percent(1, 4)` in the failure is defined there
    # the call picks the line; the new code is written in words, as the whole function holding it
    assert calls[2][1]["path"] == "calc.py" and "    return part / whole * 10" in calls[2][1]["old_text"]
    assert calls[3][1]["command"] == calls[0][1]["command"]  # the same run, to check the fix
    fixed = (ws / "calc.py").read_text()
    assert "def percent(part, whole):" in fixed and "* 100" in fixed, fixed  # the signature kept, the bug fixed
    assert isinstance(events[-1], TurnEnd)


async def test_a_fix_written_back_unchanged_is_not_made_and_the_answer_says_so(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Told only "fix whatever is failing", the 0.5B writes percent back as it was: no edit is made,
    the tests are not run again as if fixed, and the turn says the model wrote no usable change."""
    import os
    import sys

    from assistant.events import Notice

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    ws = project(tmp_path)
    source = "def percent(part, whole):\n    return part / whole * 10\n"
    (ws / "calc.py").write_text(source)
    (ws / "tests").mkdir()
    (ws / "tests" / "test_calc.py").write_text("from calc import percent\n\n\ndef test_percent():\n"
                                               "    assert percent(1, 4) == 25.0\n")  # fmt: skip
    events = await turn(server, ws, "Run the tests, then fix whatever is failing", max_steps=8)
    names = [e.call.name for e in events if isinstance(e, ToolCallReady)]
    assert names[:2] == ["run_command", "read_file"]
    if "edit_file" in names:  # a model that writes a change: it is a real one
        assert (ws / "calc.py").read_text() != source
    else:
        assert (ws / "calc.py").read_text() == source and names.count("run_command") == 1
        assert any("wrote no usable change for calc.py" in e.message for e in events if isinstance(e, Notice))
    assert isinstance(events[-1], TurnEnd)


async def test_a_file_found_by_a_search_is_shown(server: Any, tmp_path: Path) -> None:
    ws = project(tmp_path)
    (ws / "textutils.py").write_text("def slugify(text):\n    return '-'.join(text.lower().split())\n")
    events = await turn(server, ws, "Find the file that defines slugify and show me all of it")
    calls = [(e.call.name, json.loads(e.call.arguments)) for e in events if isinstance(e, ToolCallReady)]
    assert ("read_file", {"path": "textutils.py"}) in calls, calls
    assert not [c for c in calls if c[0] in ("edit_file", "write_file")]
    assert isinstance(events[-1], TurnEnd)


async def test_a_search_request_searches_for_the_name_it_gives(server: Any, tmp_path: Path) -> None:
    ws = project(tmp_path)
    (ws / "tests").mkdir()
    (ws / "tests" / "test_calc.py").write_text("import pytest\nfrom calc import add\n\n\ndef test_add_str():\n"
                                               "    with pytest.raises(TypeError):\n        add(1, 'a')\n")  # fmt: skip
    events = await turn(server, ws, "Which tests use pytest.raises?")
    calls = [(e.call.name, json.loads(e.call.arguments)) for e in events if isinstance(e, ToolCallReady)]
    assert calls and calls[0][0] == "grep" and calls[0][1]["pattern"] == "pytest.raises", calls
    results = [e for e in events if isinstance(e, ToolResult)]
    assert "tests/test_calc.py" in results[0].content
    end = events[-1]
    assert isinstance(end, TurnEnd) and ("test_calc" in end.text or "test_add_str" in end.text), end


async def test_a_named_file_is_read_not_run_and_a_sum_calls_nothing(server: Any, tmp_path: Path) -> None:
    ws = project(tmp_path)
    (ws / "Makefile").write_text("test:\n\tpython -m pytest -q\n\nclean:\n\trm -rf build dist\n")
    events = await turn(server, ws, "Explain the clean target in my Makefile")
    calls = [(e.call.name, json.loads(e.call.arguments)) for e in events if isinstance(e, ToolCallReady)]
    assert calls and calls[0] == ("read_file", {"path": "Makefile"}), calls  # the 0.5B alone ran the tests
    events = await turn(server, ws, "What is 17 times 23?")
    assert not [e for e in events if isinstance(e, ToolCallReady)]
    assert isinstance(events[-1], TurnEnd) and events[-1].text.strip()
