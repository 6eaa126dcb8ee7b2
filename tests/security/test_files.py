"""Findings 4, 10, 14: the `files` tools cannot be raced, hard-linked or blocked out of the workspace."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from assistant.toolservers.files_server import FilesTools


def tool_error(fn: object, *args: object, **kw: object) -> str:
    with pytest.raises(Exception) as info:
        fn(*args, **kw)  # type: ignore[operator]
    return str(info.value)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    return path


class Swapper:
    """Swaps ``ws/sub`` between a real folder and a symlink to ``outside`` as fast as it can."""

    def __init__(self, ws: Path, outside: Path) -> None:
        self.sub, self.real, self.outside = ws / "sub", ws / "sub.real", outside
        self.sub.mkdir()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                os.rename(self.sub, self.real)
                os.symlink(self.outside, self.sub)
                os.unlink(self.sub)
                os.rename(self.real, self.sub)
            except OSError:
                time.sleep(0)

    def __enter__(self) -> Swapper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def swapper(ws: Path, outside: Path) -> Iterator[Swapper]:
    with Swapper(ws, outside) as swapping:
        yield swapping


def test_racing_a_symlink_swap_never_writes_outside(ws: Path, outside: Path, swapper: Swapper) -> None:
    tools = FilesTools(ws)
    for i in range(300):
        with contextlib.suppress(Exception):  # refused (or not found mid-swap): both fine
            tools.write_file(f"sub/f{i}.txt", "data")
    assert list(outside.iterdir()) == [], "a write landed outside the workspace"


def test_racing_a_symlink_swap_never_reads_outside(ws: Path, outside: Path) -> None:
    (outside / "secret.txt").write_text("TOPSECRET")
    tools = FilesTools(ws)
    swapping = Swapper(ws, outside)
    (swapping.sub / "secret.txt").write_text("inside")
    with swapping:
        leaked = 0
        for _ in range(300):
            with contextlib.suppress(Exception):
                leaked += "TOPSECRET" in tools.read_file("sub/secret.txt")
    assert leaked == 0


def test_racing_edit_file_never_edits_outside(ws: Path, outside: Path, swapper: Swapper) -> None:
    (outside / "t.txt").write_text("old")
    tools = FilesTools(ws)
    for _ in range(300):
        with contextlib.suppress(Exception):
            tools.edit_file("sub/t.txt", "old", "new")
    assert (outside / "t.txt").read_text() == "old"


def test_hard_link_to_outside_is_not_written(ws: Path, outside: Path) -> None:
    target = outside / "victim.txt"
    target.write_text("original")
    os.link(target, ws / "link.txt")
    tools = FilesTools(ws)
    assert "hard links" in tool_error(tools.write_file, "link.txt", "owned")
    assert "hard links" in tool_error(tools.edit_file, "link.txt", "original", "owned")
    assert target.read_text() == "original"


def test_symlink_inside_the_workspace_still_works(ws: Path) -> None:
    (ws / "real.txt").write_text("hello")
    (ws / "alias.txt").symlink_to("real.txt")
    tools = FilesTools(ws)
    assert tools.read_file("alias.txt") == "hello"
    tools.write_file("alias.txt", "changed")
    assert (ws / "real.txt").read_text() == "changed"


@pytest.mark.timeout(30)
def test_a_fifo_does_not_block_read_file(ws: Path) -> None:
    os.mkfifo(ws / "pipe")
    started = time.monotonic()
    message = tool_error(FilesTools(ws).read_file, "pipe")
    assert "FIFO" in message and time.monotonic() - started < 2


@pytest.mark.timeout(30)
def test_a_fifo_does_not_block_grep_or_write(ws: Path) -> None:
    os.mkfifo(ws / "pipe")
    tools = FilesTools(ws)
    started = time.monotonic()
    assert "notes.txt:1: alpha" in tools.grep("alpha")
    assert "FIFO" in tool_error(tools.write_file, "pipe", "x") or "not" in tool_error(tools.write_file, "pipe", "x")
    assert time.monotonic() - started < 2


@pytest.mark.timeout(30)
def test_a_device_node_is_not_read(ws: Path) -> None:
    os.mknod(ws / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless
    assert "character device" in tool_error(FilesTools(ws).read_file, "zero")


def test_a_symlink_loop_does_not_break_list_files(ws: Path) -> None:
    (ws / "a").symlink_to("b")
    (ws / "b").symlink_to("a")
    listed = FilesTools(ws).list_files()
    assert "notes.txt" in listed and "a (broken or looping symlink)" in listed
    assert "cannot be resolved" in tool_error(FilesTools(ws).read_file, "a")
    assert "notes.txt" in FilesTools(ws).glob("*")
    assert "alpha" in FilesTools(ws).grep("alpha")
