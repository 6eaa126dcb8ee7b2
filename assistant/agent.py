"""The agent loop: one async generator of events; ``ask()`` drains it.

Contract of ``Agent.run(user_text)``:

1. The user message is appended to the conversation.
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
   offers no tools, so the model answers instead of looping.
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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from assistant.conversation import Conversation, Message, fold_tool_exchanges
from assistant.endpoint import Endpoint
from assistant.errors import MaxStepsExceeded, StreamInterrupted
from assistant.events import (
    Event,
    Finish,
    StepStart,
    StreamError,
    TextDelta,
    ToolCall,
    ToolCallReady,
    ToolResult,
    TurnEnd,
)
from assistant.tools import ToolRegistry


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
    ) -> None:
        self.endpoint = endpoint
        self.tools = tools if tools is not None else ToolRegistry()
        self.conversation = conversation if conversation is not None else Conversation()
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.params = dict(params or {})
        self.fold_tool_results = fold_tool_results
        self.last_request: list[dict[str, Any]] = []

    def build_messages(self) -> list[dict[str, Any]]:
        """The full context of the next request, rebuilt from history every time."""
        messages: list[dict[str, Any]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        if self.fold_tool_results:
            messages.extend(fold_tool_exchanges(self.conversation.messages))
        else:
            messages.extend(self.conversation.wire())
        return messages

    async def run(self, user_text: str) -> AsyncIterator[Event]:
        self.conversation.add(Message("user", user_text))
        done_calls: dict[tuple[str, str], str] = {}  # (name, arguments) -> result, this turn
        offer_tools = True
        for step_no in range(1, self.max_steps + 1):
            messages = self.build_messages()
            self.last_request = messages
            yield StepStart(step_no, len(messages))
            step = _Step()
            tools = self.tools.schemas() if offer_tools else []
            try:
                async for event in self.endpoint.stream(messages, tools or None, **self.params):
                    self._fold(step, event)
                    yield event
            except asyncio.CancelledError:
                self.conversation.add(Message("assistant", step.text, status="interrupted"))
                raise
            if step.error is not None:
                self.conversation.add(Message("assistant", step.text, status="error"))
                raise StreamInterrupted(step.error, hint="The partial answer was kept and marked.")
            self.conversation.add(Message("assistant", step.text, tool_calls=list(step.calls)))
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
            async for result in self._run_tools(step.calls):
                done_calls[_call_key(result.call)] = result.content
                yield result
            if self.fold_tool_results:
                offer_tools = False  # small models: one tool round, then answer from the results
        raise MaxStepsExceeded(
            f"Stopped after {self.max_steps} model requests: the model kept calling tools.",
            hint="Raise max_steps (--max-steps) if the task needs more.",
        )

    def _repeat_result(self, call: ToolCall, previous: str) -> ToolResult:
        content = (
            f"{previous}\n\n(This repeats an earlier call with the same arguments; the result is the same. "
            "Use it to answer the user now.)"
        )
        self.conversation.add(Message("tool", content, tool_call_id=call.id, name=call.name))
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
                self.conversation.add(
                    Message("tool", result.content, tool_call_id=result.call.id, name=result.call.name)
                )
                done += 1
                yield result
        finally:
            for task in tasks:
                task.cancel()
            # Every call needs a result in history, or the next request is invalid.
            for call in calls[done:]:
                self.conversation.add(
                    Message("tool", "Error: cancelled by the user.", tool_call_id=call.id, name=call.name)
                )

    async def ask(self, user_text: str) -> str:
        """Non-streaming: the same loop, drained; returns the final text."""
        final = ""
        async for event in self.run(user_text):
            if isinstance(event, TurnEnd):
                final = event.text
        return final
