"""Helpers for the MCP tests: real servers started as processes, and a check that none is left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.mcp_config import ServerConfig, builtin_config

HERE = Path(__file__).resolve().parent
MISBEHAVING = HERE / "mcp_servers" / "misbehaving.py"
FEATUREFUL = HERE / "mcp_servers" / "featureful.py"
TAG_VAR = "MCP_TEST_TAG"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def processes_where(match: Callable[[bytes, bytes], bool]) -> list[int]:
    """Live (non-zombie) pids whose (environ, cmdline) match."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if match(environ, cmdline) and _alive(int(entry)):
            found.append(int(entry))
    return found


def tagged(tag: str) -> list[int]:
    needle = f"{TAG_VAR}={tag}".encode()
    return processes_where(lambda env, _cmd: needle in env.split(b"\0"))


def with_cmdline(text: str) -> list[int]:
    needle = text.encode()
    return processes_where(lambda _env, cmd: needle in cmd.replace(b"\0", b" "))


def wait_gone(find: Callable[[], list[int]], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def pid_alive(pid: int) -> bool:
    return _alive(pid)


def new_tag() -> str:
    return uuid.uuid4().hex


def misbehaving(name: str, tag: str, *args: str, **kw: Any) -> ServerConfig:
    return ServerConfig(name, command=sys.executable, args=(str(MISBEHAVING), "--name", name, *args),
                        env={TAG_VAR: tag}, source="test", **kw)  # fmt: skip


def featureful(name: str, tag: str, *args: str, **kw: Any) -> ServerConfig:
    """The server with prompts, resources, instructions and a tool that adds a tool (tests/mcp_servers/)."""
    return ServerConfig(name, command=sys.executable, args=(str(FEATUREFUL), "--name", name, *args),
                        env={TAG_VAR: tag}, source="test", **kw)  # fmt: skip


def builtin(name: str, workspace: Path, tag: str, *extra: str, **kw: Any) -> ServerConfig:
    config = builtin_config(name, workspace)
    return replace(config, args=config.args + extra, env={TAG_VAR: tag}, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"HTTP server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


def start_http_server(argv: list[str], port: int, tag: str) -> Iterator[str]:
    """A server over streamable HTTP on loopback, for the duration of a fixture."""
    env = {**os.environ, TAG_VAR: tag}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
