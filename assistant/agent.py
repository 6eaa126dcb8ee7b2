"""The agent loop: one async generator of events; ``ask()`` drains it.

Contract of ``Agent.run(user_text)``:

1. The user message is appended to the conversation. With a retriever, the
   message (plus the previous one for a short follow-up) searches the index
   once; the passages go into every request of this turn, under their own
   token budget (a retrieval failure is a notice, and the turn goes on).
2. A request is built from scratch: system prompt + every message so far
   (the model keeps nothing between requests) + the tool schemas.
3. The request is streamed; events pass through to the caller as they arrive.
4. The assistant message (text and tool calls) is appended as soon as the
   stream ends.
5. If the model asked for tools, each call runs through the tool registry;
   its result (or error: unknown tool, bad JSON, invalid arguments, a raising
   or hanging tool) is appended as a tool message, and the loop goes to 2.
   A step that only repeats calls already made this turn (same name and
   arguments) is answered from the earlier results, and the next request
   offers no tools, so the model answers instead of looping; a call that may
   change things (not read-only: an edit, a command) makes the results before
   it stale, so the tests run again after a fix do run again.
6. Otherwise the turn ends with ``TurnEnd``.

Ways it stops: a final answer (``TurnEnd``); the step limit with the model
still calling tools (``MaxStepsExceeded``); an endpoint error before a
stream starts (an ``EndpointError``, history kept); a stream cut mid-way
(``StreamError`` event, partial text saved and marked, then
``StreamInterrupted``); cancellation (Ctrl-C: partial text saved and marked
interrupted, ``CancelledError`` propagates).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.citations import sources_line
from assistant.compaction import Compactor, NothingToCompact
from assistant.context import ContextBuilder, ContextReport, EstimateCounter, TurnExtras
from assistant.conversation import Conversation, Message, Summary
from assistant.endpoint import Endpoint
from assistant.errors import MaxStepsExceeded, StreamInterrupted
from assistant.events import (
    ContextEvent,
    Event,
    Finish,
    Notice,
    Retrieved,
    StepStart,
    StreamError,
    TextDelta,
    Timing,
    ToolCall,
    ToolCallReady,
    ToolResult,
    TurnEnd,
    Usage,
)
from assistant.steps import EndpointSteps, GrammarSteps, StepRunner
from assistant.toolprompt import tool_prompt
from assistant.tools import ToolRegistry

if TYPE_CHECKING:
    from assistant.profile import ModelProfile
    from assistant.retrieval import Passage


class PassageRetriever(Protocol):
    """What the loop needs from retrieval (assistant.retrieval.Retriever is one)."""

    @property
    def collection(self) -> str: ...

    async def retrieve(self, query: str) -> list[Passage]: ...

    def messages(self, passages: list[Passage]) -> list[dict[str, Any]]: ...


def _call_key(call: ToolCall) -> tuple[str, str]:
    try:
        args = json.dumps(call.parsed_arguments(), sort_keys=True)
    except ValueError:
        args = call.arguments
    return call.name, args


@dataclass
class _Step:
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    finish: str = "stop"
    error: str | None = None


class Agent:
    def __init__(
        self,
        endpoint: Endpoint,
        tools: ToolRegistry | None = None,
        conversation: Conversation | None = None,
        *,
        system_prompt: str | None = None,
        max_steps: int = 8,
        params: dict[str, Any] | None = None,
        fold_tool_results: bool = False,
        builder: ContextBuilder | None = None,
        retriever: PassageRetriever | None = None,
        profile: ModelProfile | None = None,
        compact_at: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.profile = profile
        self.tools = tools if tools is not None else ToolRegistry()
        self.conversation = conversation if conversation is not None else Conversation()
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.params = dict(params or {})
        self.builder = builder or ContextBuilder(EstimateCounter(), 1 << 20, fold_tool_results=fold_tool_results)
        self.builder.fold = fold_tool_results
        self.last_report: ContextReport | None = None
        self.instructions: str | None = None  # the project's (AGENTS.md ...), after the system prompt
        self.instruction_files: list[str] = []  # where they came from (for /context)
        self.server_instructions: Callable[[], list[tuple[str, str]]] | None = None  # MCP servers' (name, text)
        self._attached: tuple[Any, ...] = ()  # this turn's attachments (assistant/attachments.py)
        self.compactor = Compactor(self.builder, compact_at)  # compact_at None: drop old turns, never summarise
        self._turn_unsaved = False
        self.retriever = retriever
        self.retrieval_enabled = True  # per-turn retrieval (when there is a retriever)
        self.last_sources: list[Passage] = []  # what the last turn retrieved, most relevant first
        self._retrieved: list[dict[str, Any]] = []  # those passages as messages for the builder
        self.workspace: Path | None = None  # grammar profiles show its file names to the model
        self.steps: StepRunner = self._step_runner()

    def _step_runner(self) -> StepRunner:
        if self.profile is not None and self.profile.tool_calls == "grammar":
            self.builder.tool_prompt = lambda tools: tool_prompt(tools, self.workspace)
            return GrammarSteps(self.endpoint, self.profile, workspace=lambda: self.workspace)
        self.builder.tool_prompt = None
        return EndpointSteps(self.endpoint)

    def set_endpoint(self, endpoint: Endpoint, profile: ModelProfile | None = None) -> None:
        """Use another endpoint or model (``/model``); the step runner follows its profile."""
        self.endpoint = endpoint
        if profile is not None:
            self.profile = profile
            self.builder.fold = profile.fold_results
        self.steps = self._step_runner()

    @property
    def fold_tool_results(self) -> bool:
        return self.builder.fold

    @property
    def last_request(self) -> list[dict[str, Any]]:
        return self.last_report.messages if self.last_report else []

    async def build(self, offer_tools: bool = True, pending: Message | None = None) -> ContextReport:
        """The full context of the next request, rebuilt from history every time."""
        messages = self.conversation.messages + ([pending] if pending else [])
        tools = self.tools.schemas() if offer_tools else []
        summary = self.conversation.summary
        report = await self.builder.build(self.system_prompt, messages, tools, self._retrieved, summary=summary,
                                          instructions=self.instructions, extra=self._extras())  # fmt: skip
        report.instruction_files = list(self.instruction_files) if self.instructions else []
        return report

    def _extras(self) -> TurnExtras | None:
        items = self.server_instructions() if self.server_instructions is not None else []
        if not items and not self._attached:
            return None
        from assistant.mcp_features import instructions_block

        return TurnExtras(instructions_block(items), tuple(n for n, _ in items), self._attached)

    async def compact(self, focus: str | None = None, *, auto: bool = False) -> Summary:
        """Summarise the earlier turns into one message that replaces them in requests from now on.

        The messages stay in the conversation and the history (``uncompact()`` goes back to them).
        Raises ``CompactionFailed`` (``NothingToCompact`` when there is nothing to summarise);
        nothing changes then."""
        plan = await self.compactor.plan(self.conversation, auto=auto)
        return self._use_summary(await self.compactor.write(self.endpoint, self.conversation, plan, focus))

    def _use_summary(self, summary: Summary) -> Summary:
        focus = summary.focus
        self.conversation.set_summary(summary)
        self.builder.reset()  # the history the sticky cut indexed has changed
        self._trace("compaction", turns=summary.turns, messages=summary.covered, tokens=summary.tokens,
                    replaced_tokens=summary.covered_tokens, seconds=round(summary.seconds, 3), focus=focus)  # fmt: skip
        return summary

    def uncompact(self) -> bool:
        """Stop using the summary: requests carry the messages again (dropping the oldest to fit), and
        automatic compaction is off for the rest of this session (else the next turn would redo it)."""
        if self.conversation.summary is None:
            return False
        self.compactor.compact_at = None
        self.conversation.set_summary(None)
        self.builder.reset()
        return True

    def start_new_conversation(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.builder.reset()

    async def run(self, user_text: str, *, tools: bool = True, attachments: Sequence[Any] = ()) -> AsyncIterator[Event]:
        """One turn (see the module docstring for the contract); ``tools=False`` offers none;
        ``attachments`` go into this turn's requests (assistant/attachments.py)."""
        conv = self.conversation
        self._attached = tuple(attachments)
        if conv.store is not None:
            await asyncio.to_thread(conv.store.acquire_lease, conv.id)
        try:
            async for event in self._turn(user_text, tools):
                yield event
        finally:
            self._attached = ()
            if conv.store is not None:
                conv.store.release_lease(conv.id)

    async def _turn(self, user_text: str, offer_tools: bool = True) -> AsyncIterator[Event]:
        if self.conversation.sync():
            yield Notice("info", "Loaded messages another chat added to this conversation.")
        self._turn_unsaved = False
        self._trace("turn", text=user_text, conversation=self.conversation.id)
        pending = Message("user", user_text)
        async for event in self._retrieve(user_text):
            yield event
        report = await self.build(offer_tools, pending=pending)  # refuses an oversized input before saving it
        if self.compactor.due(report):
            summary = self.conversation.summary
            async for notice in self._auto_compact():
                yield notice
            if self.conversation.summary is not summary:
                report = await self.build(offer_tools, pending=pending)
        for notice in self._save(pending):
            yield notice
        done_calls: dict[tuple[str, str], str] = {}  # (name, arguments) -> result, this turn
        for step_no in range(1, self.max_steps + 1):
            if step_no > 1:
                report = await self.build(offer_tools)
            self.last_report = report
            yield StepStart(step_no, len(report.messages))
            self._trace("context", step=step_no, **report.summary())
            yield ContextEvent(report)
            step = _Step()
            try:
                async for event in self.steps.stream(report.messages, report.tools, self.params):
                    self._fold(step, event)
                    if isinstance(event, Usage):
                        report.actual_prompt_tokens = event.prompt_tokens
                    elif isinstance(event, Timing):
                        report.record_server_timings(event.server_timings)
                    yield event
            except asyncio.CancelledError:
                self._save(Message("assistant", step.text, status="interrupted"))
                raise
            if step.error is not None:
                self._save(Message("assistant", step.text, status="error"))
                raise StreamInterrupted(step.error, hint="The partial answer was kept and marked.")
            if not step.calls and self.last_sources:
                footer = sources_line(step.text, self.last_sources)
                if footer:  # the model named no file it used: the assistant says which passages it drew on
                    step.text += footer
                    yield TextDelta(footer)
            for notice in self._save(Message("assistant", step.text, tool_calls=list(step.calls))):
                yield notice
            if not step.calls:
                yield TurnEnd(step.text, step_no, step.finish)
                return
            if all(_call_key(c) in done_calls for c in step.calls):
                # Small models often repeat the call they just made instead of answering.
                # Answer from memory and ask for the final answer without offering tools.
                for call in step.calls:
                    yield self._repeat_result(call, done_calls[_call_key(call)])
                offer_tools = False
                continue
            for call in step.calls:
                self._trace("tool_call", id=call.id, name=call.name, arguments=call.arguments, source=call.source)
            if not all(self._read_only(c.name) for c in step.calls):
                # a call that may change things (an edit, a command) makes earlier results stale: the
                # tests run again after a fix ran again (they were answered from memory, the old
                # failure, in every repository task the 0.5B and 1.5B fixed)
                done_calls.clear()
            async for result in self._run_tools(step.calls):
                done_calls[_call_key(result.call)] = result.content
                self._trace("tool_result", id=result.call.id, name=result.call.name, is_error=result.is_error,
                            seconds=round(result.seconds, 6), content=result.content[:2000])  # fmt: skip
                yield result
            if self.fold_tool_results and not isinstance(self.steps, GrammarSteps):
                offer_tools = False  # text calls: one tool round, then answer from the results
        raise MaxStepsExceeded(
            f"Stopped after {self.max_steps} model requests: the model kept calling tools.",
            hint="Raise max_steps (--max-steps) if the task needs more.",
        )

    async def _auto_compact(self) -> AsyncIterator[Notice]:
        """Near the window: summarise earlier turns; on failure say so and let the builder drop them."""
        from assistant.compaction import describe
        from assistant.errors import AssistantError

        try:
            plan = await self.compactor.plan(self.conversation, auto=True)
        except NothingToCompact:
            return
        yield Notice("info", f"The conversation nears the context window: summarising {plan.turns} earlier "
                             f"turn(s) (~{plan.tokens:,} tokens)…")  # fmt: skip
        try:
            summary = self._use_summary(await self.compactor.write(self.endpoint, self.conversation, plan))
        except AssistantError as exc:
            yield Notice("warning", f"Compaction failed ({exc.user_line()}); dropping the oldest turns instead "
                                    "(the history keeps every message).")  # fmt: skip
            return
        except Exception as exc:  # a bug in compaction must not cost the user the turn
            yield Notice("warning", f"Compaction failed ({type(exc).__name__}: {exc}); dropping the oldest "
                                    "turns instead (the history keeps every message).")  # fmt: skip
            return
        yield Notice("info", describe(summary))

    def _trace(self, kind: str, **fields: Any) -> None:
        tracer = self.endpoint.tracer
        if tracer is not None:
            tracer.write(kind, **fields)

    async def _retrieve(self, user_text: str) -> AsyncIterator[Event]:
        """Search the index once for this turn; the passages go into every step's request."""
        self._retrieved, self.last_sources = [], []
        if self.retriever is None or not self.retrieval_enabled:
            return
        from assistant.errors import AssistantError
        from assistant.retrieval import compose_query

        earlier = [m.content for m in self.conversation.messages if m.role == "user" and m.content]
        query = compose_query(user_text, earlier)
        started = time.perf_counter()
        try:
            passages = await self.retriever.retrieve(query)
        except AssistantError as exc:
            yield Notice("warning", f"Retrieval failed, answering without it: {exc.user_line()}")
            return
        except Exception as exc:  # an embedder or store bug must not cost the user the turn
            yield Notice("warning", f"Retrieval failed, answering without it: {type(exc).__name__}: {exc}")
            return
        self.last_sources = passages
        self._retrieved = self.retriever.messages(passages)
        yield Retrieved(self.retriever.collection, query, tuple(passages), time.perf_counter() - started)

    def _save(self, message: Message) -> list[Notice]:
        """Keep a message; after a failed write, the rest of the turn stays in memory only,
        so the history never holds half a turn."""
        if self._turn_unsaved:
            self.conversation.messages.append(message)
            return []
        if self.conversation.add(message):
            return []
        self._turn_unsaved = True
        return [
            Notice("warning", f"Not saved to history: {self.conversation.last_error} This turn stays in memory only.")
        ]

    def _read_only(self, name: str) -> bool:
        check = getattr(self.tools, "read_only", None)
        return bool(check(name)) if check is not None else False

    def _repeat_result(self, call: ToolCall, previous: str) -> ToolResult:
        content = (
            f"{previous}\n\n(This repeats an earlier call with the same arguments; the result is the same. "
            "Use it to answer the user now.)"
        )
        self._save(Message("tool", content, tool_call_id=call.id, name=call.name))
        return ToolResult(call, content, False, 0.0)

    @staticmethod
    def _fold(step: _Step, event: Event) -> None:
        if isinstance(event, TextDelta):
            step.text += event.text
        elif isinstance(event, ToolCallReady):
            step.calls.append(event.call)
        elif isinstance(event, Finish):
            step.finish = event.reason
        elif isinstance(event, StreamError):
            step.error = event.message
            step.text = event.partial_text or step.text

    async def _run_tools(self, calls: list[ToolCall]) -> AsyncIterator[ToolResult]:
        tasks = [asyncio.ensure_future(self.tools.run(c)) for c in calls]
        done = 0
        try:
            for task in tasks:
                result = await task
                self._save(Message("tool", result.content, tool_call_id=result.call.id, name=result.call.name))
                done += 1
                yield result
        finally:
            for task in tasks:
                task.cancel()
            # Every call needs a result in history, or the next request is invalid.
            for call in calls[done:]:
                self._save(Message("tool", "Error: cancelled by the user.", tool_call_id=call.id, name=call.name))

    async def ask(self, user_text: str) -> str:
        """Non-streaming: the same loop, drained; returns the final text."""
        final = ""
        async for event in self.run(user_text):
            if isinstance(event, TurnEnd):
                final = event.text
        return final
