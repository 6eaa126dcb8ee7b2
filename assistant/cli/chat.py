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
    from assistant.cli.commands import ChatSession


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
    from assistant.cli.tools import cli_mcp_options

    bot = Assistant(
        settings=settings, on_status=status_printer(), continue_last=continue_last, conversation=conversation,
        mcp=cli_mcp_options(yes, interactive=True),
    )  # fmt: skip
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
                _loop(runner, _plain_session(bot, trace))  # not a terminal (or --plain): plain text in and out
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


def _plain_session(bot: Assistant, trace: Path | None) -> ChatSession:
    from assistant.cli.commands import ChatSession, plain_console
    from assistant.cli.render import PlainRenderer

    session = ChatSession(bot, plain_console(), PlainRenderer(show_stats=True))
    if trace is not None:
        session.set_trace(trace)
    return session


def _loop(runner: asyncio.Runner, session: ChatSession) -> None:
    from assistant.cli.commands import EXIT, Turn

    _enable_line_editing(session)
    try:
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
                outcome = _command(runner, session, text)
                if outcome is EXIT:
                    return
                if not isinstance(outcome, Turn):
                    continue
                text = outcome.text
            _turn(runner, session, text)
    finally:
        session.set_trace(None)


def _command(runner: asyncio.Runner, session: ChatSession, text: str) -> object:
    try:
        return runner.run(session.commands.run(session, text))
    except KeyboardInterrupt:
        sys.stderr.write("[interrupted]\n")
        return None


def _turn(runner: asyncio.Runner, session: ChatSession, text: str) -> None:
    from assistant.errors import AssistantError

    try:
        runner.run(session.consume(text))
    except KeyboardInterrupt:
        session.renderer.interrupted()
    except AssistantError as exc:
        session.renderer.finish_text()
        sys.stderr.write(f"error: {visible(exc.user_line())}\n")
    finally:
        session.after_turn()


def _enable_line_editing(session: ChatSession) -> None:
    """Arrow keys and history for input(); Tab completes slash commands (the same registry as the UI)."""
    try:
        import readline
    except ImportError:
        return

    def complete(text: str, state: int) -> str | None:
        line = readline.get_line_buffer()[: readline.get_endidx()].lstrip()
        found = session.commands.completions(session, line)
        if state >= len(found):
            return None
        candidate, start, _ = found[state]
        return text[: len(text) + start] + candidate if start > -len(text) else candidate

    with contextlib.suppress(Exception):
        readline.set_completer_delims(" ")
        readline.set_completer(complete)
        readline.parse_and_bind("tab: complete")
