"""Streaming answers as rendered Markdown without re-rendering the whole answer per token.

Finished blocks (a paragraph ended by a blank line, a closed code fence) are
printed once, as Markdown with syntax-highlighted code. Only the block still
being written lives in a small ``rich.live.Live`` region, re-rendered at most
``refresh_per_second`` times a second, so the cost per token is bounded by the
size of the current block, not of the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.cli.common import short
from assistant.cli.render import TurnStats
from assistant.events import (
    Event,
    Notice,
    StepStart,
    StreamError,
    TextDelta,
    Timing,
    TokenProbs,
    ToolCallReady,
    ToolResult,
    TurnEnd,
    Usage,
)


@dataclass
class BlockSplitter:
    """Cuts streamed Markdown into finished blocks and the block still being written."""

    pending: str = ""  # after the last newline
    lines: list[str] = field(default_factory=list)  # complete lines of the current block
    in_fence: bool = False
    fence_opener: str = ""

    def feed(self, text: str) -> list[str]:
        """Blocks finished by this text."""
        done: list[str] = []
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.lines.append(line)
            stripped = line.strip()
            if stripped.startswith("```"):
                self.in_fence = not self.in_fence
                self.fence_opener = stripped if self.in_fence else ""
                if not self.in_fence:
                    done.append(self._take())
            elif not self.in_fence and not stripped and any(x.strip() for x in self.lines):
                done.append(self._take())
        return [b for b in done if b.strip()]

    def tail(self) -> str:
        return "\n".join([*self.lines, self.pending]) if self.lines else self.pending

    def flush(self) -> str:
        rest = self.tail()
        self.lines, self.pending, self.in_fence = [], "", False
        return rest

    def _take(self) -> str:
        block = "\n".join(self.lines)
        self.lines = []
        return block


class RichRenderer:
    """Agent events to a rich Console: Markdown answer, folded tool calls, stats."""

    def __init__(self, console: Any, *, refresh_per_second: float = 6.0, code_theme: str = "monokai") -> None:
        self.console = console
        self.refresh = refresh_per_second
        self.code_theme = code_theme
        self.splitter = BlockSplitter()
        self.live: Any = None
        self.stats = TurnStats()
        self.answer = ""  # the text of the last step (the final answer)
        self.probs: list[Any] = []  # TokenProb entries of the last step
        self._blocks: list[str] = []
        self._last_print = 0.0

    # -- answer text -----------------------------------------------------
    def _markdown(self, text: str) -> Any:
        from rich.markdown import Markdown

        from assistant.termsafe import visible

        return Markdown(visible(text), code_theme=self.code_theme)

    def _print_block(self, block: str) -> None:
        """Finished blocks are printed once, above the live region, batched per frame: each print
        makes the live region redraw, so printing per block would cost a redraw per paragraph."""
        import time

        self._blocks.append(block)
        now = time.monotonic()
        if now - self._last_print >= 1.0 / self.refresh:
            self._flush_blocks()
            self._last_print = now

    def _flush_blocks(self) -> None:
        if self._blocks:
            self.console.print(self._markdown("\n\n".join(self._blocks)))
            self._blocks = []

    def _show_tail(self) -> None:
        if self.live is None and self.splitter.tail().strip():
            from rich.live import Live

            # The live region renders _LiveTail at its own refresh rate: a token costs a string append.
            self.live = Live(
                _LiveTail(self),
                console=self.console,
                refresh_per_second=self.refresh,
                transient=True,
                auto_refresh=True,
                vertical_overflow="crop",
            )
            self.live.start()

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.update("")
            self.live.stop()
            self.live = None

    def finish_text(self) -> None:
        rest = self.splitter.flush()
        self._flush_blocks()
        self._stop_live()
        if rest.strip():
            self.console.print(self._markdown(rest))

    # -- events ----------------------------------------------------------
    def handle(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.answer += event.text
            for block in self.splitter.feed(event.text):
                self._print_block(block)
            self._show_tail()
        elif isinstance(event, TokenProbs):
            self.probs.extend(event.tokens)
        elif isinstance(event, StepStart):
            self.finish_text()
            self.answer, self.probs = "", []
            self.stats.requests += 1
        elif isinstance(event, ToolCallReady):
            self.finish_text()
            c = event.call
            self.console.print(f"[cyan]⚙ {_escape(c.name)}[/]([dim]{_escape(short(c.arguments, 160))}[/])")
        elif isinstance(event, ToolResult):
            self._tool_result(event)
        elif isinstance(event, Usage):
            self.stats.add_usage(event.prompt_tokens, event.completion_tokens)
        elif isinstance(event, Timing):
            self.stats.add_timing(event)
        elif isinstance(event, StreamError):
            self.finish_text()
            self.console.print(f"[red]{_escape(event.message)}; the partial answer was kept.[/]")
        elif isinstance(event, Notice):
            self.finish_text()
            color = "yellow" if event.level == "warning" else "dim"
            self.console.print(f"[{color}]{_escape(event.message)}[/]")
        elif isinstance(event, TurnEnd):
            self.finish_text()
            self._end_turn(event)

    def _tool_result(self, event: ToolResult) -> None:
        lines = event.content.splitlines() or [""]
        first = short(lines[0], 140)
        more = f" … (+{len(lines) - 1} lines, {len(event.content):,} chars)" if len(lines) > 1 else ""
        color = "red" if event.is_error else "green"
        self.console.print(f"  [{color}]↳[/] [dim]{_escape(first)}{more}[/] [dim]({event.seconds:.2f}s)[/]")

    def _end_turn(self, event: TurnEnd) -> None:
        self.console.print(f"[dim]{_escape(self.stats.line(event.steps))}[/]")

    def start_turn(self) -> None:
        self.stats.start_turn()
        self.answer, self.probs = "", []

    def interrupted(self) -> None:
        self.finish_text()
        self.console.print("[yellow]⏹ interrupted — the partial answer was kept[/]")


class _LiveTail:
    """The block still being written, rendered lazily (only its last screenful)."""

    def __init__(self, renderer: RichRenderer) -> None:
        self.renderer = renderer

    def __rich_console__(self, console: Any, options: Any) -> Any:
        splitter = self.renderer.splitter
        lines = splitter.tail().split("\n")
        room = max(5, options.max_height - 2 if options.max_height else console.size.height - 2)
        if len(lines) > room:
            lines = lines[-room:]
            if splitter.in_fence:
                lines.insert(0, splitter.fence_opener)
        yield self.renderer._markdown("\n".join(lines))


def _escape(text: str) -> str:
    from rich.markup import escape

    from assistant.termsafe import visible

    return escape(visible(text))
