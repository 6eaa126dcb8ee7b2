"""`assistant tools`: the MCP servers the chat connects (list / add / rm), and the chat's `/tools`.

Imports stay inside the commands: `assistant --help` must not load the MCP SDK.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.cli.common import fail, user_errors
from assistant.termsafe import visible

if TYPE_CHECKING:
    from assistant.toolhub import McpServer, ToolHub
    from assistant.tools import ToolRegistry

BUILTIN = ("files", "run")  # the built-in servers the chat and `ask` start

app = typer.Typer(
    help="MCP tool servers: list them (with their state and tools), add or remove one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _policy_label(policy: str) -> str:
    labels = {"allow": "runs freely", "ask": "asks first", "deny": "blocked (not offered to the model)"}
    return labels.get(policy, policy)


def _server_line(server: McpServer) -> str:
    c = server.config
    where = "built-in" if c.builtin else c.source
    transport = "in-process" if server.in_process is not None else c.transport
    state = server.state
    if state == "standby":
        state = "remembered tools offered; connects on its first call"
    elif state in ("starting", "connecting") and server.remembered is not None:
        state = "starting (remembered tools offered meanwhile)"
    if state == "connected" and server.connect_seconds is not None:
        state += f" in {server.connect_seconds:.1f} s"
    if server.error:
        state += f": {server.error}"
    return f"{c.name}  [{transport}, {where}]  {state}"


def describe_hub(hub: ToolHub) -> list[str]:
    lines: list[str] = []
    by_server: dict[str, list[tuple[str, str, str]]] = {}
    for tool in hub.tools.values():
        by_server.setdefault(tool.server_name, []).append((tool.name, tool.remote_name, tool.policy))
    for server in hub.servers.values():
        lines.append(_server_line(server))
        for shown, remote, policy in by_server.get(server.name, []):
            alias = f" (on the server: {remote})" if shown != remote else ""
            lines.append(f"    {shown:<18} {_policy_label(policy)}{alias}")
        if server.instructions and server.config.builtin and server.name == "run":
            lines.append(f"    {server.instructions.strip().splitlines()[0]}")
        if server.prompts:
            lines.append("    prompts: " + ", ".join(f"/{server.name}:{p.name}" for p in server.prompts))
        if server.resources:
            lines.append("    resources: " + ", ".join(f"@{server.name}:{r.uri}" for r in server.resources))
    return lines


def describe_registry(registry: ToolRegistry, hub: ToolHub | None) -> str:
    """For the chat's /tools: each MCP server with state and tools, then the other tools."""
    lines = describe_hub(hub) if hub is not None else []
    mcp_names = set(hub.tools) if hub is not None else set()
    others = [n for n in registry.names() if n not in mcp_names]
    if others:
        lines.append("Python tools: " + ", ".join(others))
    return "\n".join(lines) if lines else "No tools."


def _hub_json(hub: ToolHub) -> list[dict[str, Any]]:
    out = []
    for server in hub.servers.values():
        c = server.config
        tools = [{"name": t.name, "server_name": t.remote_name, "policy": t.policy, "read_only": t.read_only}
                 for t in hub.tools.values() if t.server_name == server.name]  # fmt: skip
        out.append({"name": c.name, "transport": c.transport, "source": c.source, "builtin": c.builtin,
                    "state": server.state, "error": server.error, "connect_seconds": server.connect_seconds,
                    "target": c.describe(), "tools": tools, "prompts": [p.name for p in server.prompts],
                    "resources": [r.uri for r in server.resources]})  # fmt: skip
    return out


@app.command("list")
def list_servers(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON array of servers.")] = False,
) -> None:
    """Connect every configured server (built-ins included) and show its state and tools."""
    with user_errors():
        from assistant.approval import Approver, trusted_project_settings
        from assistant.mcp_config import load_servers, project_config_files, user_config_file
        from assistant.toolhub import ToolHub

        workspace = Path.cwd().resolve()
        trusted, note = asyncio.run(trusted_project_settings(Approver(workspace)))
        if note:
            sys.stderr.write(visible(note) + "\n")
        configs = load_servers(workspace, BUILTIN, trusted=trusted)

        async def go() -> str:
            hub = ToolHub(configs)
            try:
                await hub.start()
                return json.dumps(_hub_json(hub), indent=2) if json_output else "\n".join(describe_hub(hub))
            finally:
                await hub.aclose()

        shown = asyncio.run(go())
    print(shown if json_output else visible(shown))
    if json_output:
        return
    files = [user_config_file(), *project_config_files(workspace)]
    print("\nConfig files: " + ", ".join(f"{p}{'' if p.exists() else ' (none)'}" for p in files))


def _parse_pairs(items: list[str], sep: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, found, value = item.partition(sep)
        if not found or not key.strip():
            raise fail(f"{what} '{item}' should look like KEY{sep}VALUE.", code=2)
        out[key.strip()] = value.strip() if sep == ":" else value
    return out


@app.command("add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def add(
    name: Annotated[str, typer.Argument(help="Name of the server (used in tool names when they collide).")],
    command: Annotated[list[str] | None, typer.Argument(help="Command and its arguments (after --).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Streamable HTTP endpoint instead of a command.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE for the server (repeat).")] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", help="'Name: value' HTTP header.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds per tool call (default 300).")] = None,
    approval: Annotated[str | None, typer.Option("--approval", help="auto, ask, allow or deny.")] = None,
    project: Annotated[bool, typer.Option("--project", help="Write ./.mcp.json instead of your config.")] = False,
) -> None:
    """Add a server:  assistant tools add NAME -- COMMAND ARGS...   or   assistant tools add NAME --url URL"""
    with user_errors():
        from assistant.approval import ApprovalStore
        from assistant.mcp_config import project_settings, save_server, user_config_file

        if bool(command) == bool(url):
            raise fail("give either a command (after --) or --url.", code=2)
        entry: dict[str, Any] = {"url": url} if url else {"command": command[0], "args": command[1:]} if command else {}
        if env:
            entry["env"] = _parse_pairs(env, "=", "--env")
        if header:
            entry["headers"] = _parse_pairs(header, ":", "--header")
        if timeout is not None:
            entry["timeout"] = timeout
        if approval is not None:
            entry["approval"] = approval
        workspace = Path.cwd().resolve()
        path = workspace / ".mcp.json" if project else user_config_file()
        store = ApprovalStore()
        before = project_settings(workspace)
        was_trusted = not before.present or store.folder_trusted(str(workspace), before.fingerprint())
        save_server(path, name, entry)
        if project and was_trusted:  # you wrote it yourself, to settings you had trusted (or none)
            store.trust_folder(str(workspace), project_settings(workspace).fingerprint())
    sys.stderr.write(f"Added '{name}' to {path}. `assistant tools list` connects it and shows its tools.\n")
    if project and not was_trusted:
        sys.stderr.write("This folder's other project settings are not trusted yet: `assistant tools trust` shows "
                         "them all and trusts the folder.\n")  # fmt: skip


@app.command("trust")
def trust(
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint", help="Trust without asking, only if the settings still have this fingerprint (as shown)."
        ),
    ] = None,
    instructions: Annotated[
        bool, typer.Option("--instructions", help="The project's instructions (AGENTS.md ...) instead.")
    ] = False,
) -> None:
    """Show everything this folder's project files would run and allow, and trust them (asked once)."""
    if instructions:
        _trust_instructions(fingerprint)
        return
    with user_errors():
        from assistant.approval import ApprovalStore
        from assistant.mcp_config import project_settings

        workspace = Path.cwd().resolve()
        settings = project_settings(workspace)
        if not settings.present:
            sys.stderr.write(
                f"No project settings in {workspace} (.mcp.json, .assistant/mcp.json): nothing to trust.\n"
            )
            return
        store = ApprovalStore()
        _confirm_trust("\n".join(settings.describe()), settings.fingerprint(), fingerprint, what="the project settings",
                       them="these settings", question="Trust these settings for this folder?",
                       refused="they stay ignored")  # fmt: skip
        store.trust_folder(str(workspace), settings.fingerprint())
    sys.stderr.write(f"Trusted the project settings of {workspace} (until they change).\n")


def _trust_instructions(fingerprint: str | None) -> None:
    from assistant.approval import ApprovalStore
    from assistant.instructions import read_instructions

    workspace = Path.cwd().resolve()
    found = read_instructions(workspace)
    if not found.present:
        sys.stderr.write(f"No project instructions (AGENTS.md, .assistant/instructions.md) for {workspace}.\n")
        return
    _confirm_trust(found.describe(), found.fingerprint(), fingerprint, what="the instructions", them="them",
                   question="Add these instructions to the system prompt in this folder?",
                   refused="they stay out of the system prompt")  # fmt: skip
    ApprovalStore().trust_instructions(str(workspace), found.fingerprint())
    sys.stderr.write(f"Trusted the project instructions of {workspace} (until they change).\n")


def _confirm_trust(shown: str, current: str, given: str | None, *, what: str, them: str, question: str,
                   refused: str) -> None:  # fmt: skip
    """Show what would be trusted and its fingerprint; go on only if ``--fingerprint`` matches it, or the
    user says yes at a terminal (else a one-line refusal: nothing trusted)."""
    from assistant.approval import parse_answer

    print(visible(shown))
    print(f"fingerprint: {current}")
    if given is not None:
        if given != current:
            raise fail(f"{what} changed since that fingerprint was shown; nothing trusted.")
    elif not sys.stdin.isatty():
        raise fail(f"not a terminal: rerun with --fingerprint FINGERPRINT (as shown above) to trust {them}.")
    else:
        sys.stdout.write(f"{question} [y/n]: ")
        sys.stdout.flush()
        if parse_answer(input()) not in ("yes", "always"):
            raise fail(f"not trusted; {refused}.")


@app.command("rm")
def remove(
    name: Annotated[str, typer.Argument(help="Name of the server to remove.")],
    project: Annotated[bool, typer.Option("--project", help="Remove it from the project file(s).")] = False,
) -> None:
    """Remove a server from your config (or, with --project, from the project's files)."""
    with user_errors():
        from assistant.mcp_config import BUILTIN_SERVERS, project_config_files, remove_server, user_config_file

        workspace = Path.cwd().resolve()
        paths = project_config_files(workspace) if project else [user_config_file()]
        removed = [p for p in paths if remove_server(p, name)]
    if removed:
        sys.stderr.write(f"Removed '{name}' from {', '.join(map(str, removed))}.\n")
        return
    if name in BUILTIN_SERVERS:
        raise fail(f"'{name}' is built in. To turn it off, add to {paths[0]}: "
                   f'{{"mcpServers": {{"{name}": {{"disabled": true}}}}}}')  # fmt: skip
    other = "your config" if project else "the project files (use --project)"
    raise fail(f"no server '{name}' in {', '.join(map(str, paths))}; it may be in {other}.")


Yes = Annotated[bool, typer.Option("--yes", "-y", help="Approve every tool call that would ask first (automation).")]


def cli_mcp_options(yes: bool, interactive: bool) -> Any:
    """McpOptions for `chat` and `ask`: the built-in servers on the current folder, asking on the terminal."""
    from assistant.approval import terminal_ask
    from assistant.toolhub import McpOptions, ToolProgress

    def progress(p: ToolProgress) -> None:
        sys.stderr.write(f"  … {visible(p.describe(), one_line=True)}\n")
        sys.stderr.flush()

    return McpOptions(builtin=BUILTIN, yes=yes, ask=terminal_ask() if interactive else None, on_progress=progress)
