"""The built-in `files` server: over stdio through the hub (as the chat uses it), and its rules in detail."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from assistant.toolservers.files_server import FilesTools, glob_to_regex
from assistant.toolservers.workspace import OutsideWorkspace, resolve_inside

from assistant.events import ToolCall
from assistant.toolhub import ToolHub
from assistant.tools import ToolRegistry
from tests.mcp_helpers import builtin, new_tag, tagged, wait_gone


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "notes.txt").write_text("line one\nline two\nline three\n")
    (root / "src" / "app.py").write_text("import os\n\ndef main():\n    return os.getcwd()\n")
    (root / "src" / "pkg" / "util.py").write_text("def helper():\n    return 42  # TODO tidy\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("TODO in git internals\n")
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "secret.txt").write_text("top secret\n")
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")
    os.symlink(tmp_path, root / "up")
    os.symlink(root / "notes.txt", root / "alias.txt")  # a symlink that stays inside is fine
    return root


@pytest.fixture
def tools(ws: Path) -> FilesTools:
    return FilesTools(ws.resolve())


@pytest.fixture
async def stdio_files(ws: Path) -> AsyncIterator[ToolRegistry]:
    tag = new_tag()
    registry = ToolRegistry()
    hub = ToolHub([builtin("files", ws, tag)])
    await hub.start()
    hub.register(registry)
    try:
        yield registry
    finally:
        await hub.aclose()
        assert wait_gone(lambda: tagged(tag)) == []


async def run(registry: ToolRegistry, name: str, **args: Any) -> tuple[str, bool]:
    result = await registry.run(ToolCall("c", name, json.dumps(args)))
    return result.content, result.is_error


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../secret.txt", "climbs out of the workspace"),
        ("src/../../secret.txt", "climbs out of the workspace"),
        ("SECRET_ABS", "absolute path outside the workspace"),
        ("/etc/passwd", "absolute path outside the workspace"),
        ("leak.txt", "goes through a symlink"),
        ("up/secret.txt", "goes through a symlink"),
    ],
)
async def test_path_traversal_is_refused_over_stdio(
    stdio_files: ToolRegistry, ws: Path, path: str, reason: str
) -> None:
    path = str(ws.parent / "secret.txt") if path == "SECRET_ABS" else path
    for tool, extra in (("read_file", {}), ("write_file", {"content": "pwned"}), ("list_files", {})):
        text, is_error = await run(stdio_files, tool, path=path, **extra)
        assert is_error and "refused" in text and reason in text, (tool, text)
    assert (ws.parent / "secret.txt").read_text() == "top secret\n", "nothing outside was written"


async def test_read_write_edit_over_stdio(stdio_files: ToolRegistry, ws: Path) -> None:
    assert await run(stdio_files, "read_file", path="notes.txt") == ("line one\nline two\nline three", False)
    text, _ = await run(stdio_files, "read_file", path="notes.txt", start_line=2, end_line=2)
    assert text == "[notes.txt: lines 2-2 of 3]\nline two"
    text, _ = await run(stdio_files, "edit_file", path="notes.txt", old_text="line two", new_text="LINE 2")
    assert text.startswith("Replaced 1 occurrence in notes.txt") and "-line two\n+LINE 2" in text
    assert (ws / "notes.txt").read_text() == "line one\nLINE 2\nline three\n"
    text, _ = await run(stdio_files, "write_file", path="new/dir/a.md", content="# A\n")
    assert text.startswith("Created new/dir/a.md") and "+# A" in text
    assert (ws / "new" / "dir" / "a.md").read_text() == "# A\n"
    assert (await run(stdio_files, "read_file", path="alias.txt"))[0].startswith("line one")


def test_list_files(tools: FilesTools) -> None:
    listing = tools.list_files().splitlines()
    assert listing[:2] == ["src/", "up/ (symlink to outside the workspace: not readable)"]
    assert "notes.txt" in listing and ".git/" not in listing
    assert ".git/" in tools.list_files(show_hidden=True)
    assert tools.list_files("src") == "pkg/\napp.py"


def test_read_ranges_and_refusals(tools: FilesTools) -> None:
    assert tools.read_file("notes.txt", start_line=2) == "[notes.txt: lines 2-3 of 3]\nline two\nline three"
    with pytest.raises(Exception, match="binary file"):
        tools.read_file("blob.bin")
    with pytest.raises(Exception, match=r"no file 'nope\.txt'"):
        tools.read_file("nope.txt")
    with pytest.raises(Exception, match="is a folder"):
        tools.read_file("src")
    with pytest.raises(Exception, match="end_line 1 is before start_line 2"):
        tools.read_file("notes.txt", start_line=2, end_line=1)


def test_long_file_is_cut_with_a_note(tools: FilesTools, ws: Path) -> None:
    (ws / "big.txt").write_text("x" * 100 + "\n" + "y" * 60_000 + "\n")
    text = tools.read_file("big.txt")
    assert "[truncated: " in text and "the file has 2 lines" in text and len(text) < 50_300


def test_glob(tools: FilesTools) -> None:
    assert tools.glob("*.py").splitlines() == ["src/app.py", "src/pkg/util.py"]
    assert tools.glob("src/*.py") == "src/app.py"
    assert tools.glob("**/util.py") == "src/pkg/util.py"
    assert tools.glob("*.py", path="src/pkg") == "src/pkg/util.py"
    assert tools.glob("*.rs") == "no files match '*.rs'"
    with pytest.raises(Exception, match="refused"):
        tools.glob("../*.txt")
    with pytest.raises(Exception, match="refused"):
        tools.glob("/etc/*")


def test_glob_to_regex() -> None:
    assert glob_to_regex("**/*.py").match("a/b/c.py") and glob_to_regex("**/*.py").match("c.py")
    assert not glob_to_regex("*.py").match("a/c.py")
    assert glob_to_regex("data/[ab]?.csv").match("data/a1.csv")


def test_grep(tools: FilesTools) -> None:
    assert tools.grep("TODO") == "src/pkg/util.py:2:     return 42  # TODO tidy"  # .git skipped
    assert tools.grep("todo", ignore_case=True, include="*.py") == "src/pkg/util.py:2:     return 42  # TODO tidy"
    assert tools.grep("secret") == "no matches for 'secret'", "symlinks out of the workspace are not followed"
    assert tools.grep("line", path="notes.txt", max_matches=2).endswith("[stopped at 2 matches]")
    with pytest.raises(Exception, match="invalid regular expression"):
        tools.grep("(unclosed")


def test_edit_rules_and_dry_run(tools: FilesTools, ws: Path) -> None:
    with pytest.raises(Exception, match="was not found"):
        tools.edit_file("notes.txt", "line four", "x")
    with pytest.raises(Exception, match="occurs 3 times"):
        tools.edit_file("notes.txt", "line", "row")
    preview = tools.edit_file("notes.txt", "line", "row", replace_all=True, dry_run=True)
    assert preview.startswith("Would replace 3 occurrences in notes.txt") and "+row one" in preview
    assert (ws / "notes.txt").read_text().startswith("line one"), "a dry run changes nothing"
    preview = tools.write_file("notes.txt", "new\n", dry_run=True)
    assert preview.startswith("Would replace notes.txt") and "-line one" in preview and "+new" in preview
    assert (ws / "notes.txt").read_text().startswith("line one")


def test_crlf_is_kept_by_edit(tools: FilesTools, ws: Path) -> None:
    (ws / "win.txt").write_bytes(b"a\r\nb\r\n")
    tools.edit_file("win.txt", "b", "c")
    assert (ws / "win.txt").read_bytes() == b"a\r\nc\r\n"


def test_resolve_inside(ws: Path) -> None:
    root = ws.resolve()
    assert resolve_inside(root, "") == root
    assert resolve_inside(root, str(root / "notes.txt")) == root / "notes.txt", "absolute inside is fine"
    assert resolve_inside(root, "src/../notes.txt") == root / "notes.txt", "'..' that stays inside is fine"
    with pytest.raises(OutsideWorkspace, match="NUL"):
        resolve_inside(root, "a\x00b")


@pytest.fixture
def cwd(ws: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(ws)
    try:
        yield ws
    finally:
        os.chdir(old)


def test_root_defaults_to_the_current_folder(cwd: Path) -> None:
    from assistant.toolservers.files_server import build_server

    server = build_server()
    assert str(cwd.resolve()) in (server.instructions or "")
