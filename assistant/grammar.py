"""GBNF grammars (llama.cpp's grammar format) that make a tool call impossible to malform.

``step_grammar(tools)`` builds the grammar of one *step* for an endpoint that can constrain
decoding (llama-server's per-request ``grammar`` field): the output is either the word
``answer`` or a tool name from the offered list followed by a space and that tool's arguments
as JSON that satisfies its schema. A model decoding under it cannot invent a tool name, drop a
required argument, mistype an enum, or write anything after the call.

``schema_rules`` turns one JSON Schema into rules. The subset covers what tool schemas use:
objects (required properties first, in order, then optional ones, each optional, in order),
strings, integers, numbers, booleans, null, ``enum``/``const``, ``anyOf``/``oneOf`` (e.g.
``int | None``), arrays with ``items``, nested objects, local ``$ref`` to ``$defs``. A schema
outside it (``patternProperties``, ``allOf``, recursive ``$ref``, ``not`` ...) raises
``Unsupported``; the caller then offers that tool through the text recogniser instead, and says
so. Numeric bounds, string lengths and patterns are not encoded: the loop still validates the
arguments against the full schema and sends any error back to the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_BASE_RULES = {
    "ws": r'( " " | "\n" [ ]{0,4} )?',
    "string": r'"\"" char* "\""',
    "char": r'[^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )',
    "integer": r'"-"? ( "0" | [1-9] [0-9]{0,15} )',
    "number": r'"-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?',
    "boolean": r'"true" | "false"',
    "null": r'"null"',
}
_BASE_RULES["value"] = "object | array | string | number | boolean | null"
_BASE_RULES["object"] = r'"{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"'
_BASE_RULES["array"] = r'"[" ws ( value ( ws "," ws value )* )? ws "]"'

# Our own keyword: a string that starts with this text and a line break, then anything (an edit that
# keeps the line it anchors on and adds after it).
KEEP_PREFIX = "x-keep-prefix"
MAX_BOUND = 4000  # longest string bound written into a grammar; a longer maxLength is left to validation

_SUPPORTED_KEYS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "oneOf",
    "$ref", "$defs", "definitions", "description", "title", "default", "examples", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "minItems",
    "maxItems", "uniqueItems", "deprecated", "readOnly", "writeOnly", "$schema", "$id", "$comment",
    KEEP_PREFIX,
}  # fmt: skip


class Unsupported(ValueError):
    """A schema this module cannot express as a grammar."""


def literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_literal(value: Any) -> str:
    return literal(json.dumps(value, ensure_ascii=False))


@dataclass
class _Builder:
    root_schema: dict[str, Any]
    rules: dict[str, str] = field(default_factory=dict)
    _resolving: set[str] = field(default_factory=set)
    used_base: set[str] = field(default_factory=set)

    def name(self, hint: str) -> str:
        base = re.sub(r"[^a-zA-Z0-9-]+", "-", hint).strip("-").lower() or "r"
        candidate, n = base, 1
        while candidate in self.rules or candidate in _BASE_RULES:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def base(self, rule: str) -> str:
        self.used_base.add(rule)
        return rule

    def add(self, hint: str, body: str) -> str:
        rule = self.name(hint)
        self.rules[rule] = body
        return rule

    def visit(self, schema: Any, hint: str) -> str:
        """The rule body (an expression) matching ``schema``."""
        if schema is True or schema == {}:
            return self.base("value")
        if not isinstance(schema, dict):
            raise Unsupported(f"schema at '{hint}' is not an object")
        unknown = set(schema) - _SUPPORTED_KEYS
        if unknown:
            raise Unsupported(f"'{hint}' uses {', '.join(sorted(unknown))}")
        if "$ref" in schema:
            return self._ref(schema["$ref"], hint)
        if "const" in schema:
            return _json_literal(schema["const"])
        if KEEP_PREFIX in schema:
            kept = json.dumps(str(schema[KEEP_PREFIX]), ensure_ascii=False)[:-1]  # open: more follows
            limit = schema.get("maxLength")
            more = f"{{0,{int(limit)}}}" if isinstance(limit, int) and limit > 0 else "*"
            return f"{literal(kept)} {literal(chr(92) + 'n')} {self.base('char')}{more} {literal(chr(34))}"
        if "enum" in schema:
            return "( " + " | ".join(_json_literal(v) for v in schema["enum"]) + " )"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.visit(s, f"{hint}-{i}") for i, s in enumerate(schema[key])]
                return "( " + " | ".join(options) + " )"
        kind = schema.get("type")
        if isinstance(kind, list):
            return "( " + " | ".join(self.visit({**schema, "type": k}, f"{hint}-{k}") for k in kind) + " )"
        if kind == "object" or (kind is None and "properties" in schema):
            return self._object(schema, hint)
        if kind == "array":
            return self._array(schema, hint)
        limit = schema.get("maxLength")
        if kind == "string" and isinstance(limit, int) and 0 < limit <= MAX_BOUND:  # (llama.cpp unrolls {0,n})
            return f"{literal(chr(34))} {self.base('char')}{{0,{limit}}} {literal(chr(34))}"
        if kind in ("string", "integer", "number", "boolean", "null"):
            return self.base(str(kind))
        if kind is None:
            return self.base("value")
        raise Unsupported(f"'{hint}' has unknown type {kind!r}")

    def _ref(self, ref: str, hint: str) -> str:
        match = re.fullmatch(r"#/(\$defs|definitions)/([^/]+)", str(ref))
        if not match:
            raise Unsupported(f"'{hint}' refers to {ref!r} (only local #/$defs/... references)")
        if ref in self._resolving:
            raise Unsupported(f"'{hint}' is recursive ({ref})")
        target = self.root_schema.get(match.group(1), {}).get(match.group(2))
        if target is None:
            raise Unsupported(f"'{hint}' refers to a missing definition {ref!r}")
        self._resolving.add(ref)
        try:
            return self.visit(target, match.group(2))
        finally:
            self._resolving.discard(ref)

    def _object(self, schema: dict[str, Any], hint: str) -> str:
        props: dict[str, Any] = schema.get("properties") or {}
        if not props:  # a tool without arguments takes {} (free-form objects are not worth the cost)
            return '"{" ws "}"'
        required = [p for p in schema.get("required", []) if p in props]
        optional = [p for p in props if p not in required]
        pairs = {p: f'{_json_literal(p)} ws ":" ws {self.visit(props[p], f"{hint}-{p}")}' for p in props}
        if not required:
            # At least nothing: "{}" or any in-order subset of the optional properties.
            return '"{" ws ' + self._optional_tail(optional, pairs, hint, first=True) + ' ws "}"'
        head = ' ws "," ws '.join(pairs[p] for p in required)
        tail = self._optional_tail(optional, pairs, hint, first=False)
        return " ".join(part for part in ('"{" ws', head, tail, 'ws "}"') if part)

    def _optional_tail(self, optional: list[str], pairs: dict[str, str], hint: str, *, first: bool) -> str:
        """Optional properties in order, each present or not.

        ``chain[i]`` matches the optional properties from i on, each with a comma before it. After
        required properties that is the whole tail; with none, the first present property has no
        comma: ``( pair_k chain[k+1] )?`` over every k.
        """
        if not optional:
            return ""
        chain: list[str] = [""] * (len(optional) + 1)
        for i in range(len(optional) - 1, -1, -1):
            chain[i] = self.add(f"{hint}-opt{i}", f'( ws "," ws {pairs[optional[i]]} )? {chain[i + 1]}'.strip())
        if not first:
            return chain[0]
        options = [f"{pairs[p]} {chain[i + 1]}".strip() for i, p in enumerate(optional)]
        return "( " + " | ".join(options) + " )?"

    def _array(self, schema: dict[str, Any], hint: str) -> str:
        items = schema.get("items", {})
        item = self.visit(items, f"{hint}-item")
        rule = self.add(f"{hint}-item", item)
        return f'"[" ws ( {rule} ( ws "," ws {rule} )* )? ws "]"'


def schema_rules(schema: dict[str, Any], root_name: str = "root") -> tuple[str, dict[str, str]]:
    """(expression for the schema, the named rules it uses), base rules included."""
    builder = _Builder(schema)
    expression = builder.visit(schema, root_name)
    rules = dict(builder.rules)
    for base in _closure(builder.used_base):
        rules[base] = _BASE_RULES[base]
    return expression, rules


def _closure(used: set[str]) -> set[str]:
    needs = {"value": {"object", "array", "string", "number", "boolean", "null"},
             "object": {"ws", "string", "value"}, "array": {"ws", "value"}, "string": {"char"}}  # fmt: skip
    out, todo = set(), [*used, "ws"]
    while todo:
        rule = todo.pop()
        if rule not in out:
            out.add(rule)
            todo.extend(needs.get(rule, ()))
    return out


@dataclass(frozen=True)
class CallGrammar:
    """The grammar of one tool call and which tools it could not express."""

    text: str
    tools: tuple[str, ...]  # tool names the grammar offers
    unsupported: dict[str, str]  # tool name -> why it is left out


def tool_parts(tool: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    fn = tool.get("function", tool)
    return str(fn["name"]), fn.get("parameters") or {"type": "object", "properties": {}}


def call_grammar(tools: Sequence[dict[str, Any]]) -> CallGrammar:
    """``{"name": "<tool>", "arguments": <arguments>}`` for every tool whose schema the grammar can express.

    The shape is the one small models write on their own (Qwen's ``<tool_call>`` JSON), so the
    grammar only keeps them on it: a name from the list, arguments valid for that tool.
    """
    rules: dict[str, str] = {}
    options: list[str] = []
    offered: list[str] = []
    unsupported: dict[str, str] = {}
    for i, tool in enumerate(tools):
        name, params = tool_parts(tool)
        try:
            expression, used = schema_rules(params, f"t{i}")
        except Unsupported as exc:
            unsupported[name] = str(exc)
            continue
        rules.update(used)
        args_rule = f"t{i}-args"
        rules[args_rule] = expression
        # the name as it appears after the opening quote: JSON-escaped, with its closing quote
        options.append(f'{literal(json.dumps(name)[1:] + ", ")} ws {literal(chr(34) + "arguments" + chr(34))} '
                       f'ws ":" ws {args_rule}')  # fmt: skip
        offered.append(name)
    if not options:
        raise Unsupported("no offered tool can be expressed as a grammar")
    lines = [r'root ::= "{" ws "\"name\"" ws ":" ws "\"" call ws "}"', "call ::= " + " | ".join(options)]
    lines += [f"{k} ::= {v}" for k, v in rules.items()]
    return CallGrammar("\n".join(lines) + "\n", tuple(offered), unsupported)


def parse_call(output: str, tools: Sequence[str]) -> tuple[str, str] | None:
    """(name, arguments JSON) of a call written under ``call_grammar``; None if it is not one."""
    try:
        value = json.loads(output)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("name") not in tools or not isinstance(value.get("arguments"), dict):
        return None
    return str(value["name"]), json.dumps(value["arguments"], ensure_ascii=False)
