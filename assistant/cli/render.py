"""Plain streaming output of agent events (the full terminal UI builds on this)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import IO, Any

from assistant.cli.common import short
from assistant.events import (
    Event,
    Notice,
    Retrieved,
    StepStart,
    StreamError,
    TextDelta,
    Timing,
    ToolCallReady,
    ToolResult,
    TurnEnd,
    Usage,
    event_to_dict,
)
from assistant.termsafe import json_line, visible


@dataclass
class PlainRenderer:
    """Answer text to ``out``; tool activity and stats to ``info``."""

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    info: IO[str] = field(default_factory=lambda: sys.stderr)
    show_stats: bool = False
    _line_open: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    gen_speed: float | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.out.write(visible(event.text))
            self.out.flush()
            self._line_open = not event.text.endswith("\n")
        elif isinstance(event, ToolCallReady):
            self._end_line()
            c = event.call
            self.info.write(f"→ {short(c.name, 80)}({short(c.arguments, 200)})\n")
        elif isinstance(event, ToolResult):
            mark = "✗" if event.is_error else "←"
            self.info.write(
                f"{mark} {short(event.call.name, 80)}: {short(event.content, 200)} ({event.seconds:.2f}s)\n"
            )
        elif isinstance(event, StreamError):
            self._end_line()
            self.info.write(f"[{visible(event.message)}; partial answer kept]\n")
        elif isinstance(event, Usage):
            self.prompt_tokens += event.prompt_tokens
            self.completion_tokens += event.completion_tokens
        elif isinstance(event, Timing):
            self._timing(event)
        elif isinstance(event, TurnEnd):
            self._end_line()
            if self.show_stats:
                self._stats(event)
        elif isinstance(event, StepStart) and event.step > 1:
            self._end_line()
        elif isinstance(event, Notice):
            self._end_line()
            self.info.write(f"[{event.level}: {visible(event.message)}]\n")
        elif isinstance(event, Retrieved):
            found = ", ".join(f"{p.location()} ({p.distance:.2f})" for p in event.passages) or "nothing close enough"
            self.info.write(f"[retrieved from {visible(event.collection)}: {visible(found)}]\n")
        self.info.flush()

    def _timing(self, event: Timing) -> None:
        speed = event.server_timings.get("predicted_per_second")
        if isinstance(speed, int | float):
            self.gen_speed = float(speed)

    def _stats(self, event: TurnEnd) -> None:
        parts = [f"{event.steps} request{'s' if event.steps != 1 else ''}"]
        if self.prompt_tokens or self.completion_tokens:
            parts.append(f"{self.prompt_tokens} prompt + {self.completion_tokens} generated tokens")
        if self.gen_speed:
            parts.append(f"{self.gen_speed:.1f} tok/s")
        self.info.write("[" + ", ".join(parts) + "]\n")
        self.prompt_tokens = self.completion_tokens = 0

    def _end_line(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False


class JsonRenderer:
    """One JSON object per line per event (for scripts)."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def handle(self, event: Event) -> None:
        self.out.write(json_line(event_to_dict(event)) + "\n")
        self.out.flush()


SOURCE_LABELS = {
    "system": "system prompt",
    "instructions": "MCP server instructions",
    "tools": "tool schemas",
    "retrieval": "retrieved passages",
    "attachments": "attachments",
    "history": "history (earlier turns)",
    "input": "current input",
    "tool_results": "tool calls & results",
}


def format_context(report: Any) -> str:
    """A plain table of what the last request carried (a ContextReport)."""
    total = report.total_tokens
    lines = [f"{'source':26} {'msgs':>5} {'tokens':>8} {'of window':>10}"]
    for key, label in SOURCE_LABELS.items():
        src = report.sources[key]
        share = 100 * src.tokens / report.window if report.window else 0.0
        lines.append(f"{label:26} {src.messages:>5} {src.tokens:>8,} {share:>9.1f}%")
    lines.append(f"{'total':26} {len(report.messages):>5} {total:>8,} {100 * total / report.window:>9.1f}%")
    counted = "llama-server's tokenizer" if report.counted_by == "server" else "an estimate (~3.5 chars/token)"
    lines.append(f"window {report.window:,} tokens; {report.budget:,} usable for the prompt; counted with {counted}")
    if report.actual_prompt_tokens is not None:
        lines.append(f"the server reported {report.actual_prompt_tokens:,} prompt tokens for this request")
    if report.cached_prompt_tokens is not None:
        lines.append(f"prompt cache: {report.evaluated_prompt_tokens:,} evaluated, "
                     f"{report.cached_prompt_tokens:,} reused from the server's cache")  # fmt: skip
    lines.extend(attribution_lines(report))
    if report.dropped_turns:
        lines.append(
            f"dropped to fit: {report.dropped_turns} oldest turn(s), {report.dropped_messages} messages, "
            f"~{report.dropped_tokens:,} tokens"
        )
    return "\n".join(lines)


def attribution_lines(report: Any) -> list[str]:
    """Whose instructions and which attachments the request carried (names shown with controls visible)."""
    lines = []
    if getattr(report, "instructions_from", None):
        names = ", ".join(visible(n, one_line=True) for n in report.instructions_from)
        lines.append(f"MCP server instructions from: {names} (the servers' own text, after the system prompt)")
    if getattr(report, "attached", None):
        lines.append("attached to this turn: " + ", ".join(visible(n, one_line=True) for n in report.attached))
    return lines
