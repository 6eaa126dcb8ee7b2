"""`run`: an MCP server that runs a shell command or a Python snippet in a sandbox.

    python -m assistant.toolservers.run_server --root DIR [--sandbox auto|bwrap|none]
        [--time-limit 30] [--memory-mb 1024] [--output-cap 64000]

What isolation is in force is said at start (stderr), in the server's
instructions, in every tool description and under every result: with
bubblewrap, no network, a read-only filesystem except the workspace, a
private /tmp and its own PID namespace; without it (not installed, or not
working here), a loud warning and only the limits. See ``sandbox.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Annotated, Any

from assistant.toolservers.sandbox import Isolation, Limits, detect_isolation, run_sandboxed
from assistant.toolservers.workspace import OutsideWorkspace, resolve_inside, workspace_root
from pydantic import Field

MAX_TIME_LIMIT = 600.0

# The real interpreter, resolved once: a venv under /tmp would be hidden by the sandbox's tmpfs.
PYTHON = os.path.realpath(sys.executable)


def _tool_error(message: str) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(message)


class RunTools:
    def __init__(self, root: Path, limits: Limits, isolation: Isolation) -> None:
        self.root = root
        self.limits = limits
        self.isolation = isolation

    def _cwd(self, cwd: str) -> Path:
        try:
            path = resolve_inside(self.root, cwd)
        except OutsideWorkspace as exc:
            raise _tool_error(f"refused: working directory {exc}") from None
        if not path.is_dir():
            raise _tool_error(f"working directory '{cwd}' is not a folder in the workspace")
        return path

    def _limits(self, time_limit: float | None) -> Limits:
        if time_limit is None:
            return self.limits
        from dataclasses import replace

        return replace(self.limits, time_s=max(0.1, min(float(time_limit), MAX_TIME_LIMIT)))

    async def run_command(
        self,
        command: Annotated[str, Field(description="Shell command line (run with /bin/sh -c).")],
        cwd: Annotated[str, Field(description="Working directory relative to the workspace root.")] = ".",
        time_limit: Annotated[float | None, Field(description="Seconds before it is stopped (default: the "
                                                              "server's limit).")] = None,
    ) -> str:
        """Run a shell command in the workspace."""
        limits = self._limits(time_limit)
        result = await run_sandboxed(["/bin/sh", "-c", command], root=self.root, cwd=self._cwd(cwd), limits=limits,
                                     isolation=self.isolation)  # fmt: skip
        return result.render(self.isolation, limits)

    async def run_python(
        self,
        code: Annotated[str, Field(description="Python source to run as a script.")],
        cwd: Annotated[str, Field(description="Working directory relative to the workspace root.")] = ".",
        time_limit: Annotated[float | None, Field(description="Seconds before it is stopped.")] = None,
    ) -> str:
        """Run a Python snippet in the workspace; print() what you want to see."""
        limits = self._limits(time_limit)
        result = await run_sandboxed([PYTHON, "-"], root=self.root, cwd=self._cwd(cwd), limits=limits,
                                     isolation=self.isolation, stdin=code.encode())  # fmt: skip
        return result.render(self.isolation, limits)

    def sandbox_info(self) -> str:
        """Describe the sandbox that run_command and run_python use (isolation and limits)."""
        return (f"workspace: {self.root}\nisolation: {self.isolation.describe()}\n"
                f"limits: {self.limits.describe()}")  # fmt: skip


def build_server(root: str | Path | None = None, limits: Limits | None = None,
                 isolation: Isolation | None = None) -> Any:  # fmt: skip
    from mcp.server.mcpserver import MCPServer
    from mcp_types import ToolAnnotations

    tools = RunTools(workspace_root(root), limits or Limits(), isolation or detect_isolation())
    where = f"{tools.isolation.describe()}; limits: {tools.limits.describe()}"
    server = MCPServer("run", instructions=f"Runs commands in {tools.root}. {where}.", log_level="WARNING")
    side_effects = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
    server.add_tool(tools.run_command, annotations=side_effects, structured_output=False,
                    description=f"Run a shell command in the workspace. {where}.")  # fmt: skip
    server.add_tool(tools.run_python, annotations=side_effects, structured_output=False,
                    description=f"Run a Python snippet in the workspace; print() what you want to see. {where}.")
    server.add_tool(tools.sandbox_info, annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
                    structured_output=False)  # fmt: skip
    return server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="MCP server: run commands in a sandbox inside a workspace.")
    parser.add_argument("--root", default=None, help="workspace root (default: the current folder)")
    parser.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto")
    parser.add_argument("--time-limit", type=float, default=Limits.time_s, help="seconds per command")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb)
    parser.add_argument("--output-cap", type=int, default=Limits.output_bytes, help="bytes kept per stream")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    return parser


def _setup(args: argparse.Namespace) -> tuple[Limits, Isolation]:
    limits = Limits(time_s=min(args.time_limit, MAX_TIME_LIMIT), memory_mb=args.memory_mb,
                    output_bytes=args.output_cap)  # fmt: skip
    return limits, detect_isolation(args.sandbox)


def server_from_args(argv: list[str]) -> Any:
    """The server as ``main`` would build it from these arguments (for in-process clients).

    Commands still run in the sandbox: each call starts its own sandboxed process.
    """
    args = _parser().parse_args(argv)
    limits, isolation = _setup(args)
    return build_server(args.root, limits, isolation)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    limits, isolation = _setup(args)
    label = "sandbox" if isolation.kind == "bwrap" else "WARNING"
    print(f"run server [{label}]: {isolation.describe()}; limits: {limits.describe()}", file=sys.stderr, flush=True)
    server = build_server(args.root, limits, isolation)
    if args.transport == "stdio":
        server.run()
    else:
        server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
