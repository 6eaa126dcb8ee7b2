"""Run untrusted, model-written Python in the one sandbox (``assistant.toolservers.sandbox``).

Every run gets a fresh throwaway working directory (deleted afterwards, seen inside the sandbox as
``/tmp/work``), a clean environment (``HOME`` is the working directory, ``python -I``), and the
sandbox's whole policy: no capabilities, no network, no host sockets, home folders hidden, the
filesystem read-only except the working directory, its own PID namespace, process and total-memory
limits, and a wall-clock timeout after which the whole process tree is killed. Run as root, the
code itself runs as ``nobody`` (the working directory is its own).

Without bwrap the run falls back, loudly (``Sandbox.warning``), to the limits and a temp dir only.
Whatever the code does, the outcome is a ``RunResult`` with one readable ``reason``; it never
raises for the code's own misbehaviour.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from assistant.toolservers.sandbox import NOBODY, Isolation, Limits, detect_isolation, interpreter, run_sandboxed

__all__ = ["Limits", "RunResult", "Sandbox", "eval_limits", "find_bwrap"]

WORKDIR_INSIDE = "/tmp/work"  # where the working directory appears inside bwrap
SandboxKind = Literal["bwrap", "rlimits"]
Status = Literal["ok", "error", "timeout", "killed"]


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


def eval_limits(time_s: float = 10.0, **changes: int) -> Limits:
    """The limits for one run of model-written code (smaller than the `run` server's)."""
    return replace(Limits(time_s=time_s, max_procs=64, file_mb=16, tmp_mb=64), **changes)


def find_bwrap() -> str | None:
    """Path of a working ``bwrap`` (``ASSISTANT_SANDBOX=none`` turns it off), else None."""
    return detect_isolation("auto").bwrap


class Sandbox:
    """Runs Python source in a locked-down child process; see the module docstring."""

    def __init__(
        self, limits: Limits | None = None, *, isolation: Literal["auto", "bwrap", "rlimits"] = "auto"
    ) -> None:
        self.limits = limits or eval_limits()
        self.python = interpreter()
        self.isolation: Isolation = detect_isolation("none" if isolation == "rlimits" else isolation)
        self.bwrap = self.isolation.bwrap
        self.kind: SandboxKind = "bwrap" if self.bwrap else "rlimits"
        self.warning = (
            ""
            if self.bwrap
            else "bubblewrap (bwrap) not found: model-written code runs WITHOUT filesystem and network "
            f"isolation (only resource limits, a temp dir and a clean environment: {self.isolation.reason}). "
            "Install it: apt-get install bubblewrap (scripts/system-deps.sh)."
        )

    def describe(self) -> dict[str, object]:
        lim = self.limits
        return {
            "kind": self.kind,
            "timeout_s": lim.time_s,
            "memory_mb": lim.memory_mb,
            "max_procs": lim.max_procs,
            "max_file_mb": lim.file_mb,
            "network_allowed": self.kind != "bwrap",
            "isolation": self.isolation.describe(),
        }

    async def run(
        self, source: str, *, files: dict[str, str] | None = None, time_limit: float | None = None
    ) -> RunResult:
        """Run ``source`` as ``main.py`` in a fresh directory (plus ``files``); never raises for the code's faults."""
        workdir = Path(tempfile.mkdtemp(prefix="assistant-sandbox-"))
        try:
            self._prepare(workdir, source, files or {})
            return await self._execute(workdir, time_limit or self.limits.time_s)
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
        if os.geteuid() == 0 and self.bwrap:
            os.chmod(workdir, 0o777)  # the code runs as nobody
            for path in workdir.rglob("*"):
                os.chmod(path, 0o777 if path.is_dir() else 0o666)

    async def _execute(self, workdir: Path, time_limit: float) -> RunResult:
        inside = Path(WORKDIR_INSIDE) if self.bwrap else workdir
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(inside), "TMPDIR": str(inside), "LANG": "C.UTF-8"}
        limits = replace(self.limits, time_s=time_limit)
        done = await run_sandboxed([self.python, "-I", "-B", str(inside / "main.py")], root=workdir, cwd=workdir,
                                   limits=limits, isolation=self.isolation, inside=inside, drop_to=NOBODY,
                                   env=env)  # fmt: skip
        out = _text(done.stdout, done.stdout_cut)
        err = _text(done.stderr, done.stderr_cut)
        return _classify(done.exit_code, out, err, done.seconds, time_limit if done.timed_out else None)


def _text(data: bytes, dropped: int) -> str:
    return data.decode("utf-8", "replace") + (f"\n[... {dropped} more bytes dropped]" if dropped else "")


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
