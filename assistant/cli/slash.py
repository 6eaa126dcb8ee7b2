"""The chat's built-in slash commands (registered in assistant/cli/commands.py's registry)."""

from __future__ import annotations

import base64
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from assistant.cli.commands import EXIT, ChatSession, Command, CommandRegistry, Outcome, Turn, esc

KEYS_HELP = ("Enter sends; Alt-Enter (or Esc then Enter) adds a line; Ctrl-R searches past input; "
             "Ctrl-C stops an answer; Ctrl-D leaves.")  # fmt: skip


async def help_(s: ChatSession, arg: str) -> None:
    width = max(len(c.name) for c in s.commands.listed()) + 1
    for c in s.commands.listed():
        s.print(f"[bold]{esc(c.name):{width}}[/] {esc(c.help)}")
    s.print(f"[dim]{KEYS_HELP}[/]")


async def new(s: ChatSession, arg: str) -> None:
    s.bot.new_conversation()
    s.print("[dim]New conversation.[/]")


async def history(s: ChatSession, arg: str) -> None:
    store = s.bot.conversation.store
    if store is None:
        s.print("[yellow]This chat keeps no history.[/]")
        return
    if arg:
        from assistant.errors import AssistantError

        try:
            s.bot.switch_conversation(arg)
        except AssistantError as exc:
            s.print(f"[red]{esc(exc.user_line())}[/]")
            return
        conv = s.bot.conversation
        s.print(f"[dim]Switched to conversation {conv.id} ({len(conv.messages)} messages).[/]")
        return
    current = s.bot.conversation.id
    for info in store.conversations(15):
        mark = "*" if info.id == current else " "
        s.print(f"{mark} [bold]{info.id}[/] {info.messages:>4} msgs  {esc(info.title or '(untitled)')}")
    s.print("[dim]/history ID switches (a unique prefix is enough).[/]")


def _conversation_ids(s: ChatSession, arg: str) -> list[str]:
    store = s.bot.conversation.store
    return [] if store is None else [info.id for info in store.conversations(15)]


async def model(s: ChatSession, arg: str) -> None:
    bot = s.bot
    if not arg:
        local = bot.local_server
        where = "" if local is None else (" (local, ours)" if local.owned else " (local, shared)")
        from assistant.paths import redact_url

        s.print(f"model [bold]{esc(bot.model)}[/] at {esc(redact_url(bot.base_url))}{where}")
        profile = getattr(bot, "profile", None)
        if profile is not None:
            s.print(esc("\n".join("  " + line for line in profile.lines()[2:])))
        return
    from assistant.errors import AssistantError

    try:
        await bot.switch_model(arg)
    except AssistantError as exc:
        s.print(f"[red]{esc(exc.user_line())}[/]")
        return
    s.print(f"[dim]Now using {esc(bot.model)}.[/]")


async def tools(s: ChatSession, arg: str) -> None:
    hub = getattr(s.bot, "hub", None)
    if hub is not None:  # MCP servers: state and approval policy of each tool
        from assistant.cli.tools import describe_hub

        s.print(esc("\n".join(describe_hub(hub))))
        from assistant.cli.mcp_commands import server_notes

        server_notes(s)
    schemas = s.bot.tools.schemas()
    from assistant.steps import GrammarSteps

    steps = getattr(getattr(s.bot, "agent", None), "steps", None)
    if schemas and isinstance(steps, GrammarSteps):
        from assistant.grammar import Unsupported

        try:
            left = steps.grammar(schemas).unsupported
        except Unsupported as exc:
            left = {"all tools": str(exc)}
        for name, why in left.items():
            s.print(esc(f"{name}: not expressible as a grammar ({why}); recognised from text instead"))
    if not schemas:
        s.print("No tools.")
    for schema in schemas:
        fn = schema["function"]
        params = ", ".join(fn.get("parameters", {}).get("properties", {}))
        s.print(f"[cyan]{esc(fn['name'])}[/]({esc(params)}) [dim]{esc(fn.get('description', ''))}[/]")


async def context(s: ChatSession, arg: str) -> None:
    report = s.bot.last_report
    if report is None:
        s.print("No request sent yet.")
        return
    if arg == "full":
        body: dict[str, Any] = {"model": s.bot.model, "messages": report.messages, "stream": True}
        if report.tools:
            body["tools"] = report.tools
        s.console.print_json(json.dumps(body, ensure_ascii=False))
        return
    if arg:
        s.usage("/context")
        return
    from assistant.cli.context_view import context_report

    s.print(context_report(report, s.ledger))


async def trace(s: ChatSession, arg: str) -> None:
    words = arg.split()
    if not words or words[0] not in ("on", "off"):
        state = f"on → {esc(str(s.tracer.path))}" if s.tracer else "off"
        s.print(f"Trace is {state}. Usage: /trace on \\[FILE] | off")
        return
    if words[0] == "off":
        s.set_trace(None)
        s.print("[dim]Trace off.[/]")
        return
    path = Path(words[1]) if len(words) > 1 else Path("assistant-trace.jsonl")
    from assistant.errors import AssistantError

    try:
        s.set_trace(path)
    except AssistantError as exc:
        s.print(f"[red]{esc(exc.user_line())}[/] The chat goes on without a trace.")
        return
    s.print(f"[dim]Tracing to {esc(str(path))} (view it with: assistant trace show {esc(str(path))}).[/]")


async def tokens(s: ChatSession, arg: str) -> None:
    probs = s.renderer.probs
    if not probs:
        ep = s.bot.endpoint
        why = "logprobs are off for this endpoint"
        if s.asked_logprobs:
            why = "this endpoint sent no logprobs"
            if ep is not None and not ep.logprobs_with_tools:
                why = ("the server gives no logprobs for requests that offer tools (llama-server: "
                       "'not supported with tools + stream'); answers made without tools have them")  # fmt: skip
        s.print(f"[yellow]No token probabilities for the last answer: {why}.[/]")
        return
    if arg:
        if not arg.isdigit() or not 1 <= int(arg) <= len(probs):
            s.print(f"[yellow]Usage: /tokens N, with N from 1 to {len(probs)}.[/]")
            return
        s.print(alternatives(probs, int(arg)))
        return
    s.print(colour_tokens(probs))
    s.print("[dim]green ≥ 90% · yellow ≥ 50% · orange ≥ 20% · red < 20%. /tokens N shows what the model "
            "weighed at token N.[/]")  # fmt: skip


async def retry(s: ChatSession, arg: str) -> Outcome:
    text = s.bot.forget_last_turn()
    if text is None:
        s.print("[yellow]Nothing to retry.[/]")
        return None
    return Turn(text)


async def copy(s: ChatSession, arg: str) -> None:
    text = s.renderer.answer or s.last_answer
    if arg == "code":
        blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
        if not blocks:
            s.print("[yellow]The last answer has no code block.[/]")
            return
        text = blocks[-1]
    elif arg:
        s.usage("/copy")
        return
    if not text:
        s.print("[yellow]No answer to copy yet.[/]")
        return
    # OSC 52: the terminal puts it on the clipboard (works over ssh too, where the terminal allows it)
    sys.stdout.write("\033]52;c;" + base64.b64encode(text.encode()).decode() + "\a")
    sys.stdout.flush()
    s.print(f"[dim]Copied {len(text):,} characters (via the terminal's clipboard, OSC 52).[/]")


async def sources(s: ChatSession, arg: str) -> None:
    found = getattr(s.bot, "last_sources", None)
    if not found:
        s.print("No passages were retrieved for the last turn.")
        return
    for i, p in enumerate(found, 1):
        where = f"{p.get('path')}:{p.get('start_line')}-{p.get('end_line')}" if isinstance(p, dict) else str(p)
        dist = p.get("distance") if isinstance(p, dict) else getattr(p, "distance", None)
        if not isinstance(p, dict) and hasattr(p, "location"):
            where = p.location()
        s.print(f"{i}. {esc(where)}" + (f" [dim](distance {dist:.3f})[/]" if dist is not None else ""))


async def rag(s: ChatSession, arg: str) -> None:
    bot = s.bot
    if not hasattr(bot, "retrieval_enabled"):
        s.print("[yellow]Retrieval is not available in this build.[/]")
        return
    if arg not in ("on", "off"):
        s.print(f"Retrieval is {'on' if bot.retrieval_enabled else 'off'}. Usage: /rag on|off")
        return
    bot.retrieval_enabled = arg == "on"
    s.print(f"[dim]Retrieval {arg}.[/]")


async def compact(s: ChatSession, arg: str) -> None:
    """/compact [focus] | --show [focus] | --undo"""
    from assistant.compaction import NothingToCompact, describe
    from assistant.errors import AssistantError

    first, _, rest = arg.partition(" ")
    show = first == "--show"
    if first == "--undo":
        if s.bot.uncompact():
            s.print(
                "[dim]Summary dropped: requests carry the earlier turns again (the oldest dropped to fit); "
                "automatic compaction is off for this chat (/compact still works).[/]"
            )
        else:
            s.print("[yellow]No summary in use.[/]")
        return
    focus = (rest if show else arg).strip() or None
    if focus is not None and focus.startswith("--"):
        s.usage("/compact")
        return
    s.print("[dim]Summarising the earlier turns…[/]")
    try:
        summary = await s.bot.compact(focus)
    except NothingToCompact as exc:
        current = s.bot.summary
        if not (show and current is not None):
            s.print(f"[yellow]{esc(exc.user_line())}[/]")
            return
        summary = current
    except AssistantError as exc:
        s.print(f"[red]Compaction failed: {esc(exc.user_line())}[/] Nothing was changed.")
        return
    else:
        s.print(f"[dim]{esc(describe(summary))}[/]")
    if show:
        from rich.panel import Panel

        title = f"summary of {summary.turns} turn(s), {summary.tokens:,} tokens — used from the next request on"
        s.print(Panel(esc(summary.text), title=esc(title), title_align="left"))


async def init(s: ChatSession, arg: str) -> Outcome:
    """/init: a real agent turn that reads the project and writes AGENTS.md through the files tools."""
    if arg:
        s.usage("/init")
        return None
    prompt = _init_prompt(s)
    return None if prompt is None else Turn(prompt)


def _init_prompt(s: ChatSession) -> str | None:
    from assistant.toolprompt import prompt_file, workspace_overview

    agent = getattr(s.bot, "agent", None)
    workspace = Path(getattr(agent, "workspace", None) or Path.cwd()).resolve()
    target = workspace / "AGENTS.md"
    if target.exists():
        s.print(f"[yellow]{esc(str(target))} already exists: edit it, or remove it to draft a new one.[/]")
        return None
    if "write_file" not in s.bot.tools.names():
        s.print("[yellow]/init needs the files tools (read_file, write_file); this chat has none.[/]")
        return None
    s.print("[dim]/init: the model reads the project and drafts AGENTS.md; writing it asks you first. It goes into "
            "the system prompt from the next start (trusted as any project file).[/]")  # fmt: skip
    overview = workspace_overview(workspace) or "(no files found)"
    prompt = prompt_file("init.md").replace("{overview}", overview)
    return prompt.replace("{key_files}", _key_files(workspace))


KEY_FILES = ("README.md", "README.rst", "README", "pyproject.toml", "package.json", "Cargo.toml", "go.mod",
             "setup.py", "Makefile", "CONTRIBUTING.md")  # fmt: skip


def _key_files(workspace: Path, limit: int = 3, chars: int = 2000) -> str:
    """The few files that say most about a project, read for the model up front: small models get one tool
    round for text tool calls, which /init needs for the write."""
    from assistant.termsafe import visible

    shown: list[str] = []
    for name in KEY_FILES:
        path = workspace / name
        if len(shown) == limit or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        cut = text[:chars] + (f"\n[… {len(text) - chars:,} more characters]" if len(text) > chars else "")
        shown.append(f"--- {name}\n{visible(cut).rstrip()}")
    return "\n\n".join(shown) if shown else ""


async def exit_(s: ChatSession, arg: str) -> Outcome:
    return EXIT


def _words(*options: str) -> Any:
    return lambda s, arg: options


def builtin_commands() -> CommandRegistry:
    """A registry with the built-in commands (callers add their own with ``registry.add``)."""
    registry = CommandRegistry()
    for command in (
        Command("/help", "this list", help_),
        Command("/new", "start a new conversation (the old one stays in the history)", new),
        Command("/history", "list conversations; /history ID switches to one", history,
                complete=_conversation_ids),
        Command("/model", "show model and endpoint; /model NAME switches model at this endpoint", model),
        Command("/tools", "what the model can call right now", tools),
        Command("/context", "what the last request carried, per source; /context full prints the JSON body",
                context, complete=_words("full")),
        Command("/trace", "/trace on [FILE] | off: write the wire trace (JSONL)", trace,
                complete=_words("on", "off")),
        Command("/tokens", "the last answer token by token, coloured by probability; /tokens N: alternatives "
                "at token N", tokens),
        Command("/retry", "ask the last question again (the last answer is discarded)", retry),
        Command("/copy", "copy the last answer (or /copy code: its last code block) to the clipboard", copy,
                complete=_words("code")),
        Command("/sources", "passages retrieved for the last turn", sources),
        Command("/rag", "/rag on|off: retrieval for this chat", rag, complete=_words("on", "off")),
        Command("/compact", "summarise earlier turns to free the window: /compact [FOCUS] | --show [FOCUS] | "
                "--undo", compact, complete=_words("--show", "--undo")),
        Command("/init", "draft AGENTS.md (project instructions) with the model, from the files here", init),
        Command("/exit", "leave (also Ctrl-D)", exit_, aliases=("/quit",)),
    ):  # fmt: skip
        registry.add(command)
    return registry


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
