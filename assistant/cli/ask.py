"""`assistant ask`: one question, answer to stdout; reads stdin too; non-zero exit on failure."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

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
    fail,
    install_sigterm_as_interrupt,
    settings_flags,
    status_printer,
    user_errors,
)
from assistant.cli.tools import Yes


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
    yes: Yes = False,
) -> None:
    """Ask one question and print the answer (streamed). Piped stdin is appended to the question."""
    text = _read_question(question)
    install_sigterm_as_interrupt()
    flags = settings_flags(
        base_url=base_url, model=model, api_key=api_key, profile=profile,
        max_steps=max_steps, temperature=temperature, text_tools=text_tools,
    )  # fmt: skip
    with user_errors():
        from assistant.config import load_settings

        settings = load_settings(flags)
        try:
            asyncio.run(_ask(settings, text, json_output, quiet, not no_tools, continue_last, conversation, yes))
        except KeyboardInterrupt:
            sys.stderr.write("\n[interrupted]\n")
            raise typer.Exit(130) from None


def _read_question(question: str | None) -> str:
    """The argument, plus stdin when it is piped (like `cat file | assistant ask "explain"`)."""
    parts: list[str] = []
    if question and question != "-":
        parts.append(question)
    stdin = sys.stdin
    if stdin is not None and not stdin.isatty():
        data = stdin.read()
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
) -> None:
    from assistant.api import Assistant
    from assistant.cli.render import JsonRenderer, PlainRenderer
    from assistant.cli.tools import cli_mcp_options
    from assistant.config import Settings

    assert isinstance(settings, Settings)
    on_status = None if quiet or json_output else status_printer()
    renderer = JsonRenderer() if json_output else PlainRenderer(show_stats=False)
    async with Assistant(
        settings=settings, on_status=on_status, continue_last=continue_last, conversation=conversation,
        mcp=cli_mcp_options(yes, interactive=sys.stdin.isatty()) if tools else False,
    ) as bot:  # fmt: skip
        if tools:
            from assistant.builtin_tools import register_default_tools

            register_default_tools(bot.tools)
        async for event in bot.stream(text):
            renderer.handle(event)
