"""Edits of notes, lists, settings and Makefiles written in words after worked examples (assistant/linewords.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.linewords import ADD_SHOTS, CHANGE_SHOTS, exchange, parses, usable
from tests.scripted_server import ScriptedServer, text
from tests.test_steps import call_json, code_tools, grammar_agent, run

pytestmark = pytest.mark.usefixtures("close_endpoints")

TODO = "- support splitting by item\n- add a --currency flag\n- write docs\n"


def todo_agent(scripted: ScriptedServer, tmp_path: Any, seen: list[str]) -> tuple[Any, str]:
    """A grammar agent over a workspace with notes/todo.txt, and the line its edits pick."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text(TODO)
    agent = grammar_agent(scripted, code_tools(tmp_path, seen))
    agent.workspace = tmp_path
    return agent, "- add a --currency flag"


def test_the_exchange_is_worked_examples_then_this_edit() -> None:
    messages = exchange("notes/todo.txt", "- add a --currency flag", "mark it with (luis)", adding=False)
    roles = [m["role"] for m in messages]
    assert roles == ["system", *["user", "assistant"] * len(CHANGE_SHOTS), "user"]
    assert messages[-1]["content"] == "File: notes/todo.txt\nLine: - add a --currency flag\nAsked: mark it with (luis)"
    added = exchange(".gitignore", "build/", "ignore egg-info folders too", adding=True)
    assert len(added) == 2 + 2 * len(ADD_SHOTS) and "After the line: build/" in added[-1]["content"]
    assert "add lines" in added[0]["content"] and "change one line" in messages[0]["content"]


def test_a_reply_that_changes_nothing_or_cannot_be_right_is_not_used() -> None:
    line = "- add a --currency flag"
    marked = "- add a --currency flag (luis)"
    assert usable(marked, line, "todo.txt", TODO, adding=False) == marked
    assert usable("```\n- add a --currency flag (luis)\n```", line, "todo.txt", TODO, adding=False) == (
        "- add a --currency flag (luis)"
    )
    assert usable(line, line, "todo.txt", TODO, adding=False) is None  # the line back
    assert usable("  ", line, "todo.txt", TODO, adding=False) is None
    assert usable("File: todo.txt\nLine: x", line, "todo.txt", TODO, adding=False) is None  # the layout echoed
    assert usable("- add --currency flag - " + "0" * 40, line, "todo.txt", TODO, adding=False) is None
    assert usable("x" * 500, line, "todo.txt", TODO, adding=False) is None
    # the request written back as the new line ("get git to ignore it please" added to .gitignore: t11-027)
    asked = "ruff keeps leaving its cache folder around, get git to ignore it please"
    assert usable(asked, "__pycache__/", ".gitignore", "__pycache__/\n", adding=True, asked=asked) is None
    assert usable(".ruff_cache/", "__pycache__/", ".gitignore", "__pycache__/\n", adding=True, asked=asked) == (
        ".ruff_cache/"
    )
    # lines added that the file has already are not added again; nothing new left: None
    assert usable("- write docs\n- ship it", "- write docs", "todo.txt", TODO, adding=True) == "- ship it"
    assert usable("- write docs", "- write docs", "todo.txt", TODO, adding=True) is None


def test_a_makefile_recipe_keeps_its_tab_and_settings_must_still_parse() -> None:
    make = "lint:\n\truff check .\n"
    got = usable("\truff check .\n    ruff format --check .", "\truff check .", "Makefile", make, adding=False)
    assert got == "\truff check .\n\truff format --check ."
    toml = '[project]\nname = "tipcalc"\nversion = "0.3.1"\n'
    good = 'keywords = ["tips", "bills"]'
    assert usable(good, 'version = "0.3.1"', "pyproject.toml", toml, adding=True) == good
    assert usable("keywords = [tips, bills]", 'version = "0.3.1"', "pyproject.toml", toml, adding=True) is None
    assert usable('name = "other"', 'version = "0.3.1"', "pyproject.toml", toml, adding=True) is None  # a key twice
    assert parses("a.json", '{"a": 1}') and not parses("a.json", "{a: 1}") and parses("notes.md", "{")


async def test_a_note_is_changed_in_words_not_inside_the_call(scripted: ScriptedServer, tmp_path: Any) -> None:
    """Writing inside the call's JSON, the 0.5B marked a todo item as "- add --currency flag - 1000...":
    the call picks the line, and the new text is asked for after worked examples."""
    from assistant.grounding import REWRITE

    seen: list[str] = []
    agent, line = todo_agent(scripted, tmp_path, seen)
    scripted.script(
        call_json("read_file", {"path": "notes/todo.txt"}),
        call_json("edit_file", {"path": "notes/todo.txt", "old_text": line, "new_text": REWRITE}),
        text(f"{line} (luis)"),
        text("Marked."),
    )
    events = await run(agent, "luis is on the currency flag, mark that todo item with (luis)")
    assert seen == ["read:notes/todo.txt", f"edit:{line}->{line} (luis)"]
    assert REWRITE in scripted.requests[1]["grammar"] and line in scripted.requests[1]["grammar"]
    worded = scripted.requests[2]
    assert "grammar" not in worded and worded["messages"][-1]["content"].startswith("File: notes/todo.txt\nLine: ")
    assert "mark that todo item with (luis)" in worded["messages"][-1]["content"]
    assert events[-1].text == "Marked."


async def test_lines_added_to_a_note_are_written_in_words_after_the_line_picked(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    from assistant.grounding import ADD_CODE

    (tmp_path / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    seen: list[str] = []
    agent = grammar_agent(scripted, code_tools(tmp_path, seen))
    agent.workspace = tmp_path
    last = ".pytest_cache/"
    scripted.script(
        call_json("read_file", {"path": ".gitignore"}),
        call_json("edit_file", {"path": ".gitignore", "old_text": last, "new_text": ADD_CODE}),
        text("*.egg-info/"),
        text("Added."),
    )
    await run(agent, "add egg-info folders to the gitignore")
    assert seen == ["read:.gitignore", f"edit:{last}->{last}\n*.egg-info/"]
    assert "After the line: .pytest_cache/" in json.dumps(scripted.requests[2]["messages"])


async def test_no_usable_text_twice_means_no_edit_and_the_answer_says_so(
    scripted: ScriptedServer, tmp_path: Any
) -> None:
    """The same line back (greedy, then sampled once): nothing is edited (an edit that changes nothing
    would read as done), a line says so, and the answer is asked for with that said."""
    from assistant.events import Notice
    from assistant.grounding import REWRITE
    from assistant.steps import NO_EDIT

    seen: list[str] = []
    agent, line = todo_agent(scripted, tmp_path, seen)
    scripted.script(
        call_json("read_file", {"path": "notes/todo.txt"}),
        call_json("edit_file", {"path": "notes/todo.txt", "old_text": line, "new_text": REWRITE}),
        text(line),
        text(f"```\n{line}\n```"),
        text("I would add (luis) to that item."),
    )
    events = await run(agent, "luis is on the currency flag, mark that todo item with (luis)")
    assert seen == ["read:notes/todo.txt"]  # no edit
    assert any(isinstance(e, Notice) and "left as it was" in e.message for e in events)
    assert scripted.requests[3]["temperature"] == 0.7 and scripted.requests[3]["seed"] == 1  # the sampled try
    assert scripted.requests[4]["messages"][-1]["content"].endswith(NO_EDIT)
    assert events[-1].text == "I would add (luis) to that item."


def test_a_new_make_target_goes_after_the_whole_rule_with_tabs() -> None:
    """ "add an install target that does pip install -e .": the 0.5B anchored it on "test:" and wrote
    "ok\\ninstall:\\npip install -e ." (the request's "ok", no tab): between test: and its recipe."""
    from assistant.linewords import LEAD, _after_recipe

    make = "test:\n\tpython -m pytest -q tests\n\nlint:\n\truff check .\n"
    new = usable("install:\npip install -e .", "test:", "Makefile", make, adding=True)
    assert new == "install:\n\tpip install -e ."
    moved = _after_recipe({"path": "Makefile", "old_text": "test:", "new_text": f"test:\n{new}"}, make)
    assert moved["old_text"] == "test:\n\tpython -m pytest -q tests"
    after = make.replace(moved["old_text"], moved["new_text"], 1)
    assert after.startswith("test:\n\tpython -m pytest -q tests\n\ninstall:\n\tpip install -e .\n\nlint:")
    # a recipe line added to a rule stays in it
    assert (
        usable("  ruff format --check .", "\truff check .", "Makefile", make, adding=True) == "\truff format --check ."
    )
    assert LEAD.sub("", "ok, also add an install target") == "add an install target"


async def test_a_changed_copy_of_the_line_replaces_it_unless_adding_was_asked(tmp_path: Any) -> None:
    """ "make the copyright year a range": the 0.5B wrote the line with 2024-2025 under the one with
    2024 (t12-021)."""
    from assistant.linewords import worded_edit
    from tests.test_steps import CodeReplies

    line = "Copyright (c) 2024 Dana Whitfield"
    (tmp_path / "LICENSE").write_text(f"MIT License\n\n{line}\n")
    args = json.dumps({"path": "LICENSE", "old_text": line, "new_text": "x"})
    ranged = "Copyright (c) 2024-2025 Dana Whitfield"
    for asked, want in (("make the copyright year a range", ranged),
                        ("add a copyright line for 2025 too", f"{line}\n{ranged}")):  # fmt: skip
        messages = [{"role": "user", "content": asked}]
        done = await worded_edit(CodeReplies(ranged), tmp_path, messages, args, {}, adding=True)
        assert done is not None and json.loads(done)["new_text"] == want, asked


def test_the_request_written_back_with_a_word_left_out_is_no_new_line() -> None:
    asked = "priya was at the may meeting as well, add her to the list of who was there"
    echo = "priya was at the may meeting, add her to the list of who was there"
    notes = "Present: Dana, Luis\n- Decision: keep 18.\n"
    assert usable(echo, "- Decision: keep 18.", "notes.md", notes, adding=True, asked=asked) is None
    assert usable("Present: Dana, Luis, Priya", "Present: Dana, Luis", "notes.md", notes, adding=False,
                  asked=asked) == "Present: Dana, Luis, Priya"  # fmt: skip


def test_a_kept_line_with_a_changed_copy_under_it_becomes_the_copy_unless_adding_was_asked() -> None:
    from assistant.linewords import replaced_copy

    line, ranged = "Copyright (c) 2024 Dana Whitfield", "Copyright (c) 2024-2025 Dana Whitfield"
    call = json.dumps({"path": "LICENSE", "old_text": line, "new_text": f"{line}\n{ranged}"})
    assert json.loads(replaced_copy(call, "make the copyright year a range"))["new_text"] == ranged
    assert replaced_copy(call, "add a second copyright line for 2025") == call
    other = json.dumps({"path": "todo.txt", "old_text": "- a flag", "new_text": "- a flag\n- write the docs"})
    assert replaced_copy(other, "put docs on the list") == other  # a new line, not a copy
