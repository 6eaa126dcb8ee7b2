"""The first call from a request's words (assistant/firstcall.py), and how GrammarSteps uses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.firstcall import (
    defining_files,
    first_ask,
    is_abstract,
    is_arithmetic,
    is_general,
    is_small_talk,
    literal_command,
    previous_files,
    search_terms,
    shell_commands,
)

FILES = [
    "Makefile", "README.md", "calc.py", "textutils.py", "settings.toml", "notes/todo.txt",
    "notes/meeting-2024-05-02.md", "tests/test_calc.py", "tests/test_textutils.py", "tipcalc/split.py",
]  # fmt: skip
DEFINED = {
    "percent": {"calc.py"}, "slugify": {"textutils.py"}, "split_bill": {"tipcalc/split.py"},
    "lint": {"Makefile"}, "test": {"Makefile"}, "run": {"Makefile"}, "currency": {"settings.toml"},
}  # fmt: skip


def ask(request: str, named: list[str] | None = None, folders: list[str] | None = None,
        symbols: list[str] | None = None) -> Any:  # fmt: skip
    return first_ask(request, named or [], folders or [], symbols or [], DEFINED, "python", FILES)


def only(a: Any, tool: str) -> tuple[str, ...]:
    return a.only[tool][1]


def test_small_talk_and_sums_need_no_tool() -> None:
    assert all(is_small_talk(t) for t in ("bye for now", "thanks so much!", "see you later", "hello there"))
    assert not any(is_small_talk(t) for t in ("bye, and run the tests", "thanks, now show me calc.py"))
    assert all(is_arithmetic(t) for t in ("What is 17 times 23?", "and what is 2 to the power of 10?", "12*7"))
    assert not any(is_arithmetic(t) for t in ("What is in calc.py?", "Set the tip to 15", "run test 3"))


def test_a_file_named_with_nothing_else_to_do_is_read() -> None:
    for request in ("Explain the clean target in my Makefile", "Who wrote this? It should be in calc.py.",
                    "Look at tests/test_calc.py and tell me how many tests it has"):  # fmt: skip
        named = ["Makefile"] if "Makefile" in request else ["calc.py"] if "calc.py" in request else [FILES[7]]
        a = ask(request, named)
        assert a.tools == ("read_file",) and only(a, "read_file") == tuple(named), request
    a = ask("How is percent() implemented?", symbols=["percent"])
    assert a.tools == ("read_file",) and only(a, "read_file") == ("calc.py",)


def test_searches_look_for_what_the_request_names() -> None:
    assert only(ask("Which tests use pytest.raises?"), "grep") == ("pytest.raises",)
    assert only(ask("Is the string EUR hard-coded anywhere?"), "grep") == ("EUR",)
    assert only(ask("In which file is __version__ set?"), "grep") == ("__version__",)
    assert only(ask("Where do we raise ValueError?"), "grep")[0] == "ValueError"
    assert only(ask("where is slugify used?", symbols=["slugify"]), "grep") == ("slugify",)
    assert only(ask("Which files import from calc?", ["calc.py"]), "grep") == ("calc",)
    assert "count" in only(ask("find the function that counts words"), "grep")
    # a question that only mentions searching is not a search of the workspace
    assert ask("What's the time complexity of binary search?") is None


def test_terms_keep_their_case_and_skip_filler() -> None:
    assert search_terms("search the code for ZeroDivisionError") == ["ZeroDivisionError"]
    assert search_terms("Find the functions that take a width argument") == ["width"]
    assert search_terms("find 'tip rounding' in the notes")[0] == "tip rounding"


def test_listings() -> None:
    for request in ("Show me the project structure", "ls", "What top-level folders are there?"):
        a = ask(request)
        assert a is not None and a.tools == ("list_files", "glob") and only(a, "list_files") == (".",), request
    setup = ask("Is there a setup.py in this project?")  # a file asked for by name: found at any depth
    assert setup.tools == ("glob",) and only(setup, "glob") == ("setup.py",)
    assert only(ask("What's inside the tests folder?"), "list_files") == ("tests",)
    assert only(ask("How many test files are there?"), "list_files") == ("tests",)  # the folder they are in


def test_commands_spelled_out_targets_and_tests() -> None:
    assert literal_command("Run python -m tipcalc 50 --people 2 and tell me the result") == (
        "python -m tipcalc 50 --people 2"
    )
    assert literal_command("please run `make lint`") == "make lint"
    assert literal_command("run the tests") is None
    # a tool named in words is no command: t11-017 ran `ruff over the project`; the linter's own check runs
    assert literal_command("run ruff over the project and tell me if it flags anything") is None
    assert "ruff check ." in only(ask("run ruff over the project and tell me if it flags anything"), "run_command")
    assert only(ask("ok, run the lint target"), "run_command") == ("make lint",)
    assert only(ask("Does the lint pass?"), "run_command") == ("make lint",)
    assert only(ask("What does make run print?"), "run_command") == ("make run",)
    edit_first = ask("In the Makefile, make the run target use --people 4", ["Makefile"])  # an edit: read it first
    assert edit_first.tools == ("read_file",) and only(edit_first, "read_file") == ("Makefile",)
    assert only(ask("Do all the tests pass?"), "run_command") == ("python -m pytest -q", "make test")
    assert only(ask("Run the tests again with verbose output"), "run_command")[0] == "python -m pytest -v"
    calc_only = ask("run only the calc ones", ["calc.py"])
    assert only(calc_only, "run_command") == ("python -m pytest -q tests/test_calc.py",)


def test_questions_about_the_machine_are_commands() -> None:
    assert "git status" in shell_commands("what's the git status here?", "python")[0]  # type: ignore[index]
    assert "pytest --version" in shell_commands("which version of pytest is installed?", "python")[0]  # type: ignore[index]
    assert shell_commands("how much disk space does this folder take?", "python")[0] == ("du -sh .",)  # type: ignore[index]
    assert shell_commands("what's today's date on this machine?", "python")[0] == ("date",)  # type: ignore[index]
    # knowledge, not state
    assert shell_commands("explain the difference between git merge and git rebase", "python") is None
    assert shell_commands("which python version does the project require?", "python") is None


def test_edits_and_mixed_requests_are_left_to_the_edit_rules() -> None:
    change = ask("Change the currency in settings.toml to USD", ["settings.toml"])
    assert only(change, "read_file") == ("settings.toml",)
    assert ask("Run the tests, then fix calc.py", ["calc.py"]) is None  # the run comes first: the model's choice
    assert ask("Fix percent(), then run the tests") is None
    assert only(ask("Find where split_bill is tested and run just that test file", symbols=["split_bill"]),
                "grep") == ("split_bill",)  # fmt: skip


def folded(request: str, call: str, args: dict[str, Any], result: str) -> dict[str, Any]:
    return {"role": "user", "content": f"{request}\n\n[Answer my request using these tool results:]\n\n"
                                       f"[The tool call {call}({json.dumps(args)}) returned:]\n{result}"}  # fmt: skip


def test_previous_files_are_what_the_previous_turn_was_about() -> None:
    messages = [
        folded("What's the default tip?", "read_file", {"path": "settings.toml"}, "tip_percent = 18"),
        {"role": "assistant", "content": "It is 18 (settings.toml:1)."},
        {"role": "user", "content": "Make it 15"},
    ]
    assert previous_files(messages, FILES)[0] == "settings.toml"
    grep = [
        folded("Where is percent defined?", "grep", {"pattern": "def percent"}, "calc.py:3:def percent(p, w):"),
        {"role": "assistant", "content": "In calc.py."},
        {"role": "user", "content": "show me that file"},
    ]
    assert previous_files(grep, FILES) == ["calc.py"]
    assert previous_files([{"role": "user", "content": "hi"}], FILES) == []


@pytest.mark.asyncio
async def test_grammar_steps_limit_the_first_call_to_what_is_asked(scripted: Any, tmp_path: Path) -> None:
    from tests.test_steps import answer_start, call_json, files_tools, grammar_agent, run, text

    (tmp_path / "calc.py").write_text("def percent(part, whole):\n    return part / whole * 10\n")
    (tmp_path / "notes.txt").write_text("- pytest.raises everywhere\n")
    seen: list[str] = []
    reg = files_tools(seen)

    @reg.function
    def grep(pattern: str, path: str = ".") -> str:
        """Search files for a pattern."""
        seen.append(f"grep:{pattern}")
        return "calc.py:1:def percent(part, whole):"

    agent = grammar_agent(scripted, reg)
    agent.workspace = tmp_path
    scripted.script(call_json("grep", {"pattern": "percent", "path": "."}), answer_start(), text("In calc.py."))
    await run(agent, "where is percent used?")
    first = scripted.requests[0]
    assert first.get("max_tokens") != 1  # no decision request: the words decided
    assert '\\"percent\\"' in first["grammar"] and "read_file" not in first["grammar"]
    assert seen == ["grep:percent"]


@pytest.mark.asyncio
async def test_a_sum_is_answered_without_asking_whether_to_call(scripted: Any, tmp_path: Path) -> None:
    from tests.test_steps import files_tools, grammar_agent, run, text

    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    agent = grammar_agent(scripted, files_tools([]))
    agent.workspace = tmp_path
    scripted.script(text("391"))
    await run(agent, "What is 17 times 23?")
    assert len(scripted.requests) == 1 and "grammar" not in scripted.requests[0]


def test_hidden_files_are_paths_only_when_the_request_names_them(tmp_path: Path) -> None:
    from assistant.grounding import WorkspaceNames
    from assistant.toolprompt import workspace_paths

    (tmp_path / ".gitignore").write_text("*.pyc\n")
    (tmp_path / ".env").write_text("TOKEN=secret\n")
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    assert workspace_paths(tmp_path, said="show me calc.py") == (["calc.py"], ["."])
    paths = workspace_paths(tmp_path, said="what's in .gitignore?")
    assert paths == ([".gitignore", "calc.py"], ["."])  # .env stays out
    grounding = WorkspaceNames().ground("what's in .gitignore?", tmp_path, paths)
    assert grounding.names == (".gitignore",)


def test_rules_added_after_the_third_held_out_set() -> None:
    assert is_small_talk("cheers, that's exactly what I needed") and is_small_talk("hey there, how's it going?")
    assert not is_small_talk("thanks, that's great but now run the tests")
    # "pass --people" is about an argument, not a run; an option of the project's CLI is searched for
    assert only(ask("If I don't pass --people, how many people does the bill get split between?"), "grep") == (
        "--people",
    )
    assert only(ask("When is version 0.4 supposed to ship?"), "grep") == ("0.4",)
    assert ask("What's new in Python 3.12?") is None  # a version alone is not about this project
    assert only(ask("Where's split_bill defined?", symbols=["split_bill"]), "grep") == ("split_bill",)
    assert ask("Does the name Dana appear anywhere besides calc.py?", ["calc.py"]).tools == ("grep",)
    checks = only(ask("Check whether calc.py is formatted the way ruff format wants", ["calc.py"]), "run_command")
    assert checks[0] == "ruff format --check calc.py" and all("--fix" not in c for c in checks)
    config_question = ask("What line length is ruff configured to use?")  # about its settings: not a run
    assert config_question is None or config_question.tools != ("run_command",)
    assert "wc -l" in only(ask("How many lines do all the .py files add up to?"), "run_command")[0]
    assert ask("Are there any hidden files in the root of the project?").tools == ("list_files", "glob")


def test_a_pronoun_search_after_a_turn_is_about_what_that_turn_named(tmp_path: Path) -> None:
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths

    (tmp_path / "calc.py").write_text("def multiply(a, b):\n    return a * b\n")
    steps = GrammarSteps(None, None, workspace=lambda: tmp_path)  # type: ignore[arg-type]
    steps._paths = workspace_paths(tmp_path)
    messages = [{"role": "user", "content": "Where is multiply defined?"}, {"role": "assistant", "content": "calc.py"},
                {"role": "user", "content": "and where is it used?"}]  # fmt: skip
    grounding = steps._ground("and where is it used?", messages)
    a = steps._first_ask("and where is it used?", grounding)
    assert a is not None and a.tools == ("grep",) and only(a, "grep") == ("multiply",)
    # an instruction about "it" after a turn that read a file edits that file
    messages = [folded("Show me settings.toml", "read_file", {"path": "settings.toml"}, "currency = 'EUR'"),
                {"role": "assistant", "content": "It sets the currency."},
                {"role": "user", "content": "switch it to JPY"}]  # fmt: skip
    (tmp_path / "settings.toml").write_text("currency = 'EUR'\n")
    steps._paths = workspace_paths(tmp_path)
    assert steps._ground("switch it to JPY", messages).names == ("settings.toml",)


def test_that_file_after_asking_where_a_function_is_defined_is_the_defining_file(tmp_path: Path) -> None:
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths

    (tmp_path / "tests").mkdir()
    (tmp_path / "calc.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n")
    (tmp_path / "tests" / "test_calc.py").write_text(
        "from calc import mean\n\n\ndef test_mean():\n    assert mean([2])\n"
    )
    steps = GrammarSteps(None, None, workspace=lambda: tmp_path)  # type: ignore[arg-type]
    steps._paths = workspace_paths(tmp_path)
    messages = [folded("Where is the function mean defined?", "grep", {"pattern": "mean"},
                       "tests/test_calc.py:1:from calc import mean\ncalc.py:1:def mean(xs):"),
                {"role": "assistant", "content": "It is used in tests/test_calc.py."},
                {"role": "user", "content": "show me that file"}]  # fmt: skip
    assert steps._ground("show me that file", messages).names == ("calc.py",)


def test_rules_added_after_the_fourth_held_out_set() -> None:
    assert is_small_talk("appreciate it, you saved me a bunch of time")
    assert is_small_talk("ok I'm logging off for the night, see ya")
    assert not is_small_talk("good night! can you run the tests?") and not is_small_talk("bye, and run the tests first")
    assert is_arithmetic("quick one: 7 cubed minus 43?")
    assert not is_arithmetic("run tests/test_calc.py 3 times") and not is_arithmetic("what is 2 * 3 in calc.py")


def test_rules_added_after_the_fifth_held_out_set() -> None:
    assert is_arithmetic("if a dinner costs 84.50 and we tip 15%, what's the total? just do the math")
    assert not is_arithmetic("what's the total in the last run?")  # no sum written out
    assert is_general("in general, how do people lay out the tests folder for a python project?")
    assert is_general("whats the pytest flag to stop at the first failure")
    assert not is_general("run the tests and stop at the first failure")
    assert shell_commands("how much ram is free on this machine right now?", "python")[0] == ("free -h",)
    where = shell_commands("where's the python interpreter on this box? full path pls", "python3")
    assert where is not None and where[0][0] == "which python3"
    assert shell_commands("which python version does the project require?", "python") is None
    made = ask("I'd like a `make check` target that runs lint and then the tests")
    assert made is None or "run_command" not in made.tools  # a target to create, not to run
    classes = ask("do we define any classes anywhere in the code?")
    assert classes.tools == ("grep",) and only(classes, "grep") == ("class ",)
    width = ask("Find the functions that take a width argument")
    assert only(width, "grep")[0] == "width"  # a name beats the kind of thing
    assert ask("got any shell scripts in this repo?").tools == ("list_files", "glob")
    mains = ask("Which modules can be run directly, i.e. have an if __name__ == '__main__' block?")
    assert mains.tools == ("grep",) and "__name__" in only(mains, "grep")


def test_changes_asked_without_an_edit_verb_first() -> None:
    from assistant.grounding import affirmed, asks_edit

    assert asks_edit("on my todo list the first item should say 'by dish' rather than 'by item'")
    assert asks_edit("truncate() should cut at 30 chars by default, not 20")
    assert asks_edit("retitle the meeting notes to 'planning meeting'")
    assert not asks_edit("what should be in a readme, not in the docs?")  # a question
    kept = affirmed("bump the __version__ string to 0.3.2. only that one, leave pyproject alone")
    assert "pyproject" not in kept and "bump" in kept  # the file to leave alone is not named
    assert ask("on my todo list the first item should say 'by dish' rather than 'by item'",
               named=["notes/todo.txt"]).tools == ("read_file",)  # fmt: skip


def test_running_the_app_runs_its_run_target_or_its_package() -> None:
    app = ask("Run the app on the Makefile's example bill, then show me the function that works out the share")
    assert app.tools == ("run_command",) and only(app, "run_command") == ("make run",)
    files = [*FILES, "tipcalc/__main__.py"]
    bare = first_ask("start the app", [], [], [], {}, "python3", files)
    assert only(bare, "run_command") == ("python3 -m tipcalc",)
    given = first_ask("try the app with 50 and 3 people", [], [], [], {}, "python3", files)
    assert given.tools == ("run_command",) and not given.only  # arguments: the model writes the command


def test_abbreviations_are_not_code_names() -> None:
    terms = search_terms("Which modules can be run directly, i.e. have an if __name__ == '__main__' block?")
    assert "i.e" not in terms and "__name__" in terms


def test_rules_added_after_the_sixth_held_out_set() -> None:
    # a greeting then chat that names no work; a greeting before work is not small talk
    assert is_small_talk("morning! ready to get some work done?") and is_small_talk("yo, you around?")
    assert not is_small_talk("morning! ready to fix the bug in calc.py?")
    assert not is_small_talk("hey, how are the tests doing?")
    # "quick maths" is a sum; a bill split in the tip calculator's words is left to the app
    assert is_arithmetic("quick maths: 120 split three ways with an 18% tip on top, how much each?")
    assert not is_arithmetic("How much does each of 4 people pay for a 120 bill with a 10% tip?")
    # is a program installed
    git = shell_commands("is git even installed on this machine?", "python3")
    assert git is not None and git[0][0] == "which git"
    assert shell_commands("is the package installed?", "python3") is None
    # a question about a make target reads the Makefile; one about its output runs it
    clean = ask("What exactly gets deleted when I do make lint?")
    assert clean.tools == ("read_file",) and only(clean, "read_file") == ("Makefile",)
    assert ask("What does make run print?").tools == ("run_command",)
    assert ask("run make lint, does it pass?").tools == ("run_command",)
    # "make <target>" first is the command, not the verb: a question, read (taken for an edit, the 0.5B
    # changed the README); "make test pass" and "make run use X" stay edits
    lint = ask("make lint - does it also check the tests folder, like tests/sub/x.py?")
    assert lint.tools == ("read_file",) and only(lint, "read_file") == ("Makefile",)
    from assistant.grounding import asks_edit

    assert not asks_edit("make clean - does it also get nested __pycache__ dirs?")
    assert asks_edit("make test pass again") and asks_edit("make run use --people 4")
    assert asks_edit("make lint should check formatting as well - ruff format --check after ruff check")
    change = ask("make lint should check formatting as well - ruff format --check after ruff check")
    assert change.tools == ("read_file",) and only(change, "read_file") == ("Makefile",)
    assert not asks_edit("make test fails on my machine, why?") and not asks_edit("does make lint pass?")
    assert asks_edit("make clean and remove the dist folder too")  # an edit said after the command
    # "do any of our tests use X" searches for X (the 0.5B ran the tests)
    dunder = ask("does any module define __all__")  # t9-013: the 0.5B read three files, then grepped 'def tipcalc'
    assert dunder.tools == ("grep",) and only(dunder, "grep") == ("__all__",)
    param = ask("do any of our tests use parametrize or are they all one-offs")
    assert param.tools == ("grep",) and only(param, "grep") == ("parametrize",)
    # a place excluded is not what a search looks for
    assert search_terms("is multiply used anywhere outside calc.py?")[0] == "multiply"
    assert "calc.py" not in search_terms("is multiply used anywhere outside calc.py?")


def test_rules_added_after_the_third_held_out_chain_set() -> None:
    from assistant.followup import FIX_ASKED, _ranked

    assert FIX_ASKED.search("get the test suite green again please")
    files = [*FILES, "tipcalc/__main__.py"]
    bare = first_ask("try running the cli with no args, then show me the code", [], [], [], DEFINED, "python", files)
    assert bare.only["run_command"][1] == ("python -m tipcalc",)
    assert bare.tools == ("run_command",) and "make run" not in only(bare, "run_command")  # its target passes args
    assert only(ask("run the app"), "run_command") == ("make run",)
    listed = ["tipcalc/__init__.py", "tipcalc/__main__.py", "tipcalc/split.py"]
    assert _ranked(listed, "see what's in the package and open the module that does the bill splitting")[0] == (
        "tipcalc/split.py"
    )
    found = ask("find the truncate test and make it use 25 'b's instead of 30 'a's, then run it", symbols=["truncate"])
    assert found.tools == ("grep",) and only(found, "grep")[0] == "truncate"
    assert only(ask("What test files do we have? Then show me one"), "list_files") == ("tests",)
    assert only(ask("what files do we have?"), "list_files") == (".",)


def test_a_change_of_what_an_option_names_searches_first() -> None:
    found = ask("pls make --people default to 2 in the CLI")
    assert found is not None and found.tools == ("grep",) and only(found, "grep")[0] == "--people"


def test_rules_added_after_the_seventh_held_out_set() -> None:
    assert is_small_talk("heya, hope you're not too swamped today")
    assert is_arithmetic("whats 18 percent of 84.50")
    # put in general terms, a question naming a workspace file is still knowledge
    assert is_abstract("in general, what is conftest.py used for in pytest?")
    assert is_general("in semver, what's a patch release supposed to mean?")
    assert not is_abstract("what does conftest.py do here?")
    zone = shell_commands("which timezone is this box set to?", "python3")
    assert zone is not None and zone[0] == ("date",)
    # a folder asked about is listed; code that reads a file or uses a module is searched for
    assert ask("do we have a docs folder?").tools == ("list_files", "glob")
    reads = ask("does any of the python code actually read settings.toml, or is it just sitting there?")
    assert reads.tools == ("grep",) and only(reads, "grep") == ("settings.toml",)
    assert ask("anything in the repo using pathlib?").tools == ("grep",)
    # "drop" asks for a change: the file first, not a run of its `run` target
    drop = ask("drop the run target from the Makefile, nobody uses it", named=["Makefile"])
    assert drop.tools == ("read_file",) and only(drop, "read_file") == ("Makefile",)
    # a change of a setting the request names: the file that defines it
    currency = ask("so drop the currency setting", symbols=["currency"])
    assert currency.tools == ("read_file",) and only(currency, "read_file") == ("settings.toml",)
    assert ask("add a test for percent", symbols=["percent"]) is None  # a test of it: not its own file
    # what the app gives for an input: the model writes the command with those arguments
    app = first_ask("what does tipcalc come up with for 99.99 split two ways, no tip?", ["tipcalc/split.py"], [], [],
                    {}, "python3", [*FILES, "tipcalc/__main__.py"])  # fmt: skip
    assert app.tools == ("run_command",) and not app.only


def test_the_test_of_a_definition_is_read_from_its_tests_file() -> None:
    # "the truncate test - what width does it use?": the file defining test_truncate, not truncate
    # (the 0.5B was sent to textutils.py)
    defined = {**DEFINED, "test_slugify_spaces": {"tests/test_textutils.py"}}
    about = first_ask("the slugify test - which string does it pass in?", [], [], ["slugify"], defined, "python", FILES)
    assert about.tools == ("read_file",) and only(about, "read_file") == ("tests/test_textutils.py",)
    plain = first_ask("what does slugify do with accents?", [], [], ["slugify"], defined, "python", FILES)
    assert only(plain, "read_file") == ("textutils.py",)
    assert defining_files(["percent"], defined, "the percent test") == ["calc.py"]  # no test of it: its file


def test_a_date_is_no_sum_and_a_wanted_state_is_an_edit() -> None:
    from assistant.grounding import asks_edit

    assert not is_arithmetic("put the release date 2024-04-20 on the 0.3.1 heading in the changelog")
    assert is_arithmetic("what is 2024 - 20?")
    for wanted in ("pyproject should list some keywords: tips, bills, restaurant",
                   "truncate should raise a ValueError when width is under 4, there's no room for the dots then",
                   "calc needs a clamp(value, low, high) helper that keeps value between low and high"):  # fmt: skip
        assert asks_edit(wanted), wanted
    for question in ("should truncate raise a ValueError?", "calc needs a clamp helper, doesn't it?",
                     "what should a pyproject list?"):  # fmt: skip
        assert not asks_edit(question), question
    # an option's edit finds the option, not the new text quoted after it
    tip = ask("give the --tip option a help string: 'tip in percent'")
    assert tip.tools == ("grep",) and only(tip, "grep") == ("--tip",)


def test_git_ignoring_names_the_gitignore(tmp_path: Any) -> None:
    from assistant.grounding import WorkspaceNames, asks_edit
    from assistant.toolprompt import workspace_paths

    (tmp_path / ".gitignore").write_text("dist/\n")
    (tmp_path / ".env").write_text("TOKEN=x\n")
    (tmp_path / "README.md").write_text("# x\n")
    request = "ignore egg-info folders in git too"
    paths = workspace_paths(tmp_path, said=request)
    assert paths is not None and ".gitignore" in paths[0] and ".env" not in paths[0]
    assert WorkspaceNames().ground(request, tmp_path, paths).names == (".gitignore",)
    assert asks_edit(request) and not asks_edit("ignore the tests for now, what does calc do?")
    assert ".gitignore" not in (workspace_paths(tmp_path, said="what does the readme say") or ([], []))[0]


def test_whether_a_definition_is_used_is_a_search() -> None:
    used = ask("is truncate actually used by the app, or only by its test?", symbols=["truncate"])
    assert used.tools == ("grep",) and only(used, "grep") == ("truncate",)
    from assistant.grounding import asks_edit

    assert asks_edit("push the release there back to July") and not asks_edit("push my commits to github?")


def test_there_is_the_file_the_previous_turn_showed(tmp_path: Path) -> None:
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths

    (tmp_path / "tests").mkdir()
    (tmp_path / "textutils.py").write_text("def truncate(text, width=20):\n    return text[:width]\n")
    (tmp_path / "tests" / "test_textutils.py").write_text("from textutils import truncate\n")
    steps = GrammarSteps(None, None, workspace=lambda: tmp_path)  # type: ignore[arg-type]
    steps._paths = workspace_paths(tmp_path)
    shown = [folded("show me tests/test_textutils.py", "read_file", {"path": "tests/test_textutils.py"},
                    "from textutils import truncate\n"), {"role": "assistant", "content": "Here it is."}]  # fmt: skip
    there = "add a check there that truncate leaves a short word like 'short' alone"
    assert steps._ground(there, [*shown, {"role": "user", "content": there}]).names == (
        "tests/test_textutils.py",
        "truncate",
    )
    (tmp_path / "CHANGELOG.md").write_text("## 0.3.1\n- First public release.\n")
    steps._paths = workspace_paths(tmp_path)
    push = "push the release there back to July"  # "there" is the file read, not one the answer mentions
    told = [*shown[:-1], {"role": "assistant", "content": "It imports truncate; see CHANGELOG.md for releases."}]
    assert steps._ground(push, [*told, {"role": "user", "content": push}]).names == ("tests/test_textutils.py",)
    spelled = "add the same note there and in CHANGELOG.md"
    assert "CHANGELOG.md" in steps._ground(spelled, [*shown, {"role": "user", "content": spelled}]).names
    asked = "is there a tox.ini anywhere?"  # "is there" points nowhere
    assert "tests/test_textutils.py" not in steps._ground(asked, [*shown, {"role": "user", "content": asked}]).names


def test_a_message_taken_back_is_small_talk() -> None:
    assert is_small_talk("oops, wrong window - ignore me") and is_small_talk("nvm, sent that by mistake")
    assert not is_small_talk("never mind the tests, what does calc.py do?")
    assert not is_small_talk("ignore me if this is dumb, but does split_bill round?")


def test_whether_files_exist_is_a_glob() -> None:
    from assistant.firstcall import exists_patterns

    tox = ask("is there a tox.ini or noxfile anywhere?")  # t9-009: the 0.5B grepped for 'tox.ini'
    assert tox.tools == ("glob",) and only(tox, "glob") == ("tox.ini", "noxfile*")
    txt = ask("any .txt files apart from my todo list?", named=["notes/todo.txt"])  # t9-007: it read the todo list
    assert txt.tools == ("glob",) and only(txt, "glob") == ("*.txt",)
    assert exists_patterns("got any json or yaml files lying around?") == ("*.json", "*.yaml")
    assert exists_patterns("is there a dockerfile?") == ("Dockerfile*",)
    assert exists_patterns("any python files in notes?") == ("*.py",)
    assert exists_patterns("any idea why the tests fail?") == () and exists_patterns("show me the json files") == ()


def test_a_listing_asked_before_an_open_comes_first_and_patching_is_fixing() -> None:
    from assistant.followup import FIX_ASKED
    from assistant.grounding import asks_edit

    listing = ask("see what's at the top level and open the file that has the licence text", named=["LICENSE"])
    assert listing.tools == ("list_files", "glob") and listing.firm and only(listing, "list_files") == (".",)
    assert not ask("what licence is this code under?", named=["LICENSE"]).firm
    assert asks_edit("run it, find the culprit and patch the source") and FIX_ASKED.search("patch the source")
    assert not FIX_ASKED.search("in semver, what's a patch release?") and FIX_ASKED.search("can you sort it out?")


def test_a_test_added_goes_in_the_tests_file() -> None:
    from assistant.followup import ADD_TEST, tests_for

    files = ["textutils.py", "tests/test_textutils.py", "calc.py"]
    defined = {"word_count": {"textutils.py"}, "add": {"calc.py"}}
    assert tests_for(["textutils.py"], files, defined) == ("tests/test_textutils.py",)
    assert tests_for(["word_count"], files, defined) == ("tests/test_textutils.py", "word_count")
    assert tests_for(["add"], files, defined) == ("add",)  # calc.py has no tests' file: as it was
    assert ADD_TEST.search("add a test that word_count('  lots   of   space  ') is 3")
    assert not ADD_TEST.search("add the test suite to ci") and not ADD_TEST.search("run the tests")


def test_the_cli_names_the_command_line_module(tmp_path: Path) -> None:
    from assistant.grounding import WorkspaceNames
    from assistant.toolprompt import workspace_paths

    (tmp_path / "tipcalc").mkdir()
    (tmp_path / "tipcalc" / "__main__.py").write_text("import argparse\n")
    (tmp_path / "README.md").write_text("# x\n")
    paths = workspace_paths(tmp_path)
    ground = WorkspaceNames().ground
    names = ground("read the README and the CLI module and compare", tmp_path, paths).names
    assert names == ("README.md", "tipcalc/__main__.py")
    assert ground("for a small cli would you pick argparse or click?", tmp_path, paths).names == ()


def test_whether_anything_calls_a_name_is_a_search() -> None:
    a = ask("apart from the cli, does anything else call print()?")
    assert a.tools == ("grep",) and only(a, "grep") == ("print",)


def test_what_the_app_does_with_an_input_is_a_run() -> None:
    from assistant.firstcall import APP_RUN

    assert APP_RUN.search("what does the cli do with a negative bill like -20? give it a go")
    assert not APP_RUN.search("what does the cli do with its arguments?")  # no input given: no run


def test_a_close_with_nothing_to_change_is_small_talk() -> None:
    for said in ("ok cool, nothing to change there then. thanks", "no changes needed then", "that's all, thanks"):
        assert is_small_talk(said), said
    assert not is_small_talk("nothing to change in calc.py? run the tests")


def test_names_said_as_left_out_are_not_what_the_request_is_about() -> None:
    from assistant.firststep import _excluded

    listed = ["tipcalc/__init__.py", "tipcalc/__main__.py"]
    assert _excluded("open the one that isnt __init__ or __main__", listed) == set(listed)
    assert _excluded("apart from the cli, does anything else call print()?", listed) == {"tipcalc/__main__.py"}
    assert _excluded("open calc.py, not the tests", ["calc.py"]) == set()


def test_the_one_left_after_a_listing_is_the_file_meant(tmp_path: Path) -> None:
    """ "open the one that isn't __init__ or __main__" after listing a folder (the 0.5B read __main__.py)."""
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths

    (tmp_path / "tipcalc").mkdir()
    for name in ("__init__.py", "__main__.py", "split.py"):
        (tmp_path / "tipcalc" / name).write_text("x = 1\n")
    (tmp_path / "Makefile").write_text("run:\n\tpython -m tipcalc\n")
    steps = GrammarSteps(None, None, workspace=lambda: tmp_path)  # type: ignore[arg-type]
    steps._paths = workspace_paths(tmp_path)
    listing = folded("what's in the tipcalc folder?", "list_files", {"path": "tipcalc"},
                     "__init__.py\n__main__.py\nsplit.py")  # fmt: skip
    said = "open the one that isnt __init__ or __main__"
    (tmp_path / "README.md").write_text("# tipcalc\n")
    answer = "See README.md: the folder has __init__.py, __main__.py and split.py."  # the answer names README first
    messages = [listing, {"role": "assistant", "content": answer},
                {"role": "user", "content": said}]  # fmt: skip
    assert steps._ground(said, messages).names == ("tipcalc/split.py",)
    # a make target named: the Makefile
    assert steps._ground("also add an install target that does pip install -e .", []).names == ("Makefile",)


def test_a_run_of_the_app_with_arguments_starts_with_the_apps_own_command() -> None:
    """ "run tipcalc on a 30 bill with --people 0": left free, the 0.5B ran `python tipcalc.py --people 0`."""
    files = [*FILES, "tipcalc/__main__.py"]
    a = first_ask("run tipcalc on a 30 bill with --people 0, then show me the code that decides that's an error",
                  [], ["tipcalc/"], [], DEFINED, "python", files)  # fmt: skip
    assert (
        a is not None
        and a.tools == ("run_command",)
        and a.starts == {"run_command": ("command", ("python -m tipcalc ",))}
    )


async def test_the_app_command_is_a_prefix_in_the_grammar(tmp_path: Path) -> None:
    from assistant.firstcall import Ask
    from assistant.steps import GrammarSteps

    steps = GrammarSteps(None, None, workspace=lambda: tmp_path)  # type: ignore[arg-type]
    steps._offered = [{"type": "function", "function": {"name": "run_command", "parameters": {
        "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}]  # fmt: skip
    grammar = steps._ask_grammar(Ask(("run_command",), "x", starts={"run_command": ("command", ("python -m app ",))}))
    assert grammar is not None and "python -m app " in grammar.text
    from tests.test_grammar import accepts

    assert accepts(grammar.text, '{"name": "run_command", "arguments": {"command": "python -m app 30 --people 0"}}')
    assert not accepts(grammar.text, '{"name": "run_command", "arguments": {"command": "python app.py 30"}}')


def test_a_file_asked_about_is_globbed_as_spelled() -> None:
    a = ask("is there a setup.cfg or a MANIFEST.in at the root?")
    assert a.tools == ("glob",) and only(a, "glob") == ("setup.cfg", "MANIFEST.in")


def test_rules_added_after_the_twelfth_held_out_set(tmp_path: Path) -> None:
    # which test fails: only a run tells, and the classifier is not asked (it grepped for "failing")
    for request in ("which test is failing rn?", "are the tests green?", "run the failing tests again"):
        a = ask(request)
        assert a is not None and a.tools == ("run_command",) and a.firm, request
    a = ask("which test covers percent?", symbols=["percent"])
    assert a is None or not a.firm
    # "pulls in" is an import
    a = ask("what pulls in stuff from calc.py?", ["calc.py"])
    assert a is not None and a.tools == ("grep",) and only(a, "grep") == ("calc",)
    # the language's own: answered
    assert is_general("does python's round() send 2.5 up to 3?")
    assert is_general("is python's sort stable?")
    assert not is_general("what's python's version in pyproject?")
    # "it" is the file the previous request named, though the turn read another one last
    first = folded("is there a changelog in here?", "read_file", {"path": "CHANGELOG.md"}, "## 0.3.1\n- Round.")
    then = '[The tool call read_file({"path": "notes/todo.txt"}) returned:]\n- add a --currency flag'
    messages = [
        {"role": "user", "content": first["content"] + "\n\n" + then},
        {"role": "assistant", "content": "Yes, there is one."},
        {"role": "user", "content": "what's the most recent release in it?"},
    ]
    files = [*FILES, "CHANGELOG.md"]
    assert previous_files(messages, files, place=True)[0] == "CHANGELOG.md"
    assert previous_files(messages, files)[0] == "CHANGELOG.md"


def test_the_top_of_it_is_the_previous_turns_file_and_stick_is_an_edit(tmp_path: Path) -> None:
    from assistant.grounding import asks_edit
    from assistant.steps import GrammarSteps
    from assistant.toolprompt import workspace_paths

    assert asks_edit("stick 'handle cash rounding' at the very top of it")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("- add a --currency flag\n")
    (tmp_path / "notes" / "meeting-2024-05-02.md").write_text("# Meeting\nPresent: Dana, Luis\n")
    steps = GrammarSteps(None, None, workspace=lambda: tmp_path)  # type: ignore[arg-type]
    steps._paths = workspace_paths(tmp_path)
    shown = [folded("what's left on the todo list", "read_file", {"path": "notes/todo.txt"},
                    "- add a --currency flag\n"), {"role": "assistant", "content": "One item."}]  # fmt: skip
    stick = "stick 'handle cash rounding' at the very top of it"
    assert steps._ground(stick, [*shown, {"role": "user", "content": stick}]).names == ("notes/todo.txt",)


def test_words_ending_in_ing_are_searched_by_their_stem() -> None:
    """ "whichever test covers dividing by zero": `divid` finds divide() (the 0.5B grepped "dividing")."""
    assert "divid" in search_terms("track down whichever test covers dividing by zero")
    assert "dividing" not in search_terms("track down whichever test covers dividing by zero")
    assert search_terms("anything about splitting by item?") == ["anything", "split", "item"]
    assert "sett" in search_terms("where is the rounding setting read")  # not `set`
