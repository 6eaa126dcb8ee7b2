"""`files`: an MCP server to list, read, search, write and edit files inside one workspace root.

Runs alone, so any MCP client can use it::

    python -m assistant.toolservers.files_server --root DIR            # stdio
    python -m assistant.toolservers.files_server --root DIR --transport streamable-http --port 8765

Every path is confined to the root (see ``workspace.py``): ``..`` that climbs
out, absolute paths elsewhere and symlinks that escape are refused. Reading
tools are annotated read-only; ``write_file`` and ``edit_file`` are not, and
both take ``dry_run`` so a client can show the diff before asking the user.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from assistant.toolservers.workspace import (
    OutsideWorkspace,
    UnsafeFile,
    is_inside,
    open_root,
    read_beneath,
    relative,
    resolve_inside,
    workspace_root,
    write_beneath,
)
from pydantic import Field

MAX_READ_CHARS = 50_000
MAX_LIST = 500
MAX_DIFF_CHARS = 6_000
MAX_GREP_FILE_BYTES = 5_000_000
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache",
             ".ruff_cache", ".tox"}  # fmt: skip

def _tool_error(message: str) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(message)


def _resolve(root: Path, path: str) -> Path:
    try:
        return resolve_inside(root, path)
    except OutsideWorkspace as exc:
        raise _tool_error(f"refused: {exc}") from None


def _is_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def _read_bytes(root_fd: int, root: Path, target: Path, shown: str) -> bytes:
    """The file's bytes, opened race-free inside the root; FIFOs and devices refused without blocking."""
    try:
        return read_beneath(root_fd, root, target)
    except FileNotFoundError:
        raise _tool_error(f"no file '{shown}' in the workspace") from None
    except IsADirectoryError:
        raise _tool_error(f"'{shown}' is a folder; use list_files") from None
    except UnsafeFile as exc:
        raise _tool_error(f"refused: '{shown}': {exc}") from None
    except OSError as exc:
        raise _tool_error(f"cannot read '{shown}': {exc.strerror or exc}") from None


def _read_text(root_fd: int, root: Path, target: Path, shown: str) -> str:
    data = _read_bytes(root_fd, root, target, shown)
    if _is_binary(data):
        raise _tool_error(f"'{shown}' is a binary file ({len(data)} bytes); not shown")
    return data.decode("utf-8", errors="replace")


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A glob with ``**`` (any depth), ``*``, ``?`` and ``[...]`` as a regex over posix relative paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _walk(base: Path, skip_dirs: set[str]) -> Iterator[Path]:
    """Files under ``base`` (not following symlinked folders), skipping tool and VCS folders."""
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _diff(old: str, new: str, shown: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{shown}", f"b/{shown}", n=2
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if len(text) > MAX_DIFF_CHARS:
        text = text[:MAX_DIFF_CHARS] + f"\n[diff truncated: {len(text) - MAX_DIFF_CHARS} more characters]\n"
    return text or "(no changes)\n"


def _write(root_fd: int, root: Path, target: Path, text: str, shown: str) -> None:
    """The whole new content, written race-free inside the root; hard-linked files refused."""
    try:
        write_beneath(root_fd, root, target, text.encode("utf-8"))
    except UnsafeFile as exc:
        raise _tool_error(f"refused: '{shown}': {exc}") from None
    except OSError as exc:
        raise _tool_error(f"cannot write '{shown}': {exc.strerror or exc}") from None


class FilesTools:
    """The tool functions, bound to one root (also usable in-process, without MCP)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root_fd = open_root(root)  # every file is opened relative to it (see workspace.py)

    def list_files(
        self,
        path: Annotated[str, Field(description="Folder relative to the workspace root.")] = ".",
        show_hidden: Annotated[bool, Field(description="Include names starting with a dot.")] = False,
    ) -> str:
        """List the files and folders in a workspace folder (folders end with '/')."""
        target = _resolve(self.root, path)
        if not target.is_dir():
            raise _tool_error(f"'{path}' is not a folder in the workspace")
        entries = sorted(target.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        shown = [self._entry(e) for e in entries if show_hidden or not e.name.startswith(".")]
        more = f"\n[{len(shown) - MAX_LIST} more entries not shown]" if len(shown) > MAX_LIST else ""
        return "\n".join(shown[:MAX_LIST]) + more if shown else "(empty folder)"

    def _entry(self, entry: Path) -> str:
        name = entry.name + ("/" if entry.is_dir() else "")
        if entry.is_symlink():
            try:
                outside = not is_inside(self.root, entry.resolve(strict=True))
            except (OSError, RuntimeError):  # broken, or a loop
                return name + " (broken or looping symlink)"
            if outside:
                name += " (symlink to outside the workspace: not readable)"
        return name

    def read_file(
        self,
        path: Annotated[str, Field(description="File path relative to the workspace root.")],
        start_line: Annotated[int, Field(description="First line to return (1-based).", ge=1)] = 1,
        end_line: Annotated[int | None, Field(description="Last line to return (inclusive); omit for the end.")] = None,
    ) -> str:
        """Read a text file in the workspace, whole or a range of lines."""
        target = _resolve(self.root, path)
        lines = _read_text(self.root_fd, self.root, target, path).splitlines()
        if end_line is not None and end_line < start_line:
            raise _tool_error(f"end_line {end_line} is before start_line {start_line}")
        chosen = lines[start_line - 1 : end_line]
        text = "\n".join(chosen)
        if start_line > 1 or (end_line is not None and end_line < len(lines)):
            last = start_line + len(chosen) - 1
            text = f"[{path}: lines {start_line}-{last} of {len(lines)}]\n{text}"
        if len(text) > MAX_READ_CHARS:
            text = (text[:MAX_READ_CHARS] + f"\n[truncated: {len(text) - MAX_READ_CHARS} more characters; the file has "
                    f"{len(lines)} lines, ask for a range with start_line/end_line]")  # fmt: skip
        return text

    def glob(
        self,
        pattern: Annotated[str, Field(description="Glob such as '*.py', 'src/**/*.md' ('**' = any depth).")],
        path: Annotated[str, Field(description="Folder to search from, relative to the workspace root.")] = ".",
    ) -> str:
        """Find files whose path (relative to the search folder) matches a glob pattern."""
        if pattern.startswith("/") or ".." in Path(pattern).parts:
            raise _tool_error("refused: the pattern must be relative and stay inside the workspace (no '..')")
        base = _resolve(self.root, path)
        if not base.is_dir():
            raise _tool_error(f"'{path}' is not a folder in the workspace")
        regex = glob_to_regex(pattern if "/" in pattern else "**/" + pattern)
        skip = {d for d in SKIP_DIRS if d not in pattern}
        found = [relative(self.root, f) for f in _walk(base, skip)
                 if regex.match(f.relative_to(base).as_posix())]  # fmt: skip
        if not found:
            return f"no files match '{pattern}'"
        more = f"\n[{len(found) - MAX_LIST} more matches not shown]" if len(found) > MAX_LIST else ""
        return "\n".join(found[:MAX_LIST]) + more

    def grep(
        self,
        pattern: Annotated[str, Field(description="Regular expression (Python syntax) to search for.")],
        path: Annotated[str, Field(description="File or folder to search, relative to the workspace root.")] = ".",
        include: Annotated[str, Field(description="Only files whose name matches this glob, e.g. '*.py'.")] = "*",
        ignore_case: Annotated[bool, Field(description="Case-insensitive matching.")] = False,
        max_matches: Annotated[int, Field(description="Stop after this many matching lines.", ge=1, le=1000)] = 100,
    ) -> str:
        """Search file contents for a regular expression; prints 'path:line: text' for each match."""
        try:
            regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        except re.error as exc:
            raise _tool_error(f"invalid regular expression: {exc}") from None
        base = _resolve(self.root, path)
        files = [base] if base.is_file() else _walk(base, SKIP_DIRS)
        hits: list[str] = []
        for file in files:
            if not fnmatch.fnmatch(file.name, include) or not file.is_file():
                continue
            try:
                real = file.resolve(strict=True)
            except (OSError, RuntimeError):
                continue  # broken or looping symlink
            if not is_inside(self.root, real):
                continue  # a symlink out of the workspace
            try:
                data = read_beneath(self.root_fd, self.root, real, MAX_GREP_FILE_BYTES + 1)
            except OSError:
                continue  # a FIFO, device, or a file that changed under us
            if len(data) > MAX_GREP_FILE_BYTES or _is_binary(data):
                continue
            for no, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
                if regex.search(line):
                    hits.append(f"{relative(self.root, file)}:{no}: {line[:300]}")
                    if len(hits) >= max_matches:
                        return "\n".join(hits) + f"\n[stopped at {max_matches} matches]"
        return "\n".join(hits) if hits else f"no matches for '{pattern}'"

    def write_file(
        self,
        path: Annotated[str, Field(description="File path relative to the workspace root.")],
        content: Annotated[str, Field(description="The complete new content of the file.")],
        dry_run: Annotated[bool, Field(description="Only show what would change; write nothing.")] = False,
    ) -> str:
        """Create a file, or replace its whole content; shows a diff of the change."""
        target = _resolve(self.root, path)
        if target.is_dir():
            raise _tool_error(f"'{path}' is a folder")
        old = _read_text(self.root_fd, self.root, target, path) if target.exists() else None
        verb = ("Would create" if dry_run else "Created") if old is None else ("Would replace" if dry_run else
                                                                                "Replaced")  # fmt: skip
        summary = f"{verb} {relative(self.root, target)} ({len(content.splitlines())} lines, {len(content)} chars)"
        if not dry_run:
            _write(self.root_fd, self.root, target, content, path)
        return f"{summary}\n{_diff(old or '', content, relative(self.root, target))}"

    def edit_file(
        self,
        path: Annotated[str, Field(description="File path relative to the workspace root.")],
        old_text: Annotated[str, Field(description="Exact text to replace, copied from the file (whitespace too).")],
        new_text: Annotated[str, Field(description="The replacement text.")],
        replace_all: Annotated[bool, Field(description="Replace every occurrence, not just a unique one.")] = False,
        dry_run: Annotated[bool, Field(description="Only show the diff; change nothing.")] = False,
    ) -> str:
        """Edit a file by replacing an exact piece of text; shows the diff."""
        target = _resolve(self.root, path)
        if not target.exists():
            raise _tool_error(f"no file '{path}' in the workspace; use write_file to create it")
        if not old_text:
            raise _tool_error("old_text is empty; give the exact text to replace")
        text = _read_bytes(self.root_fd, self.root, target, path).decode("utf-8", errors="replace")
        count = text.count(old_text)
        if count == 0:
            raise _tool_error(f"old_text was not found in '{path}'; read the file and copy the exact text")
        if count > 1 and not replace_all:
            raise _tool_error(f"old_text occurs {count} times in '{path}'; include more surrounding text to make it "
                              "unique, or set replace_all")  # fmt: skip
        new = text.replace(old_text, new_text) if replace_all else text.replace(old_text, new_text, 1)
        if not dry_run:
            _write(self.root_fd, self.root, target, new, path)
        shown = relative(self.root, target)
        n = count if replace_all else 1
        head = f"{'Would replace' if dry_run else 'Replaced'} {n} occurrence{'s' if n > 1 else ''} in {shown}"
        return f"{head}\n{_diff(text, new, shown)}"


def build_server(root: str | os.PathLike[str] | None = None) -> Any:
    """The MCP server object (MCPServer) for a workspace root."""
    from mcp.server.mcpserver import MCPServer
    from mcp_types import ToolAnnotations

    tools = FilesTools(workspace_root(root))
    server = MCPServer(
        "files",
        instructions=f"Files in the workspace {tools.root}; paths are relative to it and cannot leave it.",
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    for fn in (tools.list_files, tools.read_file, tools.glob, tools.grep):
        server.add_tool(fn, annotations=read_only, structured_output=False)
    server.add_tool(tools.write_file, structured_output=False,
                    annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False))
    server.add_tool(tools.edit_file, structured_output=False,
                    annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False,
                                                open_world_hint=False))  # fmt: skip
    return server


def serve(server: Any, argv_transport: str, host: str, port: int) -> None:
    if argv_transport == "stdio":
        server.run()
    else:
        server.run("streamable-http", host=host, port=port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="MCP server: files confined to a workspace root.")
    parser.add_argument("--root", default=None, help="workspace root (default: the current folder)")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    return parser


def server_from_args(argv: list[str]) -> Any:
    """The server as ``main`` would build it from these arguments (for in-process clients)."""
    return build_server(_parser().parse_args(argv).root)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    serve(build_server(args.root), args.transport, args.host, args.port)


if __name__ == "__main__":
    main()
