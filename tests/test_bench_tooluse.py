"""The tool-use and grounded-answer benchmarks: their labelled sets are well formed and satisfiable,
their outcome checks tell a right edit from a wrong one, and one request runs end to end through
Assistant, the real built-in tool servers and the scripted endpoint."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.scripted_server import ScriptedServer, text, tool_calls

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_tooluse  # noqa: E402
import tooluse_lib as lib  # noqa: E402

SET_NAMES = (
    "dev", "test", "test2", "test3", "test4", "test5", "test6", "test7", "test8", "test9",
    "test10", "chains", "chains-heldout", "chains-heldout2", "chains-heldout3", "chains-heldout4",
    "chains-heldout5", "chains-heldout6", "chains-heldout7", "test11", "chains-heldout8", "test12", "chains-heldout9",
)  # fmt: skip
SETS = {name: lib.load_jsonl(BENCH / "tooluse" / f"{name}.jsonl") for name in SET_NAMES}
# Requests that test2 repeats from test (written before this check); every later set is disjoint from all others.
KNOWN_REPEATS = {"how many test files are there?", "what does http status 404 mean?"}
FIXTURE = BENCH / "tooluse" / "workspace"
CHECK_KEYS = {"call", "calls", "min_calls", "files", "unchanged", "tests_pass", "no_calls"}
FILE_KEYS = {"added", "removed", "max_added", "max_removed", "contains", "absent"}
TOOLS = {"list_files", "read_file", "glob", "grep", "write_file", "edit_file", "run_command", "run_python"}


def test_sets_have_the_sizes_the_issue_asks_for_and_no_overlap() -> None:
    assert len(SETS["test"]) >= 100
    assert len(SETS["chains"]) >= 10
    assert 25 <= len(SETS["dev"]) < 60
    ids = [r["id"] for rows in SETS.values() for r in rows]
    assert len(ids) == len(set(ids))
    dev = {r["request"].lower() for r in SETS["dev"]}
    assert not dev & {r["request"].lower() for r in SETS["test"] + SETS["chains"]}
    test = SETS["test"]
    assert sum(not r["needs_tool"] for r in test) >= 15  # greetings, knowledge, "write a function"
    assert sum(bool(r["turns"]) for r in test) >= 10  # follow-ups
    requests = [r["request"].lower().strip() for rows in SETS.values() for r in rows]
    repeated = {q for q in requests if requests.count(q) > 1}
    assert repeated <= KNOWN_REPEATS, repeated - KNOWN_REPEATS


@pytest.mark.parametrize(
    ("name", "prefix", "size"),
    [("test5", "t5", 40), ("chains-heldout2", "ch2", 10), ("test6", "t6", 40), ("chains-heldout3", "ch3", 10),
     ("test7", "t7", 40), ("chains-heldout4", "ch4", 10), ("test8", "t8", 40), ("chains-heldout5", "ch5", 10),
     ("test9", "t9", 40), ("chains-heldout6", "ch6", 10), ("test10", "t10", 40), ("chains-heldout7", "ch7", 10),
     ("test11", "t11", 40), ("chains-heldout8", "ch8", 10), ("test12", "t12", 40), ("chains-heldout9", "ch9", 10)],
)  # fmt: skip
def test_the_later_held_out_sets_have_their_size_and_mix(name: str, prefix: str, size: int) -> None:
    rows = SETS[name]
    assert [r["id"] for r in rows] == [f"{prefix}-{i:03d}" for i in range(1, size + 1)]
    if name.startswith("chains"):
        assert all(r["check"]["min_calls"] >= 2 and r["needs_tool"] for r in rows)
        return
    assert sum(r["needs_tool"] for r in rows) == 30
    assert all(r["check"] == {"no_calls": True} for r in rows if not r["needs_tool"])
    assert sum(bool(r["turns"]) for r in rows) >= 5
    # an edit names the file it changes and bounds the rest of it
    for r in rows:
        for spec in r["check"].get("files", {}).values():
            assert "max_added" in spec and "max_removed" in spec and (spec.get("added") or spec.get("removed")), r["id"]


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_record_is_well_formed(name: str) -> None:
    for r in SETS[name]:
        assert r["needs_tool"] == bool(r["expect_tool"]), r["id"]
        assert set(r["expect_tool"]) <= TOOLS, r["id"]
        assert set(r["check"]) <= CHECK_KEYS, r["id"]
        assert r["check"], r["id"]
        assert not re.search(r"\b(read_file|list_files|edit_file|write_file|run_command|grep tool)\b", r["request"])
        for spec in [r["check"].get("call"), *r["check"].get("calls", [])]:
            if spec:
                assert set(spec["tool"]) <= TOOLS, r["id"]
                for pattern in spec.get("args", {}).values():
                    re.compile(pattern)
        for path, spec in r["check"].get("files", {}).items():
            assert set(spec) <= FILE_KEYS, r["id"]
            assert (FIXTURE / path).is_file() or path == "notes/ideas.txt", (r["id"], path)
        for pattern in r.get("answer", []):
            re.compile(pattern)
        assert isinstance(r["check"].get("tests_pass", True), (bool, str)), r["id"]  # str: a pytest -k selection


def test_fixture_has_exactly_the_one_failing_test_and_its_fix_passes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    lib.reset_workspace(FIXTURE, ws)
    ok, tail = lib.run_tests(ws, True)
    assert not ok and "1 failed, 11 passed" in tail
    calc = ws / "calc.py"
    calc.write_text(calc.read_text().replace("part / whole * 10\n", "part / whole * 100\n"))
    assert lib.run_tests(ws, True)[0]


def _turn(*calls: tuple[str, dict[str, Any]]) -> lib.TurnRecord:
    return lib.TurnRecord(calls=[lib.Call(n, a, json.dumps(a), "native") for n, a in calls])


def _record(rid: str) -> dict[str, Any]:
    return next(r for rows in SETS.values() for r in rows if r["id"] == rid)


def test_an_append_to_the_todo_list_passes_and_a_rewrite_fails(tmp_path: Path) -> None:
    rec = _record("dev-16")  # Add 'release 0.4 in June' at the end of the todo list.
    ws = tmp_path / "ws"
    before = lib.snapshot(FIXTURE)
    lib.reset_workspace(FIXTURE, ws)
    todo = ws / "notes" / "todo.txt"
    todo.write_text(todo.read_text() + "- release 0.4 in June\n")
    assert lib.check_outcome(rec["check"], _turn(("edit_file", {"path": "notes/todo.txt"})), ws, before) == []

    lib.reset_workspace(FIXTURE, ws)
    todo.write_text("- release 0.4 in June\n")  # the whole list replaced
    problems = lib.check_outcome(rec["check"], _turn(("write_file", {"path": "notes/todo.txt"})), ws, before)
    assert any("lines removed" in p for p in problems)

    lib.reset_workspace(FIXTURE, ws)
    todo.write_text(todo.read_text() + "- release 0.4 in June\n")
    (ws / "README.md").write_text("gone\n")  # and something else touched
    problems = lib.check_outcome(rec["check"], _turn(), ws, before)
    assert problems == ["changed too: README.md"]


def test_a_read_check_wants_the_named_file_and_no_change(tmp_path: Path) -> None:
    rec = _record("dev-01")  # Show me calc.py
    ws = tmp_path / "ws"
    lib.reset_workspace(FIXTURE, ws)
    before = lib.snapshot(FIXTURE)
    assert lib.check_outcome(rec["check"], _turn(("read_file", {"path": f"{ws}/calc.py"})), ws, before) == []
    assert lib.check_outcome(rec["check"], _turn(("read_file", {"path": "./calc.py"})), ws, before) == []
    assert lib.check_outcome(rec["check"], _turn(("read_file", {"path": "textutils.py"})), ws, before)
    assert lib.check_outcome(rec["check"], _turn(("calc.py", {})), ws, before)


def test_a_no_tool_check_fails_on_any_call(tmp_path: Path) -> None:
    rec = _record("dev-25")  # hi!
    ws = tmp_path / "ws"
    lib.reset_workspace(FIXTURE, ws)
    before = lib.snapshot(FIXTURE)
    assert lib.check_outcome(rec["check"], _turn(), ws, before) == []
    assert lib.check_outcome(rec["check"], _turn(("list_files", {})), ws, before) == ["called list_files"]


MAKEFILE_CHECKS = [
    ("check: lint test\n", True),
    ("check:\n\t$(MAKE) lint\n\t$(MAKE) test\n", True),
    ("check: lint\n\t$(PYTHON) -m pytest -q tests\n", True),
    ("check:\n\truff check .\n\t$(PYTHON) -m pytest -q tests\n", True),
    ("check: test lint\n", False),  # the tests before the lint
    ("check:\n", False),  # runs nothing
]


@pytest.mark.parametrize(("target", "ok"), MAKEFILE_CHECKS)
def test_a_make_check_target_passes_in_any_form_that_lints_then_tests(tmp_path: Path, target: str, ok: bool) -> None:
    rec = _record("t5-019")  # I'd like a `make check` target that runs lint and then the tests
    ws = tmp_path / "ws"
    lib.reset_workspace(FIXTURE, ws)
    before = lib.snapshot(FIXTURE)
    makefile = ws / "Makefile"
    makefile.write_text(makefile.read_text().replace("\nclean:", f"\n{target}\nclean:"))
    assert (lib.check_outcome(rec["check"], _turn(), ws, before) == []) is ok


def test_an_insert_after_an_item_must_land_there(tmp_path: Path) -> None:
    rec = _record("t5-016")  # add 'handle negative bills' to the todo list, right after the currency one
    ws = tmp_path / "ws"
    before = lib.snapshot(FIXTURE)
    todo = ws / "notes" / "todo.txt"
    for after, ok in (("- add a --currency flag\n", True), ("- fix percent() rounding\n", False)):
        lib.reset_workspace(FIXTURE, ws)
        todo.write_text(todo.read_text().replace(after, after + "- handle negative bills\n"))
        assert (lib.check_outcome(rec["check"], _turn(), ws, before) == []) is ok


def test_a_chain_fix_is_checked_by_running_the_tests(tmp_path: Path) -> None:
    rec = next(r for r in SETS["chains"] if r["request"].startswith("Run the tests, then fix"))
    ws = tmp_path / "ws"
    lib.reset_workspace(FIXTURE, ws)
    before = lib.snapshot(FIXTURE)
    run = ("run_command", {"command": "python -m pytest -q"})
    calc = ws / "calc.py"
    calc.write_text(calc.read_text().replace("* 10\n", "* 100\n"))
    assert lib.check_outcome(rec["check"], _turn(run, ("edit_file", {"path": "calc.py"})), ws, before) == []
    lib.reset_workspace(FIXTURE, ws)
    problems = lib.check_outcome(rec["check"], _turn(run), ws, before)
    assert any(p.startswith("tests fail") for p in problems)


SLUG_AT = 'chez-marie-paris"\n'


def _slug_test(expected: str) -> str:
    return f'\n\ndef test_slugify_number():\n    assert slugify("Table 12") == "{expected}"\n'


TRUNCATE = '''def truncate(text: str, width: int = 20) -> str:
    if len(text) <= width:
        return text
    return text[: width - 3] + "..."'''
MEAN_END = "return sum(values) / len(values)\n"
MEDIAN = (
    "\n\ndef median(values: list[float]) -> float:\n    ordered = sorted(values)\n    mid = len(ordered) // 2\n"
    "    if len(ordered) % 2:\n        return ordered[mid]\n    return (ordered[mid - 1] + ordered[mid]) / 2\n"
)
POWER = "\n\ndef power(base: float, exponent: float) -> float:\n    return base {} exponent\n"
IF_PEOPLE = "    if people < 1:\n"
NEG_BILL = '    if bill {} 0:\n        raise ValueError("negative bill")\n' + IF_PEOPLE
RUN_TARGET = "run:\n\t$(PYTHON) -m tipcalc 84.50 --people 3 --tip 15\n\n"
FIRST = "- First public release."
PERCENT_TODO = "- fix percent() rounding\n"
REWORDED = "- fix percent() returning 10x too little\n"
UNRELEASED = "## Unreleased\n- Fix percent() being off by a factor of ten.\n"
MEDIAN_IMPORT = ("tests/test_calc.py", "mean, multiply", "mean, median, multiply")
MEAN_TEST = "assert mean([1, 2, 3, 4]) == 2.5\n"
EMPTY_MEAN = "\n\ndef test_mean_of_nothing():\n    with pytest.raises({}):\n        mean([])\n"
HALVES = "\n\ndef test_divide_halves():\n    assert divide(7, 2) == {}\n"
Edit = tuple[str, str, str]

# test7 and chains-heldout4: a right edit and a near miss may each be several replacements.
EDIT_CASES_7: list[tuple[str, Edit | list[Edit], Edit | list[Edit]]] = [
    ("t7-014", ("textutils.py", TRUNCATE, TRUNCATE.replace("width", "limit")),
     ("textutils.py", "width: int", "limit: int")),  # the body still says width
    ("t7-015", ("tipcalc/split.py", "tip_percent: float = 18", "tip_percent: float = 15"),
     ("tipcalc/__main__.py", "default=18", "default=15")),  # the CLI's default, not split_bill's
    ("t7-016", (".gitignore", ".pytest_cache/\n", ".pytest_cache/\ndist/\n"),
     (".gitignore", ".pytest_cache/\n", "dist/\n")),
    ("t7-017", ("calc.py", MEAN_END, MEAN_END + POWER.format("**")),
     ("calc.py", MEAN_END, MEAN_END + POWER.format("*"))),
    ("t7-018", ("tipcalc/split.py", IF_PEOPLE, NEG_BILL.format("<")),
     ("tipcalc/split.py", IF_PEOPLE, NEG_BILL.format("<="))),  # refuses a zero bill too
    ("t7-019", [("Makefile", RUN_TARGET, ""), ("Makefile", "lint run clean", "lint clean")],
     ("Makefile", "run:\n", "")),  # the recipe left under lint
    ("t7-020", ("CHANGELOG.md", FIRST, "- First public release on PyPI."),
     ("CHANGELOG.md", FIRST, "- First public release on PyPI")),
    ("t7-021", ("settings.toml", "round_to = 0.01", "round_to = 1"),
     ("settings.toml", "round_to = 0.01", "round_to = 0.1")),
    ("t7-022", ("tests/test_calc.py", "== 3\n", "== 3\n" + HALVES.format("3.5")),
     ("tests/test_calc.py", "== 3\n", "== 3\n" + HALVES.format("3"))),
    ("t7-027", ("tipcalc/split.py", "to the cent.", "to the cent; people must be at least 1."),
     ("tipcalc/split.py", IF_PEOPLE, "    # people must be at least 1\n" + IF_PEOPLE)),  # not in the docstring
    ("t7-030", ("notes/todo.txt", PERCENT_TODO, REWORDED),
     ("notes/todo.txt", PERCENT_TODO, PERCENT_TODO + REWORDED)),  # the old item kept
    ("ch4-003", ("CHANGELOG.md", "## 0.3.1\n", UNRELEASED + "\n## 0.3.1\n"),
     ("CHANGELOG.md", FIRST + "\n", FIRST + "\n\n" + UNRELEASED)),  # at the bottom
    ("ch4-004", ("calc.py", "whole * 10\n", "whole * 100\n"), ("calc.py", "whole * 10\n", "whole * 10.0\n")),
    ("ch4-005",
     [("calc.py", MEAN_END, MEAN_END + MEDIAN), MEDIAN_IMPORT,
      ("tests/test_calc.py", MEAN_TEST, MEAN_TEST + "\n\ndef test_median():\n    assert median([3, 1, 2]) == 2\n")],
     [("calc.py", MEAN_END, MEAN_END + MEDIAN), MEDIAN_IMPORT,
      ("tests/test_calc.py", MEAN_TEST, MEAN_TEST + "\n\ndef test_median():\n    assert median([3, 1, 2]) == 3\n")]),
    ("ch4-006", [("Makefile", "84.50", "90.00"), ("README.md", "84.50", "90.00")], ("README.md", "84.50", "90.00")),
    ("ch4-010", ("tests/test_calc.py", MEAN_TEST, MEAN_TEST + EMPTY_MEAN.format("ValueError")),
     ("tests/test_calc.py", MEAN_TEST, MEAN_TEST + EMPTY_MEAN.format("ZeroDivisionError"))),
]  # fmt: skip

MODULE_DOC = '"""Small text helpers for receipts."""\n'
CALC_DOC = '"""Arithmetic helpers used by tipcalc."""\n'
TIP_DEF = "def tip_amount(bill: float, tip_percent: float) -> float:\n"
NEG_TIP = '    if tip_percent < 0:\n        raise ValueError("the tip must not be negative")\n'
AUTHORS = 'authors = [{ name = "Dana Whitfield" }]'
DESCRIPTION = 'description = "Split restaurant bills and tips"'
MEETING = "notes/meeting-2024-05-02.md"

# test8 and chains-heldout5
EDIT_CASES_8: list[tuple[str, Edit | list[Edit], Edit | list[Edit]]] = [
    ("t8-014", ("textutils.py", MODULE_DOC, MODULE_DOC + '\n__all__ = ["slugify", "word_count", "truncate"]\n'),
     ("textutils.py", MODULE_DOC, MODULE_DOC + '\n__all__ = ["slugify", "word_count"]\n')),  # one left out
    ("t8-015", ("Makefile", "PYTHON ?= python\n", "PYTHON ?= python3\n"),
     ("Makefile", "\t$(PYTHON) -m pytest", "\tpython3 -m pytest")),  # the recipe, not the default
    ("t8-016", ("Makefile", "pytest -q tests", "pytest -q -x tests"),
     ("Makefile", "pytest -q tests", "pytest -q -v tests")),
    ("t8-017", ("pyproject.toml", "line-length = 100\n",
                'line-length = 100\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'),
     ("pyproject.toml", "line-length = 100\n", 'line-length = 100\ntestpaths = ["tests"]\n')),  # under [tool.ruff]
    ("t8-018", (MEETING, "- Decision: keep the default tip at 18 percent.\n", ""),
     (MEETING, "- Luis will look at currency formatting.\n", "")),
    ("t8-019", ("tests/test_split.py", "def test_split_bill():", "def test_split_bill_evenly():"),
     ("tests/test_split.py", "def test_tip_amount():", "def test_split_bill_evenly():")),
    ("t8-020", ("pyproject.toml", DESCRIPTION, 'description = "Split restaurant bills, tip included"'),
     ("tipcalc/__init__.py", "split restaurant bills and tips.", "Split restaurant bills, tip included.")),
    ("t8-021", ("calc.py", CALC_DOC, CALC_DOC + "\nfrom __future__ import annotations\n"),
     ("calc.py", MEAN_END, MEAN_END + "\nfrom __future__ import annotations\n")),  # at the bottom: a SyntaxError
    ("t8-022", ("tipcalc/split.py", TIP_DEF, TIP_DEF + NEG_TIP),
     ("tipcalc/split.py", IF_PEOPLE, NEG_TIP + IF_PEOPLE)),  # in split_bill, not tip_amount
    ("t8-023", ("tipcalc/__main__.py", 'add_argument("--people",', 'add_argument("-p", "--people",'),
     ("tipcalc/__main__.py", '    parser.add_argument("--tip"', '    parser.add_argument("-p", type=int, default=1)\n'
      '    parser.add_argument("--tip"')),  # a second option, --people left alone
    ("ch5-003", ("pyproject.toml", AUTHORS, 'authors = [{ name = "Dana Whitfield" }, { name = "Luis" }]'),
     ("pyproject.toml", AUTHORS, 'authors = [{ name = "Luis" }]')),  # Dana replaced
    ("ch5-004", ("calc.py", "whole * 10\n", "whole * 100\n"), ("tests/test_calc.py", "== 25.0", "== 2.5")),
    ("ch5-005", ("tests/test_textutils.py", SLUG_AT, SLUG_AT + '\n\ndef test_slugify_case():\n'
                 '    assert slugify("HELLO World") == "hello-world"\n'),
     ("tests/test_textutils.py", SLUG_AT, SLUG_AT + '\n\ndef test_slugify_case():\n'
      '    assert slugify("HELLO World") == "HELLO-World"\n')),
    ("ch5-006", ("tipcalc/__main__.py", "each person pays", "each person owes"),
     ("tipcalc/__main__.py", 'f"each person pays {share:.2f}"', 'f"each person owes"')),  # the amount dropped
    ("ch5-009", ("tests/test_split.py", "== 30.0\n", "== 30.0\n\n\ndef test_split_four_ways():\n"
                 "    assert split_bill(100, 4, tip_percent=0) == 25.0\n"),
     ("tests/test_split.py", "== 30.0\n", "== 30.0\n\n\ndef test_split_four_ways():\n"
      "    assert split_bill(100, 4) == 25.0\n")),  # the default tip left in
]  # fmt: skip

LINT = "lint:\n\truff check .\n"
TIP_ARG = 'parser.add_argument("--tip", type=float, default=18)'
TRUNC_DEF = "def truncate(text: str, width: int = 20) -> str:\n"
WIDTH_CHECK = '    if width < {}:\n        raise ValueError("width too small")\n'
CLAMP = "\n\ndef clamp(value: float, low: float, high: float) -> float:\n    return max(low, min(value, high))\n"
TRUNC_TEST = 'assert truncate("a" * 30, 10) == "aaaaaaa..."\n'
WC_TEST = 'assert word_count("two words") == 2\n'
WC_CASE = '\n\ndef test_word_count_spaces():\n    assert word_count("  lots   of   space  ") == {}\n'
TYPECHECK = "typecheck:\n{}mypy .\n\n"
VERSION = 'version = "0.3.1"'
INIT_VERSION = '__version__ = "0.3.1"'
NEW_VERSION = 'version = "0.3.2"'
NEW_INIT_VERSION = '__version__ = "0.3.2"'

# test9 and chains-heldout6
EDIT_CASES_9: list[tuple[str, Edit | list[Edit], Edit | list[Edit]]] = [
    ("t9-014", ("Makefile", LINT, LINT + "\truff format --check .\n"),
     ("Makefile", "pytest -q tests\n", "pytest -q tests\n\truff format --check .\n")),  # under test, not lint
    ("t9-015", (".gitignore", ".pytest_cache/\n", ".pytest_cache/\n*.egg-info/\n"),
     (".gitignore", ".pytest_cache/\n", "*.egg-info/\n")),  # .pytest_cache dropped
    ("t9-016", ("pyproject.toml", DESCRIPTION, DESCRIPTION + '\nkeywords = ["tips", "bills", "restaurant"]'),
     ("pyproject.toml", "line-length = 100\n", 'line-length = 100\nkeywords = ["tips", "bills", "restaurant"]\n')),
    ("t9-017", ("tipcalc/__main__.py", TIP_ARG, TIP_ARG[:-1] + ', help="tip in percent")'),
     ("tipcalc/__main__.py", "int, default=1)", 'int, default=1, help="tip in percent")')),  # on --people
    ("t9-018", ("textutils.py", TRUNC_DEF, TRUNC_DEF + WIDTH_CHECK.format(4)),
     ("textutils.py", TRUNC_DEF, TRUNC_DEF + WIDTH_CHECK.format(3))),  # width 3 still allowed
    ("t9-019", ("calc.py", MEAN_END, MEAN_END + CLAMP), ("textutils.py", "return text[: width - 3] + \"...\"\n",
                                                        "return text[: width - 3] + \"...\"\n" + CLAMP)),
    ("t9-020", ("CHANGELOG.md", "## 0.3.1\n", "## 0.3.1 (2024-04-20)\n"),
     ("CHANGELOG.md", "## 0.3.0\n", "## 0.3.0 (2024-04-20)\n")),  # the wrong release
    ("t9-021", ("notes/todo.txt", "--currency flag\n", "--currency flag (luis)\n"),
     ("notes/todo.txt", "--currency flag\n", "--currency flag\n- (luis) currency flag\n")),  # a second item
    ("t9-022", (MEETING, "planned for June.", "planned for July."),
     (MEETING, "planned for June.\n", "planned for June.\n- Release moved to July.\n")),
    ("t9-023", ("tests/test_textutils.py", TRUNC_TEST, TRUNC_TEST + '    assert truncate("short") == "short"\n'),
     ("tests/test_textutils.py", TRUNC_TEST, TRUNC_TEST + '    assert truncate("short", 4) == "short"\n')),  # fails
    ("ch6-003", ("Makefile", "clean:\n", TYPECHECK.format("\t") + "clean:\n"),
     ("Makefile", "clean:\n", TYPECHECK.format("    ") + "clean:\n")),  # spaces, not a tab
    ("ch6-004", ("calc.py", "whole * 10\n", "whole * 100\n"), ("tests/test_calc.py", "== 25.0", "== 2.5")),
    ("ch6-005", ("tests/test_textutils.py", WC_TEST, WC_TEST + WC_CASE.format(3)),
     ("tests/test_textutils.py", WC_TEST, WC_TEST + WC_CASE.format(5))),
    ("ch6-006", ("calc.py", "mean of an empty list", "mean() needs at least one value"),
     ("calc.py", 'ValueError("mean of an empty list")', 'ZeroDivisionError("mean() needs at least one value")')),
    ("ch6-010", [("pyproject.toml", VERSION, NEW_VERSION), ("tipcalc/__init__.py", INIT_VERSION, NEW_INIT_VERSION)],
     [("pyproject.toml", VERSION, NEW_VERSION), ("CHANGELOG.md", "## 0.3.1", "## 0.3.2")]),  # the package missed
]  # fmt: skip

TODO_CURRENCY = "- add a --currency flag\n"
PARSE = "    args = parser.parse_args()"
VERSION_ARG = '    parser.add_argument("--version", action="version", version={})\n' + PARSE
RAISES_ZERO = "pytest.raises(ZeroDivisionError):"
MAKE_RUN_DOC = "    make run      # an example bill\n"
SETTINGS_LINE = "- Read defaults from settings.toml.\n"
DEFAULT_18 = "- Default tip is now 18 percent.\n"
CENT_LINE = "- Fix rounding of shares to the cent.\n"
MULTIPLY_CASE = "\n\ndef test_multiply_float():\n    assert multiply(2.5, 4) == {}\n"
SURNAME = ("Dana Whitfield", "Dana Whitfield-Ross")

# test10 and chains-heldout7
EDIT_CASES_10: list[tuple[str, Edit | list[Edit], Edit | list[Edit]]] = [
    ("t10-014", (".gitignore", ".pytest_cache/\n", ".pytest_cache/\n.venv/\n"),
     (".gitignore", ".pytest_cache/\n", ".pytest_cache/\nvenv/\n")),  # not the folder asked for
    ("t10-015", ("settings.toml", "show_total = true\n", "show_total = true\nshow_tip = true\n"),
     ("settings.toml", "round_to = 0.01\n", "round_to = 0.01\nshow_tip = true\n")),  # in [defaults]
    ("t10-016", ("calc.py", MEAN_END, MEAN_END + "\n\naverage = mean\n"),
     ("calc.py", CALC_DOC, CALC_DOC + "\naverage = mean\n")),  # before mean exists: the import fails
    ("t10-017", ("pyproject.toml", DESCRIPTION, DESCRIPTION + '\nreadme = "README.md"'),
     ("pyproject.toml", "line-length = 100\n", 'line-length = 100\nreadme = "README.md"\n')),  # under [tool.ruff]
    ("t10-018", [("notes/todo.txt", TODO_CURRENCY, ""), ("notes/todo.txt", "- support", TODO_CURRENCY + "- support")],
     ("notes/todo.txt", "- support", TODO_CURRENCY + "- support")),  # copied to the top, the old one kept
    ("t10-019", [("tipcalc/__main__.py", "from tipcalc.split", "from tipcalc import __version__\nfrom tipcalc.split"),
                 ("tipcalc/__main__.py", PARSE, VERSION_ARG.format("__version__"))],
     ("tipcalc/__main__.py", PARSE, VERSION_ARG.format('"0.3.1"'))),  # hard-coded, not the package's
    ("t10-020", ("tests/test_calc.py", RAISES_ZERO, RAISES_ZERO[:-2] + ', match="cannot divide by zero"):'),
     ("tests/test_calc.py", RAISES_ZERO, RAISES_ZERO[:-2] + ', match="Cannot divide by zero"):')),  # never matches
    ("t10-021", ("README.md", MAKE_RUN_DOC, MAKE_RUN_DOC + "    make clean    # remove caches\n"),
     ("README.md", "MIT, see LICENSE.\n", "MIT, see LICENSE.\n    make clean\n")),  # under Licence
    ("t10-024", [("Makefile", "clean:\n", "install:\n\t$(PYTHON) -m pip install -e .\n\nclean:\n"),
                 ("Makefile", "lint run clean", "lint run install clean")],
     ("Makefile", "clean:\n", "install:\n    pip install -e .\n\nclean:\n")),  # spaces, not a tab
    ("t10-025", ("CHANGELOG.md", SETTINGS_LINE, SETTINGS_LINE + DEFAULT_18),
     ("CHANGELOG.md", CENT_LINE, CENT_LINE + DEFAULT_18)),  # under 0.3.1
    ("ch7-003", ("notes/todo.txt", "- write docs", "- [x] write docs"),
     ("notes/todo.txt", "- fix percent()", "- [x] fix percent()")),  # the wrong item
    ("ch7-004", ("calc.py", "whole * 10\n", "whole * 100\n"), ("tests/test_calc.py", "== 25.0", "== 2.5")),
    ("ch7-005", ("tests/test_calc.py", "== 12\n", "== 12\n" + MULTIPLY_CASE.format("10")),
     ("tests/test_calc.py", "== 12\n", "== 12\n" + MULTIPLY_CASE.format("10.5"))),
    ("ch7-006", ("tipcalc/split.py", "people must be at least 1", "need at least one person to split the bill"),
     ("tipcalc/split.py", 'ValueError("people must be at least 1")',
      'RuntimeError("need at least one person to split the bill")')),
    ("ch7-010", [("pyproject.toml", *SURNAME), ("LICENSE", *SURNAME)], ("pyproject.toml", *SURNAME)),  # LICENSE missed
]  # fmt: skip

SETTINGS_TODO = "- write docs for settings.toml\n"
SUPPORT_TODO = "- support splitting by item instead of evenly\n"
TODO_TEXT = SUPPORT_TODO + TODO_CURRENCY + SETTINGS_TODO + PERCENT_TODO
SORTED_TODO = TODO_CURRENCY + PERCENT_TODO + SUPPORT_TODO + SETTINGS_TODO
DECISION = "- Decision: keep the default tip at 18 percent.\n"
ACTION = "- Dana to write up the settings docs.\n"
APOSTROPHE = '\n\ndef test_slugify_apostrophe():\n    assert slugify("Joe\'s Diner") == "{}"\n'
FMT_TARGET = "fmt:\n{}ruff format .\n\nclean:\n"
DIVIDE_DEF = "def divide(a: float, b: float) -> float:\n"
MULTIPLY_DEF = "def multiply(a: float, b: float) -> float:\n"
DIVIDE_DOC = '    """Divide a by b; raises ZeroDivisionError if b is zero."""\n'
TRUNC_END = 'return text[: width - 3] + "..."\n'
TITLE_CASE = '\n\ndef title_case(text: str) -> str:\n    return " ".join(w.capitalize() for w in text.split())\n'
FIFTY = "\n\ndef test_tip_on_fifty():\n    assert tip_amount(50, {}) == 10.0\n"
V040 = ("pyproject.toml", VERSION, 'version = "0.4.0"')
PY310 = ("pyproject.toml", '">=3.9"', '">=3.10"')
UNRELEASED_310 = "## Unreleased\n- Require Python 3.10 or newer.\n"

# test11 and chains-heldout8
EDIT_CASES_11: list[tuple[str, Edit | list[Edit], Edit | list[Edit]]] = [
    ("t11-021", ("notes/todo.txt", PERCENT_TODO, ""),
     ("notes/todo.txt", SETTINGS_TODO + PERCENT_TODO, "")),  # the item before it gone too
    ("t11-022", ("settings.toml", "tip_percent = 18", "tip_percent = 20"),
     ("tipcalc/__main__.py", "default=18", "default=20")),  # the CLI's default, not the setting
    ("t11-023", (MEETING, DECISION, DECISION + ACTION), (MEETING, DECISION, ACTION)),  # the decision replaced
    ("t11-024", ("tests/test_textutils.py", SLUG_AT, SLUG_AT + APOSTROPHE.format("joe-s-diner")),
     ("tests/test_textutils.py", SLUG_AT, SLUG_AT + APOSTROPHE.format("joes-diner"))),  # fails
    ("t11-025", [("Makefile", "clean:\n", FMT_TARGET.format("\t")),
                 ("Makefile", "lint run clean", "lint run fmt clean")],
     ("Makefile", "clean:\n", FMT_TARGET.format("    "))),  # spaces, not a tab
    ("t11-026", ("README.md", "## Licence", "## License"),
     [("README.md", "## Licence", "## License"), ("README.md", "MIT, see LICENSE.", "MIT, see License.")]),
    ("t11-027", (".gitignore", ".pytest_cache/\n", ".pytest_cache/\n.ruff_cache/\n"),
     (".gitignore", ".pytest_cache/\n", ".ruff_cache/\n")),  # .pytest_cache dropped
    ("t11-028", ("calc.py", DIVIDE_DEF, DIVIDE_DEF + DIVIDE_DOC),
     ("calc.py", MULTIPLY_DEF, MULTIPLY_DEF + DIVIDE_DOC)),  # on multiply
    ("t11-029", ("textutils.py", TRUNC_END, TRUNC_END + TITLE_CASE), ("calc.py", MEAN_END, MEAN_END + TITLE_CASE)),
    ("t11-030", [V040, ("tipcalc/__init__.py", INIT_VERSION, '__version__ = "0.4.0"')],
     [V040, ("tipcalc/__init__.py", INIT_VERSION, '__version__ = "0.4"')]),  # not the same version
    ("ch8-003", ("notes/todo.txt", TODO_TEXT, SORTED_TODO),
     ("notes/todo.txt", SUPPORT_TODO + TODO_CURRENCY, TODO_CURRENCY + SUPPORT_TODO)),  # only the first item moved
    ("ch8-004", ("calc.py", "whole * 10\n", "whole * 100\n"), ("tests/test_calc.py", "== 25.0", "== 2.5")),
    ("ch8-005", ("tests/test_split.py", "== 15.0\n", "== 15.0\n" + FIFTY.format("20")),
     ("tests/test_split.py", "== 15.0\n", "== 15.0\n" + FIFTY.format("0.2"))),  # a fraction, not a percent
    ("ch8-006", ("calc.py", "cannot divide by zero", "division by zero is not allowed"),
     ("calc.py", 'ZeroDivisionError("cannot divide by zero")', 'ValueError("division by zero is not allowed")')),
    ("ch8-010", [PY310, ("CHANGELOG.md", "## 0.3.1\n", UNRELEASED_310 + "\n## 0.3.1\n")],
     [PY310, ("CHANGELOG.md", FIRST + "\n", FIRST + "\n\n" + UNRELEASED_310)]),  # at the bottom
]  # fmt: skip

CLEAN = "rm -rf .pytest_cache __pycache__ */__pycache__"
SUB_TEST = "assert subtract(10, 4) == 6\n"
NEGATIVE = "\n\ndef test_subtract_negative():\n    assert subtract(4, 10) == {}\n"
RUFF_I = 'extend-select = ["I"]\n'
PEOPLE_MSG = '"people must be at least 1"'
SAFE = (
    "\n\ndef safe_divide(a: float, b: float, default: float = {}) -> float:\n"
    "    if b == 0:\n        return default\n    return a / b\n"
)
PAYS = 'f"each person pays {share:.2f}'
CASH = "- handle cash rounding\n"
WC_DEF = "def word_count(text: str) -> int:\n"
WC_DOC = '    """Number of whitespace-separated words in text."""\n'
ADD_TEST = "assert add(2, 3) == 5\n"
APPROX = "\n\ndef test_add_floats():\n    assert add(0.1, 0.2) == {}\n"
SLUG_DOC = "'Chez Marie, Paris' -> 'chez-marie-paris'"
TIP_20 = ("settings.toml", "tip_percent = 18", "tip_percent = 20")

# test12 and chains-heldout9
EDIT_CASES_12: list[tuple[str, Edit | list[Edit], Edit | list[Edit]]] = [
    ("t12-014", ("settings.toml", 'currency = "EUR"', 'currency = "GBP"'),
     ("settings.toml", 'language = "en"\n', 'language = "en"\ncurrency = "GBP"\n')),  # under [display], EUR kept
    ("t12-015", ("Makefile", CLEAN, CLEAN + " .ruff_cache"),
     ("Makefile", ".pytest_cache __pycache__", ".ruff_cache __pycache__")),  # .pytest_cache no longer cleaned
    ("t12-016", ("tests/test_calc.py", SUB_TEST, SUB_TEST + NEGATIVE.format("-6")),
     ("tests/test_calc.py", SUB_TEST, SUB_TEST + NEGATIVE.format("6"))),  # fails
    ("t12-017", ("README.md", "## Licence", "## Requirements\n\nPython 3.9 or newer.\n\n## Licence"),
     ("README.md", "## Development", "Needs Python 3.9 or newer.\n\n## Development")),  # no section of its own
    ("t12-018", ("pyproject.toml", "line-length = 100\n", "line-length = 100\n\n[tool.ruff.lint]\n" + RUFF_I),
     ("pyproject.toml", '">=3.9"\n', '">=3.9"\n' + RUFF_I)),  # under [project]
    ("t12-019", ("tipcalc/split.py", PEOPLE_MSG, 'f"people must be at least 1, got {people}"'),
     ("tipcalc/split.py", PEOPLE_MSG, '"people must be at least 1, got {people}"')),  # not an f-string
    ("t12-020", ("calc.py", MEAN_END, MEAN_END + SAFE.format("0.0")),
     ("calc.py", MEAN_END, MEAN_END + SAFE.format("None"))),
    ("t12-021", ("LICENSE", "(c) 2024 Dana", "(c) 2024-2025 Dana"), ("LICENSE", "(c) 2024 Dana", "(c) 2025 Dana")),
    ("t12-022", (MEETING, "Present: Dana, Luis", "Present: Dana, Luis, Priya"),
     (MEETING, "Present: Dana, Luis\n", "Present: Dana, Luis\nAlso present: Priya\n")),
    ("t12-023", ("tipcalc/__main__.py", PAYS, PAYS + " EUR"),
     ("tipcalc/__main__.py", PAYS, 'f"each person pays EUR {share:.2f}')),  # the currency before the amount
    ("t12-024", ("notes/todo.txt", SUPPORT_TODO, CASH + SUPPORT_TODO),
     ("notes/todo.txt", PERCENT_TODO, PERCENT_TODO + CASH)),  # at the bottom
    ("t12-025", ("settings.toml", "show_total = true", "show_total = false"),
     ("settings.toml", "show_total = true", "show_total = False")),  # not TOML
    ("t12-026", ("calc.py", "whole * 10\n", "whole * 100\n"), ("tests/test_calc.py", "== 25.0", "== 2.5")),
    ("t12-030", ("textutils.py", WC_DEF, WC_DEF + WC_DOC), ("textutils.py", TRUNC_DEF, TRUNC_DEF + WC_DOC)),
    ("ch9-003", ("Makefile", "--people 3 --tip 15", "--people 3 --tip 18"),
     ("README.md", "--people 3 --tip 15", "--people 3 --tip 18")),  # the README's example, not make run
    ("ch9-004", ("calc.py", "whole * 10\n", "whole * 100\n"), ("tests/test_calc.py", "== 25.0", "== 2.5")),
    ("ch9-005", ("tests/test_calc.py", ADD_TEST, ADD_TEST + APPROX.format("pytest.approx(0.3)")),
     ("tests/test_calc.py", ADD_TEST, ADD_TEST + APPROX.format("0.3"))),  # exact float comparison fails
    ("ch9-006", ("textutils.py", SLUG_DOC, "'Le Petit Bistro' -> 'le-petit-bistro'"),
     ("tests/test_textutils.py", '"Chez Marie, Paris") == "chez-marie-paris"',
      '"Le Petit Bistro") == "le-petit-bistro"')),  # the test changed, not the docstring
    ("ch9-010", [TIP_20, ("tipcalc/__main__.py", "default=18", "default=20")],
     [TIP_20, ("tipcalc/split.py", "tip_percent: float = 18", "tip_percent: float = 20")]),  # split_bill, not the CLI
]  # fmt: skip

# (record, file, text replaced, replacement): a right edit and a near miss for each edit label of
# test6 and chains-heldout3 (then test7's, chains-heldout4's, test8's and chains-heldout5's above); the
# right one must pass the label's file checks, the near miss must not.
EDIT_CASES: list[tuple[str, Edit | list[Edit], Edit | list[Edit]]] = [
    ("t6-016", ("pyproject.toml", '"Dana Whitfield" }]\n', '"Dana Whitfield" }]\nlicense = { text = "MIT" }\n'),
     ("pyproject.toml", "line-length = 100\n", 'line-length = 100\nlicense = "MIT"\n')),  # under [tool.ruff]
    ("t6-017", ("README.md", "--people 3 --tip", "--people 4 --tip"), ("Makefile", "--people 3", "--people 4")),
    ("t6-018", ("calc.py", "float]) -> float:\n", 'float]) -> float:\n    """The average of values."""\n'),
     ("calc.py", "float]) -> float:\n", "float]) -> float:\n    # the average\n")),
    ("t6-019", ("notes/todo.txt", "- write docs for settings.toml\n", ""),
     ("notes/todo.txt", "- write docs for settings.toml\n- fix percent() rounding\n", "")),
    ("t6-020", ("settings.toml", 'language = "en"', 'locale = "en"'),
     ("settings.toml", 'language = "en"', 'locale = "fr"')),
    ("t6-021", ("tipcalc/__main__.py", "int, default=1)", "int, default=2)"),
     ("tipcalc/__main__.py", "float, default=18)", "float, default=2)")),
    ("t6-028", ("notes/todo.txt", "- add a --currency flag\n", ""),
     ("notes/todo.txt", "- add a --currency flag\n", "- [x] add a --currency flag\n")),
    ("t6-029", ("notes/meeting-2024-05-02.md", "18 percent.\n", "18 percent.\n\nNext meeting: 16 May.\n"),
     ("notes/meeting-2024-05-02.md", "Luis\n", "Luis\nNext meeting: 16 May.\n")),  # not at the bottom
    ("t6-030", ("tests/test_split.py", "15.0\n", "15.0\n\n\ndef test_no_tip():\n    assert tip_amount(40, 0) == 0\n"),
     ("tests/test_split.py", "15.0\n", "15.0\n\n\ndef test_no_tip():\n    assert tip_amount(40, 0) == 1\n")),
    ("ch3-004", ("calc.py", "whole * 10\n", "whole * 100\n"), ("tests/test_calc.py", "== 25.0", "== 2.5")),
    ("ch3-005", ("tests/test_textutils.py", SLUG_AT, SLUG_AT + _slug_test("table-12")),
     ("tests/test_textutils.py", SLUG_AT, SLUG_AT + _slug_test("Table-12"))),
    ("ch3-006", ("calc.py", 'raise ValueError("mean of an empty list")', "return 0.0"),
     ("calc.py", '    if not values:\n        raise ValueError("mean of an empty list")\n', "")),
    ("ch3-007", ("tipcalc/__main__.py", "float, default=18)", "float, default=20)"),
     ("tipcalc/split.py", "tip_percent: float = 18", "tip_percent: float = 20")),
    ("ch3-010", ("tests/test_textutils.py", '"a" * 30, 10) == "aaaaaaa..."', '"b" * 25, 10) == "bbbbbbb..."'),
     ("tests/test_textutils.py", '"a" * 30, 10) == "aaaaaaa..."', '"b" * 25, 10) == "aaaaaaa..."')),
    *EDIT_CASES_7,
    *EDIT_CASES_8,
    *EDIT_CASES_9,
    *EDIT_CASES_10,
    *EDIT_CASES_11,
    *EDIT_CASES_12,
]  # fmt: skip


@pytest.mark.parametrize(("rid", "right", "near_miss"), EDIT_CASES, ids=[c[0] for c in EDIT_CASES])
def test_the_later_edit_labels_take_a_right_edit_and_refuse_a_near_miss(
    tmp_path: Path, rid: str, right: Edit | list[Edit], near_miss: Edit | list[Edit]
) -> None:
    check = {k: v for k, v in _record(rid)["check"].items() if k not in ("calls", "min_calls")}
    ws = tmp_path / "ws"
    before = lib.snapshot(FIXTURE)
    for edits, ok in ((right, True), (near_miss, False)):
        lib.reset_workspace(FIXTURE, ws)
        for path, old, new in edits if isinstance(edits, list) else [edits]:
            text = (ws / path).read_text()
            assert old in text, (rid, old)
            (ws / path).write_text(text.replace(old, new, 1))
        assert (lib.check_outcome(check, _turn(), ws, before) == []) is ok, (rid, ok)


def test_every_edit_label_of_the_later_sets_is_exercised() -> None:
    later = ("test6", "chains-heldout3", "test7", "chains-heldout4", "test8", "chains-heldout5", "test9",
             "chains-heldout6", "test10", "chains-heldout7", "test11", "chains-heldout8", "test12",
             "chains-heldout9")  # fmt: skip
    labelled = {r["id"] for name in later for r in SETS[name] if "files" in r["check"]}
    assert labelled == {c[0] for c in EDIT_CASES}


def test_grounded_questions_are_labelled_and_their_anchors_resolve() -> None:
    import sysconfig

    import bench_grounded

    questions = lib.load_jsonl(bench_grounded.QUESTIONS)
    assert len(questions) >= 40
    assert len({q["id"] for q in questions}) == len(questions)
    lib_dir = Path(sysconfig.get_paths()["stdlib"])
    bench_grounded.resolve_labels(questions, lib_dir)
    assert [q["id"] for q in questions if q["line"] is None] == []
    q = next(q for q in questions if q["file"] == "textwrap.py")
    cited = bench_grounded.score(q, [], f"See textwrap.py:{q['line']}-{q['line'] + 3}: width=70.", lib_dir)
    assert cited["cites_file"] and cited["cites_lines"] and not cited["retrieved_file"]
    assert not bench_grounded.score(q, [], "See mytextwrap.py.", lib_dir)["cites_file"]


def test_one_request_end_to_end_through_assistant_and_the_builtin_servers(
    scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted.script(tool_calls(("read_file", {"path": "calc.py"})), text("calc.py holds the arithmetic helpers."))
    records = [_record("dev-01")]
    out = tmp_path / "out.jsonl"
    args = argparse.Namespace(base_url=scripted.base_url, model=None, local_model="", max_steps=0, turn_timeout=60.0,
                              resume=False, set="dev")  # fmt: skip
    for var in ("PATH", "ASSISTANT_CONFIG"):  # isolate_environment sets both: restored after the test
        monkeypatch.setenv(var, os.environ.get(var, ""))
    rows = asyncio.run(bench_tooluse.run_set(records, args, out))
    assert rows[0]["first_tool"] == "read_file"
    assert rows[0]["first_arguments"] == {"path": "calc.py"}
    assert rows[0]["outcome_ok"] and rows[0]["right_first_tool"]
    assert "def percent" in rows[0]["calls"][0]["result"]
    lines = lib.load_jsonl(out)
    assert lines[-1]["summary"]["right_first_tool"] == [1, 1]


def test_tool_caches_are_not_counted_as_changes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    lib.reset_workspace(FIXTURE, ws)
    (ws / ".ruff_cache" / "0.1").mkdir(parents=True)
    (ws / ".ruff_cache" / "0.1" / "x").write_text("cache")
    (ws / "tests" / "__pycache__").mkdir()
    (ws / "tests" / "__pycache__" / "t.pyc").write_text("x")
    assert lib.snapshot(ws) == lib.snapshot(FIXTURE)
