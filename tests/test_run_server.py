"""The built-in `run` server: the sandbox (bubblewrap here), its limits, and the loud fallback without it."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from assistant.toolservers.sandbox import Isolation, Limits, detect_isolation, run_sandboxed

from assistant.events import ToolCall
from assistant.toolhub import ToolHub
from assistant.tools import ToolRegistry
from tests.mcp_helpers import builtin, new_tag, tagged, wait_gone, with_cmdline


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "data.txt").write_text("42\n")
    return root.resolve()


def read(path: Path) -> str:
    return path.read_text()


def exists(path: Path) -> bool:
    return path.exists()


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback that answers 'hello' to anyone who connects."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        srv.close()


async def open_run(ws: Path, *extra: str) -> tuple[ToolHub, ToolRegistry, str]:
    tag = new_tag()
    hub = ToolHub([builtin("run", ws, tag, "--time-limit", "5", "--memory-mb", "400", "--output-cap", "3000",
                           *extra, approval={"*": "allow"})])  # fmt: skip
    await hub.start()
    registry = ToolRegistry()
    hub.register(registry)
    assert hub.servers["run"].state == "connected", hub.servers["run"].error
    return hub, registry, tag


@pytest.fixture
async def sandboxed(ws: Path) -> AsyncIterator[ToolRegistry]:
    hub, registry, tag = await open_run(ws)
    yield registry
    await hub.aclose()
    assert wait_gone(lambda: tagged(tag)) == []


async def run(registry: ToolRegistry, name: str, **args: Any) -> str:
    result = await registry.run(ToolCall("c", name, json.dumps(args)))
    assert not result.is_error, result.content
    return result.content


def test_bubblewrap_is_in_force_here() -> None:
    """`make setup` installs bubblewrap (scripts/system-deps.sh); this machine must have a working one."""
    assert shutil.which("bwrap"), "bubblewrap is missing: run scripts/system-deps.sh"
    assert detect_isolation().kind == "bwrap", detect_isolation().reason


async def test_commands_run_in_the_workspace_without_network(sandboxed: ToolRegistry, ws: Path, listener: int) -> None:
    info = await run(sandboxed, "sandbox_info")
    assert "bubblewrap sandbox: no capabilities" in info and "no network" in info
    assert "5 s wall time, 400 MB memory" in info
    out = await run(sandboxed, "run_command", command="pwd; cat data.txt; echo made > out.txt", cwd=".")
    assert out.startswith("exit code 0") and f"{ws}\n42" in out
    assert read(ws / "out.txt") == "made\n", "the workspace is writable"
    assert "[sandbox: bubblewrap sandbox" in out, "every result says which isolation was used"
    code = f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {listener}), timeout=3)\n" \
           "    print('REACHED')\nexcept OSError as e:\n    print('BLOCKED', type(e).__name__)\n"  # fmt: skip
    out = await run(sandboxed, "run_python", code=code)
    assert "BLOCKED ConnectionRefusedError" in out and "REACHED" not in out
    out = await run(sandboxed, "run_command", command="touch /usr/local/escaped-by-test.txt")
    assert "Read-only file system" in out and not exists(Path("/usr/local/escaped-by-test.txt"))
    await run(sandboxed, "run_command", command=f"touch {ws.parent}/escaped.txt")  # the sandbox's own /tmp
    assert not exists(ws.parent / "escaped.txt"), "outside the workspace, /tmp is private to the sandbox"
    out = await run(sandboxed, "run_command", command="pwd", cwd="sub")
    assert f"{ws}/sub" in out


async def test_limits(sandboxed: ToolRegistry) -> None:
    slow = await run(sandboxed, "run_command", command="sleep 97.5", time_limit=1)
    assert slow.startswith("stopped: the time limit of 1 s was reached")
    assert wait_gone(lambda: with_cmdline("sleep 97.5"), 5) == [], "the timed-out command is gone"
    hog = await run(sandboxed, "run_python", code="x = bytearray(800 * 1024 * 1024)\nprint('allocated')")
    assert "MemoryError" in hog and "allocated" not in hog
    flood = await run(sandboxed, "run_command", command="yes | head -c 1000000")
    assert "[stdout truncated: 997000 more bytes cut]" in flood
    result = await sandboxed.run(ToolCall("c", "run_command", json.dumps({"command": "pwd", "cwd": "../"})))
    assert result.is_error and "refused: working directory" in result.content


async def test_background_processes_die_with_the_command(sandboxed: ToolRegistry) -> None:
    out = await run(sandboxed, "run_command", command="(sleep 96.5 &) ; echo started")
    assert "started" in out
    assert wait_gone(lambda: with_cmdline("sleep 96.5"), 5) == []


async def test_cancelled_call_kills_the_command(sandboxed: ToolRegistry) -> None:
    task = asyncio.create_task(sandboxed.run(ToolCall("c", "run_command", json.dumps({"command": "sleep 95.5"}))))
    for _ in range(100):
        if with_cmdline("sleep 95.5"):
            break
        await asyncio.sleep(0.05)
    assert with_cmdline("sleep 95.5")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wait_gone(lambda: with_cmdline("sleep 95.5"), 10) == []


async def test_without_bubblewrap_the_fallback_is_loud(ws: Path, listener: int) -> None:
    hub, registry, tag = await open_run(ws, "--sandbox", "none")
    try:
        assert "NO SANDBOX" in (hub.servers["run"].instructions or "")
        assert "NO SANDBOX" in registry.schemas()[0]["function"]["description"]
        code = f"import socket\nprint(socket.create_connection(('127.0.0.1', {listener})).recv(5))"
        out = await run(registry, "run_python", code=code)
        assert "b'hello'" in out, "no network isolation without bubblewrap, and the result says so"
        assert "[WARNING: NO SANDBOX (turned off with --sandbox none)" in out
    finally:
        await hub.aclose()
    assert wait_gone(lambda: tagged(tag)) == []


async def test_run_sandboxed_direct(ws: Path) -> None:
    limits = Limits(time_s=5, memory_mb=300, output_bytes=100)
    iso = detect_isolation()
    result = await run_sandboxed(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], root=ws, cwd=ws,
                                 limits=limits, isolation=iso)  # fmt: skip
    assert (result.exit_code, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
    text = result.render(iso, limits)
    assert text.startswith("exit code 3") and "--- stdout ---\nout" in text and "--- stderr ---\nerr" in text
    secret = await run_sandboxed(["/bin/sh", "-c", "echo ${OPENAI_API_KEY:-unset}"], root=ws, cwd=ws,
                                 limits=limits, isolation=Isolation("none", "test"))  # fmt: skip
    assert secret.stdout == b"unset\n", "the server's environment (API keys) is not passed on"


async def test_cancel_while_the_process_starts_never_hangs(ws: Path) -> None:
    """Python 3.11 hangs for ever if the creation itself is cancelled; seen as a stuck eval run."""
    limits = Limits(time_s=30, memory_mb=300, output_bytes=100)
    iso = detect_isolation()
    marker = f"sleep 30 # {new_tag()}"
    for ticks in range(40):
        task = asyncio.ensure_future(run_sandboxed(["/bin/sh", "-c", marker], root=ws, cwd=ws, limits=limits,
                                                   isolation=iso))  # fmt: skip
        for _ in range(ticks % 20):
            await asyncio.sleep(0)
        if ticks >= 20:
            await asyncio.sleep(0.002 * (ticks - 20))
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=10)
        assert done, f"cancelled after {ticks} loop turns, the sandboxed run never ended"
        assert task.cancelled()
    assert wait_gone(lambda: with_cmdline(marker)) == []


def test_detect_isolation_reports_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    iso = detect_isolation("auto")
    assert iso.kind == "none" and "bubblewrap (bwrap) is not installed" in iso.reason
    assert iso.describe().startswith("NO SANDBOX")
    with pytest.raises(RuntimeError, match="--sandbox bwrap was asked for"):
        detect_isolation("bwrap")
