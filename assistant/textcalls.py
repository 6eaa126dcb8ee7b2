"""Tool calls that a model writes as text instead of as native ``tool_calls``.

Small local models (Qwen2.5-Coder 0.5B/1.5B under ``llama-server --jinja``) asked with tools answer
with the call as JSON in the message content, ``finish_reason: "stop"`` and no ``tool_calls``::

    ```json
    {"name": "read_file", "arguments": {"path": "README.md"}}
    ```

This module finds such calls, both on a whole text (:func:`find_text_tool_calls`) and while the text
streams in (:class:`TextCallFilter`). Both are one state machine: the one-shot function feeds the
whole text to a filter, so the streamed and the one-shot answers agree by construction, whatever the
delta boundaries (the tests check this property char by char and on random splits).

Where a call may stand (the *candidates*)
    * a fenced block (```` ``` ```` or ``~~~``) whose info string is empty or JSON-like (``json``,
      ``jsonc``, ``json5``, ``tool_call``, ``tool_code``, ...) and whose body is one or more JSON
      values, nothing else; a ```` ```python ```` fence is code and is never a candidate;
    * bare JSON starting a line (after optional indentation), with nothing but whitespace after it
      on its last line;
    * ``<tool_call> ... </tool_call>`` anywhere outside code fences (Qwen's own template format),
      with one or more JSON values inside, optionally fenced; a missing closing tag at the end of the
      stream is accepted.

What counts as a call (*call-shaped*)
    An object whose keys are all in {name, arguments, parameters, type, function, id, index}, with
    a non-empty string ``name`` and ``arguments`` (or ``parameters``) that is an object or a JSON
    string holding an object; or the OpenAI shape ``{"type": "function", "function": {...}}``; or a
    non-empty list of those. The key whitelist is what keeps ordinary JSON answers out: a user
    object (``{"name": "Alice", "age": 30}``), a ``package.json``, a JSON-RPC request, a tool
    *definition* with ``description`` all have other keys. ``arguments`` may be missing only when
    the name is one of the offered tools (``{"name": "list_dir"}`` for a tool with no required
    arguments); otherwise ``{"name": "Alice"}`` would be a call.

Which candidates become calls
    * every call in the candidate names an offered tool (exactly, or after a ``functions.`` style
      prefix, or ignoring case) → calls, whatever surrounds them. Their arguments are validated
      against the tool's JSON schema (``jsonschema``), but schema-invalid arguments still make a
      call: the agent loop validates again and sends the error back, so the model can correct a
      misspelt argument instead of the user seeing raw JSON. The one exception is arguments that
      are themselves a JSON Schema (``"parameters": {"type": "object", "properties": ...}``) and
      invalid for the tool: that is a function *definition* the user asked to see, so it stays text.
    * some call names an unknown tool → a call only in strong context: inside ``<tool_call>`` tags,
      or when the message consists of nothing but call candidates and whitespace (the model did
      nothing but try to call a tool). The loop then answers "unknown tool", listing the real ones.
      Anywhere else (prose before or after) it stays text: that is how JSON examples look.
    * no tools offered → nothing is recognised.
    A candidate is taken or left whole: a list with one non-call element stays text.

Streaming
    Prose streams through at once; only a line's leading whitespace, a ``<`` that may open
    ``<tool_call>``, a fence's opening line, and candidates are held. A candidate is dropped as soon
    as it cannot be a call: a character that is not JSON outside a string, a first-level key outside
    the whitelist, a list element that is not an object, text after the value. A ``json`` fence
    holding an ordinary object with call-like keys is held until its closing fence. An unknown-name
    call is held until the end (or until prose shows up, which releases it as text), because only
    then is it known whether the message was nothing but calls. Each character is examined a
    bounded number of times (the JSON scan is incremental), so a long answer costs linear time;
    candidates larger than ``MAX_CANDIDATE`` characters are released as text. Any internal error
    turns the filter into a pass-through instead of raising.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.events import ToolCall

__all__ = ["MAX_CANDIDATE", "TextCallFilter", "find_text_tool_calls"]

MAX_CANDIDATE = 200_000  # characters held for one candidate before giving up on it

_JSON_INFO = frozenset({"", "json", "jsonc", "json5", "tool_call", "tool_code", "tool", "function_call"})
_CALL_KEYS = frozenset({"name", "arguments", "parameters", "type", "function", "id", "index"})
_FN_KEYS = frozenset({"name", "arguments", "parameters"})
_TAG_OPEN = "<tool_call>"
_TAG_CLOSE = "</tool_call>"
_JSON_CHARS = frozenset(" \t\r\n{}[]:,0123456789-+.eEtrufalsn")
_STR_RUN = re.compile(r'[^"\\]*')
_NO_ARGS = object()

# states of the filter
_LINE, _TEXT, _TAGPFX, _FOPEN, _FBODY, _CODE, _JSON, _AFTER, _FCLOSE, _TCLOSE, _DONE = range(11)
# kinds of candidate
_BARE, _FENCE, _TAG = "bare", "fence", "tag"


def find_text_tool_calls(text: str, tools: Sequence[dict[str, Any]]) -> tuple[list[ToolCall], str]:
    """Return (calls recognised in text, the text with those calls removed).

    ``tools`` are OpenAI-format dicts ``{"type": "function", "function": {"name", "description",
    "parameters"}}``. The rules are in the module docstring; the answer is the same as feeding
    ``text`` to a :class:`TextCallFilter` in any pieces.
    """
    filt = TextCallFilter(tools)
    shown = filt.feed(text)
    held, calls = filt.finish()
    return calls, shown + held


# ---------------------------------------------------------------- judging parsed JSON


@dataclass(frozen=True)
class _Parsed:
    name: str
    arguments: dict[str, Any]
    explicit: bool  # arguments were given (not defaulted to {})


class _ToolSet:
    """The offered tools: name lookup and (lazily built, cached) schema validators."""

    def __init__(self, tools: Sequence[dict[str, Any]]) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        for tool in tools:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                params = fn.get("parameters")
                self.schemas[fn["name"]] = params if isinstance(params, dict) else {}
        self._lower = {name.lower(): name for name in self.schemas}
        self._validators: dict[str, Any] = {}

    def canonical(self, name: str) -> str | None:
        """The offered tool this name means, or None."""
        name = name.strip()
        for candidate in (name, name.rsplit(".", 1)[-1]):
            if candidate in self.schemas:
                return candidate
            if candidate.lower() in self._lower:
                return self._lower[candidate.lower()]
        return None

    def is_valid(self, name: str, arguments: dict[str, Any]) -> bool:
        """Whether arguments satisfy the tool's schema (True when the schema itself is unusable)."""
        try:
            validator = self._validators.get(name)
            if validator is None:
                from jsonschema.validators import validator_for

                schema = self.schemas[name]
                cls = validator_for(schema)
                cls.check_schema(schema)
                validator = self._validators[name] = cls(schema)
            return bool(validator.is_valid(arguments))
        except Exception:  # noqa: BLE001 - a broken schema must not decide anything
            return True


def _as_call(obj: Any) -> _Parsed | None:
    """The call this JSON object spells, if it is call-shaped."""
    if not isinstance(obj, dict) or not obj.keys() <= _CALL_KEYS:
        return None
    if obj.get("type", "function") != "function":
        return None
    fn = obj.get("function")
    if isinstance(fn, dict):  # OpenAI shape {"type": "function", "function": {"name", "arguments"}}
        if "name" in obj or "arguments" in obj or "parameters" in obj or not fn.keys() <= _FN_KEYS:
            return None
        obj = fn
    elif fn is not None:
        return None
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    args = obj.get("arguments", obj.get("parameters", _NO_ARGS))
    if args is _NO_ARGS:
        return _Parsed(name.strip(), {}, explicit=False)
    if isinstance(args, str):
        try:
            args = json.loads(args, strict=False) if args.strip() else {}
        except ValueError:
            return None
    return _Parsed(name.strip(), args, explicit=True) if isinstance(args, dict) else None


def _is_schema(args: dict[str, Any]) -> bool:
    return args.get("type") == "object" and isinstance(args.get("properties"), dict)


def _judge(values: list[Any], tools: _ToolSet) -> tuple[list[_Parsed], bool] | None:
    """(calls, whether any names an unknown tool), or None when the candidate is not a call."""
    calls: list[_Parsed] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        if not items:
            return None
        for item in items:
            parsed = _as_call(item)
            if parsed is None:
                return None
            calls.append(parsed)
    unknown = False
    out: list[_Parsed] = []
    for call in calls:
        known = tools.canonical(call.name)
        if known is None:
            if not call.explicit:
                return None
            unknown = True
            out.append(call)
            continue
        if _is_schema(call.arguments) and not tools.is_valid(known, call.arguments):
            return None  # a function definition, not a call
        out.append(_Parsed(known, call.arguments, call.explicit))
    return out, unknown


# ---------------------------------------------------------------- incremental JSON scanning


class _JsonScan:
    """Finds where one JSON value ends, a character at a time, and rejects early.

    Rejects a character that cannot appear outside a JSON string, a first-level key of the call
    object outside the call-key whitelist, and a top-level list element that is not an object.
    """

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.in_str = False
        self.esc = False
        self.expect_key = False  # at the call object's level, the next string is a key
        self.expect_obj = False  # in a top-level list, the next element must be an object
        self.key: list[str] | None = None  # the key being read, at the call object's level
        self.bad = False  # a first-level key outside the whitelist was read

    def _call_level(self) -> bool:
        return self.stack == ["{"] or self.stack == ["[", "{"]

    def scan(self, s: str, pos: int) -> tuple[str, int]:
        """Consume from s[pos:]: ("more", len(s)), ("done", end of value) or ("reject", pos)."""
        n = len(s)
        while pos < n:
            if self.in_str:
                pos = self._string(s, pos)
                if self.bad:
                    return "reject", pos
                continue
            ch = s[pos]
            verdict = self._structural(ch)
            if verdict == "reject":
                return "reject", pos
            pos += 1
            if verdict == "done":
                return "done", pos
        return "more", pos

    def _string(self, s: str, pos: int) -> int:
        if self.esc:
            self.esc = False
            self._key_add(s[pos])
            return pos + 1
        m = _STR_RUN.match(s, pos)
        end = m.end() if m else pos
        self._key_add(s[pos:end])
        if end >= len(s):
            return end
        if s[end] == "\\":
            self.esc = True
            self._key_add("\\")
            return end + 1
        self.in_str = False  # closing quote
        if self.key is not None:
            key, self.key = "".join(self.key), None
            self.bad = key not in _CALL_KEYS
        return end + 1

    def _key_add(self, text: str) -> None:
        if self.key is not None and text:
            self.key.append(text)

    def _structural(self, ch: str) -> str:
        if ch not in _JSON_CHARS and ch != '"':
            return "reject"
        if ch in " \t\r\n":
            return "more"
        if self.expect_obj:
            if ch not in "{]":
                return "reject"
            self.expect_obj = False
        if self.expect_key and self._call_level():
            if ch == '"':
                self.expect_key = False
                self.key = []
                self.in_str = True
                return "more"
            if ch != "}":
                return "reject"
        if ch == '"':
            self.in_str = True
        elif ch in "{[":
            if not self.stack and ch == "[":
                self.expect_obj = True
            self.stack.append(ch)
            if ch == "{" and self._call_level():
                self.expect_key = True
        elif ch in "}]":
            if not self.stack or {"{": "}", "[": "]"}[self.stack.pop()] != ch:
                return "reject"
            self.expect_key = False
            if not self.stack:
                return "done"
        elif ch == ",":
            if self._call_level():
                self.expect_key = True
            elif self.stack == ["["]:
                self.expect_obj = True
        elif not self.stack:
            return "reject"  # a scalar at top level is not a call
        return "more"
