"""Run a command under limits, inside bubblewrap when it works here.

With bubblewrap (Debian package ``bubblewrap``) the command gets its own
network namespace (no network at all), its own PID namespace, a read-only
view of the whole filesystem except the workspace (read-write) and a private
``/tmp``. Without it the command runs as a plain child process and the
isolation is only the limits; that fallback is reported wherever the isolation
is described, never silent. Limits in both cases: wall-clock time (the whole
process group is killed), address space (``RLIMIT_AS``), CPU seconds, file
size, no core dumps, and a cap on captured output.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    time_s: float = 30.0
    memory_mb: int = 1024
    output_bytes: int = 64_000  # per stream (stdout, stderr)
    file_mb: int = 512

    def describe(self) -> str:
        return (f"{self.time_s:g} s wall time, {self.memory_mb} MB memory, {self.output_bytes} bytes of output "
                "per stream")  # fmt: skip


@dataclass(frozen=True)
class Isolation:
    kind: Literal["bwrap", "none"]
    reason: str = ""  # for "none": why there is no sandbox
    bwrap: str | None = None

    def describe(self) -> str:
        if self.kind == "bwrap":
            return ("bubblewrap sandbox: no network (own network namespace), own PID namespace, filesystem read-only "
                    "except the workspace, private /tmp")  # fmt: skip
        return (f"NO SANDBOX ({self.reason}): the command can use the network and write wherever this user can; "
                "only the time, memory and output limits apply")  # fmt: skip


def _bwrap_args(bwrap: str, root: Path, cwd: Path) -> list[str]:
    return [
        bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--bind", str(root), str(root), "--chdir", str(cwd),
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent", "--new-session", "--",
    ]  # fmt: skip


def detect_isolation(mode: Literal["auto", "bwrap", "none"] = "auto") -> Isolation:
    """bubblewrap if it is installed and works here (checked by running it once), else none."""
    if mode == "none":
        return Isolation("none", "turned off with --sandbox none")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        reason = "bubblewrap (bwrap) is not installed; on Debian: apt-get install bubblewrap"
    else:
        probe_dir = Path("/")
        try:
            proc = subprocess.run([*_bwrap_args(bwrap, probe_dir, probe_dir), "true"], capture_output=True,
                                  text=True, timeout=15, stdin=subprocess.DEVNULL)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = f"bwrap failed to start: {exc}"
        else:
            if proc.returncode == 0:
                return Isolation("bwrap", bwrap=bwrap)
            reason = f"bwrap does not work here: {proc.stderr.strip()[:200] or f'exit {proc.returncode}'}"
    if mode == "bwrap":
        raise RuntimeError(f"--sandbox bwrap was asked for, but {reason}")
    return Isolation("none", reason)


@dataclass
class RunResult:
    exit_code: int | None
    seconds: float
    stdout: bytes
    stderr: bytes
    stdout_cut: int = 0
    stderr_cut: int = 0
    timed_out: bool = False

    def render(self, isolation: Isolation, limits: Limits) -> str:
        if self.timed_out:
            head = f"stopped: the time limit of {limits.time_s:g} s was reached (everything it started was killed)"
        elif self.exit_code is not None and self.exit_code < 0:
            head = f"killed by signal {signal.Signals(-self.exit_code).name}"
            if -self.exit_code in (signal.SIGKILL, signal.SIGXCPU):
                head += " (a limit was reached)"
        else:
            head = f"exit code {self.exit_code}"
        parts = [f"{head} ({self.seconds:.2f} s)"]
        for name, data, cut in (("stdout", self.stdout, self.stdout_cut), ("stderr", self.stderr, self.stderr_cut)):
            if data or cut:
                text = data.decode("utf-8", errors="replace").rstrip("\n")
                note = f"\n[{name} truncated: {cut} more bytes cut]" if cut else ""
                parts.append(f"--- {name} ---\n{text}{note}")
        if not self.stdout and not self.stderr:
            parts.append("(no output)")
        mode = "sandbox" if isolation.kind == "bwrap" else "WARNING"
        parts.append(f"[{mode}: {isolation.describe()}; limits: {limits.describe()}]")
        return "\n".join(parts)


def _limit_child(limits: Limits) -> None:  # runs in the child between fork and exec
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = math.ceil(limits.time_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    size = limits.file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(Exception):  # die with the server, even if it is killed
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def child_env() -> dict[str, str]:
    """A small environment: no API keys or tokens from the server's own environment."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME", "SHELL")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"TERM": "dumb", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, int]:
    kept = bytearray()
    cut = 0
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        cut += max(0, len(chunk) - max(room, 0))
    return bytes(kept), cut


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_sandboxed(
    argv: list[str], *, root: Path, cwd: Path, limits: Limits, isolation: Isolation, stdin: bytes | None = None
) -> RunResult:
    """Run ``argv`` in ``cwd`` (inside ``root``) under the limits; never leaves a process behind."""
    full = (_bwrap_args(isolation.bwrap, root, cwd) if isolation.kind == "bwrap" and isolation.bwrap else []) + argv
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *full, cwd=str(cwd), env=child_env(), start_new_session=True,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=lambda: _limit_child(limits),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    readers = asyncio.gather(_read_capped(proc.stdout, limits.output_bytes),
                             _read_capped(proc.stderr, limits.output_bytes))  # fmt: skip
    timed_out = False
    try:
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin)
                await proc.stdin.drain()
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), limits.time_s)
        except TimeoutError:
            timed_out = True
    except BaseException:  # cancelled (the client gave up): kill, then let the cancellation through
        _kill_group(proc.pid)
        readers.cancel()
        raise
    _kill_group(proc.pid)  # whatever it left running in its group goes too
    try:
        (out, out_cut), (err, err_cut) = await asyncio.wait_for(readers, 5.0)
    except TimeoutError:  # a grandchild that left the group still holds the pipes
        readers.cancel()
        out, out_cut, err, err_cut = b"", 0, b"(output lost: a process it started kept the pipes open)", 0
    await proc.wait()
    return RunResult(proc.returncode, time.perf_counter() - started, out, err, out_cut, err_cut, timed_out)
