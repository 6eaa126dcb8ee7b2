"""Tools the model may call: a registry of Python functions with JSON schemas from type hints.

The agent loop only sees the ``Tool`` protocol (a name, an OpenAI tool schema,
and an async ``call``), so MCP servers plug in through the same interface.
Arguments are validated against the schema before any call; every failure
(unknown tool, bad JSON, invalid arguments, a raising or hanging tool)
becomes an error *result* that goes back to the model, never an exception
that ends the turn.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args, get_origin

from assistant.errors import ToolError
from assistant.events import ToolCall, ToolResult


class Tool(Protocol):
    name: str

    def schema(self) -> dict[str, Any]:
        """OpenAI tool schema: {"type": "function", "function": {...}}."""
        ...

    async def call(self, arguments: dict[str, Any]) -> str: ...


_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    dict: {"type": "object"},
    list: {"type": "array"},
    Any: {},
}


def type_to_schema(tp: Any) -> dict[str, Any]:
    """JSON schema for a Python type hint (the subset tools need)."""
    if tp in _SIMPLE:
        return dict(_SIMPLE[tp])
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return type_to_schema(non_none[0])
        return {"anyOf": [type_to_schema(a) for a in non_none]}
    if origin in (list, Sequence, tuple, set):
        item = args[0] if args else Any
        return {"type": "array", "items": type_to_schema(item)}
    if origin is dict:
        return {"type": "object"}
    raise ToolError(f"Cannot describe parameter type {tp!r} as JSON schema.")


def _doc_parts(func: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """Summary and per-parameter descriptions from a Google-style docstring."""
    doc = inspect.getdoc(func) or ""
    summary_lines: list[str] = []
    params: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
            continue
        if in_args and ":" in stripped and line.startswith((" ", "\t")):
            name, _, desc = stripped.partition(":")
            params[name.split("(")[0].strip()] = desc.strip()
        elif in_args and stripped and not line.startswith((" ", "\t")):
            in_args = False
        elif not in_args:
            summary_lines.append(stripped)
    return " ".join(s for s in summary_lines if s).strip(), params


@dataclass
class FunctionTool:
    """A Python function (sync or async) exposed as a tool."""

    func: Callable[..., Any]
    name: str
    description: str
    parameters: dict[str, Any]

    @classmethod
    def from_function(
        cls, func: Callable[..., Any], name: str | None = None, description: str | None = None
    ) -> FunctionTool:
        hints = typing.get_type_hints(func)
        summary, param_docs = _doc_parts(func)
        props: dict[str, Any] = {}
        required: list[str] = []
        for pname, param in inspect.signature(func).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            schema = type_to_schema(hints.get(pname, Any))
            if pname in param_docs:
                schema["description"] = param_docs[pname]
            if param.default is inspect.Parameter.empty:
                required.append(pname)
            elif param.default is not None:
                schema["default"] = param.default
            props[pname] = schema
        parameters = {"type": "object", "properties": props, "required": required}
        return cls(func, name or func.__name__, description or summary or func.__name__, parameters)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    async def call(self, arguments: dict[str, Any]) -> str:
        if inspect.iscoroutinefunction(self.func):
            result = await self.func(**arguments)
        else:
            result = await asyncio.to_thread(self.func, **arguments)
        return result_to_text(result)


def result_to_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    if result is None:
        return "(no output)"
    try:
        return json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(result)


def validate_arguments(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """None when valid, else a short description of what is wrong."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    if not errors:
        return None
    parts = []
    for err in errors[:3]:
        where = ".".join(str(p) for p in err.path)
        parts.append(f"{where}: {err.message}" if where else err.message)
    return "; ".join(parts)


# Asked before each call: None lets it run; a string is the denial sent back as the result.
Approver = Callable[[Tool, dict[str, Any]], Awaitable[str | None]]


class ToolRegistry:
    """The tools offered to the model this turn, and the one way to call them.

    A tool may carry its own ``timeout`` (seconds); ``approver`` (see assistant/approval.py)
    is asked after validation and before the call, so time spent asking is not call time.
    """

    def __init__(
        self, timeout: float = 120.0, max_result_chars: int = 20_000, approver: Approver | None = None
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self.timeout = timeout
        self.max_result_chars = max_result_chars
        self.approver = approver

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ToolError(f"A tool named '{tool.name}' is already registered.")
        self._tools[tool.name] = tool

    def function(self, func: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
        """Register a function; usable as ``@registry.function`` or ``registry.function(f)``."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.add(FunctionTool.from_function(f, name=name))
            return f

        return register(func) if func is not None else register

    def remove(self, name: str) -> None:
        self._tools.pop(name, None)

    def names(self) -> list[str]:
        return list(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self._tools.values()]

    def read_only(self, name: str) -> bool:
        """Does the tool say it changes nothing (MCP's readOnlyHint)? Unknown tools: no."""
        return bool(getattr(self._tools.get(name), "read_only", False))

    async def run(self, call: ToolCall) -> ToolResult:
        """Run one call; every failure becomes an error result for the model."""
        started = time.perf_counter()
        content, is_error = await self._run(call)
        if len(content) > self.max_result_chars:
            cut = len(content) - self.max_result_chars
            content = content[: self.max_result_chars] + f"\n[output truncated: {cut} more characters cut]"
        return ToolResult(call, content, is_error, time.perf_counter() - started)

    async def _run(self, call: ToolCall) -> tuple[str, bool]:
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            return f"Error: there is no tool named '{call.name}'. Available tools: {known}.", True
        try:
            args = call.parsed_arguments()
        except ValueError as exc:
            return f"Error: the arguments for {call.name} are not a valid JSON object ({exc}).", True
        problem = validate_arguments(tool.schema()["function"].get("parameters") or {}, args)
        if problem:
            return f"Error: invalid arguments for {call.name}: {problem}", True
        if self.approver is not None:
            denied = await self.approver(tool, args)
            if denied is not None:
                return denied, True
        timeout = getattr(tool, "timeout", None) or self.timeout
        try:
            return await asyncio.wait_for(tool.call(args), timeout), False
        except TimeoutError:
            return f"Error: {call.name} did not finish within {timeout:g} s and was stopped.", True
        except asyncio.CancelledError:
            raise
        except ToolError as exc:  # a failure the tool reported itself (e.g. an MCP error result)
            return f"Error: {call.name} failed: {exc}", True
        except Exception as exc:
            return f"Error: {call.name} failed: {type(exc).__name__}: {exc}", True
