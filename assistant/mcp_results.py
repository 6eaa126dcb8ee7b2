"""MCP results as text for the model: a tool's ``CallToolResult`` (and a prompt's or resource's
content blocks) rendered the one way every part of the program shows them.

Text is kept as it is; structured content goes in as JSON unless a text block already says the same
(FastMCP-style servers send both); images, audio, binary resources and links are described in one
line, never passed on. A tool error keeps the server's reason without the SDK's prefix.
Nothing here imports the MCP SDK: results are read by their attributes.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SDK_ERROR_PREFIX = re.compile(r"^Error executing tool [^:]+: ")


def b64_size(b64: str) -> str:
    n = len(b64) * 3 // 4
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def block_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type}, {b64_size(block.data)}; not shown to the model]"
    if kind == "resource_link":
        extra = f" ({block.mime_type})" if block.mime_type else ""
        desc = f": {block.description}" if block.description else ""
        return f"[resource link: {block.name} <{block.uri}>{extra}{desc}]"
    if kind == "resource":
        res = block.resource
        mime = f" ({res.mime_type})" if res.mime_type else ""
        if getattr(res, "text", None) is not None:
            return f"[resource {res.uri}{mime}]\n{res.text}"
        return f"[resource {res.uri}{mime}: binary, {b64_size(getattr(res, 'blob', ''))}; not shown to the model]"
    return f"[{kind or 'unknown'} content; not shown to the model]"


def _same_json(text: str, value: Any) -> bool:
    """Does this text block already say what the structured content says? (FastMCP-style servers send both)"""
    values = [value]
    if isinstance(value, dict) and len(value) == 1:  # a wrapped plain value: {"result": ...}, {"content": ...}
        values.extend(value.values())
    if any(isinstance(v, str) and v.strip() == text.strip() for v in values):
        return True
    try:
        parsed = json.loads(text)
    except (ValueError, TypeError):
        return False
    return any(parsed == v for v in values)


def render_result(result: Any) -> tuple[str, bool]:
    """A CallToolResult as text for the model: text kept, structured content as JSON, the rest described."""
    parts = [block_text(b) for b in result.content]
    structured = result.structured_content
    if structured is not None and not any(_same_json(p, structured) for p in parts):
        shown = json.dumps(structured, ensure_ascii=False, indent=2)
        parts.append(f"structured content:\n{shown}" if parts else shown)
    text = "\n".join(parts) if parts else "(no output)"
    if result.is_error:
        text = _SDK_ERROR_PREFIX.sub("", text, count=1)
    return text, bool(result.is_error)
