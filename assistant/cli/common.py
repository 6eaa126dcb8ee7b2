"""Shared by the CLI commands: endpoint options, error handling at the edge, event printing."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from assistant.termsafe import visible

BaseUrl = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1.")
]
Model = Annotated[str | None, typer.Option("--model", "-m", help="Model name at the endpoint.")]
ApiKey = Annotated[str | None, typer.Option("--api-key", help="API key (default: OPENAI_API_KEY).")]
Profile = Annotated[str | None, typer.Option("--profile", "-p", help="Named profile from the config file.")]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="Model requests allowed per turn.")]
Temperature = Annotated[float | None, typer.Option("--temperature", "-t", help="Sampling temperature.")]
TextTools = Annotated[
    bool | None,
    typer.Option(
        "--text-tools/--no-text-tools",
        help="Recognise tool calls that the model writes as text (default: on for the local model).",
    ),
]


ContinueLast = Annotated[bool, typer.Option("--continue", "-c", help="Continue the most recent conversation.")]
ConversationId = Annotated[
    str | None, typer.Option("--conversation", help="Continue this conversation (id or prefix).")
]


TraceFile = Annotated[
    Path | None, typer.Option("--trace", help="Write the wire trace (JSONL) to this file.", dir_okay=False)
]


def settings_flags(**kwargs: Any) -> dict[str, Any]:
    mapping = {"text_tools": "text_tool_calls"}
    return {mapping.get(k, k): v for k, v in kwargs.items() if v is not None}


def fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(f"error: {visible(message)}\n")
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Our errors become one line on stderr and a non-zero exit; never a traceback."""
    from assistant.errors import AssistantError

    try:
        yield
    except AssistantError as exc:
        raise fail(exc.user_line()) from None


def install_sigterm_as_interrupt() -> None:
    """SIGTERM unwinds the stack (exit 143), so context managers stop the local server."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def status_printer(stream: IO[str] | None = None) -> Callable[[str], None]:
    out = stream or sys.stderr

    def show(message: str) -> None:
        out.write(f"[{visible(message)}]\n")
        out.flush()

    return show


def short(text: str, limit: int = 160) -> str:
    flat = visible(" ".join(text.split()), one_line=True)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
