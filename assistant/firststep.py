"""The first call of a turn, for small models: decided from the request's words and the workspace.

A small model is a poor judge of whether a request needs the workspace and of which tool serves it
(the 0.5B called the right tool for 6 requests in 24, and invented files instead of reading them).
So the turn's first step is decided here, before the model is asked, from what the request says:

* small talk, a sum, or a general question naming nothing here: answered in words;
* a tool the user names ("use list_files"): that tool;
* the first-step classifier (assistant/intent.py, trained on labelled requests), with the word rules
  of assistant/firstcall.py beside it (firm rules settle it alone; an unsure classifier gives way);
* what the request names of the workspace (files, folders, definitions): a call limited to those.

The choice is a grammar (the calls allowed, with only the argument values the words allow) or an
answer. Nothing here runs anything: ``GrammarSteps`` (assistant/steps.py) makes the call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.conversation import ANSWER_NOTE
from assistant.firstcall import (
    CREATE_WANTED,
    SEARCH_WORDS,
    Ask,
    app_commands,
    defining_files,
    first_ask,
    is_abstract,
    is_arithmetic,
    is_general,
    is_small_talk,
    previous_files,
    search_terms,
)
from assistant.followup import (
    ADD_TEST,
    TurnState,
    is_test_file,
    run_again,
    test_commands,
    tests_for,
    workspace_python,
)
from assistant.grammar import STARTS_WITH, CallGrammar, Unsupported, call_grammar, tool_parts
from assistant.grounding import (
    EDIT_FIRST,
    FOLLOW_UP,
    LEAD_IN,
    POINTERS,
    RUN_ASKED,
    RUNS,
    Grounding,
    WorkspaceNames,
    asks_edit,
    bare_tool,
    edit_said,
)
from assistant.intent import ANSWER as INTENT_ANSWER
from assistant.intent import describe as describe_intent
from assistant.intent import intent_text
from assistant.intent import load as load_intent
from assistant.toolprompt import workspace_paths
from assistant.turntext import after_tools, passage_files, previous_request, user_text

ANSWER = "answer"

FOLDER_TOOLS = ("list_files", "glob", "grep")
OPEN_ASKED = re.compile(  # asked to see a file: "open X", "cat X", "show me the meeting notes"
    rf"^\s*{LEAD_IN}(?:open|cat|read|view|display|print(?: out)?|show me)\b(?!.*\b(?:where|which|how many)\b)"
)
RUN_FIRST = re.compile(rf"^\s*{LEAD_IN}(?:re)?run\b")
SEARCH_ASKED = re.compile(r"\b(?:find|search|grep|where|which|look for|locate|contain|contains|match|matching)\b")
NOT_FOR_FILES = ("sandbox_info",)  # tools that say nothing about the workspace's files
# Named in a request, these are not called first: the model writes its code as an answer, and that
# code is run (measured on HumanEval, 0.5B: forced to call run_python first, it wrote the code inside
# the JSON call and passed 18 of 30 tasks, against 25 of 30 writing it as an answer).
WRITE_THEN_RUN = ("run_python",)
# Below this largest probability the classifier's tool gives way to the word rules' different one. Each
# labelled set scored by a model trained without it (rules and classifier, every tool offered): 368 of
# 413 right first tools with the classifier alone, 377 with this (the rules were written from these sets'
# misses, so that gain is optimistic; 0.6 and 0.7 scored 383 and 385); false calls 13 of 107 either way.
UNSURE = 0.5
DEFINITION_WORDS = re.compile(r"\b(?:function|def|class|method|defined|defines|define|definition)\b|\w\(\)")
PATH_LIKE = re.compile(r"[\w.-]*/[\w./-]*|\b[\w-]+\.[A-Za-z]\w{0,4}\b")
# a place the previous turn showed: "there" (not "is there", "there's"), "in it", "that file"
PLACE = re.compile(
    r"(?<!\bis )(?<!\bare )(?<!\bwas )\bthere\b(?!'s| is| are| was| were)"
    r"|\b(?:in|into|to|from|under|below|above|(?:top|bottom|end|start|beginning) of)"
    r" (?:it|that file|that one|this file)\b"
    r"|\bthat file\b"
)
# "the one that isn't __init__ or __main__", "apart from the cli": the names said after these are left out
EXCLUDING = r"\b(?:isn'?t|is not|not|except|other than|apart from|aside from|besides|excluding|but)\s+"
ONE_OF = re.compile(r"\b(?:the|that|this) (?:other )?(?:one|file)\b|\bthe other\b")
PRONOUN = re.compile(r"\b(?:it|its|that one|this one|them|those)\b")


@dataclass(frozen=True)
class FirstChoice:
    """The turn's first step: a call under ``grammar``, or an answer in words (``grammar`` None)."""

    grammar: CallGrammar | None
    why: str
    decision: dict[str, Any] = field(default_factory=dict)  # what GrammarSteps.last_decision reports


def code_just_written(messages: Sequence[dict[str, Any]]) -> bool:
    """Did the previous answer write code (a fenced block), in a turn that used no tool?"""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if len(users) < 2:
        return False
    turn = messages[users[-2] : users[-1]]
    if any(m.get("role") == "tool" or m.get("tool_calls") for m in turn) or ANSWER_NOTE in user_text(turn[0]):
        return False
    answer = next((m for m in reversed(turn) if m.get("role") == "assistant"), None)
    return answer is not None and "```" in str(answer.get("content") or "")


def _answer(why: str, **decision: Any) -> FirstChoice:
    """An answer in words; a call written as it does not run (``small_talk``)."""
    return FirstChoice(None, why, {"p_call": None, **decision, "small_talk": True})


class FirstStep:
    """The first-step decision of ``GrammarSteps`` (its workspace, names and offered tools)."""

    workspace: Callable[[], Path | None] | None
    _names: WorkspaceNames
    _offered: list[dict[str, Any]]
    _paths: tuple[list[str], list[str]] | None

    def first_choice(self, request: str, content: str, messages: Sequence[dict[str, Any]],
                     grammar: CallGrammar) -> FirstChoice | None:  # fmt: skip
        """The first step of a turn, when the request decides it (None: the model's own call
        probability does). ``content`` is the user's message as sent (retrieved passages included);
        ``grammar`` is every offered tool's."""
        if (again := run_again(request, messages, self._apps)) is not None and (ran := self._rerun(again)):
            return ran  # "ok do 60 between the two of us with a 10% tip", after the app ran (t11-020)
        if is_small_talk(request) or is_arithmetic(request):
            return _answer("small talk or a sum")
        named = self._named_tools(request)
        asked_for = self._limited_grammar(named) if named else None
        if asked_for is not None:  # "Test it with run_python": the user named the tool
            return FirstChoice(asked_for, "names " + ", ".join(named), {"p_call": None, "named": named})
        grounding, general = self.grounding(request, messages)
        if not grounding.names and self._changes_written_code(request, messages):
            return _answer("a change to the code the previous answer wrote")
        if general and not grounding and not POINTERS.search(request.lower()):
            # the model's own call probability sent "whats the pytest flag to stop at the first
            # failure" (p 0.43) to run the suite
            return _answer("a general question")
        ask = self._first_ask(request, grounding) if grounding or not general else None
        learned = None if ask is not None and ask.firm else self._learned(request, grounding, messages)
        if learned is not None:  # the classifier trained on labelled requests (assistant/intent.py)
            chosen = self._learned_choice(learned, ask, grounding, request, content)
            if chosen is not None:
                return chosen
        asked = self._ask_grammar(ask) if ask is not None else None
        if ask is not None and asked is not None:
            return FirstChoice(asked, ask.why, {"p_call": None, "asked": ask.why})
        if grounding:
            described = grounding.describe()
            grounded = self._grounded_grammar(grounding, request) or grammar
            return FirstChoice(grounded, described, {"p_call": None, "grounded": described})
        return None

    def _apps(self) -> tuple[str, ...]:
        """How the workspace's app runs with arguments (none without a workspace)."""
        root = self._root()
        paths = self._paths if self._paths is not None else workspace_paths(root) if root is not None else None
        return app_commands(paths[0], workspace_python(root)) if root is not None and paths is not None else ()

    def _rerun(self, head: str) -> FirstChoice | None:
        """The program the previous turn ran, with the inputs the model writes after its command."""
        why = f"gives {head} new inputs"
        ask = Ask(("run_command",), why, starts={"run_command": ("command", (head + " ",))})
        grammar = self._ask_grammar(ask)
        return FirstChoice(grammar, why, {"p_call": None, "asked": why}) if grammar is not None else None

    @staticmethod
    def _changes_written_code(request: str, messages: Sequence[dict[str, Any]]) -> bool:
        """ "nice, now have it return an empty string when it's given None", after the answer wrote a
        function: a change of that code, answered in words (the 0.5B read a file: t11-036); "run it"
        still runs it."""
        low = " ".join(request.lower().split())
        return code_just_written(messages) and asks_edit(low) and not RUN_ASKED.search(low)

    def _learned_choice(self, learned: tuple[str, str, float], ask: Ask | None, grounding: Grounding,
                        request: str, content: str) -> FirstChoice | None:  # fmt: skip
        """The classifier's choice, weighed against the word rules' ``ask`` (None: no call it allows)."""
        tool, why, top = learned
        if ask is not None and tool not in (INTENT_ANSWER, *ask.tools) and top < UNSURE:
            # unsure, and the words say otherwise: the words ("does any module define __all__":
            # read 0.29 against a search for __all__)
            tool, why = ask.tools[0], f"{why}; unsure, so {ask.why}"
        if tool == INTENT_ANSWER and ask is not None and asks_edit(" ".join(request.lower().split())):
            # a change asked for in plain words is not answered in words ("give the --tip option
            # a help string: 'tip in percent'": intent answer 0.52)
            tool, why = ask.tools[0], f"{why}; but {ask.why}"
        if tool == INTENT_ANSWER:  # answered in words, like small talk: a call written as the
            # answer does not run (on a held-out set the 0.5B answered "hey, got a sec?" with a grep)
            return _answer(why, intent=why)
        held = self._passages_hold(tool, content, request, grounding)
        if held:  # retrieval already put the file in front of the model: answer from it
            return _answer(f"the passages hold {held}; {why}", intent=why)
        chosen = self._intent_grammar(tool, ask, grounding, request)
        if chosen is None:
            return None
        words = ask.why if ask is not None and tool in ask.tools else grounding.describe()
        return FirstChoice(chosen, f"{words}; {why}" if words else why, {"p_call": None, "intent": why})

    def _root(self) -> Path | None:
        """The workspace's folder, when the files tools have one."""
        return self.workspace() if self.workspace is not None else None

    def _named_tools(self, request: str) -> list[str]:
        """Offered tools the request names ("use list_files"), except those whose code is written first."""
        names = dict.fromkeys(bare_tool(tool_parts(t)[0]) for t in self._offered)
        said = set(re.findall(r"[\w-]+", request))
        return [n for n in names if n not in WRITE_THEN_RUN and n in said and ("_" in n or _used_as_tool(n, request))]

    def _grounded_grammar(self, grounding: Grounding, request: str) -> CallGrammar | None:
        """The first call of a request about the workspace: its tools, limited by what it names."""
        folders = [n for n in grounding.names if n.endswith("/")]
        if grounding.names and len(folders) == len(grounding.names):
            # a folder named, no file: look into it first (the 0.5B read its files one by one); to list
            # it, that folder (asked to "look in the tipcalc folder", it globbed for 'tipcalc' there)
            if SEARCH_ASKED.search(request.lower()):
                return self._limited_grammar(FOLDER_TOOLS)
            lister = [t for t in self._offered if bare_tool(tool_parts(t)[0]) == "list_files"]
            listed = [_only_argument(t, "path", [f.rstrip("/") for f in folders]) for t in lister]
            return _grammar_of(listed) or self._limited_grammar(FOLDER_TOOLS)
        keep = [t for t in self._offered if bare_tool(tool_parts(t)[0]) not in NOT_FOR_FILES]
        if CREATE_WANTED.search(request.lower()):  # "I'd like a `make check` target ...": nothing to run yet
            keep = [t for t in keep if bare_tool(tool_parts(t)[0]) not in RUNS]
        files = self._paths[0] if self._paths is not None else []
        root = self._root()
        named_files = [n for n in grounding.names if n in files]
        direct = _asked_call(request.lower(), keep, named_files, bool(grounding.pointer), files, root)
        if direct is not None:
            return direct
        if named_files:  # the files it names are the ones a read may open
            keep = _reads_only(keep, named_files)
        symbols = _symbols(grounding, files)
        if symbols and len(symbols) == len(grounding.names) and root is not None:
            # only definitions named: a read is of a file that defines one (the 0.5B, asked which file
            # defines split_bill, read the meeting notes)
            where = self._defining(root, files, symbols, request)
            if where:
                keep = _reads_only(keep, where)
        return _grammar_of(keep)

    def _limited_grammar(self, names: Sequence[str]) -> CallGrammar | None:
        """The call grammar of this step's offered tools limited to ``names`` (None: none of them offered)."""
        return _grammar_of([t for t in self._offered if bare_tool(tool_parts(t)[0]) in names])

    def grounding(self, request: str, messages: Sequence[dict[str, Any]]) -> tuple[Grounding, bool]:
        """What the request names of the workspace, and whether it is a general question (which keeps
        only the files it spells out: "in general, what is conftest.py for?" keeps none)."""
        grounding = self._ground(request, messages)
        general = is_general(request)
        if general:  # knowledge, unless it names a file or points here
            files = self._paths[0] if self._paths is not None else []
            said = request.lower()
            kept = () if is_abstract(request) else grounding.names
            grounding = Grounding(tuple(n for n in kept if n in files and n.rsplit("/", 1)[-1].lower() in said))
        return grounding, general

    def intent_input(self, request: str, messages: Sequence[dict[str, Any]],
                     grounding: Grounding | None = None) -> str:  # fmt: skip
        """The request as the first-step classifier sees it (also what assistant/intent_train.py trains on)."""
        if grounding is None:
            grounding, _ = self.grounding(request, messages)
        files = self._paths[0] if self._paths is not None else []
        return intent_text(request, grounding.names, files, grounding.pointer, bool(previous_request(messages)))

    def _learned(self, request: str, grounding: Grounding,
                 messages: Sequence[dict[str, Any]]) -> tuple[str, str, float] | None:  # fmt: skip
        """The classifier's first step: ``(tool or ANSWER, why, its largest probability)``; None without
        a workspace, without the model file, or when none of the tools it knows is offered."""
        model = load_intent()
        if model is None or self._root() is None or self._paths is None:
            return None
        text = self.intent_input(request, messages, grounding)
        tool, probs = model.choose(text, [bare_tool(tool_parts(t)[0]) for t in self._offered])
        return None if tool is None else (tool, describe_intent(tool, probs), max(probs.values()))

    def _passages_hold(self, tool: str, content: str, request: str, grounding: Grounding) -> str:
        """The file a read would open, when this turn's retrieved passages already come from it (or
        the request names no file): a question is answered from them. With tools and retrieval both
        on, the 0.5B read all of textwrap.py for "what width does textwrap.fill wrap to" (a 99 s
        turn), and base64.py for the next question about textwrap."""
        held = passage_files(content)
        if tool != "read_file" or not held or asks_edit(request.lower()):
            return ""
        files = self._paths[0] if self._paths is not None else []
        named = [n for n in grounding.names if n in files]
        if not named:
            return sorted(held)[0]
        names = {h.rsplit("/", 1)[-1] for h in held}
        return next((n for n in named if n in held or n.rsplit("/", 1)[-1] in names), "")

    def _defining(self, root: Path, files: list[str], symbols: Sequence[str], request: str = "") -> list[str]:
        """The workspace files defining any of ``symbols`` (their tests' files, for "the X test")."""
        return defining_files(symbols, self._names.defined_in(root, files), " ".join(request.lower().split()))

    def _intent_grammar(self, tool: str, ask: Ask | None, grounding: Grounding, request: str) -> CallGrammar | None:
        """The call grammar for the tool the classifier chose, with the arguments the request's words
        allow: the rules' values when they chose the same tool, else the files (folders) it names, or
        for a search the request's own terms (left free, the 0.5B searched for code it imagined:
        `def round_tip(tip): return round(tip, 2)` for "a function that rounds the tip")."""
        if ask is not None and tool in ask.tools:
            limit = ask.only.get(tool)
            starts = {tool: ask.starts[tool]} if tool in ask.starts else {}
            return self._ask_grammar(Ask((tool,), ask.why, {tool: limit} if limit else {}, starts=starts))
        offered = [t for t in self._offered if bare_tool(tool_parts(t)[0]) == tool]
        files = self._paths[0] if self._paths is not None else []
        root = self._root()
        if tool == "read_file" and root is not None:
            where = [n for n in grounding.names if n in files]
            symbols = _symbols(grounding, files)
            if not where and symbols:
                where = self._defining(root, files, symbols, request)
            offered = _reads_only(offered, where) if where else offered
        folders = [n.rstrip("/") for n in grounding.names if n.endswith("/")]
        if tool == "list_files" and folders:
            offered = [_only_argument(t, "path", folders) for t in offered]
        if tool == "grep" and (terms := search_terms(request, _symbols(grounding, files))):
            offered = [_only_argument(t, "pattern", terms) for t in offered]
        return _grammar_of(offered)

    def _ground(self, request: str, messages: Sequence[dict[str, Any]]) -> Grounding:
        root = self._root()
        if root is None:
            return Grounding()
        try:
            paths = self._paths if self._paths is not None else workspace_paths(root)
            low = request.lower()
            # the text an edit adds names nothing to open: "add '- Fix percent()' under 0.3.1 in it"
            said = edit_said(request)
            grounding = self._names.ground(said, root, paths, after_tools=after_tools(messages))
            previous = previous_files(messages, paths[0]) if paths is not None else []
            excluded = _excluded(low, [*grounding.names, *previous])
            if excluded:  # "open the one that isn't __init__ or __main__": not those
                grounding = Grounding(tuple(n for n in grounding.names if n not in excluded), grounding.pointer)
                # the files beside those left out first: "the one that isn't __init__ or __main__"
                # after listing a folder is that folder's other file, not one the answer named
                beside = {f.rsplit("/", 1)[0] for f in excluded if "/" in f}
                other = [f for f in previous if f not in excluded]
                other = sorted(other, key=lambda f: ("/" in f and f.rsplit("/", 1)[0] in beside) is False)
                if not grounding.names and other and ONE_OF.search(low):
                    return Grounding((other[0],), "the previous turn")
            referred = self._referred(request, messages, grounding.names)
            if referred:
                grounding = Grounding(tuple(referred), grounding.pointer or "the previous turn")
            if ADD_TEST.search(low) and paths is not None:  # a test added goes in the tests' file
                files = paths[0]
                grounding = Grounding(tests_for(grounding.names, files, self._names.defined_in(root, files)),
                                      grounding.pointer)  # fmt: skip
            return grounding
        except Exception:  # the same: without the workspace's names the model's probability decides
            return Grounding()

    def _referred(self, request: str, messages: Sequence[dict[str, Any]], names: Sequence[str]) -> list[str]:
        """What a request naming nothing is about: the previous turn's file ("Make it 15", "remove the
        first item", "now run just that file"), or the definitions it named ("and where is it used?")."""
        low = request.lower()
        if self._paths is None:
            return []
        files = self._paths[0]
        if PLACE.search(low) and not any(n in files and _spelled(n, low) for n in names):
            # "add a check there that truncate leaves 'short' alone" after showing the tests: the place
            # is the previous turn's file, not the one defining truncate (which the 0.5B read), nor one
            # a loose word named ("push the release there back to July": the changelog, edited)
            place = (self._previous_definitions(messages, files) + previous_files(messages, files, place=True))[:1]
            if place:
                return [*place, *(n for n in names if n not in place and not (n in files and not _spelled(n, low)))]
        if names:
            return []
        if FOLLOW_UP.search(low) or asks_edit(low):
            return (self._previous_definitions(messages, files) + previous_files(messages, files))[:1]
        if PRONOUN.search(low) and SEARCH_WORDS.search(low) and (previous := previous_request(messages)):
            root = self._root()
            if root is not None:
                earlier = self._names.ground(previous, root, self._paths).names
                return [n for n in earlier if not n.endswith("/") and n not in files][:2]
        return []

    def _previous_definitions(self, messages: Sequence[dict[str, Any]], files: list[str]) -> list[str]:
        """The files defining what the previous request asked about ("Where is the function mean defined?")."""
        previous = previous_request(messages)
        root = self._root()
        if not previous or root is None or not DEFINITION_WORDS.search(previous.lower()):
            return []
        said = set(re.findall(r"\w+", previous))
        defined_in = self._names.defined_in(root, files)
        return sorted({f for sym, where in defined_in.items() if sym in said for f in where if not is_test_file(f)})

    def _first_ask(self, request: str, grounding: Grounding) -> Ask | None:
        """What the request's words say its first call is (assistant/firstcall.py), if they say."""
        root = self._root()
        if root is None or self._paths is None:
            return None
        files = self._paths[0]
        named = [n for n in grounding.names if n in files]
        folders = [n for n in grounding.names if n.endswith("/")]
        symbols = _symbols(grounding, files)
        try:
            defined_in = self._names.defined_in(root, files)
        except Exception:
            return None
        return first_ask(request, named, folders, symbols, defined_in, workspace_python(root), files)

    def _ask_grammar(self, ask: Ask) -> CallGrammar | None:
        """The call grammar of an ask: its tools, with only the argument values it allows."""
        keep = []
        for tool in self._offered:
            name = bare_tool(tool_parts(tool)[0])
            if name in ask.tools:
                limit = ask.only.get(name)
                start = ask.starts.get(name)
                if limit:
                    keep.append(_only_argument(tool, limit[0], limit[1]))
                elif start:
                    keep.append(_starting_argument(tool, start[0], start[1]))
                else:
                    keep.append(tool)
        return _grammar_of(keep)


def _asked_call(low: str, keep: list[dict[str, Any]], named_files: list[str], pointer: bool, files: list[str],
                root: Path | None) -> CallGrammar | None:  # fmt: skip
    """The call a request's first words ask for, when they do: a read, or the test suite's run."""
    if (OPEN_ASKED.search(low) and (named_files or pointer)) or (EDIT_FIRST.search(low) and named_files):
        # "open X", "cat X", "read the todo one": a read (the 0.5B ran `open meeting.md` as a command);
        # "set round_to in settings.toml to 0.05": the file first (the 0.5B ran the tests first)
        readers = [t for t in keep if bare_tool(tool_parts(t)[0]) == "read_file"]
        if named_files:
            readers = [_only_argument(t, "path", named_files) for t in readers]
        if readers:
            return _grammar_of(readers)
    if RUN_FIRST.search(low):
        # "run the tests": the suite, from the workspace's root, with the Python it has (the 0.5B ran
        # pytest inside tests/, where the code under test cannot be imported)
        commands = test_commands(low, TurnState([], set()), files, python=workspace_python(root))
        runners = [_only_argument(t, "command", commands) for t in keep if bare_tool(tool_parts(t)[0]) == "run_command"]
        if commands and runners:
            return _grammar_of(runners)
    return None


def _grammar_of(tools: list[dict[str, Any]]) -> CallGrammar | None:
    if not tools:
        return None
    try:
        return call_grammar(tools)
    except Unsupported:
        return None


def _used_as_tool(name: str, request: str) -> bool:
    """Whether a tool name that is also a word ("grep", "glob") is asked for as the tool: "use grep",
    "grep for X", "the glob tool", not "how does glob.escape work" (a grounded question about the glob
    module was sent to the glob tool)."""
    word = re.escape(name)
    return bool(re.search(rf"\b(?:use|using|with|via|call|try|run)\s+(?:the\s+)?{word}\b(?![.(])"
                          rf"|\b{word}\s+(?:tool|for)\b", request, re.IGNORECASE))  # fmt: skip


def _spelled(path: str, low: str) -> bool:
    """Does the (lower-case) request spell out the file (its path, name or stem), not just a word of it?"""
    base = path.rsplit("/", 1)[-1].lower()
    return path.lower() in low or base in low or re.search(rf"\b{re.escape(base.split('.', 1)[0])}\b", low) is not None


def _excluded(low: str, names: Sequence[str]) -> set[str]:
    """The names a (lower-case) request says it does not mean: each spelled right after "isn't",
    "except", "apart from" ... or after another excluded one ("isn't __init__ or __main__")."""
    out: set[str] = set()
    for name in names:
        base = name.rstrip("/").rsplit("/", 1)[-1].lower()
        stem = re.escape(base.split(".", 1)[0] if not base.startswith(".") else base)
        found = re.search(rf"(?:{EXCLUDING})(?:the |my |our )?(?:[\w.]+ (?:or|and|nor) (?:the )?)?`?{stem}\b", low)
        if found is not None:
            out.add(name)
    if "__main__.py" not in {n.rsplit("/", 1)[-1] for n in out}:  # "apart from the cli": the command line
        cli = re.search(rf"(?:{EXCLUDING})the (?:cli|command[- ]line)\b", low)
        out |= {n for n in names if cli and n.rsplit("/", 1)[-1] in ("__main__.py", "cli.py")}
    return out


def _symbols(grounding: Grounding, files: Sequence[str]) -> list[str]:
    """The definitions a grounding names (not its files or folders)."""
    return [n for n in grounding.names if not n.endswith("/") and n not in files]


def _reads_only(tools: list[dict[str, Any]], paths: Sequence[str]) -> list[dict[str, Any]]:
    """The tools, with read_file limited to ``paths``."""
    return [_only_argument(t, "path", paths) if bare_tool(tool_parts(t)[0]) == "read_file" else t for t in tools]


def _starting_argument(tool: dict[str, Any], arg: str, prefixes: Sequence[str], bound: int = 200) -> dict[str, Any]:
    """The tool as the grammar offers it with one argument that starts with one of ``prefixes``."""
    fn = dict(tool.get("function", tool))
    choices = [{"type": "string", STARTS_WITH: p, "maxLength": bound} for p in prefixes]
    fn["parameters"] = {"type": "object", "required": [arg], "properties": {arg: {"anyOf": choices}}}
    return {"type": "function", "function": fn} if "function" in tool else fn


def _only_argument(tool: dict[str, Any], arg: str, values: Sequence[str]) -> dict[str, Any]:
    """The tool as the grammar offers it with one argument, limited to ``values`` (the tool's own
    schema still validates the call)."""
    fn = dict(tool.get("function", tool))
    fn["parameters"] = {"type": "object", "required": [arg], "properties": {arg: {"enum": list(values)}}}
    return {"type": "function", "function": fn} if "function" in tool else fn
