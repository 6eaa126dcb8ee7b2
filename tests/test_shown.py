"""A request that only asks to see a file is answered with the file as read (assistant/shown.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.events import Decision, TurnEnd
from assistant.shown import asks_for_listing, asks_to_see, fenced, shown_files, shown_listing
from tests.scripted_server import ScriptedServer
from tests.test_followup import folded
from tests.test_steps import call_json, code_tools, files_tools, grammar_agent, run

pytestmark = pytest.mark.usefixtures("close_endpoints")

TODO = "- buy milk\n- fix the percent bug\n"


@pytest.mark.parametrize(
    "request_",
    [
        "show me calc.py",
        "hey can u show me whats in tipcalc/__main__.py",
        "i forget where truncate lives - track it down and show me that file",
        "Find the file that defines slugify and show me all of it",
        "cat notes/todo.txt",
        "let me see the Makefile",
        "open README.md please",
        "show me the meeting notes",
        "Find where tip_amount is tested and show me that whole test file",
    ],
)
def test_requests_that_only_ask_to_see_a_file(request_: str) -> None:
    assert asks_to_see(request_)


@pytest.mark.parametrize(
    "request_",
    [
        "show me the function that works out the share",
        "show me calc.py and explain it",
        "Run make lint and show me the output",
        "What test files do we have? Then show me the one covering the bill splitting.",
        "show me where percent is used",
        "Change the currency to USD in settings.toml, then show me the file so I can check",
        "show me the test that failed",
        "cool, and show me the test for it",
        "show me how to read a json file in python",
        "what's in calc.py?",  # a question: the model answers it
        "show me the lines of calc.py that divide",
    ],
)
def test_requests_that_ask_more_than_to_see(request_: str) -> None:
    assert not asks_to_see(request_)


def test_a_file_read_whole_is_shown_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text(TODO)
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    read = ("read_file", {"path": "notes/todo.txt"}, TODO.rstrip("\n"))
    again = ("read_file", {"path": "./notes/todo.txt"}, TODO)
    shown = shown_files("show me my todo list", folded("show me my todo list", read, again), tmp_path)
    assert shown == f"`notes/todo.txt`:\n\n```text\n{TODO}```"  # read twice, shown once
    both = folded("show me calc.py", ("read_file", {"path": "calc.py"}, "def add(a, b):\n    return a + b"), read)
    shown = shown_files("show me calc.py", both, tmp_path)
    assert shown is not None and shown.startswith("`calc.py`:\n\n```python\ndef add(a, b):")
    assert shown.endswith("`notes/todo.txt`:\n\n```text\n- buy milk\n- fix the percent bug\n```")


def test_nothing_is_shown_that_is_not_the_file_as_it_is_now(tmp_path: Path) -> None:
    (tmp_path / "todo.txt").write_text(TODO)
    stale = folded("show me todo.txt", ("read_file", {"path": "todo.txt"}, "- buy bread"))
    assert shown_files("show me todo.txt", stale, tmp_path) is None  # changed since it was read
    part = folded("show me todo.txt", ("read_file", {"path": "todo.txt", "start_line": 2}, "- fix the percent bug"))
    assert shown_files("show me todo.txt", part, tmp_path) is None  # a range: the model says what it is
    missing = folded("show me nope.txt", ("read_file", {"path": "nope.txt"}, "error: no such file"))
    assert shown_files("show me nope.txt", missing, tmp_path) is None
    outside = folded("show me ../x", ("read_file", {"path": "../x"}, TODO))
    assert shown_files("show me ../x", outside, tmp_path) is None  # only files inside the workspace
    listed = folded("show me the notes", ("list_files", {"path": "."}, "todo.txt"))
    assert shown_files("show me the notes", listed, tmp_path) is None
    read = folded("explain todo.txt", ("read_file", {"path": "todo.txt"}, TODO))
    assert shown_files("explain todo.txt", read, tmp_path) is None
    assert shown_files("show me todo.txt", read, None) is None


def test_a_fence_is_longer_than_any_backtick_run_inside() -> None:
    assert fenced("a ``` b", "markdown") == "````markdown\na ``` b\n````"
    assert fenced("plain\n", "") == "```\nplain\n```"


async def test_the_agent_shows_the_file_without_asking_the_model_to_retell_it(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    """The 0.5B answered "show me ..." by copying its call label or summarising: the file is the answer."""
    (tmp_path / "todo.txt").write_text("- buy milk\n- fix the percent bug")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "todo.txt"}))
    events = await run(agent, "show me todo.txt")
    assert seen == ["todo.txt"]
    assert len(scripted.requests) == 1  # the call; no request for the answer
    decisions = [e for e in events if isinstance(e, Decision)]
    assert decisions[-1].choice == "answer" and "shown as it is" in decisions[-1].why
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.text == "`todo.txt`:\n\n```text\n- buy milk\n- fix the percent bug\n```"
    history = agent.conversation.messages[-1]
    assert history.role == "assistant" and history.content == end.text  # kept like any answer


@pytest.mark.parametrize(
    ("request_", "listing"),
    [
        ("Which files are in this project?", True),
        ("list everything under tipcalc/", True),
        ("ls", True),
        ("what files do we have in notes?", True),
        ("show me the project structure", True),
        ("which files are in tests and what do they do?", False),
        ("list the functions in calc.py", False),
        ("which files import calc", False),
        ("list the test files", False),  # not every file listed is one
        ("is there a docs folder?", False),  # a question: the model answers it
    ],
)
def test_requests_that_only_ask_for_a_listing(request_: str, listing: bool) -> None:
    assert asks_for_listing(request_) is listing


def test_a_listing_is_shown_as_listed_when_every_entry_is_there(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text(TODO)
    (tmp_path / "calc.py").write_text("")
    top = folded("which files are in this project?", ("list_files", {"path": "."}, "notes/\ncalc.py"))
    listed = "The workspace:\n\n```\nnotes/\ncalc.py\n```"
    assert shown_listing("which files are in this project?", top, tmp_path) == listed
    notes = folded("list notes", ("list_files", {"path": "notes"}, "todo.txt"))
    assert shown_listing("list notes", notes, tmp_path) == "`notes/`:\n\n```\ntodo.txt\n```"
    made_up = folded("list notes", ("list_files", {"path": "notes"}, "todo.txt\nsecret.txt"))
    assert shown_listing("list notes", made_up, tmp_path) is None  # an entry that is not there
    error = folded("list docs", ("list_files", {"path": "docs"}, "Error: 'docs' is not a folder in the workspace"))
    assert shown_listing("list docs", error, tmp_path) is None
    more = folded("list notes", ("list_files", {"path": "notes"}, "todo.txt"),
                  ("read_file", {"path": "notes/todo.txt"}, TODO))  # fmt: skip
    assert shown_listing("list notes", more, tmp_path) is None  # more than a listing: the model answers


async def test_the_agent_shows_a_listing_without_asking_the_model_to_retell_it(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    (tmp_path / "todo.txt").write_text(TODO)
    (tmp_path / "calc.py").write_text("")
    seen: list[str] = []
    agent = grammar_agent(scripted, files_tools(seen))  # its list_files returns "todo.txt\ncalc.py"
    agent.workspace = tmp_path
    scripted.script(call_json("list_files", {"path": "."}))
    events = await run(agent, "Which files are in this project?")
    assert seen == ["list:."] and len(scripted.requests) == 1
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.text == "The workspace:\n\n```\ntodo.txt\ncalc.py\n```"


async def test_a_package_name_inside_the_path_asks_for_nothing_more(scripted: ScriptedServer, tmp_path: Path) -> None:
    """"show me whats in tipcalc/__main__.py": `tipcalc` is also a name pyproject.toml defines, and the
    file read was not "all the request is about" until the path's words stopped counting as names."""
    (tmp_path / "tipcalc").mkdir()
    (tmp_path / "tipcalc" / "__main__.py").write_text("print('hi')\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "tipcalc"\n\n[project.scripts]\ntipcalc = "x:y"\n')
    seen: list[str] = []
    agent = grammar_agent(scripted, code_tools(tmp_path, seen))
    agent.workspace = tmp_path
    scripted.script(call_json("read_file", {"path": "tipcalc/__main__.py"}))
    events = await run(agent, "hey can u show me whats in tipcalc/__main__.py")
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.text.startswith("`tipcalc/__main__.py`:\n\n```python\n")
