"""Run untrusted, model-written Python in a separate, locked-down process.

Every run gets:

* a fresh throwaway working directory (deleted afterwards) and a clean environment
  (no variables of the user's, ``HOME`` is the working directory, ``python -I``);
* resource limits (``setrlimit``): address space, processes, file size, open files, CPU time,
  no core dumps; and a wall-clock timeout after which the whole process tree is killed;
* where bubblewrap (``bwrap``) is installed, Linux namespaces on top: a read-only view of the
  filesystem, the user's home hidden, a private ``/tmp``, no network, its own PID namespace
  (so nothing outlives the run), a new session. Run as root, the code itself runs as
  ``nobody`` so the process limit is enforced (the kernel never applies it to root).

Without bwrap the run falls back, loudly (``Sandbox.warning``), to rlimits and a temp dir only.
Whatever the code does, the outcome is a ``RunResult`` with one readable ``reason``; it never
raises for the code's own misbehaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

NOBODY = 65534
WORKDIR_INSIDE = "/tmp/work"  # where the working directory appears inside bwrap
SandboxKind = Literal["bwrap", "rlimits"]
Status = Literal["ok", "error", "timeout", "killed"]


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0  # wall-clock seconds for the whole run
    memory_mb: int = 1024  # address space per process
    max_procs: int = 64  # processes (a fork bomb stops here)
    max_file_mb: int = 16  # largest file the code may write
    max_output: int = 64_000  # bytes of stdout/stderr kept (the rest is drained and dropped)
    tmp_mb: int = 64  # size of the private /tmp (bwrap only)


@dataclass(frozen=True)
class RunResult:
    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    reason: str  # one line: "exit 0", "timed out after 10 s", "MemoryError (memory limit) ..."

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# Runs inside the sandbox, before the untrusted code: limits, then drop root, then exec.
_LAUNCHER = r"""
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
def lim(which, value):
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass
lim(resource.RLIMIT_CORE, 0)
lim(resource.RLIMIT_AS, cfg["memory"])
lim(resource.RLIMIT_FSIZE, cfg["fsize"])
lim(resource.RLIMIT_NOFILE, 256)
lim(resource.RLIMIT_CPU, cfg["cpu"])
if cfg["nproc"]:
    lim(resource.RLIMIT_NPROC, cfg["nproc"])
if os.geteuid() == 0 and cfg["uid"] is not None:
    os.setgroups([])
    os.setgid(cfg["uid"])
    os.setuid(cfg["uid"])
os.execv(sys.executable, [sys.executable, "-I", "-B", cfg["main"]])
"""


def find_bwrap() -> str | None:
    """Path of a working ``bwrap`` (``ASSISTANT_SANDBOX=none`` turns it off), else None."""
    if os.environ.get("ASSISTANT_SANDBOX", "").lower() in ("none", "off", "rlimits"):
        return None
    return shutil.which("bwrap") if sys.platform.startswith("linux") else None


def _hidden_dirs() -> list[Path]:
    """Directories hidden inside the sandbox: the user's home (keys, tokens, history)."""
    home = Path.home()
    return [home] if home.is_dir() and home != Path("/") else []


def _world_executable(path: Path) -> bool:
    """Can any user run ``path``: the file and every directory above it open to others?"""
    try:
        if not os.stat(path).st_mode & 0o001:
            return False
        return all(os.stat(parent).st_mode & 0o001 for parent in path.parents)
    except OSError:
        return False


def _user_process_count(uid: int) -> int | None:
    """How many processes ``uid`` has now (RLIMIT_NPROC counts them all, not just ours)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    count = 0
    for name in entries:
        if name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
    return count


class Sandbox:
    """Runs Python source in a locked-down child process; see the module docstring."""

    def __init__(
        self, limits: Limits | None = None, *, isolation: Literal["auto", "bwrap", "rlimits"] = "auto"
    ) -> None:
        self.limits = limits or Limits()
        # The real interpreter, not a venv's symlink: a checkout under /tmp would be hidden by the tmpfs.
        self.python = os.path.realpath(sys.executable)
        bwrap = find_bwrap() if isolation != "rlimits" else None
        if isolation == "bwrap" and bwrap is None:
            raise RuntimeError("bubblewrap (bwrap) is not installed; install it or use isolation='rlimits'.")
        self.bwrap = bwrap
        self.kind: SandboxKind = "bwrap" if bwrap else "rlimits"
        self.warning = (
            ""
            if bwrap
            else "bubblewrap (bwrap) not found: model-written code runs WITHOUT filesystem and network "
            "isolation (only resource limits, a temp dir and a clean environment). "
            "Install it: apt-get install bubblewrap (scripts/system-deps.sh)."
        )

    @property
    def _drop_root(self) -> bool:
        """Run the code as nobody? Inside bwrap always; without it only if nobody can run Python."""
        return self.bwrap is not None or _world_executable(Path(self.python).resolve())

    def describe(self) -> dict[str, object]:
        lim = self.limits
        return {
            "kind": self.kind,
            "timeout_s": lim.timeout,
            "memory_mb": lim.memory_mb,
            "max_procs": lim.max_procs,
            "max_file_mb": lim.max_file_mb,
            "network_allowed": self.kind != "bwrap",
        }

    async def run(
        self, source: str, *, files: dict[str, str] | None = None, time_limit: float | None = None
    ) -> RunResult:
        """Run ``source`` as ``main.py`` in a fresh directory (plus ``files``); never raises for the code's faults."""
        workdir = Path(tempfile.mkdtemp(prefix="assistant-sandbox-"))
        try:
            self._prepare(workdir, source, files or {})
            return await self._execute(workdir, time_limit or self.limits.timeout)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _prepare(self, workdir: Path, source: str, files: dict[str, str]) -> None:
        (workdir / "main.py").write_text(source, encoding="utf-8")
        for name, text in files.items():
            target = (workdir / name).resolve()
            if workdir.resolve() not in target.parents:
                raise ValueError(f"file name {name!r} escapes the working directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        if os.geteuid() == 0 and self._drop_root:
            os.chmod(workdir, 0o777)  # the code runs as nobody
            for path in workdir.rglob("*"):
                os.chmod(path, 0o777 if path.is_dir() else 0o666)

    def _launcher_config(self, workdir_inside: str, time_limit: float) -> str:
        lim = self.limits
        nproc = lim.max_procs
        if os.geteuid() != 0:  # the limit counts all of the user's processes, so add what runs now
            current = _user_process_count(os.geteuid())
            nproc = (current + lim.max_procs) if current is not None else 0
        return json.dumps({
            "memory": lim.memory_mb * 1024 * 1024, "fsize": lim.max_file_mb * 1024 * 1024,
            "cpu": int(time_limit) + 2, "nproc": nproc, "uid": NOBODY if self._drop_root else None,
            "main": f"{workdir_inside}/main.py",
        })  # fmt: skip

    def command(self, workdir: Path, time_limit: float) -> tuple[list[str], str]:
        """The argv for one run and the working directory as the code sees it."""
        if self.bwrap is None:
            inside = str(workdir)
            return [self.python, "-I", "-c", _LAUNCHER, self._launcher_config(inside, time_limit)], inside
        inside = WORKDIR_INSIDE
        cmd = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--size", str(self.limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]  # fmt: skip
        cmd += self._hide_home_keep_python()
        cmd += ["--bind", str(workdir), inside, "--chdir", inside]
        cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session",
                "--die-with-parent", "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
                "--setenv", "HOME", inside, "--setenv", "TMPDIR", inside, "--setenv", "LANG", "C.UTF-8"]  # fmt: skip
        cmd += [self.python, "-I", "-c", _LAUNCHER, self._launcher_config(inside, time_limit)]
        return cmd, inside

    def _hide_home_keep_python(self) -> list[str]:
        """tmpfs over the home directory, re-binding the interpreter if it lives there (pyenv, venvs)."""
        args: list[str] = []
        keep = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(self.python).resolve().parent.parent}
        for hidden in _hidden_dirs():
            args += ["--size", str(1024 * 1024), "--tmpfs", str(hidden)]
            for prefix in sorted(keep):
                if hidden not in prefix.parents:
                    continue
                for parent in reversed(prefix.parents):  # readable path down to the prefix
                    if hidden in parent.parents:
                        args += ["--perms", "0755", "--dir", str(parent)]
                args += ["--ro-bind", str(prefix), str(prefix)]
        return args

    async def _execute(self, workdir: Path, time_limit: float) -> RunResult:
        cmd, _inside = self.command(workdir, time_limit)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir)}
        env["LANG"] = "C.UTF-8"
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=str(workdir), env=env, start_new_session=True,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        cap = self.limits.max_output
        readers = [asyncio.ensure_future(_drain(s, cap)) for s in (proc.stdout, proc.stderr)]
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), time_limit)
        except TimeoutError:
            timed_out = True
        finally:
            _kill_tree(proc.pid)  # also on cancellation: nothing of the run may survive it
            with contextlib.suppress(TimeoutError, ProcessLookupError):
                await asyncio.wait_for(proc.wait(), 5.0)
        done, pending = await asyncio.wait(readers, timeout=2.0)
        for task in pending:
            task.cancel()
        out = readers[0].result() if readers[0] in done else ""
        err = readers[1].result() if readers[1] in done else ""
        seconds = time.perf_counter() - started
        return _classify(proc.returncode, out, err, seconds, time_limit if timed_out else None)


async def _drain(stream: asyncio.StreamReader, cap: int) -> str:
    """Read a pipe to its end, keeping the first ``cap`` bytes (endless output cannot fill memory)."""
    kept = bytearray()
    dropped = 0
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        kept += chunk[:room]
        dropped += max(0, len(chunk) - room)
    text = kept.decode("utf-8", "replace")
    return text + (f"\n[... {dropped} more bytes dropped]" if dropped else "")


def _kill_tree(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip() and not ln.startswith("[... ")]
    return lines[-1] if lines else ""


_HINTS = (
    ("MemoryError", "memory limit"),
    ("Read-only file system", "write outside the working directory refused"),
    ("Permission denied", "access outside the sandbox refused"),
    ("Resource temporarily unavailable", "process limit"),
    ("File too large", "file size limit"),
)


def _classify(code: int | None, out: str, err: str, seconds: float, timed_out: float | None) -> RunResult:
    if timed_out is not None:
        return RunResult("timeout", code, out, err, seconds, f"timed out after {timed_out:g} s")
    if code == 0:
        return RunResult("ok", 0, out, err, seconds, "exit 0")
    if code is not None and code < 0:
        sig = -code
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        why = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory or time limit)",
               "SIGXFSZ": " (file size limit)"}.get(name, "")  # fmt: skip
        return RunResult("killed", code, out, err, seconds, f"killed by {name}{why}")
    last = _last_line(err) or f"exit {code}"
    for needle, hint in _HINTS:
        if needle in err:
            last = f"{last} ({hint})"
            break
    return RunResult("error", code, out, err, seconds, last[:300])
