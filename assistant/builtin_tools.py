"""A few read-only tools every chat has, confined to the workspace (the current directory).

The MCP tool servers in tools/ are the full set; these need no extra process.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from assistant.tools import ToolRegistry

MAX_READ_CHARS = 20_000


def _inside(root: Path, path: str) -> Path:
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise PermissionError(f"'{path}' is outside the workspace {root}")
    return target


def register_default_tools(registry: ToolRegistry, root: Path | None = None) -> None:
    workspace = (root or Path.cwd()).resolve()

    def read_file(path: str, start_line: int = 1, end_line: int | None = None) -> str:
        """Read a text file in the workspace.

        Args:
            path: File path relative to the workspace root.
            start_line: First line to return (1-based).
            end_line: Last line to return (inclusive); omit for the end of the file.
        """
        target = _inside(workspace, path)
        if not target.is_file():
            raise FileNotFoundError(f"no file '{path}' in the workspace")
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
        chosen = lines[max(start_line, 1) - 1 : end_line]
        text = "\n".join(chosen)
        if len(text) > MAX_READ_CHARS:
            text = text[:MAX_READ_CHARS] + f"\n[truncated: file has {len(lines)} lines; ask for a line range]"
        return text

    def list_files(path: str = ".") -> str:
        """List the files and folders in a workspace folder.

        Args:
            path: Folder relative to the workspace root.
        """
        target = _inside(workspace, path)
        if not target.is_dir():
            raise NotADirectoryError(f"'{path}' is not a folder in the workspace")
        entries = sorted(target.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        shown = [e.name + ("/" if e.is_dir() else "") for e in entries if not e.name.startswith(".")]
        return "\n".join(shown[:500]) or "(empty)"

    def current_time() -> str:
        """The current local date and time."""
        return dt.datetime.now().astimezone().isoformat(timespec="seconds")

    for func in (read_file, list_files, current_time):
        if func.__name__ not in registry.names():  # the `files` MCP server's own versions win
            registry.function(func)
