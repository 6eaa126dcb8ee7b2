"""MCP beyond tools: server prompts, resources, instructions and tool-list changes.

- **Prompts** (``prompts/list``, ``prompts/get``) become chat commands ``/server:prompt args…``;
  the filled-in prompt is sent as the user's turn. Arguments are ``key=value`` or positional in
  the prompt's own order; a missing required one is refused with the prompt's usage.
- **Resources** (``resources/list``, ``resources/read``) are attached to a turn by writing
  ``@server:uri`` in the message; their text goes into that turn's requests as an attachment
  (assistant/attachments.py), with its own line in ``/context``.
- **Instructions** from ``initialize`` go into the system prompt, one block per server, marked as
  the server's (``ToolHub.instructions()``; the built-ins' are left out). They are the server's
  text, not ours: control characters are made visible before they reach the model or a terminal,
  and a project's servers only start (so only have a say) once the user trusts the folder.
- **Tool-list changes**: a ``notifications/tools/list_changed`` notification (handshake-era
  sessions), or the ``ToolsListChanged`` event of a ``subscriptions/listen`` stream (2026-07-28
  sessions, opened when the server says its tool list can change), lists the server's tools again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.errors import ToolError
from assistant.termsafe import visible

if TYPE_CHECKING:
    from assistant.toolhub import McpServer, ToolHub

MAX_LISTED = 1000  # prompts or resources kept per server


async def _pages(fetch: Callable[[str | None], Awaitable[Any]], attr: str) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(50):
        page = await fetch(cursor)
        items.extend(getattr(page, attr))
        cursor = page.next_cursor
        if not cursor or len(items) >= MAX_LISTED:
            break
    return items[:MAX_LISTED]


async def list_features(client: Any) -> tuple[list[Any], list[Any]]:
    """(prompts, resources) a server offers; a server that fails to list them offers none."""
    caps = client.server_capabilities
    prompts: list[Any] = []
    resources: list[Any] = []
    if caps.prompts is not None:
        with contextlib.suppress(Exception):
            prompts = await _pages(lambda c: client.list_prompts(cursor=c), "prompts")
    if caps.resources is not None:
        with contextlib.suppress(Exception):
            resources = await _pages(lambda c: client.list_resources(cursor=c), "resources")
    return prompts, resources


def notification_handler(server: McpServer) -> Any:
    """The client's message handler: a tool-list change lists the server's tools again."""

    async def handle(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            server.tools_changed()
        await asyncio.sleep(0)

    return handle


def listen_for_changes(client: Any, server: McpServer) -> asyncio.Task[None] | None:
    """On a 2026-07-28 session whose server announces tool-list changes: a task listening for them."""
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    tools_cap = client.server_capabilities.tools
    if tools_cap is None or not tools_cap.list_changed or client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return None

    async def listen() -> None:
        with contextlib.suppress(Exception):  # a server without listen support keeps its first list
            async with client.listen(tools_list_changed=True) as events:
                async for event in events:
                    if type(event).__name__ == "ToolsListChanged":
                        server.tools_changed()

    return asyncio.create_task(listen(), name=f"mcp-listen:{server.name}")


# -- prompts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptCommand:
    server: str
    prompt: Any  # mcp_types.Prompt

    @property
    def command(self) -> str:
        return f"/{self.server}:{self.prompt.name}"

    def usage(self) -> str:
        args = []
        for arg in self.prompt.arguments or []:
            args.append(f"{arg.name}=…" if arg.required else f"[{arg.name}=…]")
        return " ".join([self.command, *args])

    def description(self) -> str:
        return visible(" ".join(str(self.prompt.description or self.prompt.title or "").split()), one_line=True)


def prompt_commands(hub: ToolHub | None) -> dict[str, PromptCommand]:
    """``/server:prompt`` → the prompt, for every connected server's prompts."""
    out: dict[str, PromptCommand] = {}
    if hub is None:
        return out
    for server in hub.servers.values():
        if server.state != "connected":
            continue
        for prompt in server.prompts:
            cmd = PromptCommand(server.name, prompt)
            out[cmd.command.lower()] = cmd
    return out


def parse_prompt_arguments(cmd: PromptCommand, text: str) -> dict[str, str]:
    """``key=value`` words, or values in the prompt's argument order; ValueError with the usage."""
    declared = [a.name for a in cmd.prompt.arguments or []]
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"{exc}. Usage: {cmd.usage()}") from None
    values: dict[str, str] = {}
    positional = iter(declared)
    for word in words:
        key, eq, value = word.partition("=")
        if eq and key in declared:
            values[key] = value
            continue
        name = next((n for n in positional if n not in values), None)
        if name is None:
            raise ValueError(f"too many arguments. Usage: {cmd.usage()}")
        values[name] = word
    missing = [a.name for a in cmd.prompt.arguments or [] if a.required and a.name not in values]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}. Usage: {cmd.usage()}")
    return values


def prompt_text(result: Any) -> str:
    """A GetPromptResult as the text of one user turn (several messages: each with its role)."""
    from assistant.mcp_results import block_text

    messages = list(result.messages or [])
    parts = [(m.role, block_text(m.content)) for m in messages]
    if all(role == "user" for role, _ in parts):
        return "\n\n".join(text for _, text in parts)
    return "\n\n".join(f"[{role}]\n{text}" for role, text in parts)


async def run_prompt(hub: ToolHub, cmd: PromptCommand, text: str) -> str:
    """The filled-in prompt's text; ValueError (bad arguments) or ToolError (the server refused)."""
    arguments = parse_prompt_arguments(cmd, text)
    client = await hub.servers[cmd.server].ready_client()
    try:
        async with asyncio.timeout(hub.servers[cmd.server].config.timeout):
            result = await client.get_prompt(cmd.prompt.name, arguments)
    except TimeoutError:
        raise ToolError(f"the MCP server '{cmd.server}' did not send the prompt in time.") from None
    except Exception as exc:  # MCPError and transport errors: the server's reason, one line
        raise ToolError(f"the MCP server '{cmd.server}' refused the prompt '{cmd.prompt.name}': {_line(exc)}") from None
    return prompt_text(result)


# -- resources -------------------------------------------------------------------------------------

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.-]+):(\S+)")


def resource_mentions(text: str, hub: ToolHub | None) -> list[tuple[str, str]]:
    """(server, uri) of every ``@server:uri`` in ``text`` naming a connected server that lists resources."""
    if hub is None:
        return []
    found = []
    for match in MENTION.finditer(text):
        server = hub.servers.get(match.group(1))
        if server is not None and server.resources:
            uri = match.group(2).rstrip(".,;:!?)\"'")
            if (server.name, uri) not in found:
                found.append((server.name, uri))
    return found


def resource_names(hub: ToolHub | None) -> list[str]:
    """``@server:uri`` of every listed resource (for completion and /tools)."""
    if hub is None:
        return []
    return [f"@{s.name}:{r.uri}" for s in hub.servers.values() if s.state == "connected" for r in s.resources]


async def read_resource_text(hub: ToolHub, server: str, uri: str) -> tuple[str, str]:
    """(mime type, text) of a resource; binary parts are described, not included. ToolError if refused."""
    from assistant.mcp_results import b64_size

    srv = hub.servers[server]
    client = await srv.ready_client()
    try:
        async with asyncio.timeout(srv.config.timeout):
            result = await client.read_resource(uri)
    except TimeoutError:
        raise ToolError(f"the MCP server '{server}' did not send {uri} in time.") from None
    except Exception as exc:
        raise ToolError(f"the MCP server '{server}' refused @{server}:{uri}: {_line(exc)}") from None
    parts, mime = [], ""
    for item in result.contents:
        mime = mime or (item.mime_type or "")
        text = getattr(item, "text", None)
        parts.append(text if text is not None else f"[binary, {b64_size(getattr(item, 'blob', ''))}; not included]")
    return mime, "\n".join(parts)


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return visible(text[:300], one_line=True)


def instructions_block(items: list[tuple[str, str]]) -> str:
    """Servers' instructions for the system prompt, each marked as that server's."""
    blocks = [f'Instructions from the MCP server "{name}" (its own text, about its tools):\n{visible(text)}'
              for name, text in items]  # fmt: skip
    return "\n\n".join(blocks)
