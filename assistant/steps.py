"""One model step, the way the model profile says: native or text tool calls, or grammar-constrained.

The agent loop asks ``StepRunner.stream(messages, tools, params)`` for the events of one step and
never needs to know how the model is asked. ``EndpointSteps`` sends ``tools`` in the request
(native ``tool_calls``, or calls recognised in the text when the profile says so).
``GrammarSteps`` (endpoints that constrain decoding, e.g. llama-server), for small models:

1. *Decide*: the request as it is, for one token, with its probabilities. Small models start a
   call with ``{"`` (their own JSON call format); the probability of that start is the model's
   own "I would call a tool now". At or above ``profile.call_threshold`` the step is a call.
   Measured (benchmarks/bench_tooluse.py): a greedy model rarely *writes* the call, but the
   probability separates requests that need the workspace from those that do not.
2. *Call*: the same request decoded under a grammar built from the offered tools
   (assistant/grammar.py): ``{"name": <an offered tool>, "arguments": <valid for its schema>}``.
   It cannot invent a tool or write unusable arguments; it streams as ``ToolCallDelta`` events.
3. *Answer*: otherwise the same request is streamed as plain text. All three requests carry the
   same messages, so the server's prompt cache evaluates the prompt once.

Tool descriptions go in the system prompt in a compact form with a few examples
(prompts/tools_compact.md, prompts/tool_examples.md): llama-server refuses a grammar together
with ``tools``. Tools whose schema the grammar cannot express are left out of it and recognised
from the answer's text instead (``unsupported``). An endpoint that rejects the ``grammar`` field
degrades the profile to text calls, says so, and the step is asked again that way.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.codewords import addition, plain, rewrite
from assistant.conversation import ANSWER_NOTE
from assistant.editchoices import bumped, constrain_edits
from assistant.events import (
    Decision,
    Event,
    Finish,
    Notice,
    StreamError,
    TextDelta,
    TokenProbs,
    ToolCall,
    ToolCallDelta,
    ToolCallReady,
)
from assistant.firstcall import (
    Ask,
)
from assistant.firststep import ANSWER, PATH_LIKE, FirstStep
from assistant.followup import (
    ADD_TEST,
    CREATE_ASKED,
    MANY_FILES,
    Owed,
    call_keys,
    is_test_file,
    names_definition,
    next_owed,
    related_tests,
    tests_for,
    workspace_python,
)
from assistant.grammar import CallGrammar, Unsupported, call_grammar, parse_call, tool_parts
from assistant.grounding import (
    ADD_CODE,
    EDIT_LATER,
    EDIT_VERBS,
    EDITS,
    LEAD_IN,
    MANY,
    REWRITE,
    SHOULD_CHANGE,
    TAKEN_OFF,
    WorkspaceNames,
    answer_code,
    asks_edit,
    bare_tool,
    code_run_owed,
    edit_said,
    file_kind,
    keeps_tests,
    normal_path,
    read_paths,
    turn_calls,
)
from assistant.linewords import replaced_copy, worded_edit
from assistant.shown import shown_files, shown_listing
from assistant.toolprompt import (
    example_calls,
    narrow_paths,
    workspace_paths,
)
from assistant.turntext import (
    asked_again,
    asks_question,
    carried_request,
    last_user_text,
    request_text,
    results_first,
    user_text,
    with_note,
)

if TYPE_CHECKING:
    from assistant.endpoint import Endpoint
    from assistant.profile import ModelProfile

STEP_MAX_TOKENS = 2048
# After a tool result in the same turn, with no edit or run still owed, a further call needs this
# probability. Measured on the 0.5B model: after a result it chose a further call at P 0.2-0.3,
# mostly the same read again or a second edit that replaced lines it had just written.
AFTER_RESULT_THRESHOLD = 0.5
# Reads per turn, unless the request asks for many ("every file", "each test", "all of them"): the
# 0.5B answered "What's in the notes folder?" by reading ten files one after another.
MAX_READS = 3
# Calls recognised in one answer's text that run: on a held-out chain the 0.5B's answer held 70-odd
# copies of read_file("settings.yml"), and every one ran (a 170 s turn).
MAX_ANSWER_CALLS = 2
MIN_ANSWER = 40  # characters of answer around a repeated text call for the answer to stand alone
# Words of a request that asks to change files (anywhere in it: "the docs are wrong, please update them")
CHANGE_ASKED = re.compile(
    rf"\b(?:{EDIT_VERBS})\b|\b(?:save|store|write|create|modify|rewrite|overwrite|refactor|implement|switch|"
    r"drop|strike|tick|rename|swap|move|sort|reorder|tidy|clean up|format|indent|translate)\b|" + SHOULD_CHANGE.pattern
)
# Words that ask for more than reading (a run, a check): a request with them is not served by its reads
MORE_ASKED = re.compile(r"\b(?:run|rerun|execute|pytest|lint|build|install|compile|tests?|check|verify)\b")
OFF_PLACE = re.compile(rf"\b(?:go|{TAKEN_OFF}) off\b")
READ_FIRST = re.compile(rf"\s*{LEAD_IN}(?:read|open|look (?:up|at|in)|check|find|see|get|go through)\b")
ANSWER_SERVED = "[These results are all my request needs. Answer it now from them, in words.]"
ANSWER_FROM = "[Answer it now from these results, in words.]"
SHOWN = "the request asks to see what was read: shown as it is"
SERVED = "what the request names is read and nothing more is asked"
# A small model's answer has a bound: unbounded, the 0.5B wrote 4,024 tokens of nothing visible (text
# held as a possible call) until the 240 s turn limit; the context keeps 1024 tokens for the reply.
ANSWER_MAX_TOKENS = 1024
ANSWER_NOW = "[The changes are made. Tell me in a sentence or two what you did.]"
NO_EDIT = "[No change was made: the new text could not be written. Tell me in a sentence what you would change.]"
IN_WORDS = "[This needs no tool. Reply to me in words.]"
# any text that does not start a JSON call, fenced or not (asked again in words after a repeated grep,
# the 0.5B wrote that grep in a ```json fence, and the fence was the answer shown: ch7-001, ch7-006)
WORDS_GRAMMAR = r"root ::= [^{\[` \t\r\n] [^\x00]*"


class StepRunner(Protocol):
    def stream(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]],
               params: dict[str, Any]) -> AsyncIterator[Event]: ...  # fmt: skip


class EndpointSteps:
    """Tools in the request's ``tools`` field; the endpoint recognises text calls if configured."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def stream(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]],
                     params: dict[str, Any]) -> AsyncIterator[Event]:  # fmt: skip
        async for event in self.endpoint.stream(messages, tools or None, **params):
            yield event


CALL_STARTS = ('{"', "{", ' {"', "<tool_call>", "{\n")  # first tokens that begin a call in the JSON format


class GrammarSteps(FirstStep):
    """Decide from the first token's probabilities, then call under a grammar or answer in text."""

    def __init__(
        self, endpoint: Endpoint, profile: ModelProfile, workspace: Callable[[], Path | None] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.profile = profile
        self.workspace = workspace  # where the files tools work: their path arguments name what exists there
        self._grammar: tuple[str, CallGrammar] | None = None
        self._calls = 0
        self._names = WorkspaceNames()
        self._offered: list[dict[str, Any]] = []  # this step's tools as the grammar offers them
        self._paths: tuple[list[str], list[str]] | None = None  # this step's workspace files and folders
        self._owed: Owed | None = None  # what the request still asks for after this turn's results
        self._read_enough = False  # every file the request is about has been read
        self.last_decision: dict[str, Any] = {}  # p_call, first token, threshold of the last step
        # A line of code rewritten: the call picks the line, the new code is then asked for in words
        # (small models write worse code inside a JSON string: see assistant/codewords.py)
        self.rewrite_in_words = True

    def grammar(self, tools: Sequence[dict[str, Any]]) -> CallGrammar:
        key = json.dumps(list(tools), sort_keys=True)
        if self._grammar is None or self._grammar[0] != key:
            self._grammar = (key, call_grammar(tools))
        return self._grammar[1]

    async def stream(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]],
                     params: dict[str, Any]) -> AsyncIterator[Event]:  # fmt: skip
        grammar = None
        self.last_decision = {}
        served = False
        if tools and self.profile.tool_calls == "grammar":
            self._offered = self._offer(messages, tools)
            served = self._served(messages)
            try:
                grammar = None if served else self.grammar(self._offered)
            except Unsupported:
                grammar = None
            shown = self._shown(messages, served)
            if served or shown:
                self.last_decision = {"p_call": None, "served": served, "shown": shown is not None}
                yield Decision(ANSWER, 0.0, why=SHOWN if shown else SERVED)
            if shown:  # the request only asks to see the file (the folder): the answer is what was read
                yield TextDelta(shown)
                yield Finish("stop")
                return
        if grammar is not None:
            try:
                done = False
                async for event in self._decide_and_call(messages, grammar, params):
                    # a call, an error, or an answer given in its place (an edit not made): the step is done
                    done = done or isinstance(event, ToolCallReady | StreamError | Finish)
                    yield event
                if done:
                    return
            except _GrammarRefused as refused:
                self.profile.degrade(f"{self.endpoint.config.base_url} refused the grammar field ({refused}); "
                                     "tool calls are recognised from text instead", tool_calls="text")  # fmt: skip
                yield Notice("warning", self.profile.notes[-1])
        if self.profile.tool_calls != "grammar":  # degraded, now or earlier in this session
            async for event in self.endpoint.stream(messages, tools or None, text_call_tools=tools or None, **params):
                yield event
            return
        async for event in _bounded(self._answer(messages, tools, _answer_params(params), served), params):
            yield event

    async def _answer(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]],
                      params: dict[str, Any], served: bool) -> AsyncIterator[Event]:  # fmt: skip
        """The step's answer in text. A call the model still writes as text (it does, after seeing its
        examples) is recognised and run, like in text mode; the loop answers a repeated one from memory."""
        # small talk or a general question: a call written as its answer is not run, and not shown (the
        # 0.5B answered "hi there!" with `{"name": "read_file", "arguments": {"path": "hi.txt"}}`, its
        # examples' format, when `{"` edged out "Hello" as the first token); it is asked again in words
        talk = bool(self.last_decision.get("small_talk"))
        # a question answered from this turn's results is answered in words: the 0.5B answered "which
        # functions round their result?" with `{"name": "round", ...}` and "what's my PATH set to?" with
        # a grep call written as text (neither is run; the answer is asked again in words)
        after = bool(turn_calls(messages))
        worded = talk or (after and asks_question(request_text(last_user_text(messages))))
        # any answer after results starts in words: one that starts a call (`["name": "run_command", ...]`
        # after the run it names) is asked again; a call further on in an instruction's answer still runs
        words_first = worded or after
        recognise = list(tools) or None
        # An edit this step does not offer is not run: once the edits asked for are made, the 0.5B
        # wrote another edit_file under its answer, and the line was added twice.
        offered = {bare_tool(tool_parts(t)[0]) for t in self._offered} if self._offered else None
        # A request the model itself judged to need no tool, on the turn's first step: a call inside a
        # longer answer is an example, not a call (asked "How do I read a JSON file in Python?", the
        # 0.5B explained and showed `read_file({"path": "data.json"})`, which then ran)
        judged = "p_call" in self.last_decision and not turn_calls(messages)
        runner = self._code_runner(messages)
        made = call_keys(messages)
        # a call copied from the prompt's examples is not the user's (after a fix, the 0.5B wrote
        # grep("def load_config") under its answer: the example's, in a project without it)
        files = set(self._paths[0]) if self._paths is not None else set()
        copied = {(name, args) for name, args in example_calls()
                  if name != "run_command" and json.loads(args).get("path") not in files}  # fmt: skip
        text, called, repeated, dropped = "", False, False, False
        this_answer: set[tuple[str, str]] = set()  # the calls of this answer that run
        # served: the results are all the request needs, and the model is told so (asked to compare two
        # files it had just read, the 0.5B started its answer with a call to read the first again)
        asked = _answer_asked(messages, served)
        source = self.endpoint.stream(asked, None, text_call_tools=recognise, **params)
        # asked again: as small talk is, or the same ask under the words-only grammar
        again, note = (messages, IN_WORDS) if talk else (asked, None)
        async for event in self._worded(source, again, note, params) if words_first else source:
            if isinstance(event, TextDelta):
                text += event.text
            elif isinstance(event, ToolCallReady) and worded:
                dropped = True
                continue
            elif (isinstance(event, ToolCallReady) and (judged or _repeats(event.call, made))
                  and len(text.strip()) >= MIN_ANSWER):  # fmt: skip
                # the answer quotes the call this turn already made (the 0.5B wrote `grep({...})` under
                # its answer in 6 of 13 chains): the answer stands; asking again cost a whole request
                repeated = True
                continue
            elif isinstance(event, ToolCallReady) and (
                _dropped(event.call, made, copied, offered, served) or len(this_answer) >= MAX_ANSWER_CALLS
                or (event.call.name, event.call.arguments) in this_answer
            ):  # fmt: skip
                dropped = True
                continue
            elif isinstance(event, Finish) and dropped and not called and not text.strip():
                # the answer was only that call: asked again, in words, under a grammar that cannot start one
                again_words = {**params, "grammar": WORDS_GRAMMAR}
                async for answer in self._answer_now(messages, again_words, IN_WORDS if talk else ANSWER_NOW):
                    yield answer
                return
            elif isinstance(event, Finish) and (repeated or dropped) and not called:
                yield Finish("stop")
                continue
            elif isinstance(event, ToolCallReady):
                called = True
                this_answer.add((event.call.name, event.call.arguments))
            elif isinstance(event, Finish) and runner and not called and (code := answer_code(text)):
                # asked to test it: the code the model wrote in its own words runs (small models write
                # worse code inside a JSON call), and the next step sees the result
                yield ToolCallReady(ToolCall(f"call_a{self._calls}", runner, json.dumps({"code": code}), "answer"))
                self._calls += 1
                yield Finish("tool_calls")
                continue
            yield event

    def _shown(self, messages: Sequence[dict[str, Any]], served: bool) -> str | None:
        """The answer when the request only asks to see the files it names (read: served) or a
        folder's listing (this turn only listed)."""
        request = request_text(last_user_text(messages))
        files = shown_files(request, messages, self._root()) if served else None
        return files or shown_listing(request, messages, self._root())

    def _served(self, messages: Sequence[dict[str, Any]]) -> bool:
        """Is the request served by this turn's calls: what it names read, nothing owed, no change or
        run asked? (Then the step answers, and calls written in the answer do not run.)"""
        if not self._read_enough or self._owed is not None:
            return False
        low = " ".join(request_text(last_user_text(messages)).lower().split())
        return not (_change_asked(low) or MORE_ASKED.search(low))

    async def _worded(self, events: AsyncIterator[Event], messages: Sequence[dict[str, Any]], note: str | None,
                      params: dict[str, Any]) -> AsyncIterator[Event]:  # fmt: skip
        """An answer that must be words: held until its first character shows; one that starts a JSON
        object (a call to a tool that does not exist: "hello" got `{"name": "hello!", ...}`) is
        asked for again, in words (``messages`` with ``note`` after them, when given)."""
        held: list[Event] = []
        text, flowing, call = "", False, False
        async for event in events:
            if flowing:
                yield event
                continue
            held.append(event)
            text += event.text if isinstance(event, TextDelta) else ""
            call = isinstance(event, (ToolCallDelta, ToolCallReady)) or text.lstrip()[:1] in ("{", "[")
            if call:  # stopped at once: asked "what's 12.5% of 96", the 0.5B wrote calls for 1,024 tokens (160 s)
                break
            if text.strip():
                flowing = True
                for kept in held:
                    yield kept
        if not call:
            for kept in [] if flowing else held:
                yield kept
            return
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
        # asked again, in words, under a grammar whose first character cannot start a call
        words = {**params, "grammar": WORDS_GRAMMAR}
        retry = self._answer_now(messages, words, note) if note else self.endpoint.stream(messages, None, **words)
        async for event in retry:
            yield event

    async def _answer_now(self, messages: Sequence[dict[str, Any]], params: dict[str, Any],
                          note: str = ANSWER_NOW) -> AsyncIterator[Event]:  # fmt: skip
        """The answer, asked for in words, with no call recognised in it."""
        async for event in self.endpoint.stream(with_note(messages, note), None, **params):
            yield event

    def _code_runner(self, messages: Sequence[dict[str, Any]]) -> str | None:
        """run_python's name when the request asks for the code to be tested and nothing ran yet."""
        runner = next((tool_parts(t)[0] for t in self._offered if bare_tool(tool_parts(t)[0]) == "run_python"), None)
        request = request_text(last_user_text(messages))
        return runner if runner and request and code_run_owed(request, turn_calls(messages)) else None

    async def _decide_and_call(self, messages: Sequence[dict[str, Any]], grammar: CallGrammar,
                               params: dict[str, Any]) -> AsyncIterator[Event]:  # fmt: skip
        started = time.perf_counter()
        last = messages[-1] if messages else {}
        content = user_text(last) if last.get("role") == "user" else ""
        request = carried_request(request_text(content), messages)
        if request and ANSWER_NOTE not in content:  # the turn's first step (later ones carry folded results)
            choice = self.first_choice(request, content, messages, grammar)
            if choice is not None:
                self.last_decision = choice.decision
                if choice.grammar is None:
                    yield Decision(ANSWER, time.perf_counter() - started, why=choice.why)
                    return
                async for event in self._call(messages, choice.grammar, params, started, choice.why):
                    yield event
                return
        # Only once the workspace is in play (a tool ran this turn): "Give me a regex" owes nothing.
        owed_grammar = self._owed_grammar(self._owed) if self._owed is not None else None
        if self._owed is not None and owed_grammar is not None:
            self.last_decision = {"p_call": None, "owed": list(self._owed.tools)}
            async for event in self._call(messages, owed_grammar, params, started, self._owed.why):
                yield event
            return
        p_call, first = 0.0, ""
        probe = {**plain(params), "max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": 20}
        async for event in self._guarded(self.endpoint.stream(messages, None, with_logprobs=False, **probe)):
            if isinstance(event, TextDelta):
                first += event.text
            elif isinstance(event, TokenProbs) and event.tokens and not p_call:
                p_call = sum(math.exp(lp) for tok, lp in event.tokens[0].top if tok in CALL_STARTS)
            elif isinstance(event, StreamError):
                yield event
                return
            elif not isinstance(event, Finish):
                yield event  # usage, timing
        if not p_call and first in CALL_STARTS:  # an endpoint without logprobs: the greedy token decides
            p_call = 1.0
        threshold = self.profile.call_threshold
        if turn_calls(messages):  # after a result, with nothing owed: the model must be sure
            threshold = max(threshold, AFTER_RESULT_THRESHOLD)
        self.last_decision = {"p_call": round(p_call, 4), "first_token": first, "threshold": threshold}
        why = f"p_call {p_call:.2f} {'<' if p_call < threshold else '>='} {threshold:g}"
        if p_call < threshold:
            yield Decision(ANSWER, time.perf_counter() - started, p_call=round(p_call, 4), why=why)
            return
        async for event in self._call(messages, grammar, params, started, why, p_call):
            yield event

    def _offer(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The tools as this step's grammar offers them: paths that exist, edits of lines read."""
        self._paths, self._owed = None, None  # walked once per step, here; _ground uses the same walk
        self._read_enough = False
        root = self._root()
        if root is None:
            return list(tools)
        read = read_paths(messages)
        said = last_user_text(messages)
        asked = request_text(said)
        called = turn_calls(messages)
        if not _change_asked(asked.lower()):
            # a request that asks for no change gets no tool that changes files: asked "Which file
            # prints something to the terminal?", the 0.5B chose write_file
            tools = [t for t in tools if bare_tool(tool_parts(t)[0]) not in EDITS]
        if read and not CREATE_ASKED.search(asked.lower()):
            # a file the model has seen is edited, not rewritten: the 0.5B replaced calc.py with a
            # one-line version of it, and settings.toml with the one line it was asked to change
            tools = [t for t in tools if bare_tool(tool_parts(t)[0]) != "write_file"]
        try:
            self._paths = workspace_paths(root, said=asked)
            owed = None
            if asked and called and self._paths is not None:
                owed = self._owed = self._follow_up(asked, messages, root, read)
            if owed is None or "edit_file" not in owed.tools:
                # the edits asked for are made: the 0.5B, having added the line it was asked to add,
                # went on adding lines to the same list
                tools = [t for t in tools if not (bare_tool(tool_parts(t)[0]) in EDITS and set(called) & set(EDITS))]
            capped = self._read_enough or (called.count("read_file") >= MAX_READS and not MANY.search(asked.lower()))
            if capped and (owed is None or owed.tools != ("read_file",)):  # a read the request owes is made
                tools = [t for t in tools if bare_tool(tool_parts(t)[0]) != "read_file"]
            editable = read
            if keeps_tests(said):  # "Do not edit the tests": a test file is no edit's choice
                editable = {r for r in read if not is_test_file(r)}
                if not editable:
                    tools = [t for t in tools if bare_tool(tool_parts(t)[0]) not in EDITS]
            return _bounded_text(constrain_edits(narrow_paths(tools, self._paths, read, asked), root, editable, asked,
                                   owed.symbols if owed else frozenset(), owed.paths if owed else (),
                                   fix=bool(owed and owed.fix), rewrite=self.rewrite_in_words))  # fmt: skip
        except Exception:  # a hostile or vanished workspace costs the narrowing, never the turn
            return list(tools)

    def _follow_up(self, request: str, messages: Sequence[dict[str, Any]], root: Path, read: set[str]) -> Owed | None:
        """What the request still owes after this turn's results (assistant/followup.py)."""
        assert self._paths is not None
        files = self._paths[0]
        defined_in = self._names.defined_in(root, files)
        # names inside a path are no definitions asked about ("show me whats in tipcalc/__main__.py"
        # is not about the `tipcalc` of pyproject.toml)
        words = set(re.findall(r"\w+", PATH_LIKE.sub(" ", request)))
        asked_symbols = {s for s in defined_in if s in words and names_definition(s)}
        # the text an edit adds names no file: "put 'check the changelog' on the list" edits the list
        said = edit_said(request)
        named = [n for n in self._names.ground(said, root, self._paths).names if n in files]
        named = named or [n for n in self._referred(request, messages, named) if n in files]
        if ADD_TEST.search(request.lower()):  # the test goes in the tests' file (ch6-005 edited textutils.py)
            named = [n for n in tests_for(named, files, defined_in) if n in files]
        tests = related_tests(root, files, asked_symbols)
        edited = self._edit_targets(said, root, files)
        owed = next_owed(request, messages, read, files, named, defined_in, tests, workspace_python(root), edited)
        # what the request is about, read: no further read unless it asks for many (asked to open the
        # file defining split_bill, the 0.5B read it, then two more files of the same folder)
        targets = set(named) | {f for s in asked_symbols for f in defined_in[s]}
        self._read_enough = bool(targets) and targets <= read and not MANY_FILES.search(request.lower())
        if owed is not None and owed.tools == ("edit_file",):
            code_symbols = {s for s in asked_symbols if any(f.endswith(".py") for f in defined_in[s])}
            owed = Owed(owed.tools, owed.why, owed.paths, owed.commands, owed.symbols | code_symbols, owed.fix)
        return owed

    def _edit_targets(self, said: str, root: Path, files: Sequence[str]) -> list[str] | None:
        """The files a change is for, when the request first names files to read: "read the meeting
        notes and add a todo item for ..." edits the todo list (the 0.5B added it to the meeting
        notes), "look up the version in the changelog and add ... to my todo list" the same."""
        low = said.lower()
        later = EDIT_LATER.search(low)
        if later is None or not READ_FIRST.match(low[: later.start()]):
            # "I wrote the settings docs already so that item can come off my todo list": the file
            # after the change said as what may happen (the 0.5B edited settings.toml)
            later = OFF_PLACE.search(low)
            if later is None:
                return None
        after = [n for n in self._names.ground(said[later.start() :], root, self._paths).names if n in files]
        return after or None

    def _owed_grammar(self, owed: Owed) -> CallGrammar | None:
        """The call grammar for what is owed: its tools, with only the paths or commands it allows."""
        only = {"read_file": ("path", owed.paths)} if owed.paths else {}
        if owed.commands:
            only["run_command"] = ("command", owed.commands)
        return self._ask_grammar(Ask(owed.tools, owed.why, only))

    async def _call(self, messages: Sequence[dict[str, Any]], grammar: CallGrammar, params: dict[str, Any],
                    started: float, why: str = "", p_call: float | None = None) -> AsyncIterator[Event]:  # fmt: skip
        """The call, decoded under the grammar, streamed as ToolCallDelta events."""
        request = {**plain(params), "grammar": grammar.text,
                   "max_tokens": max(params.get("max_tokens") or 0, STEP_MAX_TOKENS), "temperature": 0.0}  # fmt: skip
        call_id = f"call_g{self._calls}"
        self._calls += 1
        output, name, sent = "", "", 0
        async for event in self._guarded(self.endpoint.stream(messages, None, with_logprobs=False, **request)):
            if isinstance(event, TextDelta):
                output += event.text
                if not name:
                    found = re.match(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:', output)
                    if found:
                        name = json.loads(f'"{found.group(1)}"')
                        sent = found.end()
                        yield Decision(name, time.perf_counter() - started,
                                       p_call=None if p_call is None else round(p_call, 4), why=why)  # fmt: skip
                        yield ToolCallDelta(0, call_id, name, "")
                if name and len(output) > sent:
                    yield ToolCallDelta(0, None, None, output[sent:])
                    sent = len(output)
            elif isinstance(event, StreamError):
                yield event
                return
            elif not isinstance(event, Finish):
                yield event
        parsed = parse_call(output, grammar.tools)
        if parsed is None:  # cut by max_tokens: the loop reports the bad arguments to the model
            parsed = (name or grammar.tools[0], output)
        if bare_tool(parsed[0]) == "edit_file" and (ADD_CODE in parsed[1] or REWRITE in parsed[1]):
            written = _changing(await self._written(messages, parsed[1], params))
            if written is None:  # no usable text for the change: nothing is edited, and the answer says so
                path = json.loads(parsed[1]).get("path")
                yield Notice("info", f"the model wrote no usable change for {path}: the file is left as it was")
                words = {**_answer_params(params), "grammar": WORDS_GRAMMAR}  # in words: no call written as it
                async for answer in self._answer_now(messages, words, NO_EDIT):
                    yield answer
                return
            parsed = (parsed[0], written)
        if bare_tool(parsed[0]) == "edit_file":
            parsed = (parsed[0], replaced_copy(parsed[1], request_text(last_user_text(messages))))
        if bare_tool(parsed[0]) in EDITS and _repeats(ToolCall(call_id, *parsed), call_keys(messages)):
            # the same edit again (the 1.5B, asked once more for converter.py's fix, wrote the function it
            # had already added, and it was added twice): not made again; the turn ends with what was done
            yield Notice("info", "the model wrote an edit it had already made in this turn: not made again")
            async for answer in self._answer_now(messages, _answer_params(params)):
                yield answer
            return
        unread = _unread_edit(parsed, messages, [tool_parts(t)[0] for t in self._offered] or grammar.tools)
        if unread is not None:
            parsed = unread
            yield Notice("info", f"reading {json.loads(unread[1])['path']} before editing it: "
                                 "an edit copies the file's exact text")  # fmt: skip
        yield ToolCallReady(ToolCall(call_id, parsed[0], parsed[1], source="grammar"))
        yield Finish("tool_calls")

    async def _written(self, messages: Sequence[dict[str, Any]], arguments: str,
                       params: dict[str, Any]) -> str | None:  # fmt: skip
        """An edit whose new text the grammar left to be written next: code as a whole function (or
        the code added), other files' lines after worked examples."""
        adding, root = ADD_CODE in arguments, self._root()
        args = json.loads(arguments)
        asked = carried_request(request_text(last_user_text(messages)), messages)
        if not adding and (new := bumped(str(args.get("old_text", "")), asked)) is not None:
            return json.dumps({**args, "new_text": new})  # a version bumped: no text to write
        if file_kind(str(json.loads(arguments).get("path", ""))) != "code":
            return await worded_edit(self.endpoint, root, messages, arguments, params, adding)
        if adding:
            return await addition(self.endpoint, root, messages, arguments, params)
        return await rewrite(self.endpoint, root, messages, arguments, params)

    async def _guarded(self, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
        """An endpoint's refusal of the grammar field becomes _GrammarRefused (the caller degrades)."""
        from assistant.errors import EndpointError

        try:
            async for event in events:
                yield event
        except EndpointError as exc:
            if "grammar" in exc.message.lower():
                raise _GrammarRefused(exc.message) from None
            raise


def _changing(arguments: str | None) -> str | None:
    """An edit's arguments, or None when its new text is its old text: the 0.5B, asked for the fixed
    function, wrote it back unchanged, the edit changed nothing, and the tests were run again as if
    fixed (ch9-004)."""
    if arguments is None:
        return None
    try:
        args = json.loads(arguments)
    except ValueError:
        return arguments
    return None if args.get("new_text") == args.get("old_text") else arguments


def _dropped(call: ToolCall, made: set[tuple[str, str]], copied: set[tuple[str, str]],
             offered: set[str] | None, served: bool) -> bool:  # fmt: skip
    """Is a call written in an answer not run? A repeat is answered from memory, unless it is an edit
    (made again, it would apply twice). Otherwise: the request is served (the 0.5B wrote list_files
    and read_file calls under its answer to "read the README and the Makefile and tell me ...", and
    read on until max_steps), it copies the prompt's examples, or it is an edit the step does not offer."""
    name = bare_tool(call.name)
    if _repeats(call, made):
        return name in EDITS  # an edit made again would apply twice (code added twice)
    return served or _repeats(call, copied) or (offered is not None and name in EDITS and name not in offered)


def _repeats(call: ToolCall, done: set[tuple[str, str]]) -> bool:
    try:
        arguments = json.loads(call.arguments or "{}")
    except ValueError:
        return False
    return (bare_tool(call.name), json.dumps(arguments, sort_keys=True)) in done


def _change_asked(low: str) -> bool:
    """Does the (lower-case) request ask for any change of files? Its words (CHANGE_ASKED holds every edit
    verb) or an edit said otherwise ("pyproject should list some keywords": edit tools were withheld
    after the read, and the 0.5B answered with the file)."""
    return bool(CHANGE_ASKED.search(low)) or asks_edit(low)


# Free text a small model writes into a call, bounded: the 0.5B wrote `sed -i 's/\d+\.\d+\d+\d+...`
# to the token limit twice in one turn (240 s), and a grep pattern of ~2,000 characters; an edit's
# new text of "add --currency flag - 1000000000..." until the 240 s turn limit. An edit the size of a
# small function fits; a new file (write_file) is not bounded.
TEXT_BOUNDS = {("run_command", "command"): 400, ("grep", "pattern"): 200, ("glob", "pattern"): 200,
               ("edit_file", "old_text"): 1500, ("edit_file", "new_text"): 1500}  # fmt: skip


def _bounded_text(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools with their free-text arguments bounded in length (the grammar holds the bound)."""
    out = []
    for tool in tools:
        fn = dict(tool.get("function", tool))
        name = bare_tool(str(fn.get("name", "")))
        props = dict((fn.get("parameters") or {}).get("properties") or {})
        bounded = {arg: {**spec, "maxLength": TEXT_BOUNDS[(name, arg)]} for arg, spec in props.items()
                   if (name, arg) in TEXT_BOUNDS and isinstance(spec, dict) and spec.get("type") == "string"
                   and "maxLength" not in spec}  # fmt: skip
        if bounded:
            fn["parameters"] = {**fn["parameters"], "properties": {**props, **bounded}}
            tool = {**tool, "function": fn} if "function" in tool else fn
        out.append(tool)
    return out


def _unread_edit(call: tuple[str, str], messages: Sequence[dict[str, Any]],
                 offered: Sequence[str]) -> tuple[str, str] | None:  # fmt: skip
    """An edit of a file the conversation has not shown becomes a read of that file.

    Small models write ``old_text`` from imagination when they have not seen the file (the 0.5B did
    every time): the edit fails, or worse, matches the wrong text. Read first, then edit.
    """
    name, arguments = call
    reader = next((t for t in offered if bare_tool(t) == "read_file"), None)
    if bare_tool(name) != "edit_file" or reader is None:
        return None
    try:
        path = json.loads(arguments).get("path")
    except (ValueError, AttributeError):
        return None
    if not isinstance(path, str) or normal_path(path) in read_paths(messages):
        return None
    return reader, json.dumps({"path": path})


def _answer_asked(messages: Sequence[dict[str, Any]], served: bool) -> list[dict[str, Any]]:
    """The answer step's messages: after this turn's results, the request again and the ask to answer
    from them (small models answer the last thing they read: after the results the 0.5B copied the
    call it had made, "The tool call list_files({"path": "tests"}) returned: ...", or answered half;
    with the request repeated after the results, it still did in 10 of 40 answers of test8)."""
    if ANSWER_NOTE not in last_user_text(messages):
        return with_note(messages, ANSWER_SERVED) if served else list(messages)
    laid_out = results_first(messages)  # results under plain labels, the request last
    if laid_out != list(messages):
        return laid_out
    return with_note(messages, asked_again(messages) + (ANSWER_SERVED if served else ANSWER_FROM))


def _answer_params(params: dict[str, Any]) -> dict[str, Any]:
    """An answer's parameters: at most ANSWER_MAX_TOKENS unless the user set max_tokens."""
    return {**params, "max_tokens": params.get("max_tokens") or ANSWER_MAX_TOKENS}


async def _bounded(events: AsyncIterator[Event], params: dict[str, Any]) -> AsyncIterator[Event]:
    """The answer's events, with a line saying so when it was cut at the bound the user did not set."""
    async for event in events:
        if isinstance(event, Finish) and event.reason == "length" and not params.get("max_tokens"):
            yield Notice("info", f"the answer was cut at {ANSWER_MAX_TOKENS} tokens (a small model had "
                                 "started to repeat itself); set max_tokens for longer answers")  # fmt: skip
        yield event


class _GrammarRefused(Exception):
    pass
