"""Chat commands from what MCP servers offer, and attachments (registered into assistant/cli/commands.py).

- ``/server:prompt ARGS``: one command per prompt of each connected server, kept in step with the
  servers (``sync_server_prompts`` runs before each command and completion: a server that starts in
  the background adds its prompts when it is up). The server fills the prompt in; it is sent as the
  user's turn. Listed by ``/help`` with its arguments.
- ``/attach FILE``: a file for the next message (``ChatSession.pending_attachments``).
- ``@server:uri`` completion anywhere in a message (the resource is attached by ``Assistant.stream``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.cli.commands import Command, Outcome, Turn, esc

if TYPE_CHECKING:
    from assistant.cli.commands import ChatSession
    from assistant.mcp_features import PromptCommand

ATTACH_HELP = "/attach FILE: attach a file (text, or an image for a model that takes images) to your next message; " \
    "/attach lists, /attach clear drops"  # fmt: skip


def add_mcp_commands(session: ChatSession) -> None:
    session.commands.add(Command("/attach", ATTACH_HELP, attach, complete=_attach_words))
    sync_server_prompts(session)


def _hub(session: ChatSession) -> Any:
    return getattr(session.bot, "hub", None)


def sync_server_prompts(session: ChatSession) -> None:
    """The registry's ``/server:prompt`` commands, made to match the servers' prompts now."""
    from assistant.mcp_features import prompt_commands

    wanted = prompt_commands(_hub(session))
    registry = session.commands
    ours: dict[str, str] = session.__dict__.setdefault("_server_prompts", {})  # lower-case name -> as added
    for key in [k for k in ours if k not in wanted]:
        registry.remove(ours.pop(key))
    for key, cmd in wanted.items():
        if key not in ours:
            registry.add(Command(cmd.command, _prompt_help(cmd), _prompt_handler(cmd)))
            ours[key] = cmd.command


def _prompt_help(cmd: PromptCommand) -> str:
    usage = cmd.usage().removeprefix(cmd.command).strip()
    description = cmd.description()
    return f"{usage}: {description}" if usage and description else usage or description or "an MCP server's prompt"


def _prompt_handler(cmd: PromptCommand) -> Any:
    async def run(s: ChatSession, arg: str) -> Outcome:
        from assistant.errors import AssistantError
        from assistant.mcp_features import run_prompt

        hub = _hub(s)
        if hub is None:
            return None
        try:
            text = await run_prompt(hub, cmd, arg)
        except ValueError as exc:
            s.print(f"[yellow]{esc(str(exc))}[/]")
            return None
        except AssistantError as exc:
            s.print(f"[red]{esc(exc.user_line())}[/]")
            return None
        if not text.strip():
            s.print(f"[yellow]{esc(cmd.command)} gave an empty prompt; nothing was sent.[/]")
            return None
        s.print(f"[dim]{esc(cmd.command)}: sending the server's prompt ({len(text):,} characters).[/]")
        return Turn(text)

    return run


async def attach(s: ChatSession, arg: str) -> None:
    from assistant.attachments import AttachmentError, check_images, load_file

    pending = s.pending_attachments
    if not arg or arg == "clear":
        if arg == "clear":
            pending.clear()
        names = ", ".join(esc(a.name) for a in pending) or "nothing"
        s.print(f"Attached to your next message: {names}. Usage: {esc(ATTACH_HELP)}")
        return
    profile = getattr(s.bot, "profile", None)
    try:
        attachment = load_file(arg)
        check_images([attachment], profile.capabilities.vision if profile is not None else None, s.bot.model)
    except AttachmentError as exc:
        s.print(f"[red]{esc(exc.user_line())}[/]")
        return
    pending.append(attachment)
    image = attachment.kind == "image"
    size = f"{len(attachment.data):,} bytes" if image else f"{len(attachment.text):,} characters"
    s.print(f"[dim]Attached {esc(attachment.name)} ({attachment.kind}, {size}) to your next message.[/]")


def _attach_words(s: ChatSession, arg: str) -> list[str]:
    """``clear``, and the files and folders of the current folder matching what is typed."""
    from pathlib import Path

    typed = Path(arg or ".")
    folder = typed if arg.endswith("/") or not arg else typed.parent
    try:
        entries = sorted(folder.iterdir())[:200]
    except OSError:
        entries = []
    prefix = "" if str(folder) == "." and not arg.startswith("./") else str(folder).rstrip("/") + "/"
    names = [prefix + e.name + ("/" if e.is_dir() else "") for e in entries if not e.name.startswith(".")]
    return ["clear", *names]


def resource_completions(session: ChatSession, word: str) -> list[str]:
    """``@server:uri`` candidates for a word starting with ``@``."""
    from assistant.mcp_features import resource_names

    return [n for n in resource_names(_hub(session)) if n.lower().startswith(word.lower())]


def server_notes(session: ChatSession) -> None:
    """For /tools: how to use prompts and resources, and each server's instructions (controls visible)."""
    hub = _hub(session)
    if hub is None:
        return
    if any(s.prompts or s.resources for s in hub.servers.values()):
        session.print("[dim]/server:prompt ARGS sends a server's prompt (/help shows the arguments); "
                      "@server:uri in a message attaches a resource.[/]")  # fmt: skip
    for name, text in hub.instructions():
        flat = " ".join(text.split())
        shown = flat if len(flat) <= 300 else flat[:299] + "…"
        session.print(f"instructions from {esc(name)} (in the system prompt): {esc(shown)}")
