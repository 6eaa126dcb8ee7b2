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
    TokenProbs,
    ToolCallReady,
    ToolResult,
    TurnEnd,
    Usage,
    event_to_dict,
)
from assistant.termsafe import json_line, visible


@dataclass
class TurnStats:
    """Token counts of the current (or last) turn and of the whole chat, both counted as usage arrives.

    One per renderer; both chat front ends print ``line()`` after a turn and the terminal UI's
    status line shows ``status()``.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    gen_speed: float | None = None
    total_prompt: int = 0  # every request so far, the current turn's included
    total_completion: int = 0

    def start_turn(self) -> None:
        self.prompt_tokens = self.completion_tokens = self.requests = 0

    def add_usage(self, prompt: int, completion: int) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.total_prompt += prompt
        self.total_completion += completion

    def add_timing(self, event: Timing) -> None:
        """Generation speed: the server's own figure where it sends one, else tokens over stream time."""
        speed = event.server_timings.get("predicted_per_second")
        if isinstance(speed, int | float):
            self.gen_speed = float(speed)
        elif event.seconds_to_first_token is not None and self.completion_tokens:
            gen = event.seconds_total - event.seconds_to_first_token
            self.gen_speed = self.completion_tokens / gen if gen > 0 else None

    def status(self) -> str:
        return (f"turn {self.prompt_tokens:,}+{self.completion_tokens:,} tok · "
                f"total {self.total_prompt:,}+{self.total_completion:,}")  # fmt: skip

    def line(self, steps: int) -> str:
        """After a turn: requests, tokens, speed."""
        parts = [f"{steps} request{'s' if steps != 1 else ''}"]
        if self.prompt_tokens or self.completion_tokens:
            parts.append(f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} generated tokens")
        if self.gen_speed:
            parts.append(f"{self.gen_speed:.1f} tok/s")
        return " · ".join(parts)


@dataclass
class PlainRenderer:
    """Answer text to ``out``; tool activity and stats to ``info``."""

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    info: IO[str] = field(default_factory=lambda: sys.stderr)
    show_stats: bool = False
    _line_open: bool = False
    stats: TurnStats = field(default_factory=TurnStats)
    answer: str = ""  # the text of the last step (the final answer)
    probs: list[Any] = field(default_factory=list)  # TokenProb entries of the last step

    def handle(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.answer += event.text
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
            self.stats.add_usage(event.prompt_tokens, event.completion_tokens)
        elif isinstance(event, Timing):
            self.stats.add_timing(event)
        elif isinstance(event, TokenProbs):
            self.probs.extend(event.tokens)
        elif isinstance(event, TurnEnd):
            self._end_line()
            if self.show_stats:
                self.info.write("[" + self.stats.line(event.steps) + "]\n")
        elif isinstance(event, StepStart):
            self.answer, self.probs = "", []
            self.stats.requests += 1
            if event.step > 1:
                self._end_line()
        elif isinstance(event, Notice):
            self._end_line()
            self.info.write(f"[{event.level}: {visible(event.message)}]\n")
        elif isinstance(event, Retrieved):
            found = ", ".join(f"{p.location()} ({p.distance:.2f})" for p in event.passages) or "nothing close enough"
            self.info.write(f"[retrieved from {visible(event.collection)}: {visible(found)}]\n")
        self.info.flush()

    def start_turn(self) -> None:
        self.stats.start_turn()
        self.answer, self.probs = "", []

    def interrupted(self) -> None:
        self._end_line()
        self.info.write("[interrupted: partial answer kept]\n")

    def finish_text(self) -> None:
        self._end_line()

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
