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
    * every call names an offered tool (exactly, after a ``functions.``-style prefix, or ignoring
      case) → calls, wherever they stand. Their arguments are checked against the tool's JSON
      schema (``jsonschema``), but schema-invalid arguments still make a call: the agent loop
      validates again and sends the error back, so the model can fix ``{"file": ...}`` instead of the
      user seeing raw JSON. One exception: arguments that are themselves a JSON Schema
      (``"parameters": {"type": "object", "properties": ...}``) and invalid for the tool are a
      function *definition* the user asked to see, so they stay text.
    * an invented name whose arguments spell exactly one offered tool's parameters (at least one
      argument, all of them declared, every required one present, schema-valid) → a call to that
      tool. Seen on the 0.5B model: ``check_weather {"city": "Seattle", "units": ...}`` → get_weather,
      ``sum_of_first_1000_primes {"code": ...}`` → run_python. Two tools that fit → no guess.
    * any other unknown name → a call only inside ``<tool_call>`` tags (the model's own call syntax,
      so the loop answers "unknown tool" and the model can retry); elsewhere text. The alternative,
      "an unknown-name call alone in the message is a call", was measured on the 0.5B model
      (``benchmarks/bench_textcalls.py``, 30 + 30 prompts) and rejected: it added 4 false calls on the
      no-tool prompts (``reverse_string``, ``add``, ``load_json_file`` for "write a function" requests,
      and ``{"name": "Alice", "arguments": {"age": 30, ...}}`` for "convert this to JSON") and no
      right call on the tool prompts (its unknown-name attempts there, ``open_config.toml``,
      ``print``, ``enable_tracing``, carried no usable arguments either).
    * no tools offered → nothing is recognised.
    A candidate is taken or left whole: a list with one non-call element stays text.

Repair
    The 0.5B model sometimes drops the last brace after a code string that itself ends in ``}``
    (``{"name": "run_python", "arguments": {"code": "...print(sys.version)}"}``). When a value is
    cut short only by missing closing brackets (at most three, not inside a string) and the closing
    fence, the closing tag or the end of the stream follows, the brackets are added; the result must
    still be call-shaped.

Streaming
    Prose streams through at once; only a line's leading whitespace, a ``<`` that may open
    ``<tool_call>``, a fence's opening line, and candidates are held. A candidate is released as
    soon as it cannot be a call: a character that is not JSON outside a string, a first-level key
    outside the whitelist, a list element that is not an object, a complete value that is not
    call-shaped, text after the value. So a ``json`` fence with an ordinary object is released at its
    first key, and the rest of it streams. A call is held to its end (closing fence, closing tag, or
    the end of its line for bare JSON) and then dropped from the text. Each character is examined a
    bounded number of times (the JSON scan is incremental; nothing re-parses the buffer per delta),
    so a long answer costs linear time; a candidate longer than ``MAX_CANDIDATE`` characters is
    released as text. An internal error turns the filter into a pass-through instead of raising.
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
_LINE, _TEXT, _TAGPFX, _FOPEN, _FBODY, _CODE, _JSON, _AFTER, _FCLOSE, _TCLOSE = range(10)
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
        for tool in tools if isinstance(tools, Sequence) else ():
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

    def fit(self, arguments: dict[str, Any]) -> str | None:
        """The one offered tool whose parameters these arguments spell exactly, if there is one.

        Exactly: at least one argument, every argument a declared property, every required
        property present, and the schema satisfied.
        """
        if not arguments:
            return None
        fits = []
        for name, schema in self.schemas.items():
            props = schema.get("properties")
            required = schema.get("required") or []
            if not isinstance(props, dict) or not isinstance(required, list):
                continue
            spelt = arguments.keys() <= props.keys() and set(required) <= arguments.keys()
            if spelt and self.is_valid(name, arguments):
                fits.append(name)
        return fits[0] if len(fits) == 1 else None

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
        except Exception:  # a broken schema must not decide anything
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
        if known is None and call.explicit:
            known = tools.fit(call.arguments)  # an invented name, but a real tool's arguments
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


# ---------------------------------------------------------------- the streaming filter


@dataclass
class _Candidate:
    """Text held because it may be a call, and what has been read of it."""

    kind: str  # _BARE, _FENCE or _TAG
    held: list[str] = field(default_factory=list)
    size: int = 0
    values: list[Any] = field(default_factory=list)
    scan: _JsonScan | None = None
    value_parts: list[str] = field(default_factory=list)
    close: str = ""  # what has been read of the closing fence or tag
    skip_info: bool = False  # inside <tool_call>: reading a fence's info string

    def hold(self, text: str) -> None:
        if text:
            self.held.append(text)
            self.size += len(text)


def _closes(line: str, fence: tuple[str, int]) -> bool:
    """Whether a line inside a code fence is its closing fence."""
    mark, count = fence
    body = line.strip(" \t\r\n")
    return len(body) >= count and body == mark * len(body)


_TEXT_STOP = re.compile(r"[\n<]")
_WS = " \t\r\n"


class TextCallFilter:
    """Streaming hold-back: feed content deltas; returns text that is safe to show the user now.

    Text that might be the start of a call (a fence whose body starts with ``{`` or ``[``, a line
    starting with ``{`` or ``[``, ``<tool_call>``) is held until it can be decided; prose and code
    (a ```` ```python ```` fence) stream through. ``finish()`` returns the held text that turned out
    not to be a call, and the calls. Never raises on odd input.
    """

    def __init__(self, tools: Sequence[dict[str, Any]]) -> None:
        self._tools = _ToolSet(tools or ())
        self._on = bool(self._tools.schemas)
        self._finished = False
        self._state = _LINE
        self._look = ""  # held lookahead: a line's indentation, a "<tool_call" prefix, a fence line
        self._fence: tuple[str, int] = ("`", 3)  # the fence we are in: mark and length
        self._code_line = ""  # the current line inside a code fence (its start), to spot the end
        self._cand: _Candidate | None = None
        self._out: list[str] = []
        self._found: list[_Parsed] = []
        self._steps = {
            _LINE: self._line,
            _TEXT: self._text,
            _TAGPFX: self._tag_prefix,
            _FOPEN: self._fence_open,
            _FBODY: self._fence_body,
            _CODE: self._code,
        }

    # -- public

    def feed(self, delta: str) -> str:
        """Take the next content delta; return the text that can be shown now."""
        if not isinstance(delta, str):
            return ""
        if not self._on or self._finished:
            return delta
        pos = 0
        try:
            while pos < len(delta):
                pos = self._steps.get(self._state, self._candidate)(delta, pos)
        except Exception:  # never break the stream: fall back to pass-through
            self._give_up(delta[pos:])
        return self._take()

    def finish(self) -> tuple[str, list[ToolCall]]:
        """End of stream: (held text to show because it was not a call, the calls found)."""
        if self._finished:
            return "", []
        self._finished = True
        if self._on:
            try:
                self._end_of_stream()
            except Exception:  # as in feed()
                self._give_up("")
        return self._take(), self._calls()

    # -- output

    def _take(self) -> str:
        text = "".join(self._out)
        self._out.clear()
        return text

    def _emit(self, text: str) -> None:
        """Release text to the user."""
        if text:
            self._out.append(text)

    def _calls(self) -> list[ToolCall]:
        return [
            ToolCall(
                id=f"call_text_{n}_{secrets.token_hex(4)}",
                name=parsed.name,
                arguments=json.dumps(parsed.arguments, separators=(",", ":"), ensure_ascii=False),
                source="text",
            )
            for n, parsed in enumerate(self._found)
        ]

    def _give_up(self, rest: str) -> None:
        """After an internal error: release everything held and pass text through from now on."""
        held = self._look + ("".join(self._cand.held) if self._cand else "")
        self._out.append(held + rest)
        self._look, self._cand, self._on = "", None, False

    def _end_of_stream(self) -> None:
        state, cand = self._state, self._cand
        if cand is not None:
            if state == _JSON and self._repair(cand):
                state = _AFTER
            if state != _JSON and cand.values:
                self._complete(0, _TEXT)
            else:
                self._reject(0)
        elif state in (_LINE, _TAGPFX, _FOPEN, _FBODY):
            self._emit(self._look)
            self._look = ""

    # -- prose and code: nothing held but a line's start

    def _line(self, s: str, pos: int) -> int:
        """At the start of a line: hold indentation until the first visible character decides."""
        ch = s[pos]
        if ch in " \t\r" and len(self._look) < 64:
            self._look += ch
            return pos + 1
        indent, self._look = self._look, ""
        if ch == "\n":
            self._emit(indent + ch)
            return pos + 1
        if ch in "{[":
            self._start(_BARE, indent)
        elif ch in "`~":
            self._look = indent
            self._state = _FOPEN
        else:
            self._emit(indent)
            self._state = _TAGPFX if ch == "<" else _TEXT
        return pos

    def _text(self, s: str, pos: int) -> int:
        """Inside a line of prose: release everything up to a newline or a '<'."""
        m = _TEXT_STOP.search(s, pos)
        if m is None:
            self._emit(s[pos:])
            return len(s)
        end = m.start()
        if s[end] == "\n":
            self._emit(s[pos : end + 1])
            self._state = _LINE
            return end + 1
        self._emit(s[pos:end])
        self._state = _TAGPFX
        return end

    def _tag_prefix(self, s: str, pos: int) -> int:
        """Hold what may be '<tool_call>' until it is, or is not."""
        while pos < len(s):
            grown = self._look + s[pos]
            if not _TAG_OPEN.startswith(grown):
                self._emit(self._look)
                self._look = ""
                self._state = _TEXT
                return pos if grown != s[pos] else pos + 1
            self._look = grown
            pos += 1
            if grown == _TAG_OPEN:
                self._look = ""
                self._start(_TAG, _TAG_OPEN)
                break
        return pos

    def _fence_open(self, s: str, pos: int) -> int:
        """Hold a fence's opening line until its info string is known."""
        while pos < len(s):
            ch = s[pos]
            pos += 1
            self._look += ch
            if ch == "\n":
                return self._fence_line(pos)
            body = self._look.lstrip(" \t\r")
            mark = body[0]
            run = len(body) - len(body.lstrip(mark))
            if (run < len(body) and run < 3) or (mark == "`" and "`" in body[run:]):
                self._emit(self._look)  # ``code`` or a lone backtick: prose
                self._look = ""
                self._state = _TEXT
                return pos
            if len(self._look) > 256:  # an absurd info string: treat as a code fence
                return self._fence_line(pos)
        return pos

    def _fence_line(self, pos: int) -> int:
        line, self._look = self._look, ""
        body = line.strip(" \t\r\n")
        mark = body[0]
        run = len(body) - len(body.lstrip(mark))
        if run < 3:
            self._emit(line)
            self._state = _LINE
            return pos
        self._fence = (mark, run)
        info = body[run:].split()
        if (info[0].lower() if info else "") in _JSON_INFO:
            self._look = line
            self._state = _FBODY
        else:
            self._emit(line)
            self._code_line = ""
            self._state = _CODE
        return pos

    def _fence_body(self, s: str, pos: int) -> int:
        """After a JSON-like fence opener: hold blank lines until the body's first character."""
        while pos < len(s):
            ch = s[pos]
            if ch in _WS and len(self._look) < 1024:
                self._look += ch
                pos += 1
                continue
            if ch in "{[":
                head, self._look = self._look, ""
                self._start(_FENCE, head)
            else:
                self._to_code(self._look)
                self._look = ""
            return pos
        return pos

    def _to_code(self, released: str) -> None:
        """Release text that is inside a code fence, and carry on streaming the fence."""
        self._emit(released)
        self._code_line = released[released.rfind("\n") + 1 :][:80]
        self._state = _CODE

    def _code(self, s: str, pos: int) -> int:
        """Inside a code fence: release everything; watch each line for the closing fence."""
        end = s.find("\n", pos)
        piece = s[pos:] if end < 0 else s[pos : end + 1]
        if len(self._code_line) <= 80:
            self._code_line += piece[:81]
        self._emit(piece)
        if end < 0:
            return len(s)
        line, self._code_line = self._code_line, ""
        if _closes(line, self._fence):
            self._state = _LINE
        return end + 1

    # -- candidates

    def _start(self, kind: str, head: str) -> None:
        self._cand = _Candidate(kind)
        self._cand.hold(head)
        self._state = _AFTER if kind == _TAG else _JSON

    def _candidate(self, s: str, pos: int) -> int:
        cand = self._cand
        if cand is None:  # cannot happen; recover as prose
            self._state = _TEXT
            return pos
        if self._state == _JSON:
            pos = self._json(cand, s, pos)
        elif self._state == _AFTER:
            pos = self._after(cand, s, pos)
        elif self._state == _FCLOSE:
            pos = self._fence_close(cand, s, pos)
        else:
            pos = self._tag_close(cand, s, pos)
        if self._cand is cand and cand.size > MAX_CANDIDATE:
            return self._reject(pos)
        return pos

    def _json(self, cand: _Candidate, s: str, pos: int) -> int:
        if cand.scan is None:
            cand.scan = _JsonScan()
        status, end = cand.scan.scan(s, pos)
        piece = s[pos:end]
        cand.hold(piece)
        cand.value_parts.append(piece)
        if status == "more":
            return end
        if status == "reject":
            return self._broken_value(cand, s, end)
        text = "".join(cand.value_parts)
        cand.scan, cand.value_parts = None, []
        try:
            value = json.loads(text, strict=False)
        except ValueError:
            return self._reject(end)
        if _judge([value], self._tools) is None:
            return self._reject(end)  # well-formed JSON, but not a call: release it now
        cand.values.append(value)
        self._state = _AFTER
        return end

    def _broken_value(self, cand: _Candidate, s: str, pos: int) -> int:
        """The JSON scan stopped at s[pos]: a closing fence or tag after a value with its last
        brackets missing (small models drop them) is repaired; anything else is not a call."""
        ch = s[pos] if pos < len(s) else ""
        text = "".join(cand.value_parts)
        at_line_start = text[text.rfind("\n") + 1 :].strip() == "" and "\n" in text
        closing = (cand.kind == _FENCE and ch == self._fence[0] and at_line_start) or (cand.kind == _TAG and ch == "<")
        if closing and self._repair(cand):
            self._state = _FCLOSE if cand.kind == _FENCE else _TCLOSE
            return pos
        return self._reject(pos)

    def _repair(self, cand: _Candidate) -> bool:
        """Close the brackets a cut-short value left open; keep it if it is then a call."""
        scan = cand.scan
        if scan is None or scan.in_str or scan.bad or not 0 < len(scan.stack) <= 3:
            return False
        closers = "".join("}" if b == "{" else "]" for b in reversed(scan.stack))
        try:
            value = json.loads("".join(cand.value_parts) + closers, strict=False)
        except ValueError:
            return False
        if _judge([value], self._tools) is None:
            return False
        cand.values.append(value)
        cand.scan, cand.value_parts = None, []
        return True

    def _after(self, cand: _Candidate, s: str, pos: int) -> int:
        """Between and after a candidate's JSON values."""
        ch = s[pos]
        if ch in "{[" and cand.kind != _BARE:
            self._state = _JSON
            return pos
        if ch in _WS:
            cand.hold(ch)
            cand.skip_info = False
            if ch == "\n" and cand.kind == _BARE:
                return self._complete(pos + 1, _LINE)
            return pos + 1
        if cand.kind == _FENCE and ch == self._fence[0]:
            self._state = _FCLOSE
            return pos
        if cand.kind == _TAG:
            if ch == "<":
                self._state = _TCLOSE
                return pos
            if ch == "`" or (cand.skip_info and (ch.isalnum() or ch == "_")):
                cand.hold(ch)  # a fence inside the tags: skip its marks and info string
                cand.skip_info = True
                return pos + 1
        return self._reject(pos)

    def _fence_close(self, cand: _Candidate, s: str, pos: int) -> int:
        ch = s[pos]
        mark, count = self._fence
        in_marks = ch == mark and cand.close.strip(mark) == ""
        if len(cand.close) < 64 and (in_marks or (ch in " \t\r" and len(cand.close) >= count)):
            cand.close += ch
        elif ch == "\n" and len(cand.close.rstrip()) >= count:
            cand.close += ch
            return self._complete(pos + 1, _LINE)
        else:
            return self._reject(pos)
        return pos + 1

    def _tag_close(self, cand: _Candidate, s: str, pos: int) -> int:
        grown = cand.close + s[pos]
        if not _TAG_CLOSE.startswith(grown):
            return self._reject(pos)
        cand.close = grown
        if grown == _TAG_CLOSE:
            return self._complete(pos + 1, _TEXT)
        return pos + 1

    def _complete(self, pos: int, next_state: int) -> int:
        """A whole candidate has been read: keep it as calls, or release it as text."""
        cand = self._cand
        assert cand is not None
        self._cand = None
        self._state = next_state
        cand.hold(cand.close)
        cand.close = ""
        text = "".join(cand.held)
        verdict = _judge(cand.values, self._tools) if cand.values else None
        if verdict is None or (verdict[1] and cand.kind != _TAG):
            self._emit(text)  # not a call, or an unknown tool outside <tool_call> tags
        else:
            self._found.extend(verdict[0])
        return pos

    def _reject(self, pos: int) -> int:
        """The held candidate is not a call: release it and carry on from pos."""
        cand = self._cand
        assert cand is not None
        self._cand = None
        cand.hold(cand.close)
        cand.close = ""
        text = "".join(cand.held)
        if cand.kind == _FENCE:
            self._to_code(text)
        else:
            self._emit(text)
            self._state = _LINE if text.endswith("\n") else _TEXT
        return pos
