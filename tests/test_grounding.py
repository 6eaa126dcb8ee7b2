"""Which requests talk about the workspace: names of its files, folders and definitions, pointers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.grounding import WorkspaceNames
from assistant.toolprompt import workspace_paths


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "notes").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg").mkdir()
    (root / "calc.py").write_text("def percent(part, whole):\n    return part / whole\n\nclass Ledger:\n    pass\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "split.py").write_text("async def split_bill(total, people):\n    return total / people\n")
    (root / "settings.toml").write_text("[defaults]\ncurrency = 'EUR'\nshow_total = true\nname = 'x'\n")
    (root / "Makefile").write_text("test:\n\tpytest -q\nclean:\n\trm -rf build\n")
    (root / "notes" / "todo.txt").write_text("- a\n")
    (root / "CHANGELOG.md").write_text("# 0.1\n")
    (root / "tests" / "test_calc.py").write_text("def test_percent():\n    assert True\n")
    return root


def names(ws: Path, text: str, after_tools: bool = False) -> str:
    return WorkspaceNames().ground(text, ws, workspace_paths(ws), after_tools=after_tools).describe()


@pytest.mark.parametrize(("text", "expected"), [
    ("Show me calc.py", "calc.py"),
    ("what's on my todo list?", "notes/todo.txt"),
    ("Explain the clean target in my Makefile", "Makefile"),
    ("What does the changelog say about 0.1?", "CHANGELOG.md"),
    ("open pkg/split.py", "pkg/split.py"),
    ("What's in the notes folder?", "notes/"),
    ("How does split_bill handle zero people?", "split_bill"),
    ("where is Ledger used", "Ledger"),
    ("Turn off show_total", "show_total"),
    ("what does percent() return", "percent"),
    ("What does test_calc.py check?", "tests/test_calc.py"),
    ("What currency is configured?", "currency"),
])  # fmt: skip
def test_mentions_of_workspace_names(ws: Path, text: str, expected: str) -> None:
    assert expected in names(ws, text)


@pytest.mark.parametrize("text", [
    "What is the capital of France?",
    "Write a function that reverses a string",
    "Explain what a Makefile is in one sentence.",  # a kind of file, not this one
    "What is the default name for a main module?",  # common words the workspace happens to define
    "Here is a function, can you explain recursion?",
    "What does that mean?",
    "What is 17 times 23?",
    "Write tests for a function that adds two numbers",  # "tests" is a word before it is a folder
    "ELI5: what does a currency symbol look like in unicode?",  # a kind of thing, not the setting
])  # fmt: skip
def test_no_mention(ws: Path, text: str) -> None:
    assert names(ws, text) == ""


def test_pointers_at_the_workspace(ws: Path) -> None:
    assert "this project" in names(ws, "what version is this project at")
    assert "here" in names(ws, "Are there any markdown files here?")
    assert names(ws, "Run the test suite") != ""
    assert "where do we" in names(ws, "Where do we raise ValueError?")
    assert "which file" in names(ws, "In which file is the version set?")


def test_follow_up_instructions_only_after_a_tool_result(ws: Path) -> None:
    assert names(ws, "Make it 15") == ""
    assert "it" in names(ws, "Make it 15", after_tools=True)
    assert names(ws, "change the currency there to GBP", after_tools=True) != ""
    assert names(ws, "what does that mean?", after_tools=True) == ""  # a question: answered from the context


def test_definitions_are_rescanned_when_a_file_changes(ws: Path) -> None:
    finder = WorkspaceNames()
    assert finder.ground("where is tally_up", ws, workspace_paths(ws)).describe() == ""
    (ws / "calc.py").write_text("def tally_up(xs):\n    return sum(xs)\n# grown\n")
    assert "tally_up" in finder.ground("where is tally_up", ws, workspace_paths(ws)).describe()


def test_hostile_files_are_not_followed(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def secret_function():\n    pass\n")
    (ws / "link.py").symlink_to(outside)
    assert names(ws, "where is secret_function") == ""  # a symlink out of the workspace is not read


def test_read_paths_from_folded_and_native_calls() -> None:
    from assistant.grounding import read_paths

    result = '[The tool call files__read_file({"path": "./calc.py"}) returned:]'
    folded = {"role": "user", "content": f"fix it\n\n{result}\n1 x"}
    native = {"role": "assistant",
              "tool_calls": [{"function": {"name": "read_file", "arguments": '{"path": "a/b.py"}'}}]}  # fmt: skip
    other = {"role": "assistant", "tool_calls": [{"function": {"name": "grep", "arguments": '{"path": "c.py"}'}}]}
    assert read_paths([folded, native, other]) == {"calc.py", "a/b.py"}


def test_edits_limited_to_lines_of_files_read(ws: Path) -> None:
    from assistant.editchoices import constrain_edits
    from assistant.grammar import call_grammar, parse_call
    from assistant.grounding import unique_lines

    (ws / "dup.txt").write_text("same\nsame\nonce\n")
    assert unique_lines(ws, "dup.txt") == ["once"]  # a repeated line would make the edit ambiguous
    assert unique_lines(ws, "../outside.txt") is None
    edit = {"type": "function", "function": {"name": "edit_file", "parameters": {
        "type": "object", "required": ["path", "old_text", "new_text"],
        "properties": {"path": {"type": "string"}, "old_text": {"type": "string"},
                       "new_text": {"type": "string"}}}}}  # fmt: skip
    assert constrain_edits([edit], ws, set()) == [edit]  # nothing read: unchanged (the read comes first)
    (narrowed,) = constrain_edits([edit], ws, {"calc.py"})
    choice = narrowed["function"]["parameters"]["anyOf"][0]
    assert choice["properties"]["path"] == {"const": "calc.py"}
    assert "def percent(part, whole):" in choice["properties"]["old_text"]["enum"]
    grammar = call_grammar([narrowed])
    ok = '{"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "class Ledger:", "new_text": "x"}}'
    assert parse_call(ok, grammar.tools) is not None
    from tests.test_grammar import accepts

    assert accepts(grammar.text, ok)
    invented = '{"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "todo = []", "new_text": "x"}}'
    assert not accepts(grammar.text, invented)


def test_a_file_already_read_is_not_offered_to_read_file_again(ws: Path) -> None:
    from assistant.toolprompt import narrow_paths

    read = {"type": "function", "function": {"name": "files__read_file", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}  # fmt: skip
    paths = (["a.txt", "b.txt"], ["."])
    (fresh,) = narrow_paths([read], paths)
    assert fresh["function"]["parameters"]["properties"]["path"]["enum"] == ["a.txt", "b.txt"]
    (left,) = narrow_paths([read], paths, {"a.txt"})
    assert left["function"]["parameters"]["properties"]["path"]["enum"] == ["b.txt"]
    assert narrow_paths([read], paths, {"a.txt", "b.txt"}) == []  # nothing left to read


def test_turn_calls_counts_only_the_current_turn() -> None:
    from assistant.grounding import turn_calls

    earlier = {"role": "user", "content": 'x\n\n[The tool call edit_file({"path": "a"}) returned:]\nok'}
    now = {"role": "user", "content": 'y\n\n[The tool call files__read_file({"path": "a"}) returned:]\n1\n\n'
                                      '[The tool call run_command({"command": "ls"}) returned:]\nok'}  # fmt: skip
    assert turn_calls([earlier, {"role": "assistant", "content": "done"}, now]) == ["read_file", "run_command"]
    native = [{"role": "user", "content": "go"},
              {"role": "assistant", "tool_calls": [{"function": {"name": "grep", "arguments": "{}"}}]},
              {"role": "tool", "content": "hit"}]  # fmt: skip
    assert turn_calls(native) == ["grep"]


def _edit_tool() -> dict[str, Any]:
    return {"type": "function", "function": {"name": "edit_file", "parameters": {
        "type": "object", "required": ["path", "old_text", "new_text"],
        "properties": {"path": {"type": "string"}, "old_text": {"type": "string"},
                       "new_text": {"type": "string"}}}}}  # fmt: skip


def test_edit_choices_follow_the_request(ws: Path) -> None:
    from assistant.editchoices import constrain_edits
    from assistant.grammar import call_grammar
    from tests.test_grammar import accepts

    (ws / "settings.toml").write_text("[defaults]\ntip = 18\ncurrency = 'EUR'\n")
    (change,) = constrain_edits([_edit_tool()], ws, {"settings.toml"}, "Change the currency in settings.toml please")
    assert change["function"]["parameters"]["anyOf"][0]["properties"]["old_text"] == {"enum": ["currency = 'EUR'"]}
    (vague,) = constrain_edits([_edit_tool()], ws, {"settings.toml"}, "tidy it up")  # no shared word: every line
    assert len(vague["function"]["parameters"]["anyOf"][0]["properties"]["old_text"]["enum"]) == 3
    (notes,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "Add 'ship it' at the end of my todo list")
    grammar = call_grammar([notes])
    head = '{"name": "edit_file", "arguments": {"path": "notes/todo.txt", "old_text": "- a", "new_text": '
    keep, drop = head + '"- a\\n- ship it"}}', head + '"- ship it"}}'
    assert accepts(grammar.text, keep) and not accepts(grammar.text, drop)  # adding keeps the anchor line


def test_quoted_text_put_on_a_list_with_no_place_goes_at_the_end(ws: Path) -> None:
    from assistant.editchoices import constrain_edits

    (ws / "notes" / "todo.txt").write_text("- split by item\n- fix rounding\n")
    (edit,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "Put 'translate to French' on the todo list")
    (choice,) = edit["function"]["parameters"]["anyOf"]
    assert choice["properties"]["new_text"] == {"const": "- fix rounding\n- translate to French"}
    (under,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "Add 'x' under the split item")
    assert under["function"]["parameters"]["anyOf"][0]["properties"]["old_text"] == {"const": "- split by item"}


def test_quoted_text_put_at_the_top_goes_before_the_first_line(ws: Path) -> None:
    from assistant.editchoices import constrain_edits

    (ws / "notes" / "todo.txt").write_text("- split by item\n- fix rounding\n")
    (edit,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "Put 'ship 0.4' at the very top of my todo list")
    (choice,) = edit["function"]["parameters"]["anyOf"]
    assert choice["properties"]["old_text"] == {"const": "- split by item"}
    assert choice["properties"]["new_text"] == {"const": "- ship 0.4\n- split by item"}


def test_what_an_edit_of_a_note_may_add_is_bounded(ws: Path) -> None:
    from assistant.editchoices import constrain_edits
    from assistant.grammar import call_grammar
    from assistant.grounding import MAX_ADDED_CHARS
    from tests.test_grammar import accepts

    (ws / "notes" / "todo.txt").write_text("- a\n")
    (edit,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "add a reminder after the a item")
    grammar = call_grammar([edit]).text
    head = '{"name": "edit_file", "arguments": {"path": "notes/todo.txt", "old_text": "- a", "new_text": "- a\\n'
    assert accepts(grammar, head + '- b"}}')
    assert not accepts(grammar, head + "x" * (MAX_ADDED_CHARS + 1) + '"}}')  # the 0.5B wrote on for minutes


def test_removing_takes_the_whole_line_out(ws: Path) -> None:
    from assistant.editchoices import constrain_edits

    (ws / "notes" / "todo.txt").write_text("- split by item\n- write docs for settings\n- fix rounding\n")
    (edit,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "Remove the first item")
    (choice,) = edit["function"]["parameters"]["anyOf"]
    assert choice["properties"]["old_text"] == {"const": "- split by item\n"}  # the newline goes too
    assert choice["properties"]["new_text"] == {"const": ""}
    (about,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "take the item about docs off my list")
    olds = [c["properties"]["old_text"]["const"] for c in about["function"]["parameters"]["anyOf"]]
    assert olds == ["- write docs for settings\n"]
    (last,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "delete the last item")
    assert last["function"]["parameters"]["anyOf"][0]["properties"]["old_text"] == {"const": "- fix rounding\n"}
    (swap,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "replace the first item with 'x'")
    assert swap["function"]["parameters"]["anyOf"][0]["properties"]["new_text"] != {"const": ""}  # not a removal


def test_adding_at_the_end_anchors_on_the_last_line(ws: Path) -> None:
    from assistant.editchoices import constrain_edits

    (ws / "notes" / "todo.txt").write_text("- first\n- second\n- last one\n\n")
    (edit,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "Add 'ship it' at the end of my todo list")
    (choice,) = edit["function"]["parameters"]["anyOf"]
    assert choice["properties"]["old_text"] == {"const": "- last one"}
    assert choice["properties"]["new_text"] == {"const": "- last one\n- ship it"}  # the quoted text, as a list item
    (free,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "Add a reminder at the end of my todo list")
    (choice,) = free["function"]["parameters"]["anyOf"]
    assert choice["properties"]["new_text"]["x-keep-prefix"] == "- last one"  # the model writes the new line


@pytest.mark.parametrize(
    ("request_text", "old", "new"),
    [
        ("Change the currency to USD in settings.toml", "currency = 'EUR'", "currency = 'USD'"),
        ("set round_to to 0.05", "round_to = 0.01", "round_to = 0.05"),
        ("In settings.toml, set the language to fr", 'language = "en"', 'language = "fr"'),
        ("Set the default tip to 20 percent in settings.toml", "tip = 18", "tip = 20"),
        ("Turn off language in the settings", 'language = "en"', "language = false"),
    ],
)
def test_setting_a_value_is_that_change(ws: Path, request_text: str, old: str, new: str) -> None:
    from assistant.editchoices import constrain_edits

    (ws / "settings.toml").write_text("[defaults]\ntip = 18\ncurrency = 'EUR'\nround_to = 0.01\nlanguage = \"en\"\n")
    (edit,) = constrain_edits([_edit_tool()], ws, {"settings.toml"}, request_text)
    (choice,) = edit["function"]["parameters"]["anyOf"]
    assert choice["properties"]["old_text"] == {"const": old}
    assert choice["properties"]["new_text"] == {"const": new}


def test_a_fix_offers_the_lines_of_the_definition(ws: Path) -> None:
    from assistant.editchoices import constrain_edits
    from assistant.grounding import definition_lines

    source = "def add(a, b):\n    return a + b\n\n\ndef percent(part, whole):\n    # Percent.\n"
    source += "    return part / whole * 10\n"
    (ws / "calc.py").write_text(source)
    block = ["def percent(part, whole):", "    # Percent.", "    return part / whole * 10"]
    assert definition_lines(source, "percent") == block
    (edit,) = constrain_edits([_edit_tool()], ws, {"calc.py"}, "fix whatever is failing", frozenset({"percent"}))
    top, body = edit["function"]["parameters"]["anyOf"]  # a choice per indentation: the new line keeps it
    assert top["properties"]["old_text"] == {"enum": block[:1]} and "x-starts-with" not in top["properties"]["new_text"]
    assert (
        body["properties"]["old_text"] == {"enum": block[1:]}
        and body["properties"]["new_text"]["x-starts-with"] == "    "
    )
    from assistant.grammar import call_grammar
    from tests.test_grammar import accepts

    grammar = call_grammar([edit]).text
    head = '{"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "    return part / whole * 10", '
    assert accepts(grammar, head + '"new_text": "    return part / whole * 100"}}')
    assert not accepts(grammar, head + '"new_text": "   100000"}}')  # one space short: the 0.5B's runaway start
    (fix,) = constrain_edits([_edit_tool()], ws, {"calc.py"}, "fix it", frozenset({"percent"}), fix=True)
    assert fix["function"]["parameters"]["anyOf"][0]["properties"]["old_text"] == {"enum": [block[-1]]}  # the body
    (added,) = constrain_edits([_edit_tool()], ws, {"calc.py"}, "Add a function square(x) to calc.py")
    (choice,) = added["function"]["parameters"]["anyOf"]
    assert choice["properties"]["old_text"] == {"const": "    return part / whole * 10"}  # a new function goes last


def test_folders_fifos_and_loops_are_never_read(ws: Path) -> None:
    """Seen in the benchmark: a read_file of a folder put the folder in the read set, and the turn died."""
    import os

    from assistant.editchoices import constrain_edits
    from assistant.grounding import unique_lines

    os.mkfifo(ws / "pipe.txt")
    (ws / "loop.txt").symlink_to(ws / "loop.txt")
    for rel in ("notes", ".", "pipe.txt", "loop.txt", "missing.txt"):
        assert unique_lines(ws, rel) is None
    assert constrain_edits([_edit_tool()], ws, {"notes", "pipe.txt", "loop.txt"}, "add x") == [_edit_tool()]
    assert names(ws, "what is in pipe.txt") == "mentions pipe.txt"  # named, but never opened


def test_a_described_removal_in_code_is_a_fix_not_a_deletion(ws: Path) -> None:
    from assistant.editchoices import constrain_edits
    from assistant.grounding import MAX_REPLACED_CHARS

    code = 'def dedupe(items):\n    """No repeats, in order."""\n    return list(set(items))\n'
    (ws / "listutil.py").write_text(code)
    request = "`dedupe` in listutil.py must remove repeated items while keeping the order. Fix it so the tests pass."
    for fix in (False, True):
        (edit,) = constrain_edits([_edit_tool()], ws, {"listutil.py"}, request, frozenset({"dedupe"}), fix=fix)
        for choice in edit["function"]["parameters"]["anyOf"]:
            assert choice["properties"]["new_text"]["maxLength"] == MAX_REPLACED_CHARS  # no deletion: a bounded line
    (asked,) = constrain_edits([_edit_tool()], ws, {"listutil.py"}, "remove the docstring line from dedupe")
    assert {c["properties"]["new_text"]["const"] for c in asked["function"]["parameters"]["anyOf"]} == {""}


def test_a_command_runs_in_the_workspace_or_one_of_its_folders(ws: Path) -> None:
    from assistant.toolprompt import narrow_paths

    run = {"type": "function", "function": {"name": "run_command", "parameters": {"type": "object", "properties": {
        "command": {"type": "string"}, "cwd": {"type": "string"}}}}}  # fmt: skip

    def cwd(said: str) -> list[str]:
        (narrowed,) = narrow_paths([run], workspace_paths(ws), said=said)
        return list(narrowed["function"]["parameters"]["properties"]["cwd"]["enum"])

    # the repository tasks' own words: the suite runs from the root, never inside tests/
    assert cwd("The test in tests/test_stats.py fails. Run `python3 -m unittest discover -s tests`.") == ["."]
    assert cwd("run the tests") == ["."]
    assert cwd("run pytest from the tests folder") == [".", "tests"]
    assert cwd("cd tests and run ls") == [".", "tests"]


@pytest.mark.parametrize(
    ("request_text", "new"),
    [
        ("Give truncate a default width of 12, then run the textutils tests", "width: int = 12"),
        ("truncate() should cut at 30 chars by default, not 20", "width: int = 30"),
    ],
)
def test_a_default_value_asked_is_that_change_of_the_line_holding_it(ws: Path, request_text: str, new: str) -> None:
    from assistant.editchoices import constrain_edits

    (ws / "textutils.py").write_text("def truncate(text: str, width: int = 20) -> str:\n    return text[:width]\n")
    (edit,) = constrain_edits([_edit_tool()], ws, {"textutils.py"}, request_text, frozenset({"truncate"}))
    (choice,) = edit["function"]["parameters"]["anyOf"]
    assert choice["properties"]["old_text"] == {"const": "def truncate(text: str, width: int = 20) -> str:"}
    assert choice["properties"]["new_text"] == {"const": f"def truncate(text: str, {new}) -> str:"}


def test_code_added_with_a_quoted_example_is_written_in_words(ws: Path) -> None:
    """ "add a slugify test whose input has a number in it, like 'Table 12'": the 0.5B's edit added
    the line "Table 12" to the test file; quoted text in a request about code is an example."""
    from assistant.editchoices import constrain_edits
    from assistant.grounding import ADD_CODE

    request = "read tests/test_calc.py and add a percent test whose input is 'Table 12'"
    (asked,) = constrain_edits([_edit_tool()], ws, {"tests/test_calc.py"}, request, rewrite=True)
    news = {c["properties"]["new_text"].get("const") for c in asked["function"]["parameters"]["anyOf"]}
    assert news == {ADD_CODE}
    (todo,) = constrain_edits([_edit_tool()], ws, {"notes/todo.txt"}, "add 'call the bank' to notes/todo.txt",
                              rewrite=True)  # fmt: skip
    news = {c["properties"]["new_text"].get("const") for c in todo["function"]["parameters"]["anyOf"]}
    assert news == {"- a\n- call the bank"}  # a note's quoted text is the line itself


def test_grep_filters_files_by_a_kind_the_workspace_has(ws: Path) -> None:
    from assistant.toolprompt import narrow_paths

    grep = {"type": "function", "function": {"name": "grep", "parameters": {"type": "object", "properties": {
        "pattern": {"type": "string"}, "path": {"type": "string"}, "include": {"type": "string"}}}}}  # fmt: skip
    (narrowed,) = narrow_paths([grep], workspace_paths(ws))
    include = narrowed["function"]["parameters"]["properties"]["include"]["enum"]
    assert include[0] == "*" and "*.py" in include and "*.toml" in include and "b" not in include


def _choices(ws: Path, rel: str, request: str) -> list[dict[str, Any]]:
    from assistant.editchoices import constrain_edits

    (edit,) = constrain_edits([_edit_tool()], ws, {rel}, request, rewrite=True)
    return [c["properties"] for c in edit["function"]["parameters"]["anyOf"]]


def test_an_item_moved_to_the_top_or_bottom_of_a_list_is_reordered_here(ws: Path) -> None:
    """ "move it to the top of my todo list": the 0.5B read the list twice and changed nothing."""
    todo = "# todo\n- split by item\n- add a --currency flag\n- write docs for settings.toml\n"
    (ws / "todo.md").write_text(todo)
    said = "the currency flag is the most urgent thing now, move it to the top of my todo list"
    (top,) = _choices(ws, "todo.md", said)
    assert top["old_text"] == {"const": "- split by item\n- add a --currency flag"}
    assert top["new_text"] == {"const": "- add a --currency flag\n- split by item"}
    (bottom,) = _choices(ws, "todo.md", "move the split item to the bottom")
    assert todo.replace(bottom["old_text"]["const"], bottom["new_text"]["const"]).endswith("toml\n- split by item\n")
    # no one item named (or the only one already at that edge): no reordering, the line is picked instead
    assert all("enum" in c["old_text"] for c in _choices(ws, "todo.md", "move an item to the top"))
    from assistant.grounding import REWRITE

    assert {c["new_text"]["const"] for c in _choices(ws, "todo.md", "move split by item to the top")} == {REWRITE}


def test_lines_of_notes_and_settings_are_picked_and_written_next(ws: Path) -> None:
    """A note's or a setting's new text is written in words after the call picks the line
    (assistant/linewords.py); ignoring more in git, or a key the file lacks, is a line added."""
    from assistant.grounding import ADD_CODE, REWRITE

    (ws / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    (ws / "pyproject.toml").write_text('[project]\nname = "tipcalc"\nversion = "0.3.1"\n')
    (ignored,) = _choices(ws, ".gitignore", "keep my .venv folder out of git please")
    assert ignored["new_text"] == {"const": ADD_CODE}
    assert ignored["old_text"] == {"enum": [".pytest_cache/"]}  # at the end: no place is said
    (readme,) = _choices(ws, "pyproject.toml", "the package metadata should point at README.md as its readme")
    assert readme["new_text"] == {"const": ADD_CODE}
    (version,) = _choices(ws, "pyproject.toml", "the version should be 0.4.0 now")  # a key it has: that line,
    assert version["new_text"] == {"const": 'version = "0.4.0"'}  # its version replaced by the one said
    assert version["old_text"] == {"const": 'version = "0.3.1"'}
    (described,) = _choices(ws, "pyproject.toml", "the version should say it is a beta now")
    assert described["new_text"] == {"const": REWRITE} and described["old_text"]["enum"] == ['version = "0.3.1"']
    (marked,) = _choices(ws, "notes/todo.txt", "mark the a item with (luis)")
    assert marked["new_text"] == {"const": REWRITE}


@pytest.mark.parametrize(
    ("said", "edit"),
    [
        ("keep my .venv folder out of git please", True),
        ("stop git from tracking log files", True),
        ("git shouldn't track the build folder", True),
        ("don't let git track *.log files", True),
        ("does git track the notes folder?", False),
        ("test_divide_by_zero only checks the exception type, have it check the message text too", True),
        ("the package metadata should point at README.md as its readme", True),
        ("the currency flag is urgent, move it to the top of my todo list", True),
        ("what does the cli do with a negative bill like -20? give it a go", False),
        ("what would you have it do?", False),
        ("have you got a minute?", False),
        ("move on to the next question", False),
    ],
)
def test_changes_said_as_wishes_are_edits(said: str, edit: bool) -> None:
    from assistant.grounding import asks_edit

    assert asks_edit(said.lower()) is edit


def test_files_named_by_what_they_are(ws: Path) -> None:
    from assistant.grounding import RUN_ASKED, _hidden_named, names_gitignore

    assert names_gitignore({"keep", "my", "venv", "out", "of", "git"}) and not names_gitignore({"git", "log"})
    assert names_gitignore({"stop", "git", "from", "tracking", "log", "files"})
    assert _hidden_named("pyproject.toml", set(), "the package metadata should point at readme.md")
    assert not _hidden_named("pyproject.toml", set(), "what metadata does a jpeg hold?")
    assert RUN_ASKED.search("what does it do with -20? give it a go") and not RUN_ASKED.search("give it a name")


def test_a_list_item_named_by_what_it_says_names_no_file() -> None:
    from assistant.grounding import asks_edit, edit_said

    said = "go through my todo list and tick off the settings docs one - put [x] in front of it"
    assert asks_edit(said) and "settings" not in edit_said(said) and "todo list" in edit_said(said)
    assert edit_said("what does the settings docs one say?") == "what does the settings docs one say?"  # no edit


def test_a_comparison_reads_both_files() -> None:
    from assistant.followup import READ_ASKED

    assert READ_ASKED.search("compare the usage example in the readme with what make run does")


def test_text_put_on_a_line_changes_that_line(ws: Path) -> None:
    from assistant.grounding import REWRITE

    said = "go through my todo list and tick off the a one - put [x] in front of it"
    assert {c["new_text"]["const"] for c in _choices(ws, "notes/todo.txt", said)} == {REWRITE}
    # "put a (done) after the call mum item": the 0.5B added a line "- call mum (done)" under it
    for said in ("put a (done) after the a item in my todo", "stick DONE in front of the a one"):
        assert {c["new_text"]["const"] for c in _choices(ws, "notes/todo.txt", said)} == {REWRITE}, said


def test_a_heading_named_by_its_version_is_the_line_changed(ws: Path) -> None:
    from assistant.grounding import REWRITE

    (ws / "CHANGELOG.md").write_text("# Changelog\n\n## 0.3.1\n- Fix rounding.\n\n## 0.2.0\n- First public release.\n")
    (choice,) = _choices(ws, "CHANGELOG.md", "put the release date 2024-04-20 on the 0.3.1 heading in the changelog")
    assert choice["new_text"] == {"const": REWRITE} and choice["old_text"] == {"enum": ["## 0.3.1"]}


def test_session_eleven_namings(ws: Path) -> None:
    """test11's clean misses: "who owns the copyright" is the licence; "the licence heading" in the
    readme is a heading of the README; text after "add ...:" is what is added; "get git to ignore it"."""
    from assistant.grounding import asks_edit, edit_said

    (ws / "LICENSE").write_text("MIT License\n\nCopyright (c) 2024 Dana\n")
    assert "LICENSE" in names(ws, "who owns the copyright on this code and what year does it say")
    said = "in the readme, switch the licence heading to the american spelling"
    assert "licence" not in edit_said(said) and "readme" in edit_said(said)
    said = "make pyproject require 3.10 or newer, and note it in the changelog under a new Unreleased heading"
    assert "changelog" in edit_said(said)  # a place, not the heading's name (ch8-010 edited only pyproject)
    said = "can you add an action point to the notes from the may meeting: Dana to write up the settings docs"
    assert edit_said(said) == "can you add an action point to the notes from the may meeting"
    assert edit_said("add a line to notes/todo.txt: check calc.py").endswith("check calc.py")  # a file after it
    assert asks_edit("ruff keeps leaving its cache folder around, get git to ignore it please")


def test_a_version_said_replaces_the_one_on_the_line() -> None:
    from assistant.editchoices import bumped

    assert bumped('version = "0.3.1"', "bump us to 0.4.0 - both in pyproject and __version__") == 'version = "0.4.0"'
    assert bumped('requires-python = ">=3.9"', "we support 3.11 and up now") == 'requires-python = ">=3.11"'
    assert bumped("## 0.3.1", "put the date on the 0.3.1 heading") is None  # the same version
    assert bumped('version = "0.3.1"', "move 0.3.1 to 0.4.0") == 'version = "0.4.0"'  # the line has the old one
    said = "we're dropping python 3.9 - make pyproject require 3.10 or newer"
    assert bumped('requires-python = ">=3.9"', said) == 'requires-python = ">=3.10"'
    assert bumped('version = "0.3.1"', "go from 0.4.0 to 0.5.0") is None  # two new ones: which?
    assert bumped("tip_percent = 18", "make it 20") is None


def test_a_list_sorted_alphabetically_is_sorted_by_the_assistant(ws: Path) -> None:
    """ "read through my todo list and then sort it alphabetically": the 0.5B read it and answered with
    a call written as text (ch8-003). The list's items are sorted here; the model only calls."""
    from assistant.grounding import asks_edit

    (ws / "notes" / "todo.txt").write_text("# todo\n- write docs\n- add a flag\n- Fix percent()\n\nlater\n")
    said = "read through my todo list and then sort it alphabetically"
    assert asks_edit(said)
    (choice,) = _choices(ws, "notes/todo.txt", said)
    assert choice["old_text"] == {"const": "- write docs\n- add a flag\n- Fix percent()"}
    assert choice["new_text"] == {"const": "- add a flag\n- Fix percent()\n- write docs"}
    assert not asks_edit("how do i sort a list in python?") and not asks_edit("what order are the tests run in")


def test_text_after_add_colon_is_the_line_added(ws: Path) -> None:
    """ "add an action point to the notes from the may meeting: Dana to write up the settings docs": the
    0.5B wrote "- Write up the settings docs" (t11-023); the text after the colon is added as written."""
    (ws / "notes" / "meeting.md").write_text("# Meeting\n\n- Release 0.4 in June.\n- Keep the tip at 18.\n")
    said = "can you add an action point to the notes from the may meeting: Dana to write up the settings docs"
    (choice,) = _choices(ws, "notes/meeting.md", said)
    assert choice["old_text"] == {"const": "- Keep the tip at 18."}
    assert choice["new_text"] == {"const": "- Keep the tip at 18.\n- Dana to write up the settings docs"}


def test_a_version_bump_offers_the_one_line_whose_key_is_named(ws: Path) -> None:
    """ "bump us to 0.4.0 - both in pyproject and the package's __version__": offered every line, the 0.5B
    picked `[project]` and no edit was made (t11-030)."""
    (ws / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0.3.1"\nrequires-python = ">=3.9"\n')
    (choice,) = _choices(ws, "pyproject.toml", "bump us to 0.4.0 - both in pyproject and the package's __version__")
    assert choice["old_text"] == {"const": 'version = "0.3.1"'} and choice["new_text"] == {"const": 'version = "0.4.0"'}
    (choice,) = _choices(ws, "pyproject.toml", "we're dropping python 3.9 - make pyproject require 3.10 or newer")
    assert choice["new_text"] == {"const": 'requires-python = ">=3.10"'}


def test_swap_is_an_edit_verb() -> None:
    from assistant.grounding import asks_edit

    assert asks_edit("find it and swap the example for 'le petit bistro' -> 'le-petit-bistro'")
    assert asks_edit("swap the default currency to gbp")


def test_a_section_added_with_its_text_after_a_colon_is_a_heading_at_the_end(ws: Path) -> None:
    """ "readme never says what python you need. add a short requirements section: 3.9 or newer": the
    0.5B added the line "3.9 or newer" under the usage example (t12-017)."""
    (ws / "README.md").write_text("# tipcalc\n\nSplit a bill.\n\n## Usage\n\n    python -m tipcalc 84.50\n")
    said = "readme never says what python you need. add a short requirements section: 3.9 or newer"
    (choice,) = _choices(ws, "README.md", said)
    assert choice["old_text"] == {"const": "    python -m tipcalc 84.50"}
    assert choice["new_text"] == {"const": "    python -m tipcalc 84.50\n\n## Requirements\n\n3.9 or newer."}
    (ws / "notes" / "meeting.md").write_text("# Meeting\n\n- Keep the tip at 18.\n")
    action = "can you add a short action point to the notes from the may meeting: Dana to write docs"
    (choice,) = _choices(ws, "notes/meeting.md", action)
    assert choice["new_text"] == {"const": "- Keep the tip at 18.\n- Dana to write docs"}  # no heading


def test_a_change_wished_after_a_condition_or_with_go_first_is_an_edit() -> None:
    from assistant.grounding import asks_edit

    assert asks_edit("when split_bill gets a bad number of people the error should say what number it actually got")
    assert asks_edit("ok go fix the code then, the test itself is right")  # t12-026: "go" led in
    assert asks_edit("go ahead and bump the version")
    for question in ("when does the app round totals?", "when is the release due", "if the tests fail what to do?",
                     "when the bill is 0 what should it print?", "go through calc.py and explain it"):  # fmt: skip
        assert not asks_edit(question), question


def test_text_stuck_at_the_top_goes_before_the_first_line(ws: Path) -> None:
    """ "stick 'handle cash rounding' at the very top of it": the 0.5B added it at the end (t12-024)."""
    (ws / "notes" / "todo.txt").write_text("- support splitting by item\n- fix percent() rounding\n")
    (choice,) = _choices(ws, "notes/todo.txt", "stick 'handle cash rounding' at the very top of it")
    assert choice["new_text"] == {"const": "- handle cash rounding\n- support splitting by item"}
