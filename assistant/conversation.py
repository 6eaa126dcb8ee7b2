"""Messages of one conversation. In memory here; persistent history builds on the same types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.events import ToolCall

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


@dataclass
class Conversation:
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    messages: list[Message] = field(default_factory=list)

    def add(self, message: Message) -> Message:
        self.messages.append(message)
        return message

    def wire(self) -> list[dict[str, Any]]:
        return [m.to_wire() for m in self.messages]
