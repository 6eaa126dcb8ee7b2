"""A small MCP server that misbehaves on purpose, for the hub's fault tests (run by path).

    python tests/mcp_servers/misbehaving.py [--name NAME] [--start ok|exit|hang] [--stderr-flood BYTES]
        [--marker DIR] [--start-delay SECONDS] [--transport stdio|streamable-http --port N]

Tools: echo, add (read-only), crash (the process exits mid-call), hang (never answers),
hang_hard (blocks a thread forever), fail (an error result), flood (a huge result), progress
(progress notifications; records a cancellation), rich (image, resource, link), structured
(structured content), spawn_child (leaves a grandchild behind), read_file (collides with `files`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2040).decode()


def build(name: str, marker: Path | None) -> MCPServer:
    server = MCPServer(name, log_level="ERROR")
    ro = ToolAnnotations(read_only_hint=True)

    def mark(what: str) -> None:
        if marker is not None:
            (marker / what).write_text(str(os.getpid()))

    @server.tool(annotations=ro)
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool(annotations=ro)
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def crash() -> str:
        """Exit the whole server process in the middle of the call."""
        sys.stderr.write("misbehaving: crashing on purpose now\n")
        sys.stderr.flush()
        os._exit(7)

    @server.tool(annotations=ro)
    async def hang() -> str:
        """Never answer."""
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            mark("hang-cancelled")
            raise
        return "late"

    @server.tool(annotations=ro)
    def hang_hard() -> str:
        """Block a worker thread forever (ignores cancellation)."""
        time.sleep(3600)
        return "late"

    @server.tool(annotations=ro)
    def fail(reason: str = "it went wrong") -> str:
        """Always return an error result."""
        raise ToolError(f"failed on purpose: {reason}")

    @server.tool(annotations=ro)
    def flood(size: int) -> str:
        """Return `size` characters of text."""
        return ("0123456789abcdef" * (size // 16 + 1))[:size]

    @server.tool(annotations=ro)
    async def progress(steps: int, ctx: Context, delay: float = 0.05) -> str:
        """Report progress `steps` times, then answer."""
        try:
            for i in range(steps):
                await ctx.report_progress(i + 1, steps, f"step {i + 1}")
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            mark("progress-cancelled")
            raise
        return f"done after {steps} steps"

    @server.tool(annotations=ro)
    def rich() -> CallToolResult:
        """Text, an image, an embedded resource and a resource link."""
        return CallToolResult(content=[
            TextContent(type="text", text="here is a chart"),
            ImageContent(type="image", data=PNG, mime_type="image/png"),
            EmbeddedResource(type="resource", resource=TextResourceContents(
                uri="file:///notes/todo.md", mime_type="text/markdown", text="- write tests")),
            ResourceLink(type="resource_link", uri="file:///data/big.csv", name="big.csv", mime_type="text/csv",
                         description="the raw data"),
        ])  # fmt: skip

    @server.tool(annotations=ro)
    def structured(city: str) -> dict[str, object]:
        """Weather as structured content."""
        return {"city": city, "temp_c": 17, "sky": "light rain"}

    @server.tool()
    def spawn_child() -> str:
        """Start a long-running grandchild process and return its pid."""
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        return str(child.pid)

    @server.tool(annotations=ro)
    def read_file(path: str) -> str:
        """A tool whose name collides with the files server's."""
        return f"misbehaving read_file({path})"

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="misbehaving")
    parser.add_argument("--start", choices=["ok", "exit", "hang"], default="ok")
    parser.add_argument("--stderr-flood", type=int, default=0)
    parser.add_argument("--start-delay", type=float, default=0.0, help="seconds to wait before serving")
    parser.add_argument("--marker", type=Path, default=None)
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.stderr_flood:
        chunk = "noise " * 1000 + "\n"
        for _ in range(args.stderr_flood // len(chunk) + 1):
            sys.stderr.write(chunk)
        sys.stderr.flush()
    time.sleep(args.start_delay)
    if args.start == "exit":
        sys.stderr.write("misbehaving: cannot start: missing API key\n")
        sys.exit(3)
    if args.start == "hang":
        time.sleep(3600)  # never reads stdin, never answers initialize
    server = build(args.name, args.marker)
    if args.transport == "stdio":
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
