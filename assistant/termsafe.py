"""Terminal hygiene: untrusted text is shown with its control characters made visible.

Everything that did not come from the assistant itself (model output, tool results, files, stored
history, MCP servers' names, descriptions and command lines, error text from servers) goes
through ``visible()`` before it reaches a terminal. An escape sequence in it (OSC 52 clipboard
writes, screen clears, title changes, cursor moves, a carriage return that overwrites the line
shown) is printed as text instead of acting, so what the user sees is what is there.

Kept as they are: newline and tab (when asked). Made visible: the other C0 controls and DEL
(``\\x1b`` shows as ``^[``, as ``cat -v`` shows it), the C1 controls U+0080-U+009F (``<U+009B>``:
some terminals take U+009B as an escape), and the bidirectional overrides and isolates that
reorder text on screen (``<U+202E>``), which can make a command line read differently from what
runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 (except \t \n), DEL, C1, bidi embeddings/overrides/isolates, line and paragraph separators
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _show(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as text (newlines and tabs kept unless ``one_line``).

    A ``\\r\\n`` pair counts as a newline.
    """
    if one_line:
        return _UNSAFE_ONE_LINE.sub(_show, text)
    return _UNSAFE.sub(_show, text.replace("\r\n", "\n"))


def has_controls(text: str) -> bool:
    return _UNSAFE.search(text.replace("\r\n", "\n")) is not None


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_line(value: Any) -> str:
    """One line of JSON that is safe on a terminal: UTF-8 kept, but DEL, C1 and bidi controls escaped
    as ``\\uXXXX`` (``json.dumps`` escapes C0 itself)."""
    text = json.dumps(value, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
