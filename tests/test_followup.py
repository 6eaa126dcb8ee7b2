"""What a request still owes after this turn's results (assistant/followup.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.conversation import ANSWER_NOTE
from assistant.followup import Owed, call_keys, failure_sources, found_files, next_owed, related_tests, turn_results

FILES = ["calc.py", "textutils.py", "settings.toml", "Makefile", "notes/todo.txt", "notes/meeting.md",
         "tests/__init__.py", "tests/test_calc.py", "tests/test_textutils.py", "tipcalc/split.py"]  # fmt: skip
DEFINED = {"percent": {"calc.py"}, "test": {"Makefile"}, "add": {"calc.py"}, "slugify": {"textutils.py"},
           "tip_amount": {"tipcalc/split.py"}, "test_percent": {"tests/test_calc.py"}}  # fmt: skip
FAILING = (
    "exit code 1 (1.3 s)\n--- stdout ---\n.....F\n    def test_percent():\n>       assert percent(1, 4) == 25.0\n"
    "E       assert 2.5 == 25.0\ntests/test_calc.py:27: AssertionError\nFAILED tests/test_calc.py::test_percent"
)


def folded(request: str, *results: tuple[str, dict[str, Any], str]) -> list[dict[str, Any]]:
    """The current turn as a small model sees it: the results folded into the user's message."""
    content = request + (ANSWER_NOTE if results else "")
    for name, args, out in results:
        content += f"\n\n[The tool call {name}({json.dumps(args)}) returned:]\n{out}"
    return [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"},
            {"role": "user", "content": content}]  # fmt: skip


def owed(request: str, *results: tuple[str, dict[str, Any], str], read: set[str] | None = None,
         named: list[str] | None = None, tests: list[str] | None = None) -> Owed | None:  # fmt: skip
    reads = {r[1]["path"] for r in results if r[0] == "read_file"} if read is None else read
    return next_owed(request, folded(request, *results), reads, FILES, named or [], DEFINED, tests or [])


def test_results_are_parsed_folded_and_native() -> None:
    msgs = folded(
        "go",
        ("grep", {"pattern": "x"}, "calc.py:3: x\ncalc.py:9: x"),
        ("files__read_file", {"path": "calc.py"}, "1\n2"),
    )
    (grep, read) = turn_results(msgs)
    assert (grep.name, grep.arguments, read.name, read.content) == ("grep", {"pattern": "x"}, "read_file", "1\n2")
    native = [{"role": "user", "content": "go"},
              {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "glob",
                                                                    "arguments": '{"pattern": "*.py"}'}}]},
              {"role": "tool", "tool_call_id": "c1", "content": "calc.py"}]  # fmt: skip
    (glob,) = turn_results(native)
    assert (glob.name, glob.arguments, glob.content) == ("glob", {"pattern": "*.py"}, "calc.py")
    assert call_keys(native) == {("glob", '{"pattern": "*.py"}')}


def test_found_files_are_only_workspace_files() -> None:
    (grep,) = turn_results(
        folded("x", ("grep", {"pattern": "p"}, "calc.py:22: def p\n../etc/passwd:1: root\nnope.py:1: x"))
    )
    assert found_files(grep, FILES) == ["calc.py"]  # a name the workspace lacks is never offered
    (listing,) = turn_results(folded("x", ("list_files", {"path": "notes"}, "meeting.md\ntodo.txt\nold/")))
    assert found_files(listing, FILES) == ["notes/meeting.md", "notes/todo.txt"]


def test_show_what_a_search_found_reads_it() -> None:
    plan = owed("Find the file that defines slugify and show me all of it",
                ("grep", {"pattern": "slugify"}, "tests/test_textutils.py:1: from textutils import slugify\n"
                                                 "textutils.py:4: def slugify(text):"))  # fmt: skip
    assert plan is not None and plan.tools == ("read_file",)
    assert plan.paths == ("textutils.py",)  # where it is defined, not the test that imports it
    asked_only = owed(
        "Which file defines slugify?", ("grep", {"pattern": "slugify"}, "textutils.py:4: def slugify(t):")
    )
    assert asked_only is None  # the search answers it
    after_read = owed("Which file defines slugify? Open it", ("grep", {"pattern": "slugify"}, "textutils.py:4: x"),
                      ("read_file", {"path": "textutils.py"}, "..."))  # fmt: skip
    assert after_read is None


def test_every_file_listed_is_read_once() -> None:
    listing = ("list_files", {"path": "tests"}, "__init__.py\ntest_calc.py\ntest_textutils.py")
    plan = owed("Show me each test file in tests/", listing)
    assert plan is not None and plan.paths == ("tests/test_calc.py", "tests/test_textutils.py")  # not __init__.py
    one = owed("Show me each test file in tests/", listing, ("read_file", {"path": "tests/test_calc.py"}, "..."))
    assert one is not None and one.paths == ("tests/test_textutils.py",)
    done = owed("Show me each test file in tests/", listing, ("read_file", {"path": "tests/test_calc.py"}, "..."),
                ("read_file", {"path": "tests/test_textutils.py"}, "..."))  # fmt: skip
    assert done is None


def test_files_the_request_names_are_read() -> None:
    plan = owed(
        "Read the README and the Makefile", ("read_file", {"path": "calc.py"}, "x"), named=["calc.py", "Makefile"]
    )
    assert plan is not None and plan.paths == ("Makefile",)


def test_a_failure_leads_to_the_source_it_calls() -> None:
    files, symbols = failure_sources(FAILING, DEFINED)
    assert (files, symbols) == (["calc.py"], {"percent"})
    run = ("run_command", {"command": "python -m pytest -q"}, FAILING)
    plan = owed("Run the tests, then fix whatever is failing", run)
    assert plan is not None and (plan.tools, plan.paths) == (("read_file",), ("calc.py",))
    fix = owed("Run the tests, then fix whatever is failing", run, ("read_file", {"path": "calc.py"}, "..."))
    assert fix is not None and fix.tools == ("edit_file",) and fix.symbols == {"percent"}
    again = owed("Run the tests, then fix whatever is failing", run, ("read_file", {"path": "calc.py"}, "..."),
                 ("edit_file", {"path": "calc.py", "old_text": "a", "new_text": "b"}, "Replaced 1"))  # fmt: skip
    assert again is not None and again.commands == ("python -m pytest -q",)  # the same command, to check the fix
    shown = owed("Run the tests and if one fails show me the source of the function it tests", run)
    assert shown is not None and shown.paths == ("calc.py",)
    passing = ("run_command", {"command": "python -m pytest -q"}, "exit code 0 (1 s)\n12 passed")
    assert owed("Run the tests, then fix whatever is failing", passing) is None
    assert owed("Run the tests", run) is None  # nothing asked beyond the run


@pytest.mark.parametrize(("request_text", "results", "named", "tools"), [
    ("Change the default currency in settings.toml to USD", [("read_file", "settings.toml")], ["settings.toml"],
     ("edit_file",)),
    ("Can you bump the version to 0.3.2", [("read_file", "settings.toml")], [], ("edit_file",)),
    ("Fix percent() in calc.py, then run the tests", [("read_file", "calc.py")], ["calc.py"], ("edit_file",)),
    ("Fix percent() in calc.py, then run the tests", [("read_file", "calc.py"), ("edit_file", "calc.py")], ["calc.py"],
     ("run_command",)),
    ("Add square to calc.py and a test in tests/test_calc.py", [("read_file", "calc.py"), ("edit_file", "calc.py")],
     ["calc.py", "tests/test_calc.py"], ("read_file",)),
    ("How do I change the currency?", [("read_file", "settings.toml")], [], None),  # a question, not an instruction
    ("What does percent() return?", [("read_file", "calc.py")], ["calc.py"], None),
    ("Show me calc.py", [("read_file", "calc.py")], ["calc.py"], None),
])  # fmt: skip
def test_what_an_instruction_still_owes(request_text: str, results: list[tuple[str, str]], named: list[str],
                                        tools: tuple[str, ...] | None) -> None:  # fmt: skip
    made = [(name, {"path": path, **({"old_text": "a", "new_text": "b"} if name == "edit_file" else {})}, "ok")
            for name, path in results]  # fmt: skip
    plan = owed(request_text, *made, named=named)
    assert (plan.tools if plan else None) == tools


def test_a_run_asked_for_is_limited_to_test_commands() -> None:
    grep = ("grep", {"pattern": "def tip_amount"}, "tipcalc/split.py:6: def tip_amount(bill, tip):")
    plan = owed("Find where tip_amount is tested and run just that test file", grep, tests=["tests/test_split.py"])
    assert plan is not None and plan.commands == ("python -m pytest -q tests/test_split.py",)
    suite = owed("Fix percent() in calc.py, then run the tests", ("read_file", {"path": "calc.py"}, "x"),
                 ("edit_file", {"path": "calc.py"}, "ok"))  # fmt: skip
    assert suite is not None and suite.commands == ("python -m pytest -q", "make test")
    free = owed("Read the Makefile, then run its lint target", ("read_file", {"path": "Makefile"}, "lint:"))
    assert (
        free is not None and free.tools == ("run_command",) and free.commands == ()
    )  # not a test run: the model writes it


def test_related_tests_are_the_test_files_using_a_name(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_split.py").write_text("from tipcalc.split import tip_amount\n")
    (tmp_path / "tests" / "test_calc.py").write_text("from calc import percent\n")
    files = ["tests/test_split.py", "tests/test_calc.py"]
    assert related_tests(tmp_path, files, {"tip_amount"}) == ["tests/test_split.py"]
    assert related_tests(tmp_path, files, set()) == []


def test_an_owed_read_can_never_loop() -> None:
    """Each rule is owed once: a read that failed still counts as made."""
    grep = ("grep", {"pattern": "slugify"}, "textutils.py:4: def slugify(t):")
    failed = ("read_file", {"path": "textutils.py"}, "Error: read_file failed")
    assert owed("Find slugify and show me all of it", grep, failed) is None


def test_a_fix_with_no_file_named_reads_the_file_defining_what_it_names() -> None:
    grep = ("grep", {"pattern": "def test_split"}, "no matches for 'def test_split'")
    plan = owed("The percent test fails. Find why and fix it so the tests pass", grep)
    assert plan is not None and (plan.tools, plan.paths) == (("read_file",), ("calc.py",))  # not the test file
    after = owed("The percent test fails. Find why and fix it so the tests pass", grep,
                 ("read_file", {"path": "calc.py"}, "..."))  # fmt: skip
    assert after is not None and after.tools == ("edit_file",) and after.fix


def test_the_python_of_a_test_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.followup import workspace_python

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert workspace_python(tmp_path) == "python3"  # no `python` on PATH (Debian without a venv)
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("#!/bin/sh\n")
    (venv / "python").chmod(0o755)
    assert workspace_python(tmp_path) == ".venv/bin/python"  # the project's own virtualenv


def test_a_fix_judged_by_a_test_file_edits_the_code_then_runs_the_tests_again() -> None:
    """A repository task: "tests/test_calc.py fails: fix percent in calc.py so the tests pass"."""
    request = "tests/test_calc.py fails: fix `percent` in calc.py so the tests pass. Run `python -m pytest -q`."
    run = ("run_command", {"command": "python -m pytest -q"}, FAILING)
    read = ("read_file", {"path": "calc.py"}, "def percent(part, whole):\n    return part / whole * 10\n")
    edit = ("edit_file", {"path": "calc.py", "old_text": "a", "new_text": "b"}, "Replaced 1 occurrence in calc.py")
    named = ["tests/test_calc.py", "calc.py"]
    plan = owed(request, run, read, named=named)
    assert plan is not None and plan.tools == ("edit_file",) and plan.paths == ("calc.py",)
    after = owed(request, run, read, edit, named=named)  # not "read tests/test_calc.py to edit it"
    assert after is not None and after.tools == ("run_command",) and after.commands == ("python -m pytest -q",)


def test_asked_for_the_test_file_the_test_file_found_is_read() -> None:
    request = "Find where tip_amount is tested and show me that whole test file"
    grep = ("grep", {"pattern": "tip_amount"},
            "tipcalc/split.py:9: def tip_amount(total, percent):\ntests/test_calc.py:3: tip_amount(10, 5)")  # fmt: skip
    plan = owed(request, grep)
    assert plan is not None and plan.paths == ("tests/test_calc.py",)  # not the file defining tip_amount
    plain = owed("Find tip_amount and show me where it is", grep)
    assert plain is not None and plain.paths == ("tipcalc/split.py",)


def test_a_test_file_named_to_run_is_no_edit_target() -> None:
    request = "Give slugify a max length of 40, then run the textutils tests"
    read = ("read_file", {"path": "textutils.py"}, "def slugify(t):\n    return t\n")
    edit = ("edit_file", {"path": "textutils.py", "old_text": "a", "new_text": "b"}, "Replaced 1 occurrence")
    after = owed(request, read, edit, named=["textutils.py", "tests/test_textutils.py"])
    assert after is not None and after.tools == ("run_command",)  # not "read the test file to edit it"


def test_implementing_a_stub_rewrites_its_body() -> None:
    request = "Task: Implement `slugify` in textutils.py. Tests: tests/test_textutils.py."
    read = ("read_file", {"path": "textutils.py"}, "def slugify(t):\n    raise NotImplementedError\n")
    plan = owed(request, read, named=["textutils.py", "tests/test_textutils.py"])
    assert plan is not None and plan.tools == ("edit_file",) and plan.fix and plan.paths == ("textutils.py",)


def test_an_edit_after_a_search_reads_what_the_search_found() -> None:
    """ "mean() has no docstring, could you give it a short one?": the 0.5B grepped `def mean(`,
    then (offered every file) edited the meeting notes."""
    grep = ("grep", {"pattern": "def textutils"}, "textutils.py:4: def slug(text):")
    plan = owed("slug has no docstring, could you give it a short one?", grep)
    assert plan is not None and (plan.tools, plan.paths) == (("read_file",), ("textutils.py",))
    # a name written as a call names its definition, even a common word ("add()")
    grep = ("grep", {"pattern": "def add"}, "no matches for 'def add'")
    plan = owed("add() has no docstring, could you give it one?", grep)
    assert plan is not None and plan.paths == ("calc.py",)


def test_a_removal_said_as_what_may_happen_is_an_edit() -> None:
    from assistant.editchoices import REMOVE_ASKED
    from assistant.grounding import QUOTED, asks_edit

    said = "i wrote the settings docs already so that item can come off my todo list"
    assert asks_edit(said) and REMOVE_ASKED.search(said)
    assert asks_edit("the usage example in the readme should split between 4 people instead of 3")
    assert not asks_edit("what should be in a readme, not a wiki?")
    # apostrophes inside words quote nothing; real quotes do
    assert QUOTED.findall("pyproject doesn't declare a license. add one, it's MIT") == []
    assert QUOTED.findall("add 'call the bank' to my todo") == [("call the bank", "")]


def test_chain_follow_ups_from_the_third_held_out_chain_set() -> None:
    from assistant.followup import _ranked
    from assistant.grounding import asks_edit

    # "the one covering the bill splitting": a specific word beats "test"
    listed = ["tests/test_calc.py", "tests/test_split.py", "tests/test_textutils.py"]
    request = "what test files do we have? then show me the one covering the bill splitting"
    assert _ranked(listed, request)[0] == "tests/test_split.py"
    # "the file that tests the text helpers": the start of a name's word counts (the 0.5B read test_calc.py)
    assert _ranked(listed, "look through tests/ and open the file that tests the text helpers")[0] == (
        "tests/test_textutils.py"
    )
    # "find the truncate test and make it ...": the test file the search found, not the definition's
    found = (
        "textutils.py:14: def truncate(text, width=20):\ntests/test_textutils.py:9:    assert truncate('a' * 30, 10)"
    )
    grep = ("grep", {"pattern": "truncate"}, found)
    plan = owed("find the truncate test and make it use 25 'b's instead of 30 'a's, then run it", grep)
    assert plan is not None and plan.paths == ("tests/test_textutils.py",)
    # "run the cli, then show me the code where its arguments are defined": the module it ran
    run = ("run_command", {"command": "python -m tipcalc"}, "exit code 2 (0.1 s)\nusage: tipcalc ...")
    request = "try running the cli with no args, then show me the code where its arguments are defined"
    files = [*FILES, "tipcalc/__main__.py"]
    plan = next_owed(request, folded(request, run), set(), files, [], DEFINED, [])
    assert plan is not None and plan.tools == ("read_file",) and plan.paths == ("tipcalc/__main__.py",)
    # "get the test suite green again please" asks for a fix
    assert asks_edit("get the test suite green again please")
    failing = ("run_command", {"command": "python -m pytest -q"}, FAILING)
    plan = owed("get the test suite green again please", failing, ("read_file", {"path": "calc.py"}, "..."))
    assert plan is not None and plan.tools == ("edit_file",) and plan.fix


def test_a_traceback_names_the_function_that_failed_not_the_class_called() -> None:
    """unittest's traceback: the frames outside the tests name the fix's target (perimeter), not Rect,
    whose whole body the fix was otherwise free to change."""
    traceback = (
        "exit code 1 (0.09 s)\n--- stderr ---\n.EE\nERROR: test_rect (test_shapes.TestShapes.test_rect)\n"
        'Traceback (most recent call last):\n  File "/tmp/x/work/tests/test_shapes.py", line 15, in test_rect\n'
        "    self.assertEqual(Rect(2, 3).perimeter(), 10)\n"
        '  File "/usr/lib/python3.11/unittest/case.py", line 9, in assertEqual\n'  # not the workspace's
        '  File "/tmp/x/work/shapes.py", line 13, in perimeter\n    raise NotImplementedError\nNotImplementedError\n'
    )
    defined = {"Rect": {"shapes.py"}, "perimeter": {"shapes.py"}, "test_rect": {"tests/test_shapes.py"}}
    assert failure_sources(traceback, defined) == (["shapes.py"], {"perimeter"})
    # without frames outside the tests, the names called still lead to the source
    assert failure_sources(traceback.split('  File "/tmp/x/work/shapes.py"')[0], defined) == (
        ["shapes.py"], {"Rect", "perimeter"})  # fmt: skip
    nested = traceback.replace("/work/shapes.py", "/work/geo/shapes.py")
    assert failure_sources(nested, {**defined, "perimeter": {"geo/shapes.py"}}) == (["geo/shapes.py"], {"perimeter"})


def test_a_request_that_keeps_the_tests_never_owes_an_edit_of_one() -> None:
    """A task naming its tests and forbidding their change: after the edit, the tests run again
    (the 1.5B was sent to read tests/test_greet.py "to edit it", and wrote its edit a second time)."""
    request = ("Task: greet.py ignores --upper. Make `python greet.py NAME --upper` print in upper case.\n"
               "Tests: tests/test_greet.py.\nUse the tools to read and edit the files and to run the tests: "
               "`python -m pytest -q` (run_command).\nDo not edit or delete the tests.")  # fmt: skip
    failed = ("run_command", {"command": "python -m pytest -q"}, "exit code 1 (0.1 s)\nFAILED tests/test_greet.py")
    read = ("read_file", {"path": "greet.py"}, "def main():\n    pass")
    edit = ("edit_file", {"path": "greet.py", "old_text": "    pass", "new_text": "    return 1"}, "Replaced 1")
    named = ["greet.py", "tests/test_greet.py"]
    after = next_owed(request, folded(request, failed, read, edit), {"greet.py"}, named, named, {}, [])
    assert after is not None and after.tools == ("run_command",) and after.commands == ("python -m pytest -q",)
    # only the user's words count: a file that says so is no request
    asked = request.replace("Do not edit or delete the tests.", "")
    says = ("read_file", {"path": "greet.py"}, "# Do not edit or delete the tests.\ndef main():\n    pass")
    other = next_owed(asked, folded(asked, failed, says, edit), {"greet.py"}, named, named, {}, [])
    assert other is not None and other.paths == ("tests/test_greet.py",)


def test_a_search_that_found_nothing_owes_no_edit_of_some_other_file() -> None:
    """ "find the message about needing at least one person and change it to ...": the search found
    nothing, and the 0.5B edited the meeting notes; with no file named or found, nothing is owed."""
    asked = "find the message about needing at least one person and change it to 'need someone'"
    assert owed(asked, ("grep", {"pattern": "needing"}, "no matches for 'needing'")) is None
    found = owed(asked, ("grep", {"pattern": "person"}, "calc.py:3: x = 'one person'"))
    assert found is not None and found.tools == ("read_file",) and found.paths == ("calc.py",)


def test_a_summary_of_each_file_listed_reads_them() -> None:
    """ "see what's in the tests folder and give me a one-liner on each file in there": the 0.5B listed
    the folder and answered from the names alone (ch8-009)."""
    listing = ("list_files", {"path": "tests"}, "__init__.py\ntest_calc.py\ntest_textutils.py")
    plan = owed("see what's in the tests folder and give me a one-liner on each file in there", listing)
    assert plan is not None and plan.paths == ("tests/test_calc.py", "tests/test_textutils.py")
    assert owed("what's in the tests folder?", listing) is None  # the listing answers it


def test_whether_two_named_files_match_reads_both() -> None:
    """ "does the top entry in the changelog match the version pyproject declares?": the 0.5B read the
    changelog, then the README and settings.toml, never pyproject.toml (ch9-007)."""
    asked = "does the top entry in the changelog match the version settings.toml declares?"
    read = ("read_file", {"path": "Makefile"}, "## 0.3.1")
    plan = owed(asked, read, named=["Makefile", "settings.toml"])
    assert plan is not None and plan.tools == ("read_file",) and plan.paths == ("settings.toml",)
    newer = "is the top entry in the Makefile newer than settings.toml?"
    assert owed(newer, read, named=["Makefile", "settings.toml"]) is None
