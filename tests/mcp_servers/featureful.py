"""An MCP server with more than tools, for the tests of prompts, resources, instructions and
tool-list changes (run by path):

    python tests/mcp_servers/featureful.py [--name NAME] [--legacy-notify] [--handshake-only] [--late-tool]
                                           [--transport stdio|streamable-http --port N]

Instructions (with an escape sequence in them, as untrusted text can have); prompts ``review``
(``path`` required, ``focus`` optional), ``chat`` (two messages, user and assistant) and ``broken``
(raises); resources ``notes://todo`` (text) and ``notes://broken`` (raises); tools ``echo`` and
``grow``, which adds the tool ``extra`` and announces the change (the 2026-07-28 listen event, and
with ``--legacy-notify`` also the older ``notifications/tools/list_changed``). ``--handshake-only``
serves stdio in the handshake era alone (``initialize``, protocol 2025-11-25 and older), as a server
built on an SDK from before 2026-07-28 does: a client's ``server/discover`` probe is refused and the
client falls back to ``initialize``. ``--late-tool`` (with ``--handshake-only``): the first
``tools/list`` after ``grow`` answers with the list as it was, then adds the tool ``late`` and
announces that change before the answer is sent, so the announcement reaches the client while its
relisting is still under way.
"""

from __future__ import annotations

import argparse
from typing import Any

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


def add_late_tool(server: MCPServer) -> None:
    """tools/list: once 'extra' exists, add 'late' after taking the list, and announce it first."""
    from mcp_types import ListToolsResult, PaginatedRequestParams

    async def list_tools(ctx: Any, params: PaginatedRequestParams) -> ListToolsResult:
        tools = await server.list_tools()
        names = {t.name for t in tools}
        if "extra" in names and "late" not in names:

            def late() -> str:
                """Added while the client was listing the tools."""
                return "late"

            server.add_tool(late)
            await ctx.session.send_tool_list_changed()
        return ListToolsResult(tools=tools)

    server._lowlevel_server.add_request_handler("tools/list", PaginatedRequestParams, list_tools)


def run_handshake_only(server: MCPServer) -> None:
    """stdio in the handshake era only: the SDK's handshake-only loop instead of its dual-era one."""
    import anyio
    from mcp.server.runner import serve_loop
    from mcp.server.stdio import stdio_server

    low = server._lowlevel_server

    async def serve() -> None:
        async with stdio_server() as (read, write), low.lifespan(low) as state:
            await serve_loop(low, read, write, lifespan_state=state, init_options=low.create_initialization_options())

    anyio.run(serve)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="feat")
    parser.add_argument("--legacy-notify", action="store_true")
    parser.add_argument("--handshake-only", action="store_true")
    parser.add_argument("--late-tool", action="store_true")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = build(args.name, args.legacy_notify)
    if args.late_tool:
        add_late_tool(server)
    if args.handshake_only:
        run_handshake_only(server)
    elif args.transport == "stdio":
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
