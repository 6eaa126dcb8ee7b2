"""Messages of one conversation. In memory here; persistent history builds on the same types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from assistant.events import ToolCall

if TYPE_CHECKING:
    from assistant.history import History

Status = Literal["complete", "interrupted", "error"]
INTERRUPTED_NOTE = "[answer interrupted before it was complete]"


@dataclass
class Message:
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None  # tool name, for tool results
    status: Status = "complete"

    def to_wire(self) -> dict[str, Any]:
        """The OpenAI chat message this becomes in a request."""
        msg: dict[str, Any] = {"role": self.role}
        content = self.content
        if self.status != "complete" and self.role == "assistant":
            content = f"{content or ''}\n\n{INTERRUPTED_NOTE}".strip()
        if self.role == "assistant" and self.tool_calls:
            msg["content"] = content or None
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or "{}"}}
                for c in self.tool_calls
            ]
        else:
            msg["content"] = content or ""
        if self.role == "tool":
            msg["tool_call_id"] = self.tool_call_id
        return msg


SUMMARY_HEAD = "[Summary of the earlier part of our conversation ({turns} turns), which it replaces:]"
SUMMARY_ACK = "Understood: I will continue from that summary."


@dataclass
class Summary:
    """A model-written summary that replaces the first ``covered`` messages in requests (compaction).

    The messages themselves stay in the conversation and the history; the summary is a view over them,
    kept (in the history too) until a later compaction replaces it or ``/compact --undo`` drops it.
    """

    text: str
    covered: int  # how many leading messages of the conversation it replaces
    turns: int  # how many turns those are
    covered_tokens: int = 0  # what those messages took in a request
    focus: str | None = None
    seconds: float = 0.0  # how long writing it took
    model: str = ""
    titles: tuple[str, ...] = ()  # the first line of each summarised user message (for /context)
    tokens: int = 0  # the summary's own size
    id: int | None = None  # row in the history database

    def to_wire(self) -> list[dict[str, Any]]:
        """The messages that stand for the summarised turns in a request (a user/assistant pair: it works
        with chat templates that insist on alternating roles or on one system message)."""
        head = SUMMARY_HEAD.format(turns=self.turns)
        return [{"role": "user", "content": f"{head}\n\n{self.text}"}, {"role": "assistant", "content": SUMMARY_ACK}]


@dataclass
class Conversation:
    """The messages of one conversation, in memory and (with a store) in the SQLite history."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    messages: list[Message] = field(default_factory=list)
    store: History | None = None
    last_seq: int = 0  # the last stored message this object has seen
    unsaved: int = 0
    last_error: str = ""
    summary: Summary | None = None  # compaction: replaces the first summary.covered messages in requests

    @classmethod
    def create(cls, store: History, *, model: str = "", endpoint: str = "") -> Conversation:
        return cls(id=store.create(model=model, endpoint=endpoint), store=store)

    @classmethod
    def load(cls, store: History, cid: str) -> Conversation:
        conv = cls(id=store.resolve(cid), store=store)
        conv.sync()
        summary = store.active_summary(conv.id)
        if summary is not None and summary.covered <= len(conv.messages):
            conv.summary = summary
        return conv

    def set_summary(self, summary: Summary | None) -> None:
        """Use this summary from now on (None: none, the full history again); kept in the history.
        A failed write keeps it for this session only (the messages themselves are never touched)."""
        from assistant.errors import AssistantError

        self.summary = summary
        if self.store is None:
            return
        try:
            if summary is None:
                self.store.drop_summaries(self.id)
            else:
                summary.id = self.store.save_summary(self.id, summary)
        except AssistantError as exc:
            self.last_error = exc.user_line()

    def add(self, message: Message) -> bool:
        """Append; with a store, write it in its own transaction. False if the write failed."""
        from assistant.errors import AssistantError

        self.messages.append(message)
        if self.store is None:
            return True
        try:
            self.last_seq = self.store.append(self.id, message)
        except AssistantError as exc:
            self.unsaved += 1
            self.last_error = exc.user_line()
            return False
        return True

    def sync(self) -> int:
        """Load messages other processes stored since we last looked; returns how many."""
        if self.store is None:
            return 0
        new = self.store.messages(self.id, after_seq=self.last_seq)
        for seq, message in new:
            self.messages.append(message)
            self.last_seq = seq
        return len(new)

    def wire(self) -> list[dict[str, Any]]:
        return [m.to_wire() for m in self.messages]

    def pop_last_turn(self) -> str | None:
        """Remove the last turn (from the last user message on); returns that message's text."""
        starts = [i for i, m in enumerate(self.messages) if m.role == "user"]
        if not starts:
            return None
        first = starts[-1]
        removed = len(self.messages) - first
        text = self.messages[first].content or ""
        del self.messages[first:]
        if self.store is not None and self.last_seq:
            self.store.delete_from(self.id, self.last_seq - removed + 1)
            self.last_seq -= removed
        if self.summary is not None and self.summary.covered > len(self.messages):
            self.set_summary(None)  # it summarised messages that are gone
        return text


ANSWER_NOTE = "\n\n[Answer my request using these tool results:]"


def fold_tool_exchanges(messages: list[Message]) -> list[dict[str, Any]]:
    """Wire messages with tool calls and results folded into the user turn before them.

    For small local models that write tool calls as text (Qwen2.5-Coder 0.5B/1.5B): shown their
    own call followed by a tool message, they repeat the call instead of answering (seen in every
    layout tried: native tool_calls, the call as text, results as tool or user messages). Shown the
    result as part of the user's turn, they answer from it. History keeps the real structure; only
    the request is folded.
    """
    wire: list[dict[str, Any]] = []
    folded: list[dict[str, Any]] = []
    last_user: dict[str, Any] | None = None
    calls: dict[str, ToolCall] = {}
    for msg in messages:
        if msg.role == "assistant" and msg.tool_calls:
            calls.update({c.id: c for c in msg.tool_calls})
            continue
        if msg.role == "tool":
            call = calls.get(msg.tool_call_id or "")
            label = f"{call.name}({call.arguments})" if call else (msg.name or "tool")
            if last_user is None:
                last_user = {"role": "user", "content": ""}
                wire.append(last_user)
            if not any(last_user is f for f in folded):
                folded.append(last_user)
                last_user["content"] += ANSWER_NOTE  # before the results: small models echo a trailing note
            last_user["content"] += f"\n\n[The tool call {label} returned:]\n{msg.content or ''}"
            continue
        out = msg.to_wire()
        if msg.role == "user":
            last_user = out
        wire.append(out)
    return wire
