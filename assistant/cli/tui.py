"""The terminal chat: prompt_toolkit input, rich Markdown output, slash commands, status line."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.commands import EXIT, ChatSession, CommandRegistry, Outcome, Turn
from assistant.cli.stream_render import RichRenderer
from assistant.paths import redact_url

if TYPE_CHECKING:
    from assistant.api import Assistant
    from assistant.trace import Tracer

MAX_INPUT_CHARS = 200_000


class ChatUI:
    """The terminal front end of a ChatSession (the commands and the state live there)."""

    def __init__(self, bot: Assistant, console: Any, tracer: Tracer | None = None) -> None:
        self.session = ChatSession(bot, console, RichRenderer(console))
        self.session.tracer = tracer
        self.prompt: Any = None

    @property
    def bot(self) -> Assistant:
        return self.session.bot

    @property
    def console(self) -> Any:
        return self.session.console

    @property
    def renderer(self) -> RichRenderer:
        renderer: RichRenderer = self.session.renderer
        return renderer

    @property
    def commands(self) -> CommandRegistry:
        return self.session.commands

    def set_trace(self, path: Path | None) -> None:
        self.session.set_trace(path)

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
            completer=self.commands.prompt_completer(self.session),
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
        trace = " · trace on" if self.session.tracer else ""
        return f" {bot.model} · {where} · {s.status()}{speed}{trace}"

    # -- loop ------------------------------------------------------------
    async def run(self) -> None:
        self.prompt = self._session()
        while True:
            try:
                text = await self.prompt.prompt_async("you> ")
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
                outcome = await self.command(text)
                if outcome is EXIT:
                    return
                if isinstance(outcome, Turn):
                    await self.turn(outcome.text)
                continue
            await self.turn(text)

    async def command(self, text: str) -> Outcome:
        """A slash command; Ctrl-C cancels a long one (e.g. /compact) and returns to the prompt."""
        loop = asyncio.get_running_loop()
        _cooked_terminal()
        task = asyncio.ensure_future(self.commands.run(self.session, text))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            self.console.print("[yellow]⏹ interrupted[/]")
            return None
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    async def turn(self, text: str) -> None:
        """One turn; Ctrl-C cancels it (the partial answer is kept) and returns to the prompt."""
        from assistant.errors import AssistantError

        loop = asyncio.get_running_loop()
        _cooked_terminal()
        task = asyncio.ensure_future(self.session.consume(text))
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
            self.session.after_turn()


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
