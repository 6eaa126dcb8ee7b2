"""Compaction: the model summarises older turns into one message that replaces them in requests.

A view, not an edit: the conversation and the SQLite history keep every message. The summary
(``assistant.conversation.Summary``) stands for the first ``covered`` messages in each request
until a later compaction replaces it (the new one summarises the old summary plus the turns
since) or ``/compact --undo`` drops it. It is stored, so the next request (and the next session
on this conversation) reuses it instead of summarising again.

When: automatically when a request would take more than ``compact_at`` of the context window
(setting, default 0.8; ``off``: the oldest turns are dropped as before), or on ``/compact
[focus]`` / ``await bot.compact(focus)``. What: every earlier turn except the most recent ones
that fit in ``keep_share`` of the prompt budget; never the system prompt (nor anything else the
builder puts in front: tools, project instructions) and never the current turn.

A compaction that fails (model error, an empty summary, one cut at the token limit or no shorter
than what it replaces) changes nothing: the automatic path says so in one line and the builder
drops the oldest turns as it always did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assistant.context import split_turns
from assistant.conversation import Message, Summary
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.context import ContextBuilder, ContextReport
    from assistant.conversation import Conversation
    from assistant.endpoint import Endpoint

DEFAULT_COMPACT_AT = 0.8
KEEP_SHARE = 0.25  # recent turns kept word for word: up to this share of the prompt budget
MIN_COVER_SHARE = 0.1  # the automatic path compacts only when it can take at least this much out
MAX_SUMMARY_TOKENS = 1024
MESSAGE_CHARS = 4000  # longer user messages (pasted files) go into the transcript cut
REPLY_CHARS = 400  # the assistant's answers and tool results, in the transcript: their start only.
# Small models summarise what they read last; with whole answers in the transcript the 0.5B wrote notes on
# the answers and lost the names and numbers the user gave (seen in benchmarks/bench_compaction.py).
PROMPT_ROOM = 300  # tokens for the instructions and the framing of a summary request
LOOP_LINES = 3  # repeated lines in a row that end a summary going round in a loop


class CompactionFailed(AssistantError):
    """The summary could not be made; nothing was changed."""


class NothingToCompact(CompactionFailed):
    """Every earlier turn is already summarised, or too recent to summarise."""


def compact_threshold(value: Any) -> float | None:
    """The ``compact_at`` setting as a share of the window; None for ``off``."""
    from assistant.errors import ConfigError

    if isinstance(value, str):
        if value.strip().lower() in ("off", "none", "false", "no"):
            return None
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"compact_at must be a share of the window (e.g. 0.8) or 'off', not '{value}'.") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 <= value <= 0.95:
        raise ConfigError(f"compact_at must be between 0.1 and 0.95 (a share of the window) or 'off', not {value!r}.")
    return float(value)


@dataclass
class Plan:
    """What a compaction will summarise."""

    start: int  # first message not yet summarised
    cover: list[Message]  # the messages to summarise now
    turns: int
    tokens: int
    titles: tuple[str, ...]


class Compactor:
    """Decides when to compact and writes the summaries, with the builder's window and token counts."""

    def __init__(self, builder: ContextBuilder, compact_at: float | None = DEFAULT_COMPACT_AT,
                 *, keep_share: float = KEEP_SHARE) -> None:  # fmt: skip
        self.builder = builder
        self.compact_at = compact_at
        self.keep_share = keep_share

    @property
    def budget(self) -> int:
        return self.builder.window - self.builder.reserve

    @property
    def max_summary_tokens(self) -> int:
        return max(96, min(MAX_SUMMARY_TOKENS, self.budget // 4))

    def due(self, report: ContextReport) -> bool:
        """Whether this request (before any dropping) would pass ``compact_at`` of the window."""
        if self.compact_at is None:
            return False
        return report.total_tokens + report.dropped_tokens > self.compact_at * report.window

    async def plan(self, conv: Conversation, *, auto: bool = False) -> Plan:
        """The earlier turns to summarise now; raises NothingToCompact.

        Automatic: all but the recent turns that fit in ``keep_share`` of the budget, and only when that
        takes out a worthwhile amount. Asked for (``/compact``): all but the last turn (if it fits)."""
        min_tokens = int(MIN_COVER_SHARE * self.budget) if auto else 1
        max_keep = None if auto else 1
        start = conv.summary.covered if conv.summary is not None else 0
        turns = split_turns(conv.messages[start:])
        counter = self.builder.counter
        sizes = [sum(await self.builder._tokens(self.builder.render(t), counter)) for t in turns]
        keep, kept_tokens = 0, 0
        while (keep < len(turns) and (max_keep is None or keep < max_keep)
               and kept_tokens + sizes[-1 - keep] <= self.keep_share * self.budget):  # fmt: skip
            kept_tokens += sizes[-1 - keep]
            keep += 1
        chosen = turns[: len(turns) - keep]
        tokens = sum(sizes[: len(chosen)])
        if not chosen or tokens < min_tokens:
            raise NothingToCompact(
                "Nothing to compact: " + ("the earlier turns are already summarised." if start else
                                          "the conversation is short enough to keep word for word.")
            )  # fmt: skip
        titles = tuple(_title(t[0].content or "") for t in chosen if t[0].role == "user")
        return Plan(start, [m for t in chosen for m in t], len(chosen), tokens, titles)

    async def write(self, endpoint: Endpoint, conv: Conversation, plan: Plan, focus: str | None = None) -> Summary:
        """The new summary for ``conv`` (not yet in use: the caller sets it). Raises CompactionFailed."""
        previous = conv.summary
        started = time.perf_counter()
        text = await self._summarise(endpoint, previous.text if previous else "", plan.cover, focus)
        counted = await self.builder.counter.count([text])
        summary = Summary(
            text,
            covered=plan.start + len(plan.cover),
            turns=(previous.turns if previous else 0) + plan.turns,
            covered_tokens=(previous.covered_tokens if previous else 0) + plan.tokens,
            focus=focus or None,
            seconds=time.perf_counter() - started,
            model=endpoint.config.model,
            titles=(previous.titles if previous else ()) + plan.titles,
            tokens=counted[0],
        )
        replaced = summary.covered_tokens
        if summary.tokens >= replaced:
            raise CompactionFailed(
                f"the summary ({summary.tokens:,} tokens) is no shorter than the turns it would replace "
                f"({replaced:,} tokens)"
            )
        return summary

    async def _summarise(self, endpoint: Endpoint, previous: str, cover: list[Message], focus: str | None) -> str:
        """Notes on each piece of the transcript that fits the window, appended to the notes so far; only
        when they outgrow the summary's limit does the model shorten them. (Asked to fold earlier notes into
        new ones, small models drop the details: the names and numbers the notes are for.)"""
        room = max(256, self.builder.window - self.max_summary_tokens - PROMPT_ROOM)
        lines = [_line(m) for m in cover]
        sizes = await self.builder.counter.count(lines)
        notes = previous
        for piece in _pieces(lines, sizes, room):
            new = await self._ask(endpoint, "notes", f"Conversation:\n{piece}", focus)
            notes = f"{notes}\n{new}" if notes else new
            (size,) = await self.builder.counter.count([notes])
            if size > self.max_summary_tokens:
                notes = await self._ask(endpoint, "shorten", f"Notes:\n{notes}", focus)
                (size,) = await self.builder.counter.count([notes])
                if size > self.max_summary_tokens:
                    raise CompactionFailed(f"the summary stayed over its {self.max_summary_tokens:,}-token limit "
                                           "after shortening")  # fmt: skip
        return notes

    async def _ask(self, endpoint: Endpoint, task: str, material: str, focus: str | None) -> str:
        """One summary request: ``task`` "notes" (on a transcript) or "shorten" (notes that grew too long)."""
        from assistant.toolprompt import prompt_file

        limit = self.max_summary_tokens
        system, notes_ask, shorten_ask = prompt_file("compact.md").split("\n---\n")
        ask = (notes_ask if task == "notes" else shorten_ask).replace("{max_words}", str(int(limit * 0.6)))
        parts = [material, ask.strip()]
        if focus:
            parts.append(f"Pay particular attention to: {focus}")
        messages = [{"role": "system", "content": system.strip()}, {"role": "user", "content": "\n\n".join(parts)}]
        ep = _any_slot(endpoint)
        try:
            text, finish, looped = await _read_summary(ep, messages, limit)
        except AssistantError as exc:
            raise CompactionFailed(f"the summary request failed: {exc.user_line()}") from None
        finally:
            if ep is not endpoint:
                await ep.aclose()
        if finish == "length" and not looped:
            raise CompactionFailed(f"the summary was cut at the {limit:,}-token limit (too long)")
        if not text.strip():
            raise CompactionFailed("the model wrote an empty summary")
        return text.strip()


async def _read_summary(ep: Endpoint, messages: list[dict[str, Any]], limit: int) -> tuple[str, str, bool]:
    """The summary text, the finish reason, and whether the model went round in a loop.

    Small models at temperature 0 often start repeating their lines; the stream is stopped after a
    few repeated lines and only the first copy of each line is kept."""
    from assistant.events import Finish, StreamError, TextDelta

    lines: list[str] = []
    seen: set[str] = set()
    pending, finish, repeats = "", "stop", 0
    stream = ep.stream(messages, None, with_logprobs=False, temperature=0.0, max_tokens=limit)
    try:
        async for event in stream:
            if isinstance(event, StreamError):
                raise CompactionFailed(f"the summary request broke: {event.message}")
            if isinstance(event, Finish):
                finish = event.reason
            if not isinstance(event, TextDelta):
                continue
            pending += event.text
            *done, pending = pending.split("\n")
            for line in done:
                key = " ".join(line.split()).lower()
                if key and key in seen:
                    repeats += 1
                    continue
                repeats = 0 if key else repeats
                seen.add(key)
                lines.append(line)
            if repeats >= LOOP_LINES:
                return "\n".join(lines), "length", True
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    if pending.strip() and " ".join(pending.split()).lower() not in seen and finish != "length":
        lines.append(pending)
    return "\n".join(lines), finish, repeats > 0


def _any_slot(endpoint: Endpoint) -> Endpoint:
    """The summary request must not take the chat's own llama-server slot (its prompt cache): any slot."""
    extra = endpoint.config.extra_body
    if "id_slot" not in extra:
        return endpoint
    from assistant.endpoint import Endpoint

    body = {k: v for k, v in extra.items() if k != "id_slot"}
    return Endpoint(replace(endpoint.config, extra_body=body), tracer=endpoint.tracer)


def _line(msg: Message) -> str:
    text = msg.content or ""
    if msg.role != "user" and len(text) > REPLY_CHARS:
        text = text[:REPLY_CHARS].rstrip() + " […]"
    if len(text) > MESSAGE_CHARS:
        half = MESSAGE_CHARS // 2
        text = f"{text[:half]}\n[… {len(text) - MESSAGE_CHARS:,} characters left out …]\n{text[-half:]}"
    if msg.role == "user":
        return f"User: {text}"
    if msg.role == "tool":
        return f"Tool {msg.name or ''} returned: {text}"
    parts = [f"Assistant: {text}"] if text else []
    parts += [f"Assistant called {c.name}({c.arguments})" for c in msg.tool_calls]
    return "\n".join(parts) or "Assistant: (no text)"


def _pieces(lines: list[str], sizes: list[int], limit: int) -> list[str]:
    """Lines packed into pieces of at most ``limit`` tokens (a longer line is cut, at ~3 characters a token)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line, tokens in zip(lines, sizes, strict=True):
        tokens += 2
        if current and size + tokens > limit:
            pieces.append("\n\n".join(current))
            current, size = [], 0
        current.append(line if tokens <= limit else line[: limit * 3])
        size += min(tokens, limit)
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:59] + "…"


def describe(summary: Summary) -> str:
    """One line for the chat after a compaction."""
    focus = f", focus: {summary.focus}" if summary.focus else ""
    return (f"Compacted {summary.turns} earlier turn(s) ({summary.covered} messages, ~{summary.covered_tokens:,} "
            f"tokens) into a {summary.tokens:,}-token summary in {summary.seconds:.1f} s{focus}. "
            "/compact --show prints it; /compact --undo goes back to the full history.")  # fmt: skip
