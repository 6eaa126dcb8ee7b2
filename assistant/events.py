"""Typed events: what the endpoint stream and the agent loop yield.

The endpoint yields TextDelta, ToolCallDelta, ToolCallReady, Usage, Finish and
StreamError. The agent loop passes those through and adds StepStart,
ToolResult and TurnEnd. Every event is a small frozen dataclass so chat,
``ask --json``, traces and evals can all consume the same stream.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ToolCall:
    """A complete request from the model to run one tool."""

    id: str
    name: str
    arguments: str  # raw JSON text as the model produced it
    # text: recognised in content; grammar: constrained; answer: the code block of an answer, run as asked
    source: Literal["native", "text", "grammar", "answer"] = "native"

    def parsed_arguments(self) -> dict[str, Any]:
        """Arguments as a dict; raises ValueError when they are not a JSON object."""
        if not self.arguments.strip():
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value


@dataclass(frozen=True)
class StepStart:
    step: int  # 1-based index of the model request within the turn
    request_messages: int  # how many messages this request carries (stateless: all of them)
    kind: Literal["step_start"] = "step_start"


@dataclass(frozen=True)
class TextDelta:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of a streamed native tool call (assembled by index)."""

    index: int
    id: str | None
    name: str | None
    arguments: str
    kind: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(frozen=True)
class ToolCallReady:
    call: ToolCall
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class TokenProb:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()  # the alternatives the model weighed, most likely first


@dataclass(frozen=True)
class TokenProbs:
    """Per-token probabilities of streamed text (when the endpoint provides logprobs)."""

    tokens: tuple[TokenProb, ...]
    kind: Literal["logprobs"] = "logprobs"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    kind: Literal["usage"] = "usage"


@dataclass(frozen=True)
class Timing:
    """Wall-clock timing of one model request, measured on our side."""

    seconds_to_first_byte: float | None
    seconds_to_first_token: float | None
    seconds_total: float
    server_timings: dict[str, Any] = field(default_factory=dict)  # llama-server's own, when sent
    kind: Literal["timing"] = "timing"


@dataclass(frozen=True)
class Finish:
    reason: str  # stop, tool_calls, length, interrupted, error ...
    kind: Literal["finish"] = "finish"


@dataclass(frozen=True)
class StreamError:
    """The stream broke after it started; ``partial_text`` is what had arrived."""

    message: str
    partial_text: str
    kind: Literal["error"] = "error"


@dataclass(frozen=True)
class ToolResult:
    call: ToolCall
    content: str
    is_error: bool
    seconds: float
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not part of the answer (e.g. history not saved)."""

    level: Literal["info", "warning"]
    message: str
    kind: Literal["notice"] = "notice"


@dataclass(frozen=True)
class Retrieved:
    """Passages found in the index for this turn (assistant.retrieval.Passage), most relevant first."""

    collection: str
    query: str
    passages: tuple[Any, ...]
    seconds: float
    kind: Literal["retrieved"] = "retrieved"


@dataclass(frozen=True)
class Decision:
    """A grammar-constrained step chose what to do next: ``answer`` or a tool name."""

    choice: str
    seconds: float
    p_call: float | None = None  # the model's probability of starting a call, when it was asked
    why: str = ""  # what decided it: "p_call 0.42 >= 0.15", "mentions calc.py", "small talk"
    kind: Literal["decision"] = "decision"


@dataclass(frozen=True)
class TurnEnd:
    text: str
    steps: int
    finish_reason: str
    kind: Literal["turn_end"] = "turn_end"


@dataclass(frozen=True)
class ContextEvent:
    """What the next request carries: the context report (see assistant.context)."""

    report: Any  # assistant.context.ContextReport
    kind: Literal["context"] = "context"


Event = (
    StepStart
    | ContextEvent
    | TextDelta
    | TokenProbs
    | ToolCallDelta
    | ToolCallReady
    | Usage
    | Timing
    | Finish
    | StreamError
    | ToolResult
    | Notice
    | Retrieved
    | Decision
    | TurnEnd
)


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of an event (for ``ask --json`` and traces)."""
    if isinstance(event, ContextEvent):
        return {"kind": event.kind, "report": event.report.summary()}
    if isinstance(event, Timing):
        # Cached vs evaluated prompt tokens of this request, from llama-server's timings when it sent them.
        cached, evaluated = event.server_timings.get("cache_n"), event.server_timings.get("prompt_n")
        return {**asdict(event), "prompt_tokens_cached": cached, "prompt_tokens_evaluated": evaluated}
    return asdict(event)
