"""Tool calls written as text: recognition rules, streaming hold-back, and chunking invariance."""

from __future__ import annotations

import json
import random
import re
import time
from typing import Any

import pytest

from assistant.events import ToolCall
from assistant.textcalls import MAX_CANDIDATE, TextCallFilter, find_text_tool_calls


def _tool(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"the {name} tool",
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOLS = [
    _tool("read_file", {"path": {"type": "string"}}, ["path"]),
    _tool("list_dir", {"path": {"type": "string"}}, []),
    _tool("run_python", {"code": {"type": "string"}}, ["code"]),
    _tool("get_weather", {"city": {"type": "string"}}, ["city"]),
]

CALL = '{"name": "read_file", "arguments": {"path": "README.md"}}'
FENCED = f"```json\n{CALL}\n```"


def find(text: str) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    calls, rest = find_text_tool_calls(text, TOOLS)
    return [(c.name, json.loads(c.arguments)) for c in calls], rest


def stream(chunks: list[str]) -> tuple[list[tuple[str, str]], str, list[str]]:
    """Feed chunks; return (calls, all text shown, what each feed returned)."""
    filt = TextCallFilter(TOOLS)
    shown = [filt.feed(chunk) for chunk in chunks]
    held, calls = filt.finish()
    return [(c.name, c.arguments) for c in calls], "".join(shown) + held, shown


README = ("read_file", {"path": "README.md"})


# ---------------------------------------------------------------- shapes that are calls


@pytest.mark.parametrize(
    "text",
    [
        FENCED,
        f"```\n{CALL}\n```",
        f"```JSON\n{CALL}\n```\n",
        f"~~~json\n{CALL}\n~~~",
        f"````json\n\n  {CALL}\n\n````",
        f"```tool_call\n{CALL}\n```",
        CALL,
        f"  {CALL}  \n",
        f"<tool_call>\n{CALL}\n</tool_call>",
        f"<tool_call>{CALL}</tool_call>",
        f"<tool_call>\n```json\n{CALL}\n```\n</tool_call>",
        '```json\n{"name": "read_file", "parameters": {"path": "README.md"}}\n```',
        '```json\n{"name": "read_file", "arguments": "{\\"path\\": \\"README.md\\"}"}\n```',
        '{"type": "function", "function": {"name": "read_file", "arguments": "{\\"path\\": \\"README.md\\"}"}}',
        '```json\n{"name": "functions.read_file", "arguments": {"path": "README.md"}}\n```',
        '```json\n{"name": "Read_File", "arguments": {"path": "README.md"}}\n```',
        '{\n  "name": "read_file",\n  "arguments": {\n    "path": "README.md"\n  }\n}',
        '```json\n{"id": "1", "type": "function", "name": "read_file", "arguments": {"path": "README.md"}}\n```',
    ],
)
def test_one_call_in_its_many_shapes(text: str) -> None:
    calls, rest = find(text)
    assert calls == [README]
    assert rest.strip() == ""


def test_arguments_are_compact_json_and_ids_follow_the_pattern() -> None:
    calls, _ = find_text_tool_calls(FENCED + "\n" + FENCED, TOOLS)
    assert [c.arguments for c in calls] == ['{"path":"README.md"}'] * 2
    assert all(isinstance(c, ToolCall) and c.source == "text" for c in calls)
    assert re.fullmatch(r"call_text_0_[0-9a-f]+", calls[0].id)
    assert re.fullmatch(r"call_text_1_[0-9a-f]+", calls[1].id)
    assert calls[0].id != calls[1].id


def test_several_tagged_calls() -> None:
    text = (
        "<tool_call>\n" + CALL + "\n</tool_call>\n"
        '<tool_call>\n{"name": "list_dir", "arguments": {"path": "src"}}\n</tool_call>'
    )
    calls, rest = find(text)
    assert calls == [README, ("list_dir", {"path": "src"})]
    assert rest.strip() == ""


def test_list_of_calls_and_several_values_in_one_fence() -> None:
    listed = f'```json\n[{CALL}, {{"name": "list_dir", "arguments": {{}}}}]\n```'
    assert find(listed)[0] == [README, ("list_dir", {})]
    two = f'```json\n{CALL}\n{{"name": "list_dir", "arguments": {{"path": "."}}}}\n```'
    assert find(two)[0] == [README, ("list_dir", {"path": "."})]


def test_missing_arguments_only_for_a_known_tool() -> None:
    assert find('```json\n{"name": "list_dir"}\n```')[0] == [("list_dir", {})]
    assert find('```json\n{"name": "Alice"}\n```')[0] == []


def test_unicode_arguments_survive() -> None:
    calls, _ = find_text_tool_calls('{"name": "get_weather", "arguments": {"city": "Zürich"}}', TOOLS)
    assert calls[0].arguments == '{"city":"Zürich"}'


def test_code_with_raw_newlines_in_the_string_is_still_a_call() -> None:
    text = '```json\n{"name": "run_python", "arguments": {"code": "import sys\nprint(sys.version)"}}\n```'
    assert find(text)[0] == [("run_python", {"code": "import sys\nprint(sys.version)"})]


@pytest.mark.parametrize(
    "text",
    [
        # seen from the 0.5B model: the code string ends in "}", and the final brace is dropped
        '```json\n{"name": "run_python", "arguments": {"code": "import sys; print(sys.version)}"}\n```',
        '<tool_call>\n{"name": "run_python", "arguments": {"code": "import sys; print(sys.version)}"}\n</tool_call>',
        '{"name": "run_python", "arguments": {"code": "import sys; print(sys.version)}"}',  # end of stream
    ],
)
def test_missing_closing_brackets_are_repaired_at_a_closing_fence_tag_or_the_end(text: str) -> None:
    assert find(text) == ([("run_python", {"code": "import sys; print(sys.version)}"})], "")


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "run_python", "arguments": {"code": "x"}\nprint(1)\n```',  # more than brackets
        '```json\n{"name": "run_python", "arguments": {"code": "x\n```',  # cut inside a string
        '```json\n{"name": "run_python", "arguments": {"code": "x"},\n```',  # a dangling comma
    ],
)
def test_only_missing_closers_are_repaired(text: str) -> None:
    assert find(text) == ([], text)


def test_invented_name_with_a_real_tools_arguments_becomes_that_tool() -> None:
    text = 'Checking.\n```json\n{"name": "check_weather", "arguments": {"city": "Seattle"}}\n```'
    assert find(text) == ([("get_weather", {"city": "Seattle"})], "Checking.\n")
    # several tools fit (read_file and list_dir both take just a path): no guess
    ambiguous = 'See:\n```json\n{"name": "open", "arguments": {"path": "a"}}\n```'
    assert find(ambiguous) == ([], ambiguous)
    # arguments that are not exactly some tool's parameters: no guess
    other = 'So:\n```json\n{"name": "forecast", "arguments": {"city": "Oslo", "days": 3}}\n```'
    assert find(other) == ([], other)


# ---------------------------------------------------------------- text around calls


def test_text_before_and_after_a_call_is_kept() -> None:
    text = f"I'll read the file.\n{FENCED}\nThen I'll summarise it."
    calls, rest = find(text)
    assert calls == [README]
    assert rest == "I'll read the file.\nThen I'll summarise it."


def test_text_around_tagged_call_on_one_line() -> None:
    calls, rest = find(f"Reading <tool_call>{CALL}</tool_call> now.")
    assert calls == [README]
    assert rest == "Reading  now."


# ---------------------------------------------------------------- unknown tools


@pytest.mark.parametrize(
    "text",
    [
        # measured on the 0.5B model: alone in the message, invented names were as often a wrong
        # answer to a non-tool request ("reverse_string", "add", {"name": "Alice", ...}) as a tool attempt
        '```json\n{"name": "reverse_string", "arguments": {"string": "Hello"}}\n```',
        '{"name": "add", "arguments": {"a": 5, "b": 3}}',
        '```json\n{"name": "Alice", "arguments": {"age": 30, "city": "Paris"}}\n```',
    ],
)
def test_unknown_tool_outside_tags_stays_text_even_alone(text: str) -> None:
    assert find(text) == ([], text)


def test_unknown_tool_in_tags_is_a_call_even_with_prose() -> None:
    text = 'Let me look.\n<tool_call>{"name": "open_file", "arguments": {"path": "x"}}</tool_call>'
    assert find(text) == ([("open_file", {"path": "x"})], "Let me look.\n")


@pytest.mark.parametrize(
    "text",
    [
        'Here is an example:\n```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```',
        '```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```\nThis calls add with 1 and 2.',
    ],
)
def test_unknown_tool_next_to_prose_stays_text(text: str) -> None:
    assert find(text) == ([], text)


def test_unknown_and_known_calls_together() -> None:
    unknown = '```json\n{"name": "open_file", "arguments": {"path": "a"}}\n```'
    calls, rest = find(f"{unknown}\n\n{FENCED}\n")
    assert calls == [README]
    assert rest == f"{unknown}\n\n"


def test_prose_after_an_unknown_call_keeps_the_order() -> None:
    unknown = '```json\n{"name": "open_file", "arguments": {"path": "a"}}\n```'
    text = f"{unknown}\n{FENCED}\nDone."
    calls, rest = find(text)
    assert calls == [README]
    assert rest == f"{unknown}\nDone."


# ---------------------------------------------------------------- not calls


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "Alice", "age": 30, "city": "Paris"}\n```',
        '{"name": "Alice", "email": "alice@example.com"}',
        '```json\n{"name": "my-app", "version": "1.0.0", "scripts": {"start": "node index.js"}}\n```',
        '```json\n{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}\n```',
        "```json\n[1, 2, 3]\n```",
        "```json\n[]\n```",
        "```json\n{}\n```",
        '```json\n"read_file"\n```',
        # a tool *definition*, asked for by the user
        '```json\n{"type": "function", "function": {"name": "get_weather", "description": "Weather",'
        ' "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}\n```',
        '```json\n{"name": "get_weather", "parameters": {"type": "object", "properties": '
        '{"city": {"type": "string"}}, "required": ["city"]}}\n```',
        # code that happens to contain "name"
        '```python\ncall = {"name": "read_file", "arguments": {"path": "README.md"}}\n```',
        "```python\n" + CALL + "\n```",
        'data = {"name": "read_file", "arguments": {"path": "x"}}',
        'Use `{"name": "read_file"}` inline.',
        # JSON followed by text on the same line, or not closed
        CALL + " is what a call looks like.",
        '```json\n{"name": "read_file", "arguments": {"path": "README.md"}}\n// comment\n```',
        "{{ template }} and [link](http://x) and [1] citation",
        "{'name': 'read_file', 'arguments': {'path': 'x'}}",
        "<tool_call>\nnot json\n</tool_call>",
        '<tool_call>\n{"name": "Alice", "age": 3}\n</tool_call>',
        "< tool_call > and <tool and </tool_call>",
        "",
        "\n\n  \n",
    ],
)
def test_text_that_is_not_a_call_is_returned_unchanged(text: str) -> None:
    assert find(text) == ([], text)


def test_no_tools_offered_means_no_calls() -> None:
    calls, rest = find_text_tool_calls(FENCED, [])
    assert (calls, rest) == ([], FENCED)
    filt = TextCallFilter([])
    assert filt.feed(FENCED) == FENCED
    assert filt.finish() == ("", [])


def test_known_tool_with_schema_invalid_arguments_is_still_a_call() -> None:
    # the agent loop validates again and sends the error back so the model can fix it
    calls, _ = find('```json\n{"name": "read_file", "arguments": {"file": "README.md"}}\n```')
    assert calls == [("read_file", {"file": "README.md"})]


# ---------------------------------------------------------------- streaming


def test_python_fence_streams_through_before_finish() -> None:
    chunks = ["Here", " is", " code:\n", "```", "python\n", "def f():\n", "    return {", '"name": 1}\n', "```", "\n"]
    filt = TextCallFilter(TOOLS)
    shown = ""
    for chunk in chunks[:-2]:
        shown += filt.feed(chunk)
    assert shown == "".join(chunks[:-2])  # everything so far is already out, nothing waits for the end
    shown += filt.feed(chunks[-2]) + filt.feed(chunks[-1])
    assert filt.finish() == ("", [])
    assert shown == "".join(chunks)


def test_an_indented_code_fence_ends_and_a_later_call_is_found() -> None:
    text = f"1. Step one:\n\n    ```python\n    print(1)\n    ```\n\n{FENCED}\n"
    calls, rest = find(text)
    assert calls == [README]
    assert rest == "1. Step one:\n\n    ```python\n    print(1)\n    ```\n\n"


def test_prose_streams_token_by_token() -> None:
    filt = TextCallFilter(TOOLS)
    for token in ["The", " answer", " is", " 42", ".", " Use", " a < b", " here"]:
        assert filt.feed(token) == token


def test_a_call_is_held_and_prose_after_it_released_at_once() -> None:
    filt = TextCallFilter(TOOLS)
    assert filt.feed("Reading:\n") == "Reading:\n"
    assert filt.feed("```json\n") == ""
    assert filt.feed(CALL) == ""
    assert filt.feed("\n```\n") == ""
    assert filt.feed("More text") == "More text"
    held, calls = filt.finish()
    assert held == "" and [c.name for c in calls] == ["read_file"]


def test_ordinary_json_fence_is_released_as_soon_as_a_key_rules_it_out() -> None:
    filt = TextCallFilter(TOOLS)
    assert filt.feed('```json\n{"user": ') == '```json\n{"user": '
    assert filt.feed('"bob"}\n') == '"bob"}\n'


@pytest.mark.parametrize(
    "text, calls",
    [
        (f"```json\n{CALL}\n", [README]),  # fence never closed, JSON complete
        (f"```json\n{CALL}\n``", [README]),
        ('```json\n{"name": "read_file", "argu', []),  # cut mid-value: released as text
        (f"<tool_call>\n{CALL}\n", [README]),  # tag never closed
        (f"<tool_call>\n{CALL}\n</tool", [README]),
        ("<tool_call>", []),
        ("<tool_ca", []),
        ("```json\n\n", []),
        ("```js", []),
        ("text\n   ", []),
    ],
)
def test_unterminated_candidates_at_end_of_stream(text: str, calls: list[Any]) -> None:
    found, rest = find(text)
    assert found == calls
    if not calls:
        assert rest == text


def test_feed_after_finish_passes_through_and_finish_twice_is_empty() -> None:
    filt = TextCallFilter(TOOLS)
    filt.feed(FENCED)
    assert [c.name for c in filt.finish()[1]] == ["read_file"]
    assert filt.finish() == ("", [])
    assert filt.feed("x") == "x"


# ---------------------------------------------------------------- chunking invariance (property-style)

CORPUS = [
    FENCED,
    f"I'll read it.\n\n{FENCED}\n\nThen summarise.",
    f"<tool_call>\n{CALL}\n</tool_call>\n<tool_call>{CALL}</tool_call>",
    '```json\n[{"name": "read_file", "arguments": "{\\"path\\": \\"a\\\\\\"b\\"}"}, '
    '{"type": "function", "function": {"name": "list_dir", "arguments": {}}}]\n```',
    '```json\n{"name": "open_file", "arguments": {"path": "x"}}\n```\n',
    'Example:\n```json\n{"name": "open_file", "arguments": {"path": "x"}}\n```',
    '```json\n{"name": "open_file", "arguments": {"path": "x"}}\n```\n' + FENCED + "\nand text",
    '```python\nx = {"name": "read_file", "arguments": {}}\n```\n' + CALL + "\n",
    '```json\n{"name": "Alice", "age": 30}\n```\nand {"a": 1} and\n{"b"\n[1, 2]\n<tool_x> <<tool_call>',
    "Plain prose with a < b, `code`, ``double``, ~tilde~ and\n```\nbare fence\n```\n```js\n{}\n```",
    '{\n  "name": "run_python",\n  "arguments": {"code": "print(\\"hi\\")\\nprint(1)"}\n}\ntrailing',
    f"```json\n{CALL}\n",
    '```json\n{"name": "read_file", "argu',
    f"````\n{CALL}\n```\nstill inside\n````\n",
    "\r\n```json\r\n" + CALL + "\r\n```\r\n",
    "   \n\t{ not json }\n  [ also not ]\n",
]


def _random_chunks(text: str, rng: random.Random) -> list[str]:
    chunks, i = [], 0
    while i < len(text):
        step = rng.randint(1, 7)
        chunks.append(text[i : i + step])
        i += step
    return chunks


@pytest.mark.parametrize("text", CORPUS)
def test_any_split_gives_the_one_shot_answer(text: str) -> None:
    calls, rest = find_text_tool_calls(text, TOOLS)
    want = ([(c.name, c.arguments) for c in calls], rest)
    got_calls, got_text, _ = stream(list(text))  # char by char
    assert (got_calls, got_text) == want
    for cut in range(len(text) + 1):  # every two-piece split
        got_calls, got_text, _ = stream([text[:cut], text[cut:]])
        assert (got_calls, got_text) == want, cut
    rng = random.Random(1234)
    for _ in range(30):
        got_calls, got_text, _ = stream(_random_chunks(text, rng))
        assert (got_calls, got_text) == want


def test_random_texts_never_raise_and_stay_chunk_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fallback(self: TextCallFilter, rest: str) -> None:
        raise AssertionError("internal error: the filter fell back to pass-through")

    monkeypatch.setattr(TextCallFilter, "_give_up", no_fallback)
    alphabet = [
        "{",
        "}",
        "[",
        "]",
        '"',
        ":",
        ",",
        "\n",
        " ",
        "`",
        "~",
        "<",
        ">",
        "/",
        "\\",
        "a",
        "1",
        "name",
        "arguments",
        "read_file",
        "<tool_call>",
        "</tool_call>",
        "```json\n",
        "```\n",
        '"name": "read_file"',
        '"arguments": {}',
        "open_file",
    ]
    rng = random.Random(99)
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        calls, rest = find_text_tool_calls(text, TOOLS)
        want = ([(c.name, c.arguments) for c in calls], rest)
        assert stream(list(text))[:2] == want, text
        assert stream(_random_chunks(text, rng))[:2] == want, text
        if not calls:
            assert rest == text


def test_odd_input_does_not_raise() -> None:
    weird_tools: list[Any] = [
        {"type": "function"},
        {"function": {"name": 3}},
        "x",
        {"type": "function", "function": {"name": "t", "parameters": {"type": 12}}},
    ]
    calls, _ = find_text_tool_calls('{"name": "t", "arguments": {"a": 1}}', weird_tools)
    assert [c.name for c in calls] == ["t"]  # an unusable schema does not block the call
    assert find_text_tool_calls(FENCED, None) == ([], FENCED)  # type: ignore[arg-type]
    assert find_text_tool_calls(FENCED, 5) == ([], FENCED)  # type: ignore[arg-type]
    filt = TextCallFilter(TOOLS)
    assert filt.feed(None) == ""  # type: ignore[arg-type]
    assert filt.feed("") == ""
    filt.feed("\x00\ud800{" * 10)
    filt.finish()


# ---------------------------------------------------------------- cost


def test_long_answers_cost_linear_time() -> None:
    prose = ("word " * 20 + "\n") * 2000  # ~200 kB of prose
    code = '```json\n{"name": "run_python", "arguments": {"code": "' + "x = 1\\n" * 20000 + '"}}\n```'
    for text in (prose, code):
        filt = TextCallFilter(TOOLS)
        started = time.perf_counter()
        for i in range(0, len(text), 4):  # ~4 characters a token
            filt.feed(text[i : i + 4])
        filt.finish()
        assert time.perf_counter() - started < 2.0


def test_oversized_candidate_is_released_as_text() -> None:
    body = '{"name": "run_python", "arguments": {"code": "' + "x" * (MAX_CANDIDATE + 10)
    filt = TextCallFilter(TOOLS)
    shown = filt.feed("```json\n" + body[: MAX_CANDIDATE // 2]) + filt.feed(body[MAX_CANDIDATE // 2 :])
    assert len(shown) > MAX_CANDIDATE  # released before the end of the stream
    held, calls = filt.finish()
    assert calls == [] and shown + held == "```json\n" + body


# ---------------------------------------------------------------- verbatim answers of the 0.5B model

MODEL_TOOLS = [
    _tool("read_file", {"path": {"type": "string"}}, ["path"]),
    _tool("list_dir", {"path": {"type": "string"}}, ["path"]),
    _tool("run_python", {"code": {"type": "string"}}, ["code"]),
    _tool("get_weather", {"city": {"type": "string"}, "units": {"enum": ["celsius", "fahrenheit"]}}, ["city"]),
]


@pytest.mark.parametrize(
    "text, want",
    [
        ('```json\n{\n  "name": "read_file",\n  "arguments": {\n    "path": "src/main.py"\n  }\n}\n```',
         ("read_file", {"path": "src/main.py"})),
        ('```json\n{"name": "get_weather", "arguments": {"city": "Berlin", "units": "celsius"}}\n```',
         ("get_weather", {"city": "Berlin", "units": "celsius"})),
        ('{"name": "check_weather", "arguments": {"city": "Seattle", "units": "celsius"}}',
         ("get_weather", {"city": "Seattle", "units": "celsius"})),
        ('```json\n{"name": "sum_of_first_1000_primes", "arguments": {"code": "primes = [2, 3]; '
         'return sum(primes)}"}\n```',  # invented name, code argument, last brace missing
         ("run_python", {"code": "primes = [2, 3]; return sum(primes)}"})),
        # invented name and a path: read_file and list_dir both fit, so no guess
        ('```json\n{\n  "name": "print_first_lines_of_CHANGELOG.md",\n  "arguments": {\n    "path": '
         '"CHANGELOG.md"\n  }\n}\n```', None),
        ('```json\n{\n  "name": "John Doe",\n  "email": "john.doe@example.com"\n}\n```', None),
        ('```json\n{\n  "title": "Tool Schema",\n  "type": "object",\n  "properties": {\n    "title": '
         '{\n      "type": "string",\n      "required": true\n    }\n  }\n}\n```', None),
        ('For example:\n\n```json\n{\n  "method": "read_file",\n  "params": {\n    "path": "/a.txt"\n  }\n}\n```'
         "\n\nIn this example, the `read_file` function is called.", None),
        ('```json\n{\n  "name": "Alice",\n  "arguments": {\n    "age": 30,\n    "city": "Paris"\n  }\n}\n```', None),
        ('```python\n{\n    "name": "run_python",\n    "arguments": {\n        "code": "print(1)"\n    }\n}\n```',
         None),
    ],
)
def test_real_answers_of_the_small_model(text: str, want: tuple[str, dict[str, Any]] | None) -> None:
    calls, rest = find_text_tool_calls(text, MODEL_TOOLS)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == ([want] if want else [])
    assert rest == ("" if want else text)
