"""Structured output (ask --schema, bot.ask(output=...)): schema forms, validation, retry, fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from assistant import Assistant
from assistant.structured import (
    OutputSpec,
    SchemaError,
    StructuredOutputError,
    StructuredResult,
    compact_schema,
    extract_json,
    load_schema,
    schema_grammar,
    validation_error,
)
from tests.scripted_server import Reply, ScriptedServer, text
from tests.test_cli import run


class Person(pydantic.BaseModel):
    name: str
    age: int


def test_compact_form() -> None:
    schema = compact_schema("name str, age int, tags list[str], score float?, ok bool")
    assert schema["properties"] == {
        "name": {"type": "string"}, "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}}, "score": {"type": "number"}, "ok": {"type": "boolean"},
    }  # fmt: skip
    assert schema["required"] == ["name", "age", "tags", "ok"] and schema["additionalProperties"] is False
    assert compact_schema("name: str, n")["properties"] == {"name": {"type": "string"}, "n": {"type": "string"}}
    for bad in ("name strr", "", "1x int", "tags list[thing]"):
        with pytest.raises(SchemaError):
            compact_schema(bad)


def test_load_schema_file_inline_and_refusals(tmp_path: Path) -> None:
    file = tmp_path / "s.json"
    file.write_text(json.dumps({"type": "object", "properties": {"a": {"type": "integer"}}}))
    assert load_schema(str(file))["properties"]["a"] == {"type": "integer"}
    assert load_schema('{"type": "array", "items": {"type": "number"}}')["type"] == "array"
    with pytest.raises(SchemaError, match="properties/x/type"):
        load_schema('{"type": "object", "properties": {"x": {"type": "strin"}}}')
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema('{"type": ')
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(str(tmp_path / "missing.json"))
    with pytest.raises(SchemaError, match="must be a pydantic model class or a JSON Schema"):
        OutputSpec.of(42)


def test_extract_and_validate() -> None:
    assert extract_json('  {"a": 1} ') == {"a": 1}
    assert extract_json('Here it is:\n```json\n{"a": 2}\n```\n') == {"a": 2}
    assert extract_json('Sure! {"a": 3} hope that helps') == {"a": 3}
    with pytest.raises(ValueError, match="not JSON"):
        extract_json("no json here")
    schema = compact_schema("name str, age int")
    assert validation_error({"name": "A", "age": 3}, schema) is None
    assert "age" in (validation_error({"name": "A", "age": "three"}, schema) or "")
    assert "required" in (validation_error({"name": "A"}, schema) or "")


def test_schema_grammar_for_llama_cpp() -> None:
    grammar = schema_grammar(compact_schema("name str, age int"))
    assert grammar.startswith("root ::= ") and '\\"age\\"' in grammar


async def test_api_returns_a_model_instance_and_asks_with_response_format(scripted: ScriptedServer) -> None:
    scripted.script(text('{"name": "Alice", "age": 31}'))
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        person = await bot.ask("Alice is 31.", output=Person)
    assert isinstance(person, Person) and (person.name, person.age) == ("Alice", 31)
    body = scripted.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Person.model_json_schema()
    assert body["response_format"]["json_schema"]["name"] == "Person"
    assert "tools" not in body
    assert '"age"' in body["messages"][-1]["content"] and body["messages"][-1]["content"].startswith("Alice is 31.")


async def test_retry_once_with_the_validation_error(scripted: ScriptedServer) -> None:
    scripted.script(text('{"name": "Alice", "age": "thirty-one"}'), text('```json\n{"name": "Alice", "age": 31}\n```'))
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        events = [e async for e in bot.stream("Alice is 31.", output=compact_schema("name str, age int"))]
    result = events[-1]
    assert isinstance(result, StructuredResult) and result.value == {"name": "Alice", "age": 31}
    assert result.attempts == 2 and result.how == "response_format"
    retry = scripted.requests[1]["messages"][-1]["content"]
    assert "does not match the schema" in retry and "thirty-one" in retry and "age" in retry
    assert "response_format" in scripted.requests[1]


async def test_two_bad_answers_raise_one_line(scripted: ScriptedServer) -> None:
    scripted.script(text("I think she is 31."), text("Thirty-one."))
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        with pytest.raises(StructuredOutputError, match="also after a retry: the answer is not JSON") as info:
            await bot.ask("Alice is 31.", output=Person)
    assert info.value.text == "Thirty-one."


async def test_invalid_schema_refused_before_any_request(scripted: ScriptedServer) -> None:
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False) as bot:
        with pytest.raises(SchemaError):
            await bot.ask("x", output={"type": "object", "properties": {"a": {"type": 7}}})
    assert scripted.requests == []


async def test_refused_response_format_falls_back_to_a_grammar_on_llama_cpp(scripted: ScriptedServer) -> None:
    scripted.props = {"default_generation_settings": {"n_ctx": 4096}, "build_info": "b1-test"}
    refusal = {"error": {"message": "response_format type must be one of \"text\" or \"json_object\""}}
    scripted.script(Reply(kind="status", status=400, body=refusal), text('{"name": "Bo", "age": 4}'))
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False, max_retries=0) as bot:
        events = [e async for e in bot.stream("Bo is 4.", output=Person)]
    notices = [e.message for e in events if getattr(e, "kind", "") == "notice"]
    assert any("refused the schema" in n and "grammar" in n for n in notices), notices
    second = scripted.requests[1]
    assert "response_format" not in second and second["grammar"].startswith("root ::= ")
    assert isinstance(events[-1], StructuredResult) and events[-1].how == "grammar"


async def test_refused_response_format_elsewhere_is_asked_by_prompt(scripted: ScriptedServer) -> None:
    refusal = {"error": {"message": "Unsupported parameter: response_format"}}
    scripted.script(Reply(kind="status", status=400, body=refusal), text('{"name": "Bo", "age": 4}'))
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False, max_retries=0) as bot:
        value = await bot.ask("Bo is 4.", output=compact_schema("name str, age int"))
    assert value == {"name": "Bo", "age": 4}
    second = scripted.requests[1]
    assert "response_format" not in second and "grammar" not in second
    assert "JSON Schema" in second["messages"][-1]["content"]


def test_cli_prints_only_the_json(scripted: ScriptedServer) -> None:
    scripted.script(text('Here:\n```json\n{"name": "Alice", "age": 31}\n```'))
    proc = run("ask", "--schema", "name str, age int", "Alice is 31.", "--base-url", scripted.base_url, "-m", "m")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"name": "Alice", "age": 31} and proc.stdout.count("\n") == 1
    assert "tools" not in scripted.requests[0]


def test_cli_bad_schema_is_one_line_and_sends_nothing(scripted: ScriptedServer) -> None:
    proc = run("ask", "--schema", '{"type": "object", "required": "name"}', "x", "--base-url", scripted.base_url)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: --schema: not a valid JSON Schema") and proc.stderr.count("\n") == 1
    assert scripted.requests == []


def test_cli_answer_that_never_matches_fails_with_one_line(scripted: ScriptedServer) -> None:
    scripted.script(text("no"), text("still no"))
    proc = run("ask", "--schema", "name str", "x", "--base-url", scripted.base_url, "-m", "m")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines()[-1].startswith("error: The model's answer does not match the schema")


@pytest.mark.slow
async def test_local_model_answers_a_schema(local_data: Path) -> None:
    """The real 0.5B under llama-server's grammar (response_format): the instance is right, first try."""

    class City(pydantic.BaseModel):
        city: str
        country: str
        population_millions: float

    async with Assistant(temperature=0.0, max_tokens=200, history=False, mcp=False) as bot:
        events = [e async for e in bot.stream("Paris is the capital of France; about 2.1 million people live there.",
                                              output=City)]  # fmt: skip
    result = events[-1]
    assert isinstance(result, StructuredResult) and result.how == "response_format"
    assert isinstance(result.value, City) and result.value.city == "Paris" and result.value.country == "France"


def test_cli_json_events_end_with_the_structured_value(scripted: ScriptedServer, tmp_path: Path) -> None:
    notes = tmp_path / "bio.txt"
    notes.write_text("Alice Martin, born 1994, is 31.")
    scripted.script(text('{"name": "Alice Martin", "age": 31}'))
    proc = run("ask", "--schema", "name str, age int", "-a", str(notes), "--json", "Who?",
               "--base-url", scripted.base_url, "-m", "m")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["kind"] == "structured" and events[-1]["value"] == {"name": "Alice Martin", "age": 31}
    assert events[-1]["attempts"] == 1 and events[-1]["how"] == "response_format"
    assert "born 1994" in scripted.requests[0]["messages"][-1]["content"]
