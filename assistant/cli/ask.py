"""`assistant ask`: one question, answer to stdout; reads stdin too; non-zero exit on failure."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.cli.common import (
    ApiKey,
    BaseUrl,
    ContinueLast,
    ConversationId,
    MaxSteps,
    Model,
    Profile,
    Temperature,
    TextTools,
    TraceFile,
    fail,
    install_sigterm_as_interrupt,
    settings_flags,
    status_printer,
    user_errors,
)
from assistant.cli.tools import Yes
from assistant.events import StepStart, TokenProbs

SCHEMA_HELP = (
    "Answer with JSON matching this JSON Schema: a .json file, inline JSON, or "
    "'name str, age int, tags list[str], note str?'. Prints only the JSON; no tools."
)


ATTACH_HELP = "Attach a file to the question: text, or an image for a model that takes images. Repeatable."


def ask(
    question: Annotated[str | None, typer.Argument(help="The question; '-' or nothing reads stdin.")] = None,
    base_url: BaseUrl = None,
    model: Model = None,
    api_key: ApiKey = None,
    profile: Profile = None,
    max_steps: MaxSteps = None,
    temperature: Temperature = None,
    text_tools: TextTools = None,
    continue_last: ContinueLast = False,
    conversation: ConversationId = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines on stderr.")] = False,
    no_tools: Annotated[bool, typer.Option("--no-tools", help="Offer the model no tools.")] = False,
    no_retrieval: Annotated[
        bool, typer.Option("--no-retrieval", help="Do not search the index (assistant index) for this question.")
    ] = False,
    yes: Yes = False,
    trace: TraceFile = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Print the answer once it is complete.")] = False,
    logprobs: Annotated[
        bool, typer.Option("--logprobs", help="After the answer, show it token by token, coloured by probability.")
    ] = False,
    schema: Annotated[str | None, typer.Option("--schema", help=SCHEMA_HELP)] = None,
    attach: Annotated[list[Path] | None, typer.Option("--attach", "-a", help=ATTACH_HELP)] = None,
) -> None:
    """Ask one question and print the answer (streamed). Piped stdin is appended to the question."""
    spec = _output_spec(schema)
    attachments = _attachments(attach or [])
    text = _read_question(question)
    install_sigterm_as_interrupt()
    flags = settings_flags(
        base_url=base_url, model=model, api_key=api_key, profile=profile,
        max_steps=max_steps, temperature=temperature, text_tools=text_tools, logprobs=5 if logprobs else None,
        retrieval="off" if no_retrieval else None,
    )  # fmt: skip
    output = OutputOptions(json_output, no_stream, logprobs, trace, spec, attachments)
    if spec is not None:
        no_tools = True  # a structured answer is one request without tools
    with user_errors():
        from assistant.config import load_settings

        settings = load_settings(flags)
        try:
            asyncio.run(
                _ask(settings, text, json_output, quiet, not no_tools, continue_last, conversation, yes, output=output)
            )
        except KeyboardInterrupt:
            sys.stderr.write("\n[interrupted]\n")
            raise typer.Exit(130) from None


def _output_spec(schema: str | None) -> Any:
    """--schema, loaded and checked before anything starts (a bad schema: one line, exit 2)."""
    if schema is None:
        return None
    from assistant.structured import OutputSpec, SchemaError, load_schema

    try:
        return OutputSpec(load_schema(schema))
    except SchemaError as exc:
        raise fail(f"--schema: {exc.user_line().rstrip('.')}. Nothing was sent.", code=2) from None


def _attachments(paths: list[Path]) -> list[Any]:
    """-a files, read and checked before anything starts (bad input: one line, exit 2)."""
    from assistant.attachments import AttachmentError, load_file

    try:
        return [load_file(p) for p in paths]
    except AttachmentError as exc:
        raise fail(f"{exc.user_line().rstrip('.')}; nothing was sent.", code=2) from None


def _read_question(question: str | None) -> str:
    """The argument, plus stdin when it is piped (like `cat file | assistant ask "explain"`)."""
    parts: list[str] = []
    if question and question != "-":
        if any("\udc80" <= ch <= "\udcff" for ch in question):  # undecodable bytes, kept by surrogateescape
            raise fail("the question is not valid UTF-8 text; nothing was sent or saved.", code=2)
        parts.append(question)
    stdin = sys.stdin
    if stdin is not None and not stdin.isatty():
        raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8", "surrogateescape")
        try:
            data = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise fail(f"stdin is not UTF-8 text ({len(raw)} bytes; invalid at byte {exc.start}; binary data?); "
                       "nothing was sent or saved.", code=2) from None  # fmt: skip
        if "\x00" in data:
            raise fail(f"stdin is binary data ({len(raw)} bytes, NUL bytes in it); nothing was sent or saved.", code=2)
        if data.strip():
            parts.append(data.rstrip("\n"))
    text = "\n\n".join(parts).strip()
    if not text:
        raise fail("nothing to ask: give a question or pipe text on stdin.", code=2)
    return text


async def _ask(
    settings: object,
    text: str,
    json_output: bool,
    quiet: bool,
    tools: bool,
    continue_last: bool = False,
    conversation: str | None = None,
    yes: bool = False,
    output: OutputOptions | None = None,
) -> None:
    from assistant.api import Assistant
    from assistant.cli.render import JsonRenderer, PlainRenderer
    from assistant.cli.tools import cli_mcp_options
    from assistant.config import Settings

    assert isinstance(settings, Settings)
    on_status = None if quiet or json_output else status_printer()
    output = output or OutputOptions()
    renderer: Any = JsonRenderer() if json_output else PlainRenderer(show_stats=False)
    if output.no_stream and not json_output:
        renderer = DrainedRenderer(renderer)
    async with Assistant(
        settings=settings, on_status=on_status, continue_last=continue_last, conversation=conversation,
        mcp=cli_mcp_options(yes, interactive=sys.stdin.isatty()) if tools else False,
    ) as bot:  # fmt: skip
        if tools:
            from assistant.builtin_tools import register_default_tools

            register_default_tools(bot.tools)
        if output.trace is not None and bot.endpoint is not None:
            from assistant.trace import Tracer

            bot.endpoint.tracer = Tracer(output.trace)
        if json_output and bot.profile is not None:  # how this model is asked for tools, first
            renderer.out.write(json.dumps({"kind": "profile", **bot.profile.to_dict()}, ensure_ascii=False) + "\n")
        if output.spec is not None:
            await _structured(bot, text, output.spec, renderer, json_output, output.attachments)
            return
        probs: list[Any] = []
        async for event in bot.stream(text, attachments=output.attachments):
            renderer.handle(event)
            if isinstance(event, TokenProbs):
                probs.extend(event.tokens)
            elif isinstance(event, StepStart):
                probs.clear()
        if bot.endpoint is not None and bot.endpoint.tracer is not None:
            bot.endpoint.tracer.close()
        if output.logprobs and not json_output:
            _show_probs(probs)


async def _structured(bot: Any, text: str, spec: Any, renderer: Any, json_output: bool,
                      attachments: list[Any]) -> None:  # fmt: skip
    """--schema: the answer text is held back; only the validated JSON reaches stdout."""
    from assistant.events import TextDelta
    from assistant.structured import StructuredResult
    from assistant.termsafe import json_line

    try:
        async for event in bot.stream(text, output=spec, attachments=attachments):
            if isinstance(event, StructuredResult):
                if json_output:
                    renderer.handle(event)
                else:
                    sys.stdout.write(json_line(event.value) + "\n")
            elif json_output or not isinstance(event, TextDelta):
                renderer.handle(event)
    finally:
        if bot.endpoint is not None and bot.endpoint.tracer is not None:
            bot.endpoint.tracer.close()


@dataclass
class OutputOptions:
    json_output: bool = False
    no_stream: bool = False
    logprobs: bool = False
    trace: Path | None = None
    spec: Any = None  # an assistant.structured.OutputSpec (--schema)
    attachments: list[Any] = field(default_factory=list)  # assistant.attachments.Attachment (-a)


class DrainedRenderer:
    """--no-stream: hold the answer text until the turn ends, then print it once."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.held: list[Any] = []

    def handle(self, event: Any) -> None:
        from assistant.events import StepStart, TextDelta, TurnEnd

        if isinstance(event, StepStart):
            self.held.clear()
        if isinstance(event, TextDelta):
            self.held.append(event)
            return
        if isinstance(event, TurnEnd):
            if self.held:
                self.inner.handle(TextDelta("".join(e.text for e in self.held)))
            self.held.clear()
        self.inner.handle(event)


def _show_probs(probs: list[Any]) -> None:
    if not probs:
        sys.stderr.write("[the endpoint sent no token probabilities (logprobs) for this answer]\n")
        return
    from rich.console import Console

    from assistant.cli.slash import colour_tokens

    console = Console(stderr=True, highlight=False)
    console.rule("token by token (green ≥ 90% · yellow ≥ 50% · orange ≥ 20% · red < 20%)")
    console.print(colour_tokens(probs))
