"""After a tool result: what the request still asks for, decided from the request and the results.

A small model is a poor judge of its own next step. Measured on the 0.5B model over the chain
tasks of benchmarks/bench_tooluse.py: after the first call it answered, or wrote the call it had
just made again as text, in 12 of 13 tasks, although the request asked for more ("find the file
... and show me all of it", "read every file in it", "run the tests, then fix whatever fails").
The request's own words say what is owed; the results say which files:

* **reads**: the request asks to see files ("show me", "open", "read", "go through") and a
  search or listing of this turn found files not read yet, or it named files not read yet;
* **the source behind a failure**: a run failed and the request asks to fix it or to show the
  code: the files defining the functions the failure output calls (``percent(1, 4)`` in an
  assertion names ``calc.py``, where ``percent`` is defined);
* **edits**: an instruction to change files is owed once per file it names (each read first);
* **runs**: a run asked for and not made; after a fix of a failing run, the same command again.

Each is owed at most once (a file read, edited; a command run twice at most), so a failing tool
cannot loop. Tool results are untrusted: they only select among the workspace's own paths and the
commands the request or the turn already used; nothing in them runs or widens what is allowed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.conversation import ANSWER_NOTE
from assistant.grounding import (
    COMMON,
    MAKE_PASS,
    MIN_SYMBOL,
    RUN_ASKED,
    asks_edit,
    bare_tool,
    keeps_tests,
    normal_path,
    read_regular,
)
from assistant.turntext import last_user_text, said_text

RESULT_BLOCK = re.compile(r"\[The tool call ([\w-]+)\((.*?)\) returned:\]\n", re.S)
# Asking to see files: "show me all of it", "open it", "read every file", "go through each file",
# "what the notes say". "Show me where X is used" is answered by the search itself.
READ_ASKED = re.compile(
    r"\b(?:open|read|cat|view|go through|compare|diff)\b"
    r"|\bshow\b(?:\s+\w+){0,6}?\s+(?:it|them|files?|source|code|contents?|one|all)\b"
    r"|\bwhat\b.*\b(?:says?|decided?)\b"
    # "see what's in the notes folder and give me a one-liner on each file in there" (ch8-009: listed only)
    r"|\b(?:summari[sz]e|sum up)\b"
    # "does the top entry in the changelog match the version pyproject declares?" (ch9-007: the 0.5B
    # read the changelog, then the README and settings.toml)
    r"|\b(?:match|matches|agree|agrees|lines? up|consistent|in sync|differ|differs)\b"
    r"|\b(?:one-?liner|summary|overview|rundown|gist|line|sentence|blurb)s?"
    r" (?:on|of|for|about|per) (?:each|every|all)\b"
)
WANTS_TESTS = re.compile(
    r"\btest (?:file|module|case)s?\b|\btested\b|\b(?:its|their) tests?\b"
    r"|\bthe [\w.()]+ test\b(?! suite)"  # "find the truncate test and make it use 25 'b's"
)
# (implementing a stub is fixing its body: "implement `reorder_list` in report.py" rewrites its
# `raise NotImplementedError`)
FIX_ASKED = re.compile(
    r"\b(?:fix|repair|correct|patch(?! release| version| level| number)|make (?:it|them|the tests?) pass|why|implement"
    r"|sort (?:it|this|that|them) out)\b"
    r"|" + MAKE_PASS.pattern  # "get the test suite green again please"
)
SHOW_SOURCE = re.compile(r"\b(?:source|code|function|broken|failing|fails?)\b")
TEST_WORD = re.compile(r"\btests?\b|\btest suite\b|\bpytest\b|\btested\b")
JUST_THAT = re.compile(r"\b(?:just|only)\b|\bthat test\b")
FAILED = re.compile(r"^exit code (?!0\b)\d+", re.M)
CALLED = re.compile(r"\b([A-Za-z_]\w*)\(")
FRAME = re.compile(r'^\s*File "([^"]+)", line \d+, in ([A-Za-z_]\w*)$', re.M)
MANY_FILES = re.compile(r"\b(?:every|each|both)\b|\ball\b(?! of (?:it|this|that)\b)")  # not "all of it"
MAX_READ_OWED = 8  # files read in one turn by these rules (every/each/all)
MAX_RUNS = 2  # a run, and once more after a fix
CREATE_ASKED = re.compile(
    r"\b(?:create|new file|rewrite|overwrite|replace (?:the )?(?:whole|entire|all)|from scratch|write (?:a|the) file)\b"
)


@dataclass(frozen=True)
class Result:
    """One tool call of the current turn and what it returned (bare tool name)."""

    name: str
    arguments: dict[str, Any]
    content: str


@dataclass(frozen=True)
class Owed:
    """The next call a request still owes: the tools, and for some the only arguments allowed."""

    tools: tuple[str, ...]
    why: str
    paths: tuple[str, ...] = ()  # read_file / edit_file: only these files
    commands: tuple[str, ...] = ()  # run_command: only these command lines
    symbols: frozenset[str] = field(default_factory=frozenset)  # definitions the edit is about
    fix: bool = False  # a fix: the body of those definitions, not their signature or docstring


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def turn_results(messages: Sequence[dict[str, Any]]) -> list[Result]:
    """The calls of the current turn with their results, folded into the user's turn or not."""
    out: list[Result] = []
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for message in reversed(messages):
        role = message.get("role")
        if role == "user":
            content = message.get("content")
            if isinstance(content, str) and ANSWER_NOTE in content:
                folded = content.split(ANSWER_NOTE, 1)[1]
                found = list(RESULT_BLOCK.finditer(folded))
                blocks = []
                for i, match in enumerate(found):
                    end = found[i + 1].start() if i + 1 < len(found) else len(folded)
                    blocks.append(Result(bare_tool(match.group(1)), _arguments(match.group(2)),
                                         folded[match.end() : end].rstrip("\n")))  # fmt: skip
                out[:0] = blocks
            break
        if role == "tool":
            out.insert(0, Result(str(message.get("tool_call_id", "")), {}, str(message.get("content") or "")))
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            calls[str(call.get("id", ""))] = (bare_tool(str(fn.get("name", ""))), _arguments(str(fn.get("arguments"))))
    resolved = []
    for result in out:
        if result.name in calls:  # a native tool message: its call gives the name and arguments
            name, args = calls[result.name]
            resolved.append(Result(name, args, result.content))
        else:
            resolved.append(result)
    return resolved


def found_files(result: Result, files: Sequence[str]) -> list[str]:
    """Workspace files a search or listing result names (only names that exist count)."""
    known = set(files)
    named: list[str] = []
    if result.name == "grep":
        named = [line.split(":", 1)[0] for line in result.content.splitlines() if re.match(r"[^:\s][^:]*:\d+:", line)]
    elif result.name == "glob":
        named = [line.strip() for line in result.content.splitlines()]
    elif result.name == "run_command":  # "run the cli, then show me its code": the module it ran
        command = str(result.arguments.get("command") or "")
        module = re.search(r"\bpython3?\s+-m\s+([\w.]+)", command)
        script = re.search(r"\bpython3?\s+([\w./-]+\.py)\b", command)
        if module:
            base = module.group(1).replace(".", "/")
            named = [base + "/__main__.py", base + ".py"]
        elif script:
            named = [script.group(1)]
    elif result.name == "list_files":
        folder = normal_path(str(result.arguments.get("path") or "."))
        prefix = folder + "/" if folder else ""
        named = [prefix + line.strip() for line in result.content.splitlines() if not line.strip().endswith("/")]
    return [p for p in dict.fromkeys(normal_path(n) for n in named) if p in known]


def failure_sources(content: str, defined_in: dict[str, set[str]]) -> tuple[list[str], set[str]]:
    """(files, symbols): where the functions a failure output calls are defined, tests last.

    ``assert percent(1, 4) == 25.0`` names no source file; ``percent`` is defined in calc.py.
    """
    # a traceback's frames outside the tests name the function that failed (`File ".../shapes.py",
    # line 13, in perimeter`); the names called in the test (`Rect(2, 3).perimeter()`) also name the
    # class, whose whole body the fix was then free to change (the 1.5B added methods after __init__,
    # and the unimplemented ones below still won)
    sources = {f for names in defined_in.values() for f in names}
    symbols = {s for s in failed_names(content, sources) if s in defined_in}
    files: list[str] = []
    for sym in sorted(symbols):
        files.extend(sorted(defined_in[sym]))
    ranked = sorted(dict.fromkeys(files), key=is_test_file)
    return ranked, symbols


def failed_names(content: str, files: AbstractSet[str]) -> set[str]:
    """The functions a failure points at: the frames of a traceback in the workspace's own files
    outside the tests, else every name called in the output ("assert percent(1, 4) == 25.0")."""
    frames = set()
    for path, name in FRAME.findall(content):
        own = _own_file(path, files)
        if own is not None and not is_test_file(own):
            frames.add(name)
    return {n for n in frames or set(CALLED.findall(content)) if not n.startswith("test")}


def _own_file(path: str, files: AbstractSet[str]) -> str | None:
    """The workspace file a traceback's (absolute) path is, if any (the run's folder varies)."""
    path = path.replace("\\", "/")
    found = [f for f in files if path == f or path.endswith("/" + f)]
    return max(found, key=len) if found else None


# "add a test that word_count('  lots   of   space  ') is 3, then run the textutils tests": the test
# goes in the tests' file (the 0.5B, sent to textutils.py, which the request names, edited it)
ADD_TEST = re.compile(
    r"\b(?:add|write|create|put in|include)\s+(?:a |an |another |one more |some |the )?"
    r"(?:new |small |quick |unit |regression )*tests?\b(?! suite)"
)


def tests_for(names: Sequence[str], files: Sequence[str], defined_in: dict[str, set[str]]) -> tuple[str, ...]:
    """The names of a request that adds a test, each code file (or a definition's file) led by the test
    file that covers it (``test_<stem>.py``), when the workspace has one."""
    out: list[str] = []
    for name in names:
        sources = [name] if name in files else sorted(defined_in.get(name, ())) if not name.endswith("/") else []
        for source in sources:
            stem = source.rsplit("/", 1)[-1].removesuffix(".py")
            if source.endswith(".py") and not is_test_file(source):
                out += [f for f in files if f.rsplit("/", 1)[-1] in (f"test_{stem}.py", f"{stem}_test.py")]
        out.append(name)
    kept = list(dict.fromkeys(out))
    return tuple(n for n in kept if not (n in files and not is_test_file(n) and any(is_test_file(k) for k in kept)))


def is_test_file(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return base.startswith("test_") or base.endswith("_test.py") or path.startswith("tests/")


def _ranked(paths: Iterable[str], request: str, preferred: AbstractSet[str] = frozenset()) -> list[str]:
    """The files worth reading, best first: those defining what the request names, then those
    sharing a word with it ("each test file": only the test_*.py ones when there are such)."""
    words = set(re.findall(r"[a-z]{3,}", request.lower()))
    words |= {w[:-1] for w in words if w.endswith("s")}
    paths = list(paths)
    # a word of the name said, or said longer ("the module that does the bill splitting": split.py)
    shared = {p: _said(re.findall(r"[a-z]{3,}", p.rsplit("/", 1)[-1].lower()), words) for p in paths}
    sharing = [p for p in paths if shared[p]]
    kept = sharing if sharing and MANY_FILES.search(request) else paths
    # "find where tip_amount is tested and show me that whole test file": the test file, not the one
    # defining tip_amount (the 0.5B was sent to tipcalc/split.py)
    tests_first = bool(WANTS_TESTS.search(request.lower()))
    return sorted(kept, key=lambda p: (tests_first != is_test_file(p), p not in preferred, -shared[p],
                                       is_test_file(p)))  # fmt: skip


GENERIC_NAMES = frozenset(["test", "tests", "init", "main", "conftest"])


def _said(names: list[str], words: set[str]) -> int:
    """How many of a file name's words the request says (or says longer: "splitting" for split; or
    the start of it: "the text helpers" for textutils);
    "test" counts only when nothing else does ("the test covering the bill splitting": test_split.py,
    not test_calc.py)."""
    hits = {n for n in names for w in words
            if w == n or (len(n) >= 4 and w.startswith(n)) or (len(w) >= 4 and n.startswith(w))}  # fmt: skip
    specific = hits - GENERIC_NAMES
    return 2 * len(specific) + (1 if hits & GENERIC_NAMES else 0)


@dataclass
class TurnState:
    """What the current turn has done, from its results."""

    results: list[Result]
    read: set[str]  # files the conversation shows (read_file, this turn or earlier)

    def called(self, *names: str) -> list[Result]:
        return [r for r in self.results if r.name in names]

    def edited(self) -> set[str]:
        return {normal_path(str(r.arguments.get("path", ""))) for r in self.called("edit_file", "write_file")}


def next_owed(request: str, messages: Sequence[dict[str, Any]], read: set[str], files: Sequence[str],
              named: Sequence[str], defined_in: dict[str, set[str]],
              tests: Sequence[str] = (), python: str = "python",
              edited: Sequence[str] | None = None) -> Owed | None:  # fmt: skip
    """The call the request still owes after this turn's results, or None (the model decides).

    ``named``: workspace files the request names; ``defined_in``: definition name -> files;
    ``tests``: test files that use a definition the request names; ``edited``: of the files named,
    those the change is for, when the request also names files only to read ("read the meeting
    notes and add a todo item": the todo list).
    """
    low = " ".join(request.lower().split())
    state = TurnState(turn_results(messages), read)
    if not state.results:
        return None
    said = set(re.findall(r"\w+", low))
    called = {sym for sym in defined_in if f"{sym.lower()}(" in low}  # "mean() has no docstring"
    preferred = {f for sym, where in defined_in.items()
                 if sym.lower() in said and (names_definition(sym) or sym in called) for f in where}  # fmt: skip
    # "Do not edit or delete the tests": read from the words as typed (``request`` has lost its
    # negated clauses); a named test file judges the change, it is no target (after each fix the
    # agent read the test "to edit it" instead of running it, in 14 of 23 repository tasks)
    kept = keeps_tests(said_text(last_user_text(messages)))
    return (
        _failure_read(low, state, defined_in)
        or _edit_owed(low, state, named if edited is None else edited, preferred, files, kept)
        or _run_owed(low, state, files, tests, python)
        or _read_owed(low, state, files, named, preferred)
    )


def names_definition(symbol: str) -> bool:
    """Is a definition's name, said in a request, about that definition? ("percent", "split_bill": yes;
    "test", the Makefile target, in "the percent test fails": no)."""
    return "_" in symbol.strip("_") or (len(symbol) >= MIN_SYMBOL and symbol.lower() not in COMMON)


def related_tests(root: Path, files: Sequence[str], symbols: set[str], limit: int = 50) -> list[str]:
    """Test files that mention one of ``symbols`` ("run the test of tip_amount": tests/test_split.py)."""
    if not symbols:
        return []
    return [rel for rel in [f for f in files if is_test_file(f) and f.endswith(".py")][:limit]
            if _words_of(root / rel) & symbols]  # fmt: skip


_WORDS: dict[Path, tuple[float, int, frozenset[str]]] = {}  # a test file's words, while it is unchanged


def _words_of(path: Path) -> frozenset[str]:
    """The identifiers in a file (cached per file by mtime and size: this runs on every step)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return frozenset()
    cached = _WORDS.get(path)
    if cached is None or cached[:2] != (st.st_mtime, st.st_size):
        data = read_regular(path, 256 * 1024)
        words = frozenset(re.findall(r"\w+", data.decode("utf-8", "replace"))) if data is not None else frozenset()
        if len(_WORDS) > 2000:
            _WORDS.clear()
        cached = _WORDS[path] = (st.st_mtime, st.st_size, words)
    return cached[2]


def call_keys(messages: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """(tool, arguments) of every call of the current turn, arguments as canonical JSON."""
    return {(r.name, json.dumps(r.arguments, sort_keys=True)) for r in turn_results(messages)}


def _failure_read(low: str, state: TurnState, defined_in: dict[str, set[str]]) -> Owed | None:
    runs = state.called("run_command")
    if not runs or state.edited() or not FAILED.search(runs[-1].content):
        return None
    if not (FIX_ASKED.search(low) or (READ_ASKED.search(low) and SHOW_SOURCE.search(low))):
        return None
    files, symbols = failure_sources(runs[-1].content, defined_in)
    if any(f in state.read for f in files):
        return None  # the source is shown: the fix (or the answer) is next
    unread = [f for f in files if f not in state.read]
    if not unread:
        return None
    return Owed(("read_file",), "the failure calls " + ", ".join(sorted(symbols)[:3]), paths=tuple(unread[:2]),
                symbols=frozenset(symbols))  # fmt: skip


def _edit_owed(low: str, state: TurnState, named: Sequence[str], preferred: AbstractSet[str],
               files: Sequence[str] = (), kept: bool = False) -> Owed | None:  # fmt: skip
    if not asks_edit(low):
        return None
    runs = state.called("run_command")
    if runs and not named and FIX_ASKED.search(low) and not _failing_symbols(runs, files) and not preferred:
        return None  # "run the tests, then fix whatever fails": nothing failed, or nothing in it points at a file
    edited = state.edited()
    if kept:  # the tests are kept: none is a target
        named = [f for f in named if not is_test_file(f)]
    if (FIX_ASKED.search(low) or RUN_ASKED.search(low)) and any(not is_test_file(f) for f in named):
        # "tests/test_stats.py fails: fix median in stats.py", "give truncate a default width of 12,
        # then run the textutils tests": the tests judge the change, they are not its target (the
        # 0.5B, having changed the code, was sent to read the test file to edit it next)
        named = [f for f in named if not is_test_file(f)]
    targets = [f for f in named if f not in edited]
    if named and not targets:
        return None  # every file it names was edited
    if not named and edited:
        return None  # no file named: one edit
    ready = [f for f in targets if f in state.read]
    unread = [f for f in targets if f not in state.read]
    if unread and not ready:
        return Owed(("read_file",), f"{unread[0]} is to be edited: read it first", paths=(unread[0],))
    found = [f for r in state.called("grep", "glob", "list_files") for f in found_files(r, files)]
    if not named and not state.read and WANTS_TESTS.search(low) and (tests := [f for f in found if is_test_file(f)]):
        # "find the truncate test and make it use 25 'b's": the test file the search found (the 0.5B
        # was sent to textutils.py, which defines truncate, and changed its default width)
        return Owed(("read_file",), f"{tests[0]} is the test the request is about: read it first", paths=(tests[0],))
    if not named and not (state.read & set(preferred)):
        # no file named or read: the file defining what it names ("the percent test fails ... fix it")
        where = sorted(f for f in preferred if not is_test_file(f)) or sorted(preferred)
        if where:
            return Owed(("read_file",), f"{where[0]} defines what the request names: read it first", paths=(where[0],))
    # no file named or read, but a search found some: the first of those (the 0.5B, having found
    # `def mean(` in calc.py, edited the meeting notes)
    if not named and not state.read and not ready and (found := sorted(dict.fromkeys(found), key=is_test_file)):
        return Owed(("read_file",), f"{found[0]} is what the search found: read it first", paths=(found[0],))
    if not named and not state.read and not ready and state.called("grep", "glob") and not preferred:
        # the search found nothing, and nothing is named: no file to change (the 0.5B edited the meeting notes)
        return None
    symbols = frozenset(_failing_symbols(runs, files))
    return Owed(("edit_file",), "the request asks for an edit not made yet", paths=tuple(ready[:1]),
                symbols=symbols, fix=bool(FIX_ASKED.search(low)))  # fmt: skip


def _failing_symbols(runs: list[Result], files: Sequence[str]) -> set[str]:
    if not runs or not FAILED.search(runs[-1].content):
        return set()
    return failed_names(runs[-1].content, set(files))


def _run_owed(low: str, state: TurnState, files: Sequence[str], tests: Sequence[str], python: str) -> Owed | None:
    runs = state.called("run_command", "run_python")
    if len(runs) >= MAX_RUNS:
        return None
    if not runs:
        if not RUN_ASKED.search(low):
            return None
        return Owed(("run_command",), "the request asks for a run not made yet",
                    commands=test_commands(low, state, files, tests, python))  # fmt: skip
    # after a fix of a failing run, the same command once more: did the fix work?
    last_run = max(i for i, r in enumerate(state.results) if r.name in ("run_command", "run_python"))
    edits_after = [r for r in state.results[last_run + 1 :] if r.name in ("edit_file", "write_file")]
    first = runs[0]
    command = str(first.arguments.get("command") or "")
    if len(runs) == 1 and first.name == "run_command" and FAILED.search(first.content) and edits_after and command:
        return Owed(("run_command",), "the same command again after the fix", commands=(command,))
    return None


def workspace_python(root: Path | None) -> str:
    """The Python a test run should use: the workspace's own virtualenv, else ``python``, else ``python3``.

    Debian and Ubuntu have no ``python`` command unless a virtualenv is active.
    """
    if root is not None:
        for venv in (".venv", "venv"):
            candidate = root / venv / "bin" / "python"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return f"{venv}/bin/python"
    return "python" if shutil.which("python") else "python3"


def test_commands(low: str, state: TurnState, files: Sequence[str], tests: Sequence[str] = (),
                  python: str = "python", about_tests: bool = False) -> tuple[str, ...]:  # fmt: skip
    """The command lines a "run the tests" may be: the test files this turn found, or the whole suite.

    The 0.5B, asked to run "just that test file", wrote ``grep({`` as the command.
    """
    if not (about_tests or TEST_WORD.search(low)):
        return ()
    found: list[str] = []
    for result in state.results:
        found.extend(f for f in found_files(result, files) if is_test_file(f) and f.endswith(".py"))
    found.extend(f for f in files if is_test_file(f) and f.endswith(".py") and f.rsplit("/", 1)[-1].lower() in low)
    found.extend(tests)
    specific = [f"{python} -m pytest -q {f}" for f in dict.fromkeys(found)]
    if specific and JUST_THAT.search(low):
        return tuple(specific)
    whole = [f"{python} -m pytest -q"] + (["make test"] if "Makefile" in files else [])
    return tuple(whole + specific)


def _read_owed(low: str, state: TurnState, files: Sequence[str], named: Sequence[str],
               preferred: AbstractSet[str]) -> Owed | None:  # fmt: skip
    if not READ_ASKED.search(low):
        return None
    unread_named = [f for f in named if f not in state.read]
    if unread_named:
        return Owed(("read_file",), "the request names " + unread_named[0], paths=tuple(unread_named))
    found: list[str] = []
    for result in state.results:
        found.extend(found_files(result, files))
    candidates = _ranked(dict.fromkeys(found), low, preferred)
    many = bool(MANY_FILES.search(low))
    read_of_found = [f for f in candidates if f in state.read]
    # one of what was found ("open it"), or each of them ("every file"); other reads do not count
    if len(read_of_found) >= (MAX_READ_OWED if many else 1):
        return None
    ranked = [f for f in candidates if f not in state.read]
    if not ranked:
        return None
    return Owed(("read_file",), f"the request asks to see what {state.results[0].name} found",
                paths=tuple(ranked if many else ranked[:1]))  # fmt: skip


def previous_commands(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The commands the previous turn ran, in order (its results read as ``turn_results`` reads this turn's)."""
    current = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
    results = turn_results(messages[:current]) if current else []
    commands = [r.arguments.get("command") for r in results if r.name == "run_command"]
    return [c.strip() for c in commands if isinstance(c, str) and c.strip()]


# "ok do 60 between the two of us with a 10% tip", after the app ran: the same program, new inputs
RUN_AGAIN = re.compile(
    r"^\s*(?:(?:ok|okay|now|and|so|right|cool|then|great|nice)[,!.]?\s+)*"
    r"(?:do|try|what about|how about|and|now|same (?:thing )?(?:for|with)|again (?:with|for))\b"
)


USE_ASKED = re.compile(r"\b(?:use|run|try|start|launch)\b")


def run_again(request: str, messages: Sequence[dict[str, Any]],
              apps: Callable[[], Sequence[str]] = tuple) -> str | None:  # fmt: skip
    """The program the previous turn ran (its command's head), when the request gives it new inputs;
    or the app (the first of ``apps()``) when the previous request asked how to use or run it ("how do i
    use this thing to split a bill?" then "ok do 60 between the two of us with a 10% tip": t11-020)."""
    low = " ".join(request.lower().split())
    if not re.search(r"\d", low) or not RUN_AGAIN.match(low) or asks_edit(low):
        return None
    commands = previous_commands(messages)
    if not commands:
        users = [m for m in messages if m.get("role") == "user"]
        before = users[-2].get("content") if len(users) >= 2 else None
        asked = isinstance(before, str) and bool(USE_ASKED.search(before.lower()))
        found = apps() if asked else ()
        return found[0] if found else None
    # only a Python program runs again with new inputs: the head of any other command the model ran
    # before (a shell command, the tests, a linter) is not given to it again
    words = commands[-1].split()
    if len(words) < 2 or not Path(words[0]).name.startswith("python") or words[1] in ("-c", "-"):
        return None
    if words[1] == "-m":
        return f"{words[0]} -m {words[2]}" if len(words) > 2 and words[2] not in NOT_RERUN else None
    return " ".join(words[:2])


NOT_RERUN = frozenset(["pytest", "ruff", "pip", "unittest", "mypy", "black", "venv"])
