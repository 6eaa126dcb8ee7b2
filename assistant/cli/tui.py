"""The terminal chat: prompt_toolkit input, rich Markdown output, slash commands, status line."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.context_view import SentLedger
from assistant.cli.slash import COMMANDS, SlashCommands
from assistant.cli.stream_render import RichRenderer
from assistant.paths import redact_url

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.trace import Tracer

MAX_INPUT_CHARS = 200_000


class ChatUI:
    def __init__(self, bot: Assistant, console: Any, tracer: Tracer | None = None) -> None:
        self.bot = bot
        self.console = console
        self.renderer = RichRenderer(console)
        self.commands = SlashCommands(self)
        self.sent_before = SentLedger()
        self.tracer = tracer
        self.last_answer = ""
        self.asked_logprobs = bool(bot.endpoint and bot.endpoint.config.logprobs)
        self.session: Any = None
        self.pending_attachments: list[Any] = []  # /attach: files for the next message

    # -- trace -----------------------------------------------------------
    def set_trace(self, path: Path | None) -> None:
        from assistant.trace import Tracer

        if self.tracer is not None:
            self.tracer.close()
            self.tracer = None
        if path is not None:
            self.tracer = Tracer(path)
        if self.bot.endpoint is not None:
            self.bot.endpoint.tracer = self.tracer

    # -- prompt ----------------------------------------------------------
    def _session(self) -> Any:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        from assistant.paths import data_dir

        bindings = KeyBindings()

        @bindings.add("escape", "enter")
        def _newline(event: Any) -> None:
            event.current_buffer.insert_text("\n")

        history_path = data_dir() / "chat_input_history"
        history_path.parent.mkdir(parents=True, exist_ok=True)
        return PromptSession(
            history=FileHistory(str(history_path)),
            completer=chat_completer(self),
            complete_while_typing=True,
            key_bindings=bindings,
            bottom_toolbar=self.toolbar,
            enable_history_search=False,  # Ctrl-R reverse search stays on (emacs mode)
        )

    def toolbar(self) -> str:
        bot = self.bot
        local = bot.local_server
        where = redact_url(bot.base_url)
        if local is not None:
            where = "local llama-server, " + ("ours" if local.owned else "shared (assistant serve)")
        s = self.renderer.stats
        speed = f" · {s.gen_speed:.1f} tok/s" if s.gen_speed else ""
        trace = " · trace on" if self.tracer else ""
        return f" {bot.model} · {where} · {s.status()}{speed}{trace}"

    # -- loop ------------------------------------------------------------
    async def run(self) -> None:
        self.session = self._session()
        while True:
            try:
                text = await self.session.prompt_async("you> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            if len(text) > MAX_INPUT_CHARS:
                self.console.print(
                    f"[yellow]That input is {len(text):,} characters; the limit is {MAX_INPUT_CHARS:,}. "
                    "Put long text in a file and ask the model to read it.[/]"
                )
                continue
            if not text.strip():
                continue
            if text.strip().startswith("/"):
                outcome = await self.commands.run(text)
                if outcome == "exit":
                    return
                if outcome and outcome.startswith("retry:"):
                    await self.turn(outcome.removeprefix("retry:"))
                continue
            await self.turn(text)

    async def turn(self, text: str) -> None:
        """One turn; Ctrl-C cancels it (the partial answer is kept) and returns to the prompt."""
        from assistant.errors import AssistantError

        loop = asyncio.get_running_loop()
        _cooked_terminal()
        task = asyncio.ensure_future(self._consume(text))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            self.renderer.interrupted()
        except AssistantError as exc:
            self.renderer.finish_text()
            self.console.print(f"[red]error: {_esc(exc.user_line())}[/]")
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
            self._after_turn()

    async def _consume(self, text: str) -> None:
        from assistant.events import ContextEvent, StepStart

        self.renderer.start_turn()
        step = 1
        attachments, self.pending_attachments = self.pending_attachments, []
        async for event in self.bot.stream(text, attachments=attachments):
            if isinstance(event, StepStart):
                step = event.step
            if isinstance(event, ContextEvent):
                self.sent_before.record(event.report, step)
            self.renderer.handle(event)
        self.last_answer = self.renderer.answer

    def _after_turn(self) -> None:
        if self.tracer is not None and self.tracer.error:
            self.console.print(f"[red]{_esc(self.tracer.error)}[/] The chat goes on.")
            self.set_trace(None)


def chat_completer(ui: ChatUI) -> Any:
    """Tab completion: slash commands and the servers' prompt commands at the start, ``@server:uri``
    resources anywhere in the message."""
    from prompt_toolkit.completion import Completer, Completion

    from assistant.mcp_features import prompt_commands, resource_names

    class ChatCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Any:
            word = document.get_word_before_cursor(WORD=True)
            hub = getattr(ui.bot, "hub", None)
            if word.startswith("@"):
                candidates = resource_names(hub)
            elif word.startswith("/") and document.text_before_cursor.lstrip() == word:
                candidates = list(COMMANDS) + [c.command for c in prompt_commands(hub).values()]
            else:
                return
            for name in candidates:
                if name.lower().startswith(word.lower()):
                    yield Completion(name, start_position=-len(word))

    return ChatCompleter()


def _cooked_terminal() -> None:
    """Make sure Ctrl-C reaches us as SIGINT while an answer streams (the prompt may leave raw mode on)."""
    import sys
    import termios

    try:
        fd = sys.stdin.fileno()
        attrs = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        return
    if not attrs[3] & termios.ISIG:
        import os

        if os.environ.get("ASSISTANT_DEBUG_TTY"):
            sys.stderr.write("[tty was raw: ISIG off]\n")
        attrs[3] |= termios.ISIG
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _esc(text: str) -> str:
    from rich.markup import escape

    from assistant.termsafe import visible

    return escape(visible(text))


def make_console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, emoji=False)  # ":notes:" in untrusted text stays text
