"""Structured output: an answer that is JSON matching a JSON Schema.

``OutputSpec`` holds the schema (from a file, inline JSON, the compact ``'name str, age int'``
form, or a pydantic model). ``structured_turn()`` runs one turn for it:

1. The schema is checked against the JSON Schema meta-schema (``jsonschema``): a schema that is
   not valid JSON Schema is refused (``SchemaError``) before any request.
2. The user message carries the question and the schema ("answer with only JSON matching it").
   The turn offers no tools: a structured answer is one request.
3. The request asks for the schema: ``response_format: {"type": "json_schema", ...}``, which
   llama-server turns into a grammar (decoding cannot leave the schema's shape) and hosted
   endpoints honour in their own way. An endpoint that refuses it gets llama.cpp's ``grammar``
   field built from the schema by assistant/grammar.py when it takes one, else the request is
   sent without a constraint; either way a notice says so.
4. The answer is parsed (a fenced block or leading prose around the JSON is tolerated) and
   validated against the full schema. If it does not match, the model is asked once more with
   the validation error; a second failure raises ``StructuredOutputError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError, EndpointError
from assistant.events import Event, Notice, TurnEnd

if TYPE_CHECKING:
    from assistant.agent import Agent
    from assistant.steps import StepRunner

# The compact form's type names (a trailing ``?`` makes a field optional).
COMPACT_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"}, "string": {"type": "string"},
    "int": {"type": "integer"}, "integer": {"type": "integer"},
    "float": {"type": "number"}, "number": {"type": "number"},
    "bool": {"type": "boolean"}, "boolean": {"type": "boolean"},
    "any": {},
}  # fmt: skip
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*(?::\s*|\s+)?([A-Za-z\[\]]*)(\?)?$")
_REFUSAL_WORDS = ("response_format", "json_schema", "schema", "grammar", "parser")
PROMPT = "Answer with only a JSON value that matches this JSON Schema, and nothing else:\n{schema}"
RETRY_PROMPT = ("That answer does not match the schema: {error}\n"
                "Answer again with only the corrected JSON.")  # fmt: skip


class SchemaError(AssistantError):
    """A schema that is not valid JSON Schema (or a compact form that cannot be read)."""


class StructuredOutputError(AssistantError):
    """The model's answer did not match the schema, also after one retry."""

    def __init__(self, message: str, *, text: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.text = text  # the last answer, as the model wrote it


def compact_schema(spec: str) -> dict[str, Any]:
    """``'name str, age int, tags list[str], note str?'`` as a JSON Schema object (all fields
    required unless marked ``?``; no other fields)."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        match = _FIELD.match(part)
        if match is None:
            raise SchemaError(f"cannot read the schema field {part!r}: write 'name type', e.g. 'age int'.")
        name, kind, optional = match.group(1), match.group(2) or "str", match.group(3)
        props[name] = _compact_type(kind, part)
        if not optional:
            required.append(name)
    if not props:
        raise SchemaError("the schema names no fields: write e.g. 'name str, age int'.")
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _compact_type(kind: str, part: str) -> dict[str, Any]:
    low = kind.lower()
    if low in COMPACT_TYPES:
        return dict(COMPACT_TYPES[low])
    inner = re.fullmatch(r"list(?:\[(\w+)\])?", low)
    if inner:
        item = inner.group(1) or "any"
        if item not in COMPACT_TYPES:
            raise SchemaError(f"unknown type {item!r} in {part!r}; types: {', '.join(_type_names())}.")
        return {"type": "array", "items": dict(COMPACT_TYPES[item])}
    raise SchemaError(f"unknown type {kind!r} in {part!r}; types: {', '.join(_type_names())}.")


def _type_names() -> list[str]:
    return ["str", "int", "float", "bool", "list[T]", "any"]


def load_schema(arg: str) -> dict[str, Any]:
    """``--schema``: a JSON file, inline JSON, or the compact form; checked before it is used."""
    text = arg.strip()
    path = Path(arg).expanduser()
    if not text.startswith(("{", "[")) and (path.suffix.lower() == ".json" or path.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"cannot read the schema file {arg}: {exc}") from None
        schema = _parse_json(text, f"the schema file {arg}")
    elif text.startswith("{"):
        schema = _parse_json(text, "the schema")
    else:
        schema = compact_schema(text)
    check_schema(schema)
    return schema


def _parse_json(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SchemaError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SchemaError(f"{what} is not a JSON Schema (a JSON object).")
    return value


def check_schema(schema: Any) -> None:
    """Raise SchemaError unless ``schema`` is valid JSON Schema (under its own ``$schema`` draft)."""
    import jsonschema

    if not isinstance(schema, dict):
        raise SchemaError("a JSON Schema must be a JSON object.")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top level"
        raise SchemaError(f"not a valid JSON Schema (at {where}): {_one_line(exc.message)}") from None


@dataclass
class OutputSpec:
    """What a structured answer must be: a JSON Schema, optionally a pydantic model to build."""

    schema: dict[str, Any]
    name: str = "output"
    model: Any = None  # a pydantic BaseModel subclass: the result is an instance of it
    constrained: bool = True  # False: only the prompt asks for the schema (the benchmark's baseline)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, output: Any, *, constrained: bool = True) -> OutputSpec:
        """From a pydantic model class, a JSON Schema dict, or an ``OutputSpec``; checked."""
        if isinstance(output, OutputSpec):
            return output
        if isinstance(output, type) and hasattr(output, "model_json_schema"):
            schema = output.model_json_schema()
            check_schema(schema)
            return cls(schema, _schema_name(output.__name__), output, constrained)
        if isinstance(output, dict):
            check_schema(output)
            return cls(output, _schema_name(str(output.get("title") or "output")), None, constrained)
        raise SchemaError(f"output must be a pydantic model class or a JSON Schema dict, not {type(output).__name__}.")

    def prompt(self, text: str) -> str:
        schema = json.dumps(self.schema, ensure_ascii=False, separators=(",", ":"))
        return f"{text}\n\n{PROMPT.format(schema=schema)}"

    def response_format(self) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": self.name, "schema": self.schema}}

    def parse(self, text: str) -> Any:
        """The JSON value in ``text``, validated; raises ValueError with a one-line reason."""
        value = extract_json(text)
        error = validation_error(value, self.schema)
        if error:
            raise ValueError(error)
        if self.model is not None:
            try:
                return self.model.model_validate(value)
            except Exception as exc:  # pydantic.ValidationError: what the schema could not say
                raise ValueError(_one_line(str(exc))) from None
        return value


def _schema_name(name: str) -> str:
    """response_format's name: letters, digits, _ and -, at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "output"


def extract_json(text: str) -> Any:
    """The JSON value of an answer: the whole text, else a fenced block, else from the first ``{``/``[``."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    fenced = re.search(r"```(?:json)?\s*\n(.*?)\n?```", stripped, re.S)
    if fenced:
        try:
            return json.loads(fenced.group(1))
        except ValueError:
            pass
    starts = [i for i in (stripped.find("{"), stripped.find("[")) if i >= 0]
    if starts:
        try:
            value, _end = json.JSONDecoder().raw_decode(stripped[min(starts) :])
            return value
        except ValueError:
            pass
    if not stripped:
        raise ValueError("the answer is empty")
    raise ValueError("the answer is not JSON")


def validation_error(value: Any, schema: dict[str, Any]) -> str | None:
    """One line naming where ``value`` breaks ``schema`` (the most relevant error), or None."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    best = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if best is None:
        return None
    where = "/".join(str(p) for p in best.absolute_path)
    return _one_line(f"at {where}: {best.message}" if where else best.message)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class StructuredResult:
    """The end of a structured turn: the validated value (a model instance with ``output=Model``)."""

    value: Any
    text: str  # the answer as the model wrote it
    attempts: int  # 1, or 2 after a retry
    how: str  # response_format | grammar | prompt: how the schema was asked for
    kind: str = "structured"


class SchemaSteps:
    """Wraps the agent's step runner for one structured turn: every request asks for the schema."""

    def __init__(self, inner: StepRunner, spec: OutputSpec, agent: Agent) -> None:
        self.inner = inner
        self.spec = spec
        self.agent = agent
        self.how = "response_format" if spec.constrained else "prompt"

    def _extra(self) -> dict[str, Any]:
        if self.how == "response_format":
            return {"response_format": self.spec.response_format()}
        if self.how == "grammar":
            return {"grammar": schema_grammar(self.spec.schema)}
        return {}

    async def stream(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]],
                     params: dict[str, Any]) -> AsyncIterator[Event]:  # fmt: skip
        while True:
            try:
                async for event in self.inner.stream(messages, tools, {**params, **self._extra()}):
                    yield event
                return
            except EndpointError as exc:
                if self.how == "prompt" or not any(w in exc.message.lower() for w in _REFUSAL_WORDS):
                    raise
                yield Notice("warning", self._fall_back(exc))

    def _fall_back(self, exc: EndpointError) -> str:
        base = self.agent.endpoint.config.base_url
        refused = f"{base} refused the schema as {self.how} ({_one_line(exc.message, 160)})"
        caps = self.agent.profile.capabilities if self.agent.profile is not None else None
        if self.how == "response_format" and caps is not None and caps.grammar:
            try:
                schema_grammar(self.spec.schema)
            except ValueError:
                pass
            else:
                self.how = "grammar"
                return f"{refused}; asking with a grammar built from the schema instead"
        self.how = "prompt"
        note = f"{refused}; asking without a constraint (the answer is still validated)"
        self.spec.notes.append(note)
        return note


def schema_grammar(schema: dict[str, Any]) -> str:
    """A GBNF grammar (llama.cpp's ``grammar`` field) for one JSON value matching ``schema``.

    Raises ``assistant.grammar.Unsupported`` (a ValueError) for what the grammar cannot express.
    """
    from assistant.grammar import schema_rules

    expression, rules = schema_rules(schema, "out")
    lines = [f"root ::= {expression}"] + [f"{k} ::= {v}" for k, v in rules.items()]
    return "\n".join(lines) + "\n"


async def structured_turn(
    agent: Agent, text: str, spec: OutputSpec, attachments: Sequence[Any] = ()
) -> AsyncIterator[Event | StructuredResult]:
    """One structured turn (see the module docstring): events, then a ``StructuredResult``.

    Raises StructuredOutputError when the answer does not match after one retry.
    """
    steps = SchemaSteps(agent.steps, spec, agent)
    question = spec.prompt(text)
    error, answer = "", ""
    for attempt in (1, 2):
        answer = ""
        agent.steps = steps
        try:
            async for event in agent.run(question, tools=False, attachments=attachments):
                if isinstance(event, TurnEnd):
                    answer = event.text
                yield event
        finally:
            agent.steps = steps.inner
        try:
            value = spec.parse(answer)
        except ValueError as exc:
            error = str(exc)
            if attempt == 1:
                yield Notice("info", f"The answer does not match the schema ({error}); asking once more.")
                question = RETRY_PROMPT.format(error=error)
            continue
        yield StructuredResult(value, answer, attempt, steps.how)
        return
    raise StructuredOutputError(
        f"The model's answer does not match the schema, also after a retry: {error}.", text=answer,
        hint="A larger model, or a simpler schema, may do better.",
    )  # fmt: skip
