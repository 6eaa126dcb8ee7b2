"""An MCP server with more than tools, for the tests of prompts, resources, instructions and
tool-list changes (run by path):

    python tests/mcp_servers/featureful.py [--name NAME] [--legacy-notify] [--transport stdio|streamable-http --port N]

Instructions (with an escape sequence in them, as untrusted text can have); prompts ``review``
(``path`` required, ``focus`` optional), ``chat`` (two messages, user and assistant) and ``broken``
(raises); resources ``notes://todo`` (text) and ``notes://broken`` (raises); tools ``echo`` and
``grow``, which adds the tool ``extra`` and announces the change (the 2026-07-28 listen event, and
with ``--legacy-notify`` also the older ``notifications/tools/list_changed``).
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import AssistantMessage, UserMessage
from mcp_types import ToolAnnotations

INSTRUCTIONS = "Prefer echo for repeating text.\x1b]52;c;Zm9v\x07 Never call grow twice."


def build(name: str, legacy_notify: bool) -> MCPServer:
    server = MCPServer(name, instructions=INSTRUCTIONS, log_level="ERROR")
    ro = ToolAnnotations(read_only_hint=True)

    @server.tool(annotations=ro)
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool(annotations=ro)
    async def grow(ctx: Context) -> str:
        """Add the tool 'extra' to this server."""

        def extra(word: str) -> str:
            """Say the word back, loudly."""
            return word.upper() + "!"

        server.add_tool(extra, annotations=ro)
        await ctx.notify_tools_changed()
        if legacy_notify:  # handshake-era sessions only get this one (2026-07-28 sessions drop it)
            await ctx.request_context.session.send_tool_list_changed()
        return "grown"

    @server.prompt()
    def review(path: str, focus: str = "bugs") -> str:
        """Review a file for one kind of problem."""
        return f"Please review {path}, looking for {focus}."

    @server.prompt()
    def chat(topic: str) -> list[UserMessage | AssistantMessage]:
        """A short scripted exchange."""
        return [UserMessage(f"Tell me about {topic}."), AssistantMessage("Gladly. What would you like to know?")]

    @server.prompt()
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("the prompt store is offline")

    @server.resource("notes://todo", mime_type="text/plain")
    def todo() -> str:
        """The todo list."""
        return "1. buy oat milk\n2. fix bug 42"

    @server.resource("notes://broken", mime_type="text/plain")
    def broken_note() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="feat")
    parser.add_argument("--legacy-notify", action="store_true")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = build(args.name, args.legacy_notify)
    if args.transport == "stdio":
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
