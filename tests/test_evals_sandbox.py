"""The sandbox that runs model-written code: each misbehaviour ends that one run, with its reason."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from assistant.evals.sandbox import Sandbox, eval_limits


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox(eval_limits(3.0, memory_mb=512))
    # This project installs bubblewrap (scripts/system-deps.sh): without it the isolation tests below
    # would test the weaker fallback, so a missing bwrap is a broken install, not a skip.
    assert box.kind == "bwrap", box.warning
    return box


async def test_runs_code_and_captures_output(sandbox: Sandbox) -> None:
    result = await sandbox.run("import sys\nprint('hello')\nprint('oops', file=sys.stderr)")
    assert result.ok and result.exit_code == 0
    assert result.stdout == "hello\n"
    assert "oops" in result.stderr


async def test_infinite_loop_times_out(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = await sandbox.run("while True:\n    pass\n", time_limit=1.0)
    assert result.status == "timeout"
    assert result.reason == "timed out after 1 s"
    assert time.monotonic() - started < 6


async def test_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = await sandbox.run("import os\nwhile True:\n    os.fork()\n", time_limit=3.0)
    assert not result.ok
    assert "process limit" in result.reason or result.status == "timeout"
    assert time.monotonic() - started < 10
    after = await sandbox.run("print('still fine')")  # the machine and the sandbox are still usable
    assert after.ok and after.stdout == "still fine\n"


async def test_huge_allocation_fails_with_memory_error(sandbox: Sandbox) -> None:
    result = await sandbox.run("x = bytearray(8 * 1024 ** 3)\n")
    assert result.status == "error"
    assert "MemoryError" in result.reason and "memory limit" in result.reason


def test_write_outside_working_directory_is_refused(sandbox: Sandbox) -> None:
    target = Path(__file__).resolve().parent / f"escape-{uuid.uuid4().hex}.txt"  # a real, writable-to-us folder
    try:
        result = asyncio.run(sandbox.run(f"open({str(target)!r}, 'w').write('x')\n"))
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)
    assert result.status == "error"
    # refused: read-only outside, or (checkout under /tmp) not even visible behind the sandbox's tmpfs
    assert any(m in result.reason for m in ("Read-only file system", "Permission denied", "No such file or directory"))
    inside = asyncio.run(sandbox.run("open('notes.txt', 'w').write('mine')\nprint(open('notes.txt').read())\n"))
    assert inside.ok and inside.stdout == "mine\n"  # its own directory is writable


async def test_no_network(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')\n"
        result = await sandbox.run(code)
    finally:
        server.close()
    assert result.status == "error"
    assert "connected" not in result.stdout


async def test_clean_environment_and_hidden_home(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "s3cret")
    home = str(Path.home())
    code = f"import os\nprint(sorted(os.environ))\nprint(os.listdir({home!r}))\n"
    result = await sandbox.run(code)
    assert result.ok, result.stderr
    assert "SECRET_TOKEN" not in result.stdout
    env_line, home_line = result.stdout.splitlines()
    assert set(eval(env_line)) <= {"HOME", "LANG", "PATH", "PWD", "TMPDIR"}
    real_home = set(os.listdir(home))
    assert not (real_home - {".pyenv", ".local"}) & set(eval(home_line))  # only the interpreter is re-bound


async def test_endless_output_is_capped(sandbox: Sandbox) -> None:
    result = await sandbox.run("while True:\n    print('x' * 1000)\n", time_limit=1.5)
    assert result.status == "timeout"
    assert len(result.stdout) <= sandbox.limits.output_bytes + 100


def test_nothing_survives_the_run(sandbox: Sandbox) -> None:
    marker = f"sleep-marker-{uuid.uuid4().hex[:8]}"
    code = f"import subprocess\nsubprocess.Popen(['sh', '-c', 'exec -a {marker} sleep 300'])\nprint('spawned')\n"
    result = asyncio.run(sandbox.run(code))
    assert result.ok and "spawned" in result.stdout
    time.sleep(0.3)
    leftover = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.strip()
    assert leftover == ""


async def test_big_file_hits_the_size_limit(sandbox: Sandbox) -> None:
    result = await sandbox.run("open('big', 'wb').write(b'x' * (64 * 1024 * 1024))\n")
    assert result.status in ("error", "killed")
    assert "file size limit" in result.reason


async def test_rlimits_fallback_still_limits_time_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SANDBOX", "none")
    box = Sandbox(eval_limits(1.0, memory_mb=512))
    assert box.kind == "rlimits" and "WITHOUT" in box.warning
    assert (await box.run("print(6 * 7)")).stdout == "42\n"
    assert (await box.run("while True: pass")).status == "timeout"
    assert "MemoryError" in (await box.run("x = bytearray(8 * 1024 ** 3)")).reason
