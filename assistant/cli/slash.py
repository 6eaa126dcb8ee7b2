"""Slash commands of the terminal chat."""

from __future__ import annotations

import base64
import difflib
import json
import math
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.cli.tui import ChatUI

COMMANDS: dict[str, str] = {
    "/help": "this list",
    "/new": "start a new conversation (the old one stays in the history)",
    "/history": "list conversations; /history ID switches to one",
    "/model": "show model and endpoint; /model NAME switches model at this endpoint",
    "/tools": "what the model can call right now",
    "/context": "what the last request carried, per source; /context full prints the JSON body",
    "/trace": "/trace on [FILE] | off: write the wire trace (JSONL)",
    "/tokens": "the last answer token by token, coloured by probability; /tokens N: alternatives at token N",
    "/retry": "ask the last question again (the last answer is discarded)",
    "/copy": "copy the last answer (or /copy code: its last code block) to the clipboard",
    "/sources": "passages retrieved for the last turn",
    "/rag": "/rag on|off: retrieval for this chat",
    "/attach": "/attach FILE: attach a file (text or image) to your next message; /attach lists, /attach clear drops",
    "/exit": "leave (also Ctrl-D)",
}


class SlashCommands:
    def __init__(self, ui: ChatUI) -> None:
        self.ui = ui
        self.handlers: dict[str, Callable[[str], Awaitable[str | None]]] = {
            "/help": self.help,
            "/new": self.new,
            "/history": self.history,
            "/model": self.model,
            "/tools": self.tools,
            "/context": self.context,
            "/trace": self.trace,
            "/tokens": self.tokens,
            "/retry": self.retry,
            "/copy": self.copy,
            "/sources": self.sources,
            "/rag": self.rag,
            "/attach": self.attach,
            "/exit": self.exit,
            "/quit": self.exit,
        }

    @property
    def console(self) -> Any:
        return self.ui.console

    def print(self, text: Any) -> None:
        self.console.print(text)

    async def run(self, line: str) -> str | None:
        name, _, arg = line.strip().partition(" ")
        handler = self.handlers.get(name.lower())
        if handler is None and ":" in name:
            return await self.server_prompt(name, arg.strip())
        if handler is None:
            near = difflib.get_close_matches(name.lower(), list(COMMANDS), n=1)
            hint = f" Did you mean {near[0]}?" if near else " /help lists them."
            self.print(f"[yellow]Unknown command {_esc(name)}.{hint}[/]")
            return None
        return await handler(arg.strip())

    def usage(self, name: str) -> None:
        self.print(f"[yellow]Usage: {name}: {COMMANDS[name]}[/]")

    # -- commands --------------------------------------------------------
    async def help(self, arg: str) -> None:
        for name, text in COMMANDS.items():
            self.print(f"[bold]{name:10}[/] {text}")
        from assistant.mcp_features import prompt_commands

        prompts = prompt_commands(getattr(self.ui.bot, "hub", None))
        if prompts:
            self.print("[bold]Prompts of the MCP servers[/] (sent as your message):")
            for cmd in prompts.values():
                self.print(f"  [bold]{_esc(cmd.usage())}[/] {_esc(cmd.description())}")
        self.print("[dim]Enter sends; Alt-Enter (or Esc then Enter) adds a line; Ctrl-R searches past input; "
                   "Ctrl-C stops an answer; Ctrl-D leaves.[/]")  # fmt: skip

    async def new(self, arg: str) -> None:
        self.ui.bot.new_conversation()
        self.print("[dim]New conversation.[/]")

    async def history(self, arg: str) -> None:
        store = self.ui.bot.conversation.store
        if store is None:
            self.print("[yellow]This chat keeps no history.[/]")
            return
        if arg:
            from assistant.errors import AssistantError

            try:
                self.ui.bot.switch_conversation(arg)
            except AssistantError as exc:
                self.print(f"[red]{_esc(exc.user_line())}[/]")
                return
            conv = self.ui.bot.conversation
            self.print(f"[dim]Switched to conversation {conv.id} ({len(conv.messages)} messages).[/]")
            return
        current = self.ui.bot.conversation.id
        for info in store.conversations(15):
            mark = "*" if info.id == current else " "
            self.print(f"{mark} [bold]{info.id}[/] {info.messages:>4} msgs  {_esc(info.title or '(untitled)')}")
        self.print("[dim]/history ID switches (a unique prefix is enough).[/]")

    async def model(self, arg: str) -> None:
        bot = self.ui.bot
        if not arg:
            local = bot.local_server
            where = "" if local is None else (" (local, ours)" if local.owned else " (local, shared)")
            from assistant.paths import redact_url

            self.print(f"model [bold]{_esc(bot.model)}[/] at {_esc(redact_url(bot.base_url))}{where}")
            profile = getattr(bot, "profile", None)
            if profile is not None:
                self.print(_esc("\n".join("  " + line for line in profile.lines()[2:])))
            return
        from assistant.errors import AssistantError

        try:
            await bot.switch_model(arg)
        except AssistantError as exc:
            self.print(f"[red]{_esc(exc.user_line())}[/]")
            return
        self.print(f"[dim]Now using {bot.model}.[/]")

    async def tools(self, arg: str) -> None:
        hub = getattr(self.ui.bot, "hub", None)
        if hub is not None:  # MCP servers: state and approval policy of each tool
            from assistant.cli.tools import describe_hub

            self.print(_esc("\n".join(describe_hub(hub))))
            self._server_features(hub)
        schemas = self.ui.bot.tools.schemas()
        from assistant.steps import GrammarSteps

        steps = getattr(getattr(self.ui.bot, "agent", None), "steps", None)
        if schemas and isinstance(steps, GrammarSteps):
            from assistant.grammar import Unsupported

            try:
                left = steps.grammar(schemas).unsupported
            except Unsupported as exc:
                left = {"all tools": str(exc)}
            for name, why in left.items():
                self.print(_esc(f"{name}: not expressible as a grammar ({why}); recognised from text instead"))
        if not schemas:
            self.print("No tools.")
        for s in schemas:
            fn = s["function"]
            params = ", ".join(fn.get("parameters", {}).get("properties", {}))
            self.print(f"[cyan]{fn['name']}[/]({params}) [dim]{_esc(fn.get('description', ''))}[/]")

    async def context(self, arg: str) -> None:
        report = self.ui.bot.last_report
        if report is None:
            self.print("No request sent yet.")
            return
        if arg == "full":
            body: dict[str, Any] = {"model": self.ui.bot.model, "messages": report.messages, "stream": True}
            if report.tools:
                body["tools"] = report.tools
            self.console.print_json(json.dumps(body, ensure_ascii=False))
            return
        if arg:
            self.usage("/context")
            return
        from assistant.cli.context_view import context_table

        self.print(context_table(report, self.ui.sent_before))

    async def trace(self, arg: str) -> None:
        words = arg.split()
        if not words or words[0] not in ("on", "off"):
            state = f"on → {self.ui.tracer.path}" if self.ui.tracer else "off"
            self.print(f"Trace is {state}. Usage: /trace on [FILE] | off")
            return
        if words[0] == "off":
            self.ui.set_trace(None)
            self.print("[dim]Trace off.[/]")
            return
        path = Path(words[1]) if len(words) > 1 else Path("assistant-trace.jsonl")
        from assistant.errors import AssistantError

        try:
            self.ui.set_trace(path)
        except AssistantError as exc:
            self.print(f"[red]{_esc(exc.user_line())}[/] The chat goes on without a trace.")
            return
        self.print(f"[dim]Tracing to {path} (view it with: assistant trace show {path}).[/]")

    async def tokens(self, arg: str) -> None:
        probs = self.ui.renderer.probs
        if not probs:
            ep = self.ui.bot.endpoint
            why = "logprobs are off for this endpoint"
            if self.ui.asked_logprobs:
                why = "this endpoint sent no logprobs"
                if ep is not None and not ep.logprobs_with_tools:
                    why = ("the server gives no logprobs for requests that offer tools (llama-server: "
                           "'not supported with tools + stream'); answers made without tools have them")  # fmt: skip
            self.print(f"[yellow]No token probabilities for the last answer: {why}.[/]")
            return
        if arg:
            if not arg.isdigit() or not 1 <= int(arg) <= len(probs):
                self.print(f"[yellow]Usage: /tokens N, with N from 1 to {len(probs)}.[/]")
                return
            self.print(alternatives(probs, int(arg)))
            return
        self.print(colour_tokens(probs))
        self.print("[dim]green ≥ 90% · yellow ≥ 50% · orange ≥ 20% · red < 20%. /tokens N shows what the model "
                   "weighed at token N.[/]")  # fmt: skip

    async def retry(self, arg: str) -> str | None:
        text = self.ui.bot.forget_last_turn()
        if text is None:
            self.print("[yellow]Nothing to retry.[/]")
            return None
        return "retry:" + text

    async def copy(self, arg: str) -> None:
        text = self.ui.renderer.answer or self.ui.last_answer
        if arg == "code":
            blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
            if not blocks:
                self.print("[yellow]The last answer has no code block.[/]")
                return
            text = blocks[-1]
        elif arg:
            self.usage("/copy")
            return
        if not text:
            self.print("[yellow]No answer to copy yet.[/]")
            return
        # OSC 52: the terminal puts it on the clipboard (works over ssh too, where the terminal allows it)
        sys.stdout.write("\033]52;c;" + base64.b64encode(text.encode()).decode() + "\a")
        sys.stdout.flush()
        self.print(f"[dim]Copied {len(text):,} characters (via the terminal's clipboard, OSC 52).[/]")

    async def sources(self, arg: str) -> None:
        found = getattr(self.ui.bot, "last_sources", None)
        if not found:
            self.print("No passages were retrieved for the last turn.")
            return
        for i, s in enumerate(found, 1):
            where = f"{s.get('path')}:{s.get('start_line')}-{s.get('end_line')}" if isinstance(s, dict) else str(s)
            dist = s.get("distance") if isinstance(s, dict) else None
            self.print(f"{i}. {_esc(where)}" + (f" [dim](distance {dist:.3f})[/]" if dist is not None else ""))

    async def rag(self, arg: str) -> None:
        bot = self.ui.bot
        if not hasattr(bot, "retrieval_enabled"):
            self.print("[yellow]Retrieval is not available in this build.[/]")
            return
        if arg not in ("on", "off"):
            self.print(f"Retrieval is {'on' if bot.retrieval_enabled else 'off'}. Usage: /rag on|off")
            return
        bot.retrieval_enabled = arg == "on"
        self.print(f"[dim]Retrieval {arg}.[/]")

    async def exit(self, arg: str) -> str:
        return "exit"

    # -- MCP prompts and resources, attachments (to move into the shared command registry) ----------
    def _server_features(self, hub: Any) -> None:
        if any(s.prompts or s.resources for s in hub.servers.values()):
            self.print("[dim]/server:prompt ARGS sends a server's prompt (/help shows the arguments); "
                       "@server:uri in a message attaches a resource.[/]")  # fmt: skip
        for name, text in hub.instructions():
            flat = " ".join(text.split())
            shown = flat if len(flat) <= 300 else flat[:299] + "…"
            self.print(f"instructions from {_esc(name)} (in the system prompt): {_esc(shown)}")

    async def server_prompt(self, name: str, arg: str) -> str | None:
        """``/server:prompt args``: the server fills in its prompt, which is sent as your message."""
        from assistant.errors import AssistantError
        from assistant.mcp_features import prompt_commands, run_prompt

        hub = getattr(self.ui.bot, "hub", None)
        cmd = prompt_commands(hub).get(name.lower())
        if cmd is None or hub is None:
            self.print(f"[yellow]No server prompt {_esc(name)}. /help lists them.[/]")
            return None
        try:
            text = await run_prompt(hub, cmd, arg)
        except ValueError as exc:
            self.print(f"[yellow]{_esc(str(exc))}[/]")
            return None
        except AssistantError as exc:
            self.print(f"[red]{_esc(exc.user_line())}[/]")
            return None
        if not text.strip():
            self.print(f"[yellow]{_esc(cmd.command)} gave an empty prompt; nothing was sent.[/]")
            return None
        self.print(f"[dim]{_esc(cmd.command)}: sending the server's prompt ({len(text):,} characters).[/]")
        return "retry:" + text

    async def attach(self, arg: str) -> None:
        from assistant.attachments import AttachmentError, check_images, load_file

        pending: list[Any] = self.ui.pending_attachments
        if not arg or arg == "clear":
            if arg == "clear":
                pending.clear()
            names = ", ".join(_esc(a.name) for a in pending) or "nothing"
            self.print(f"Attached to your next message: {names}. Usage: {COMMANDS['/attach']}")
            return
        try:
            attachment = load_file(arg)
            caps = self.ui.bot.profile.capabilities if self.ui.bot.profile is not None else None
            check_images([attachment], caps.vision if caps is not None else None, self.ui.bot.model)
        except AttachmentError as exc:
            self.print(f"[red]{_esc(exc.user_line())}[/]")
            return
        pending.append(attachment)
        image = attachment.kind == "image"
        size = f"{len(attachment.data):,} bytes" if image else f"{len(attachment.text):,} characters"
        self.print(f"[dim]Attached {_esc(attachment.name)} ({attachment.kind}, {size}) to your next message.[/]")


def _esc(text: str) -> str:
    from rich.markup import escape

    from assistant.termsafe import visible

    return escape(visible(text))


def _colour(p: float) -> str:
    return "green" if p >= 0.9 else "yellow" if p >= 0.5 else "dark_orange" if p >= 0.2 else "red"


def colour_tokens(probs: list[Any]) -> Any:
    from rich.text import Text

    from assistant.termsafe import visible

    out = Text()
    for entry in probs:
        out.append(visible(entry.token), style=_colour(math.exp(entry.logprob)))
    return out


def alternatives(probs: list[Any], n: int) -> Any:
    from rich.table import Table

    entry = probs[n - 1]
    before = "".join(e.token for e in probs[max(0, n - 11) : n - 1])
    table = Table(title=f"token {n}: after …{before!r}", show_edge=False)
    table.add_column("candidate")
    table.add_column("probability", justify="right")
    shown = list(entry.top) or [(entry.token, entry.logprob)]
    for token, logprob in shown:
        mark = " ← chosen" if token == entry.token else ""
        table.add_row(repr(token) + mark, f"{100 * math.exp(logprob):.1f}%")
    return table
