"""Grammar construction for constrained tool calls: every schema feature tool schemas use.

The grammars are checked here structurally and with a small GBNF matcher (below) that accepts
or rejects concrete outputs; tests/test_e2e_agent_local.py sends them to the real llama-server.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import pytest

from assistant.grammar import Unsupported, call_grammar, literal, parse_call, schema_rules


def tool(name: str, params: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


READ = tool("read_file", {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "start_line": {"type": "integer", "default": 1, "minimum": 1},
        "end_line": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
    },
    "required": ["path"],
})  # fmt: skip
LIST = tool("list_files", {"type": "object", "properties": {"path": {"type": "string"},
                                                            "show_hidden": {"type": "boolean"}}})  # fmt: skip
NESTED = tool("plan", {
    "type": "object",
    "properties": {
        "mode": {"enum": ["fast", "slow"]},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
        "ratio": {"type": "number"},
        "kind": {"const": "v1"},
    },
    "required": ["mode", "steps"],
    "$defs": {"Step": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
                       "required": ["name"]}},
})  # fmt: skip
EMPTY = tool("sandbox_info", {"type": "object", "properties": {}})


# -- a small GBNF matcher (enough for the grammars built here) ----------------------------------

_TOKEN = re.compile(r'\s*(?:(?P<lit>"(?:[^"\\]|\\.)*")|(?P<cls>\[(?:[^\]\\]|\\.)*\])|(?P<rep>\{\d+(?:,\d*)?\})'
                    r'|(?P<name>[a-zA-Z0-9-]+)|(?P<op>[()|*+?]))')  # fmt: skip


def _unescape(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "x" and len(esc) == 3:
            return chr(int(esc[1:], 16))
        return {"n": "\n", "r": "\r", "t": "\t"}.get(esc, esc)

    return re.sub(r"\\(x[0-9A-Fa-f]{2}|.)", one, body)


def _to_regex(expr: str, rules: dict[str, str], depth: int = 0) -> str:
    if depth > 9:
        return "(?!)"  # recursive rules (any JSON value) are unrolled to a bounded depth
    out = []
    for m in _TOKEN.finditer(expr):
        if m.group("lit"):
            out.append(re.escape(_unescape(m.group("lit")[1:-1])))
        elif m.group("cls"):
            body = m.group("cls")[1:-1]
            out.append("[" + re.sub(r"\\x([0-9A-Fa-f]{2})", lambda h: f"\\x{h.group(1)}", body) + "]")
        elif m.group("rep"):
            out.append(m.group("rep"))
        elif m.group("name"):
            out.append("(?:" + _to_regex(rules[m.group("name")], rules, depth + 1) + ")")
        else:
            out.append({"(": "(?:"}.get(m.group("op"), m.group("op")))
    return "".join(out)


@lru_cache(maxsize=32)
def _compiled(text: str) -> re.Pattern[str]:
    rules = {}
    for line in text.strip().splitlines():
        name, _, body = line.partition(" ::= ")
        rules[name] = body
    return re.compile(_to_regex(rules["root"], rules), re.DOTALL)


def accepts(grammar_text: str, output: str) -> bool:
    return _compiled(grammar_text).fullmatch(output) is not None


# -- tests --------------------------------------------------------------------------------------

def call(name: str, args: str) -> str:
    return '{"name": "' + name + '", "arguments": ' + args + "}"


def test_call_grammar_offers_every_tool() -> None:
    g = call_grammar([READ, LIST, NESTED, EMPTY])
    assert g.tools == ("read_file", "list_files", "plan", "sandbox_info")
    assert g.unsupported == {}
    assert g.text.startswith('root ::= "{" ws "\\"name\\"" ws ":" ws "\\"" call ws "}"')


@pytest.mark.parametrize(("name", "args", "ok"), [
    ("read_file", '{"path": "calc.py"}', True),
    ("read_file", '{"path":"notes/todo.txt", "start_line": 3, "end_line": null}', True),
    ("read_file", '{\n  "path": "a",\n  "end_line": 9\n}', True),  # the model's own layout
    ("read_file", '{"start_line": 3}', False),  # required path missing
    ("read_file", '{"path": 3}', False),  # wrong type
    ("read_file", '{"path": "a", "colour": "red"}', False),  # unknown argument
    ("calc.py", "{}", False),  # the file named as the tool (seen on the 0.5B model)
    ("write_file", '{"path": "a"}', False),  # a tool that was not offered
    ("list_files", "{}", True),
    ("list_files", '{"show_hidden": true}', True),
    ("list_files", '{"path": "src", "show_hidden": false}', True),
    ("list_files", '{"show_hidden": false, "path": "src"}', False),  # optional ones keep their order
    ("plan", '{"mode": "fast", "steps": [{"name": "a"}, {"name": "b", "n": 2}]}', True),
    ("plan", '{"mode": "fast", "steps": [], "ratio": -1.5e3, "kind": "v1"}', True),
    ("plan", '{"mode": "medium", "steps": []}', False),  # not in the enum
    ("plan", '{"mode": "fast", "steps": [{"n": 2}]}', False),  # nested required missing
    ("plan", '{"mode": "fast", "steps": [], "kind": "v2"}', False),  # const
    ("sandbox_info", "{}", True),
    ("sandbox_info", '{"x": 1}', False),
])  # fmt: skip
def test_grammar_accepts_exactly_valid_calls(name: str, args: str, ok: bool) -> None:
    g = call_grammar([READ, LIST, NESTED, EMPTY])
    assert accepts(g.text, call(name, args)) is ok


def test_nothing_but_the_call() -> None:
    g = call_grammar([READ])
    assert not accepts(g.text, call("read_file", '{"path": "a"}') + " and then")
    assert not accepts(g.text, "Sure! " + call("read_file", '{"path": "a"}'))
    assert not accepts(g.text, "answer")


def test_strings_escape_and_control_characters() -> None:
    g = call_grammar([READ])
    assert accepts(g.text, call("read_file", r'{"path": "a \"quoted\" name\\x\u00e9"}'))
    assert not accepts(g.text, call("read_file", '{"path": "raw\nnewline"}'))


def test_every_accepted_call_parses_and_validates() -> None:
    import jsonschema

    g = call_grammar([READ, LIST, NESTED])
    for output in (call("read_file", '{"path": "x", "start_line": 2}'),
                   call("plan", '{"mode": "slow", "steps": [{"name": "z"}]}')):  # fmt: skip
        assert accepts(g.text, output)
        parsed = parse_call(output, g.tools)
        assert parsed is not None
        schema = {"read_file": READ, "plan": NESTED}[parsed[0]]["function"]["parameters"]
        jsonschema.validate(json.loads(parsed[1]), schema)


def test_unsupported_schema_is_left_out_with_the_reason() -> None:
    weird = tool("weird", {"type": "object", "patternProperties": {"^x": {"type": "string"}}})
    node = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/N"}}}}
    recursive = tool("tree", {"type": "object", "properties": {"node": {"$ref": "#/$defs/N"}}, "$defs": {"N": node}})
    g = call_grammar([READ, weird, recursive])
    assert g.tools == ("read_file",)
    assert "patternProperties" in g.unsupported["weird"]
    assert "recursive" in g.unsupported["tree"]
    assert not accepts(g.text, call("weird", "{}"))


def test_no_expressible_tool_is_an_error() -> None:
    with pytest.raises(Unsupported):
        call_grammar([tool("w", {"not": {}})])


def test_schema_rules_for_plain_types() -> None:
    for schema, good, bad in (
        ({"type": "integer"}, "-12", "1.5"),
        ({"type": "number"}, "3.25", "abc"),
        ({"type": "boolean"}, "true", "yes"),
        ({"type": ["string", "null"]}, "null", "0"),
        ({"type": "array", "items": {"type": "integer"}}, "[1, 2,3]", "[1, 'a']"),
        ({}, '{"any": [1, {"x": null}]}', "{bad}"),
    ):
        expr, rules = schema_rules(schema)
        text = "root ::= " + expr + "\n" + "\n".join(f"{k} ::= {v}" for k, v in rules.items())
        assert accepts(text, good), (schema, good)
        assert not accepts(text, bad), (schema, bad)


def test_literal_escapes() -> None:
    assert literal('a"b\\c\n') == '"a\\"b\\\\c\\n"'


def test_parse_call() -> None:
    assert parse_call(call("read_file", '{"path": "a"}'), ("read_file",)) == ("read_file", '{"path": "a"}')
    assert parse_call(call("ghost", "{}"), ("read_file",)) is None
    assert parse_call('{"name": "read_file", "arguments": {"path": "a"', ("read_file",)) is None  # cut short


def test_a_bounded_string_is_bounded_in_the_grammar() -> None:
    bounded = {"name": "note", "description": "Note.", "parameters": {"type": "object", "required": ["text"],
               "properties": {"text": {"type": "string", "maxLength": 5}}}}  # fmt: skip
    g = call_grammar([bounded]).text
    assert accepts(g, call("note", '{"text": "abcde"}'))
    assert not accepts(g, call("note", '{"text": "abcdef"}'))  # the 0.5B's fixes ran on until cut
    long_text = {"text": {"type": "string", "maxLength": 10**6}}
    huge = {**bounded, "parameters": {**bounded["parameters"], "properties": long_text}}
    assert accepts(call_grammar([huge]).text, call("note", '{"text": "' + "x" * 50 + '"}'))  # left to validation
