"""Attachments: files and MCP resources that go into one turn's requests.

``ask -a notes.md``, ``/attach notes.md`` and ``@server:uri`` in a message attach content to that
turn. A text attachment becomes a fragment in the user's message, before the question, headed by
its name (``[Attached: notes.md]``); an image becomes an OpenAI content part
(``{"type": "image_url", "image_url": {"url": "data:image/png;base64,…"}}``) of the same message.
Like retrieved passages, attachments go into every request of the turn they belong to and are
counted as their own source in ``/context``; the history keeps the message as typed, not the
attachment's content.

Images go only to a model that takes them: the endpoint's capabilities (llama-server's ``/props``
``modalities.vision``) say so; one that does not is refused before the request, with one line.
Bad input (a missing, unreadable, binary or oversized file) is refused the same way.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

MAX_TEXT_BYTES = 1_000_000
MAX_IMAGE_BYTES = 20_000_000
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF87a": "image/gif",
               b"GIF89a": "image/gif", b"RIFF": "image/webp"}  # fmt: skip
IMAGE_TOKENS_ESTIMATE = 768  # what an image costs a vision model, roughly (counted as an estimate)


class AttachmentError(AssistantError):
    """An attachment that cannot be sent (missing, unreadable, binary, too large, or an image for a
    model that takes none)."""


@dataclass(frozen=True)
class Attachment:
    name: str  # as shown: the path given, or server:uri
    kind: str  # "text" | "image"
    text: str = ""  # text attachments
    mime: str = ""
    data: bytes = b""  # image attachments

    def fragment(self) -> str:
        return f"[Attached: {self.name}]\n{self.text.rstrip()}\n[End of {self.name}]"

    def content_part(self) -> dict[str, Any]:
        url = f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"
        return {"type": "image_url", "image_url": {"url": url}}


def image_type(head: bytes) -> str | None:
    for magic, mime in IMAGE_TYPES.items():
        if head.startswith(magic) and (mime != "image/webp" or head[8:12] == b"WEBP"):
            return mime
    return None


def load_file(path: str | Path) -> Attachment:
    """A file as an attachment: an image by its content, else UTF-8 text; AttachmentError otherwise."""
    p = Path(path).expanduser()
    name = str(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise AttachmentError(f"cannot attach {name}: not a regular file.")
        with p.open("rb") as fh:
            head = fh.read(16)
            mime = image_type(head)
            limit = MAX_IMAGE_BYTES if mime else MAX_TEXT_BYTES
            if size > limit:
                raise AttachmentError(f"cannot attach {name}: {size:,} bytes, more than {limit:,}.")
            data = head + fh.read()
    except OSError as exc:
        raise AttachmentError(f"cannot attach {name}: {exc.strerror or exc}.") from None
    if mime:
        return Attachment(name, "image", mime=mime, data=data)
    if b"\x00" in data:
        raise AttachmentError(f"cannot attach {name}: binary data, neither text nor a PNG, JPEG, GIF or WebP image.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AttachmentError(f"cannot attach {name}: not UTF-8 text (invalid at byte {exc.start}).") from None
    return Attachment(name, "text", text=text, mime="text/plain")


def check_images(attachments: list[Attachment], vision: bool | None, model: str) -> None:
    """Refuse images for a model whose endpoint says it takes none (unknown: let the endpoint decide)."""
    images = [a.name for a in attachments if a.kind == "image"]
    if images and vision is False:
        raise AttachmentError(
            f"{model} takes no images, so {', '.join(images)} cannot be attached; nothing was sent.",
            hint="Use a model with vision (for llama-server: one started with its --mmproj projector).",
        )


def fold_attachments(current: list[dict[str, Any]], attachments: list[Attachment]) -> list[dict[str, Any]]:
    """The current turn's messages with the attachments in its user message (text first, then images)."""
    if not attachments:
        return current
    out = [dict(m) for m in current]
    target = next((m for m in out if m.get("role") == "user"), None)
    if target is None:
        target = {"role": "user", "content": ""}
        out.insert(0, target)
    texts = [a.fragment() for a in attachments if a.kind == "text"]
    question = str(target.get("content") or "")
    body = "\n\n".join([*texts, question]) if texts else question
    images = [a.content_part() for a in attachments if a.kind == "image"]
    target["content"] = [{"type": "text", "text": body}, *images] if images else body
    return out


def attachment_tokens_text(attachments: list[Attachment]) -> str:
    """The text the attachments add (for counting); images are counted by estimate."""
    return "\n\n".join(a.fragment() for a in attachments if a.kind == "text")
