"""The one sandbox: runs a command under bubblewrap and limits, for the `run` server and the evals.

What a sandboxed command gets (with bubblewrap, Debian package ``bubblewrap``):

* **no capabilities**: a user namespace of its own with every capability dropped (also from the
  bounding set) and ``no_new_privs`` (set-uid programs gain nothing); no further user namespaces.
  Run by an unprivileged user it is that user. Run by root it stays uid 0 without capabilities
  (so a root-owned workspace stays writable), unless the caller asks to drop to ``nobody`` (the
  evals do: their working folder is their own);
* **the filesystem read-only** except the writable folder it is given (the workspace) and a
  private, size-limited ``/tmp``; ``/proc`` read-only; every home folder (``$HOME``, ``/root``,
  ``/home``) hidden, and, for root, the system's secret files (``/etc/shadow``, SSH host keys);
* **no network** (own network namespace) and **no host sockets**: ``/run`` hidden, and a seccomp
  filter refuses ``socket(AF_UNIX)`` (path sockets in the writable folder are out of reach too)
  and ``io_uring`` (which would bypass it);
* **its own PID, IPC and UTS namespaces**, a new session (no typing into the terminal), killed
  with its parent;
* **limits**: wall time (the whole process group and cgroup are killed), processes and total
  memory (a cgroup of its own where this process may create one, as root usually can; else
  ``RLIMIT_NPROC`` counted per uid and ``RLIMIT_AS`` per process), CPU seconds, file size, open
  files, no core dumps, a cap on captured output.

Without bubblewrap (not installed, or not working here) the command runs as a plain child with
only the limits; that is said loudly wherever the isolation is described, never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import platform
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PR_SET_PDEATHSIG = 1
NOBODY = 65534
SECRET_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers")
SECRET_DIRS = ("/etc/ssh", "/etc/sudoers.d", "/var/lib/sss", "/var/spool/cron")


@dataclass(frozen=True)
class Limits:
    time_s: float = 30.0  # wall-clock seconds; the whole process tree is killed after it
    memory_mb: int = 1024  # total for everything it starts (cgroup), else per process (RLIMIT_AS)
    max_procs: int = 128  # processes and threads at once (a fork bomb stops here)
    file_mb: int = 512  # largest file it may write
    output_bytes: int = 64_000  # kept per stream (stdout, stderr); the rest is drained and dropped
    tmp_mb: int = 256  # size of the private /tmp

    @property
    def timeout(self) -> float:
        return self.time_s

    def describe(self) -> str:
        return (f"{self.time_s:g} s wall time, {self.memory_mb} MB memory, {self.max_procs} processes, "
                f"{self.file_mb} MB per file, {self.output_bytes} bytes of output per stream")  # fmt: skip


@dataclass(frozen=True)
class Isolation:
    kind: Literal["bwrap", "none"]
    reason: str = ""  # for "none": why there is no sandbox
    bwrap: str | None = None
    cgroups: bool = False  # process and total-memory limits by cgroup (else rlimits)
    seccomp: bool = False  # AF_UNIX sockets and io_uring refused

    def describe(self) -> str:
        limits = ("process and total-memory limits by cgroup" if self.cgroups else
                  "process limit per uid and memory limit per process (rlimits)")  # fmt: skip
        if self.kind == "bwrap":
            sockets = "no host sockets (AF_UNIX refused)" if self.seccomp else "host sockets under /run hidden"
            return ("bubblewrap sandbox: no capabilities (own user namespace), no network, "
                    f"{sockets}, filesystem read-only except the workspace, home folders hidden, private /tmp, "
                    f"own PID namespace, {limits}")  # fmt: skip
        return (f"NO SANDBOX ({self.reason}): the command can use the network and read and write wherever this "
                f"user can; only the time, memory and output limits apply ({limits})")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# seccomp: refuse socket(AF_UNIX, ...) and io_uring_setup; everything else allowed
# ---------------------------------------------------------------------------------------------

_ARCHES = {"x86_64": (0xC000003E, 41, True), "aarch64": (0xC00000B7, 198, False)}  # audit arch, __NR_socket, x32
_IO_URING_SETUP = 425  # same number on both


def seccomp_program() -> bytes | None:
    """A classic BPF seccomp filter for this machine's architecture (None where it is not known)."""
    arch = _ARCHES.get(platform.machine())
    if arch is None:
        return None
    audit, nr_socket, has_x32 = arch
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    errno = lambda e: 0x00050000 | e  # noqa: E731
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, audit), (ret, 0, 0, kill), (ld, 0, 0, 0)]
    if has_x32:  # the x32 ABI's numbers have bit 30 set: refuse them all
        prog += [(jge, 0, 1, 0x40000000), (ret, 0, 0, errno(38))]
    prog += [
        (jeq, 0, 1, _IO_URING_SETUP), (ret, 0, 0, errno(1)),
        (jeq, 0, 3, nr_socket), (ld, 0, 0, 16), (jeq, 0, 1, 1), (ret, 0, 0, errno(13)),
        (ret, 0, 0, allow),
    ]  # fmt: skip
    return b"".join(struct.pack("HBBI", *insn) for insn in prog)


# ---------------------------------------------------------------------------------------------
# cgroups: one per run, for a process limit and a total memory limit
# ---------------------------------------------------------------------------------------------


def _cgroup_dirs() -> dict[str, Path]:
    """Where this process may create child cgroups, per controller ('pids', 'memory'); {} if nowhere."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    found: dict[str, Path] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            base = Path("/sys/fs/cgroup/unified") if Path("/sys/fs/cgroup/unified").is_dir() else Path("/sys/fs/cgroup")
            here = base / path.lstrip("/")
            with contextlib.suppress(OSError):
                enabled = (here / "cgroup.subtree_control").read_text().split()
                for name in ("pids", "memory"):
                    if name in enabled and name not in found:
                        found[name] = here
            continue
        for name in controllers.split(","):
            if name in ("pids", "memory"):
                found[name] = Path("/sys/fs/cgroup") / name / path.lstrip("/")
    return {k: v for k, v in found.items() if os.access(v, os.W_OK)}


@dataclass
class RunCgroup:
    """The cgroup(s) of one run; ``enter()`` runs in the child, ``close()`` kills what is left and removes them."""

    dirs: list[Path] = field(default_factory=list)

    @classmethod
    def create(cls, limits: Limits) -> RunCgroup | None:
        bases = _cgroup_dirs()
        if "pids" not in bases or "memory" not in bases:
            return None
        group = cls()
        name = f"assistant-sandbox-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # the pid: whose it is
        try:
            for controller in ("pids", "memory"):
                path = bases[controller] / name
                if path not in group.dirs:
                    path.mkdir()
                    group.dirs.append(path)
                if controller == "pids":
                    (path / "pids.max").write_text(str(limits.max_procs + 8))  # + bwrap's own processes
                elif (path / "memory.max").exists():  # cgroup v2
                    (path / "memory.max").write_text(str(limits.memory_mb * 1024 * 1024))
                    with contextlib.suppress(OSError):
                        (path / "memory.swap.max").write_text("0")
                else:
                    (path / "memory.limit_in_bytes").write_text(str(limits.memory_mb * 1024 * 1024))
        except OSError:
            group.close()
            return None
        return group

    def enter(self) -> None:  # in the child, before exec
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
        return found

    def close(self) -> None:
        for _ in range(200):  # kill until empty (a forking process may race the first round)
            left = self.pids()
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
        for path in reversed(self.dirs):
            for attempt in range(400):  # busy until the last exited task is released (usually < 5 ms)
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.0005 if attempt < 100 else 0.01)
        self.dirs = []


# ---------------------------------------------------------------------------------------------
# detection and the bwrap command line
# ---------------------------------------------------------------------------------------------

# Runs first inside the sandbox: no_new_privs, then (optionally) drop to another uid, then exec.
_LAUNCHER = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0:
    sys.exit("sandbox: cannot set no_new_privs")
uid = int(sys.argv[1])
if uid >= 0 and os.geteuid() != uid:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def interpreter() -> str:
    """The real interpreter (not a venv's symlink, which the sandbox's tmpfs could hide)."""
    return os.path.realpath(sys.executable)


def _hidden_homes() -> list[Path]:
    homes = {Path.home(), Path("/root"), Path("/home")}
    return sorted(h for h in homes if h.is_dir() and h != Path("/"))


def _keep_visible() -> set[Path]:
    """Folders that must stay readable even under a hidden home: the interpreter's prefixes."""
    python = Path(interpreter())
    return {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), python.parent.parent}


def bwrap_args(bwrap: str, writable: Path, inside: Path, cwd_inside: Path, limits: Limits, *,
               as_root: bool, drop_to: int | None, seccomp_fd: int | None) -> list[str]:  # fmt: skip
    """The bwrap command line (without the command): see the module docstring."""
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]  # fmt: skip
    for run in ("/run", "/var/run"):
        if os.path.isdir(run) and not os.path.islink(run):
            args += ["--tmpfs", run]
    keep = _keep_visible()
    for home in _hidden_homes():
        args += ["--size", str(1024 * 1024), "--tmpfs", str(home)]
        for prefix in sorted(keep):
            if home in prefix.parents:
                for parent in reversed(prefix.parents):  # a readable path down to the prefix
                    if home in parent.parents:
                        args += ["--perms", "0755", "--dir", str(parent)]
                args += ["--ro-bind", str(prefix), str(prefix)]
    if as_root:
        for path in SECRET_FILES:
            if os.path.isfile(path):
                args += ["--ro-bind", "/dev/null", path]
        for path in SECRET_DIRS:
            if os.path.isdir(path):
                args += ["--tmpfs", path]
    args += ["--bind", str(writable), str(inside), "--remount-ro", "/proc", "--chdir", str(cwd_inside)]
    args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session",
             "--die-with-parent"]  # fmt: skip
    if drop_to is None:  # a user namespace of its own; no capabilities, no nested namespaces
        args += ["--unshare-user", "--disable-userns"]
        if as_root:
            args += ["--uid", "0", "--gid", "0", "--cap-drop", "ALL"]
    else:  # as root, dropping to another uid inside: only setuid/setgid kept, for the launcher to drop them
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args


def _probe(bwrap: str) -> str | None:
    """Run the sandbox once; None if it works, else why not."""
    probe = Path("/tmp") if os.path.isdir("/tmp") else Path("/")
    argv = bwrap_args(bwrap, probe, probe, probe, Limits(), as_root=os.geteuid() == 0,
                      drop_to=None, seccomp_fd=None)  # fmt: skip
    try:
        proc = subprocess.run([*argv, "--", "true"], capture_output=True, text=True, timeout=15,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return f"bwrap does not work here: {proc.stderr.strip()[:200] or f'exit {proc.returncode}'}"
    return None


_PROBED: dict[str, str | None] = {}  # bwrap path -> why it does not work (None: it works); probed once


def detect_isolation(mode: Literal["auto", "bwrap", "none"] = "auto") -> Isolation:
    """bubblewrap if it is installed and works here (checked by running it once), else none.

    ``ASSISTANT_SANDBOX=none`` (or ``--sandbox none``) turns it off, loudly.
    """
    cgroups = bool(_cgroup_dirs().keys() >= {"pids", "memory"})
    if mode == "none":
        return Isolation("none", "turned off with --sandbox none", cgroups=cgroups)
    if mode == "auto" and os.environ.get("ASSISTANT_SANDBOX", "").lower() in ("none", "off", "rlimits"):
        return Isolation("none", "turned off with ASSISTANT_SANDBOX=none", cgroups=cgroups)
    bwrap = shutil.which("bwrap") if sys.platform.startswith("linux") else None
    reason = "bubblewrap (bwrap) is not installed; on Debian: apt-get install bubblewrap" if bwrap is None else None
    if bwrap is not None:
        if bwrap not in _PROBED:
            _PROBED[bwrap] = _probe(bwrap)
        reason = _PROBED[bwrap]
    if reason is None and bwrap is not None:
        return Isolation("bwrap", bwrap=bwrap, cgroups=cgroups, seccomp=seccomp_program() is not None)
    if mode == "bwrap":
        raise RuntimeError(f"--sandbox bwrap was asked for, but {reason}")
    return Isolation("none", reason or "unknown", cgroups=cgroups)


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------


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


def _nproc_limit(limits: Limits, uid: int) -> int | None:
    """RLIMIT_NPROC for a child of ``uid`` (None: not enforceable, root is exempt)."""
    if uid == 0:
        return None
    current = _user_process_count(uid) if uid == os.geteuid() else 0
    return (current or 0) + limits.max_procs


def _limit_child(limits: Limits, nproc: int | None, cgroup: RunCgroup | None) -> None:  # between fork and exec
    if cgroup is not None:
        cgroup.enter()
    mem = limits.memory_mb * 1024 * 1024
    for which, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024),
                         (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 1024)):  # fmt: skip
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))
    cpu = math.ceil(limits.time_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if nproc is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
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


def kill_group(pid: int | None) -> None:
    """SIGKILL a whole process group (the sandbox's, a server's): nothing it started is left."""
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


_kill_group = kill_group  # the older name


def sandbox_command(argv: list[str], *, writable: Path, cwd: Path, limits: Limits, isolation: Isolation,
                    inside: Path | None = None, drop_to: int | None = None,
                    seccomp_fd: int | None = None) -> list[str]:  # fmt: skip
    """The full command line: bwrap and the launcher around ``argv`` (``argv`` alone without bwrap)."""
    if isolation.kind != "bwrap" or not isolation.bwrap:
        return argv
    inside = inside or writable
    cwd_inside = inside / cwd.relative_to(writable)
    as_root = os.geteuid() == 0
    drop = drop_to if as_root else None
    outer = bwrap_args(isolation.bwrap, writable, inside, cwd_inside, limits, as_root=as_root, drop_to=drop,
                       seccomp_fd=seccomp_fd)  # fmt: skip
    return [*outer, "--", *_launcher(drop), *argv]


def _launcher(drop: int | None) -> list[str]:
    """What runs first inside: no_new_privs, then (as root, when asked) the drop to another uid, then exec.

    util-linux's ``setpriv`` where it is installed (a few ms); else a small Python launcher.
    """
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if setpriv:
        ids = [f"--reuid={drop}", f"--regid={drop}", "--clear-groups"] if drop is not None else []
        return [setpriv, "--no-new-privs", *ids, "--"]
    return [interpreter(), "-I", "-S", "-c", _LAUNCHER, str(drop if drop is not None else -1)]


async def run_sandboxed(
    argv: list[str], *, root: Path, cwd: Path, limits: Limits, isolation: Isolation, stdin: bytes | None = None,
    inside: Path | None = None, drop_to: int | None = None, env: dict[str, str] | None = None,
) -> RunResult:
    """Run ``argv`` in ``cwd`` (inside the writable ``root``, seen at ``inside``) under the limits.

    Never leaves a process behind: its process group and its cgroup are killed when it ends, on
    timeout and on cancellation.
    """
    program = seccomp_program() if isolation.kind == "bwrap" else None
    seccomp_fd = None
    if program is not None:
        seccomp_fd = os.memfd_create("assistant-seccomp", 0)
        os.write(seccomp_fd, program)
        os.lseek(seccomp_fd, 0, os.SEEK_SET)
    cgroup = RunCgroup.create(limits)
    as_root = os.geteuid() == 0
    # The cgroup counts this command's processes only; RLIMIT_NPROC counts every process of the uid
    # (for nobody: every other sandbox on the machine too), so it is the fallback, not a second limit.
    nproc = None if cgroup is not None else _nproc_limit(limits, drop_to if as_root and drop_to is not None
                                                               else os.geteuid())  # fmt: skip
    full = sandbox_command(argv, writable=root, cwd=cwd, limits=limits, isolation=isolation, inside=inside,
                           drop_to=drop_to, seccomp_fd=seccomp_fd)  # fmt: skip
    started = time.perf_counter()
    try:
        proc = await _spawn(asyncio.create_subprocess_exec(
            *full, cwd=str(cwd), env=env if env is not None else child_env(), start_new_session=True,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
            preexec_fn=lambda: _limit_child(limits, nproc, cgroup),
        ))  # fmt: skip
    except BaseException:
        if cgroup is not None:
            cgroup.close()
        raise
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
    try:
        return await _supervise(proc, limits, stdin, started)
    finally:
        kill_group(proc.pid)
        if cgroup is not None:
            cgroup.close()


async def _spawn(creating: Coroutine[Any, Any, asyncio.subprocess.Process]) -> asyncio.subprocess.Process:
    """Start a process; a cancellation waits for the start to finish, kills it, then goes through.

    Python 3.11 can hang for ever when the creation itself is cancelled: the transport closes
    before its pipes connect, and the pipes that connect afterwards are never closed.
    """
    task = asyncio.ensure_future(creating)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            proc = await task
            kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.wait_for(proc.communicate(), 5.0)
        raise


async def _supervise(proc: asyncio.subprocess.Process, limits: Limits, stdin: bytes | None,
                     started: float) -> RunResult:  # fmt: skip
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
        kill_group(proc.pid)
        readers.cancel()
        readers.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
        raise
    kill_group(proc.pid)  # whatever it left running in its group goes too
    try:
        (out, out_cut), (err, err_cut) = await asyncio.wait_for(readers, 5.0)
    except TimeoutError:  # a grandchild that left the group still holds the pipes
        readers.cancel()
        out, out_cut, err, err_cut = b"", 0, b"(output lost: a process it started kept the pipes open)", 0
    await proc.wait()
    return RunResult(proc.returncode, time.perf_counter() - started, out, err, out_cut, err_cut, timed_out)
