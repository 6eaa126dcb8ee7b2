"""`assistant chat`: the terminal chat (rich + prompt_toolkit on a terminal, plain text otherwise).

Ctrl-C cancels the answer in flight (the partial answer is kept), Ctrl-D leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    install_sigterm_as_interrupt,
    settings_flags,
    status_printer,
    user_errors,
)
from assistant.cli.tools import Yes
from assistant.paths import redact_url
from assistant.termsafe import visible

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.cli.render import PlainRenderer

HELP = """Commands: /new (start over)  /context (what the model saw)  /tools  /model  /help  /exit
Ctrl-C stops an answer (the partial answer is kept); Ctrl-D or /exit leaves."""


def chat(
    base_url: BaseUrl = None,
    model: Model = None,
    api_key: ApiKey = None,
    profile: Profile = None,
    max_steps: MaxSteps = None,
    temperature: Temperature = None,
    text_tools: TextTools = None,
    continue_last: ContinueLast = False,
    conversation: ConversationId = None,
    yes: Yes = False,
    trace: TraceFile = None,
    plain: Annotated[bool, typer.Option("--plain", help="Plain text in and out (no Markdown, no prompt UI).")] = False,
) -> None:
    """Chat in the terminal, streaming answers and showing tool calls."""
    install_sigterm_as_interrupt()
    flags = settings_flags(
        base_url=base_url, model=model, api_key=api_key, profile=profile,
        max_steps=max_steps, temperature=temperature, text_tools=text_tools,
    )  # fmt: skip
    with user_errors():
        from assistant.config import load_settings

        settings = load_settings(flags)
        _repl(settings, continue_last, conversation, yes, trace, plain)


def _repl(
    settings: Any,
    continue_last: bool = False,
    conversation: str | None = None,
    yes: bool = False,
    trace: Path | None = None,
    plain: bool = False,
) -> None:
    from assistant.api import Assistant
    from assistant.builtin_tools import register_default_tools
    from assistant.cli.render import PlainRenderer
    from assistant.cli.tools import cli_mcp_options

    bot = Assistant(
        settings=settings, on_status=status_printer(), continue_last=continue_last, conversation=conversation,
        mcp=cli_mcp_options(yes, interactive=True),
    )  # fmt: skip
    renderer = PlainRenderer(show_stats=True)
    with asyncio.Runner() as runner:
        try:
            runner.run(bot.__aenter__())
        except KeyboardInterrupt:
            sys.stderr.write("\n[interrupted while starting]\n")
            runner.run(bot.__aexit__(None, None, None))
            raise typer.Exit(130) from None
        register_default_tools(bot.tools)  # after the MCP servers: the files server's tools win
        try:
            _banner(bot)
            if plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
                _loop(runner, bot, renderer)  # not a terminal (or --plain): plain text in, plain text out
            else:
                runner.run(_tui(bot, trace))
        finally:
            runner.run(bot.__aexit__(None, None, None))


async def _tui(bot: Assistant, trace: Path | None) -> None:
    from assistant.cli.tui import ChatUI, make_console

    ui = ChatUI(bot, make_console())
    if trace is not None:
        ui.set_trace(trace)
    try:
        await ui.run()
    finally:
        ui.set_trace(None)


def _banner(bot: Assistant) -> None:
    where = "local llama-server (started for this chat)"
    if bot.local_server is not None and not bot.local_server.owned:
        where = "local llama-server (shared, from `assistant serve`)"
    elif bot.local_server is None:
        where = redact_url(bot.base_url)
    sys.stderr.write(f"Chatting with {bot.model} at {where}. /help for commands.\n")
    conv = bot.conversation
    if conv.messages:
        sys.stderr.write(f"Continuing conversation {conv.id} ({len(conv.messages)} messages).\n")


def _loop(runner: asyncio.Runner, bot: Assistant, renderer: PlainRenderer) -> None:
    _enable_line_editing()
    while True:
        try:
            line = input("you> ")
        except EOFError:
            sys.stderr.write("\n")
            return
        except KeyboardInterrupt:
            sys.stderr.write("\n(Ctrl-D or /exit to leave)\n")
            continue
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if _command(bot, text) == "exit":
                return
            continue
        _turn(runner, bot, renderer, text)


def _turn(runner: asyncio.Runner, bot: Assistant, renderer: PlainRenderer, text: str) -> None:
    from assistant.errors import AssistantError

    async def go() -> None:
        async for event in bot.stream(text):
            renderer.handle(event)

    try:
        runner.run(go())
    except KeyboardInterrupt:
        renderer._end_line()
        sys.stderr.write("[interrupted: partial answer kept]\n")
    except AssistantError as exc:
        renderer._end_line()
        sys.stderr.write(f"error: {visible(exc.user_line())}\n")


def _command(bot: Assistant, text: str) -> str | None:
    cmd = text.split()[0].lower()
    if cmd in ("/exit", "/quit"):
        return "exit"
    if cmd == "/help":
        sys.stderr.write(HELP + "\n")
    elif cmd == "/new":
        bot.new_conversation()
        sys.stderr.write("[new conversation]\n")
    elif cmd == "/tools":
        from assistant.cli.tools import describe_registry

        sys.stderr.write(visible(describe_registry(bot.tools, bot.hub)) + "\n")
    elif cmd == "/model":
        sys.stderr.write(f"{bot.model} at {redact_url(bot.base_url)}\n")
    elif cmd == "/context":
        from assistant.cli.render import format_context

        report = bot.last_report
        sys.stderr.write((format_context(report) if report else "No request sent yet.") + "\n")
    else:
        import difflib

        known = ["/exit", "/help", "/new", "/tools", "/model", "/context"]
        near = difflib.get_close_matches(cmd, known, n=1)
        hint = f" Did you mean {near[0]}?" if near else " /help lists them."
        sys.stderr.write(f"Unknown command {visible(cmd, one_line=True)}.{hint}\n")
    return None


def _enable_line_editing() -> None:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (arrow keys and history for input())
