"""The chat's slash commands: one registry, one session state, for both front ends.

The terminal UI (assistant/cli/tui.py) and the plain REPL (assistant/cli/chat.py) share
``ChatSession`` (the assistant, a rich console, the renderer, the ledger of what was sent, the
trace) and one ``CommandRegistry``. A command is a ``Command``: its name, a line of help, an
async handler ``(session, argument) -> Outcome`` and an optional completer for its argument.

Extend it with ``registry.add(Command(...))`` (after the assistant is connected, so commands made
from what servers offer can be added too). A handler prints through ``session.print`` (rich markup;
the plain REPL renders it without colour) and returns ``None``, ``EXIT`` or ``Turn(text)`` to send
``text`` to the model as the user's next turn (``/retry``, ``/init``).
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.context_view import SentLedger

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.trace import Tracer


@dataclass(frozen=True)
class Turn:
    """Send this text as the user's next turn."""

    text: str


class _Exit:
    def __repr__(self) -> str:
        return "EXIT"


EXIT = _Exit()
Outcome = Turn | _Exit | None
Handler = Callable[["ChatSession", str], Awaitable[Outcome]]
Completer = Callable[["ChatSession", str], Iterable[str]]


@dataclass
class Command:
    name: str  # with the slash: "/context"
    help: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    complete: Completer | None = None  # candidates for the argument, given what is typed so far
    hidden: bool = False  # works, but not listed in /help


@dataclass
class CommandRegistry:
    commands: dict[str, Command] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)

    def add(self, command: Command) -> None:
        """Add (or replace) a command."""
        self.commands[command.name] = command
        for alias in command.aliases:
            self._aliases[alias] = command.name

    def remove(self, name: str) -> None:
        command = self.commands.pop(name, None)
        if command is not None:
            for alias in command.aliases:
                self._aliases.pop(alias, None)

    def get(self, name: str) -> Command | None:
        name = name.lower()
        return self.commands.get(self._aliases.get(name, name))

    def listed(self) -> list[Command]:
        return [c for c in self.commands.values() if not c.hidden]

    def names(self) -> list[str]:
        return [c.name for c in self.listed()]

    async def run(self, session: ChatSession, line: str) -> Outcome:
        session.refresh_commands()
        name, _, arg = line.strip().partition(" ")
        command = self.get(name)
        if command is None:
            near = difflib.get_close_matches(name.lower(), [*self.commands, *self._aliases], n=1)
            hint = f" Did you mean {near[0]}?" if near else " /help lists them."
            session.print(f"[yellow]Unknown command {esc(name)}.{hint}[/]")
            return None
        return await command.handler(session, arg.strip())

    def completions(self, session: ChatSession, text: str) -> list[tuple[str, int, str]]:
        """(candidate, start offset relative to the cursor, help) for the text before the cursor."""
        session.refresh_commands()
        word = text.rsplit(None, 1)[-1] if text.strip() and not text[-1].isspace() else ""
        if word.startswith("@"):  # an MCP server's resource, anywhere in the message
            from assistant.cli.mcp_commands import resource_completions

            return [(c, -len(word), "resource") for c in resource_completions(session, word)]
        if not text.startswith("/"):
            return []
        name, space, arg = text.partition(" ")
        if not space:
            return [(c.name, -len(name), c.help) for c in self.listed() if c.name.startswith(name.lower())]
        command = self.get(name)
        if command is None or command.complete is None:
            return []
        word = arg.rsplit(" ", 1)[-1]
        return [(c, -len(word), "") for c in command.complete(session, arg) if c.startswith(word) and c != word]

    def prompt_completer(self, session: ChatSession) -> Any:
        """A prompt_toolkit completer over the registry (commands, then their arguments)."""
        from prompt_toolkit.completion import Completer as PTCompleter
        from prompt_toolkit.completion import Completion

        registry = self

        class _Completer(PTCompleter):
            def get_completions(self, document: Any, complete_event: Any) -> Iterable[Completion]:
                text = document.text_before_cursor
                for candidate, start, meta in registry.completions(session, text.lstrip()):
                    yield Completion(candidate, start_position=start, display_meta=meta)

        return _Completer()


class ChatSession:
    """What the chat's commands work on, the same in both front ends."""

    def __init__(self, bot: Assistant, console: Any, renderer: Any, registry: CommandRegistry | None = None) -> None:
        self.bot = bot
        self.console = console
        self.renderer = renderer  # RichRenderer or PlainRenderer: .answer, .probs, .stats, .handle()
        self.ledger = SentLedger()
        self.tracer: Tracer | None = None
        self.last_answer = ""
        self.asked_logprobs = bool(bot.endpoint and bot.endpoint.config.logprobs)
        if registry is None:
            from assistant.cli.slash import builtin_commands

            registry = builtin_commands()
        self.commands = registry
        self.pending_attachments: list[Any] = []  # /attach: files for the next message
        from assistant.cli.mcp_commands import add_mcp_commands

        add_mcp_commands(self)  # /attach, and a /server:prompt command per MCP server prompt

    def refresh_commands(self) -> None:
        """Keep the servers' prompt commands in step with the servers (one may have started since)."""
        from assistant.cli.mcp_commands import sync_server_prompts

        sync_server_prompts(self)

    def print(self, text: Any) -> None:
        self.console.print(text)

    def usage(self, name: str) -> None:
        command = self.commands.get(name)
        self.print(f"[yellow]Usage: {name}: {command.help if command else ''}[/]")

    def set_trace(self, path: Path | None) -> None:
        from assistant.trace import Tracer

        if self.tracer is not None:
            self.tracer.close()
            self.tracer = None
        if path is not None:
            self.tracer = Tracer(path)
        if self.bot.endpoint is not None:
            self.bot.endpoint.tracer = self.tracer

    async def consume(self, text: str) -> None:
        """One turn's events through the renderer, recording each request in the ledger."""
        from assistant.events import ContextEvent, StepStart

        self.renderer.start_turn()
        step = 1
        attachments, self.pending_attachments = self.pending_attachments, []
        async for event in self.bot.stream(text, attachments=attachments):
            if isinstance(event, StepStart):
                step = event.step
            if isinstance(event, ContextEvent):
                self.ledger.record(event.report, step)
            self.renderer.handle(event)
        self.last_answer = self.renderer.answer

    def after_turn(self) -> None:
        if self.tracer is not None and self.tracer.error:
            self.print(f"[red]{esc(self.tracer.error)}[/] The chat goes on.")
            self.set_trace(None)


def esc(text: str) -> str:
    """Untrusted text for rich markup: control characters visible, markup escaped."""
    from rich.markup import escape

    from assistant.termsafe import visible

    return escape(visible(text))


def plain_console(file: Any = None) -> Any:
    """A rich console that writes plain text (no colour, no cursor movement) for the plain REPL."""
    import sys

    from rich.console import Console

    return Console(file=file or sys.stderr, force_terminal=False, no_color=True, highlight=False,
                   emoji=False, width=100)  # fmt: skip
