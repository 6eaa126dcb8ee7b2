"""`assistant serve`: keep one llama-server up for any OpenAI-compatible client, and stop it when idle.

Foreground: start the server, write the state file, wait for Ctrl-C/SIGTERM (or the idle timeout).
Background: assemble the model here (so the user sees progress), then spawn a detached supervisor,
``python -m assistant.local.serve``, which does the foreground part in its own session; return as
soon as it is healthy. The server belongs to the supervisor (its PDEATHSIG is tied to it), not to
the short-lived CLI process.

Idleness is read from llama-server's own ``/metrics`` (token and decode counters, requests in
flight), so requests from any client count; ``find_running_server`` touching the state file counts
too. A per-model ``flock`` held for the supervisor's lifetime keeps two `serve`s from racing.

The server's key is written to the 0600 state file only (``assistant serve --print-key`` shows
it, for other clients); a served model left by an older version without a key is restarted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from assistant.errors import LocalModelError
from assistant.local.models import DEFAULT_MODEL, ModelSpec, ProgressFn, ensure_model_file, get_model
from assistant.local.server import (
    LocalServer,
    ServedState,
    find_running_server,
    keyless_reason,
    log_tail,
    logs_dir,
    pid_is_llama_server,
    process_cmdline,
    read_state,
    remove_state,
    run_dir,
    state_path,
    write_state,
)

Echo = Callable[[str], None]
BACKGROUND_START_TIMEOUT = 180.0
_ACTIVITY_COUNTERS = (
    "llamacpp:prompt_tokens_total",
    "llamacpp:tokens_predicted_total",
    "llamacpp:n_decode_total",
    "llamacpp:prompt_tokens_cached_total",
)
_BUSY_GAUGES = ("llamacpp:requests_processing", "llamacpp:requests_deferred")


def _noop(_: str) -> None:
    return None


@dataclass(frozen=True)
class ServeStatus:
    model: str
    base_url: str
    pid: int
    supervisor_pid: int
    started_at: float
    idle_timeout: float | None
    healthy: bool
    log_path: str
    protected: bool  # refuses requests without its key, and our state file holds that key privately


# ---- idle detection ------------------------------------------------------------------------------


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format -> {name: value} (labels are ignored; llama-server uses none)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" ")
        with contextlib.suppress(ValueError, IndexError):
            values[name.split("{", 1)[0]] = float(rest.split()[0])
    return values


async def _activity(client: httpx.AsyncClient, srv: LocalServer) -> tuple[tuple[float, ...], bool] | None:
    """(counters that change with any request, busy now?) or None if /metrics did not answer."""
    try:
        resp = await client.get(f"{srv.root_url}/metrics")
        resp.raise_for_status()
    except httpx.HTTPError:
        return None
    metrics = parse_metrics(resp.text)
    try:
        touched = state_path(srv.model).stat().st_mtime
    except OSError:
        touched = 0.0
    counters = (*(metrics.get(k, 0.0) for k in _ACTIVITY_COUNTERS), touched)
    return counters, any(metrics.get(k, 0.0) > 0 for k in _BUSY_GAUGES)


async def wait_until_idle(srv: LocalServer, idle_timeout: float, poll: float | None = None) -> None:
    """Return once ``srv`` has seen no activity for ``idle_timeout`` seconds."""
    interval = poll or max(0.25, min(5.0, idle_timeout / 5))
    last: tuple[float, ...] | None = None
    last_active = time.monotonic()
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), headers=srv.headers, trust_env=False) as client:
        while True:
            await asyncio.sleep(interval)
            seen = await _activity(client, srv)
            now = time.monotonic()
            if seen is not None:
                counters, busy = seen
                if busy or (last is not None and counters != last):
                    last_active = now
                last = counters
            if now - last_active >= idle_timeout:
                return


# ---- serving in this process ---------------------------------------------------------------------


def _serve_lock(spec: ModelSpec) -> IO[bytes] | None:
    """Hold this model's serve lock for the life of the returned file; None if someone else has it."""
    path = run_dir() / f"server-{spec.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


async def _until_done(srv: LocalServer, idle_timeout: float | None) -> tuple[str, int]:
    """Wait for a stop signal, the server dying, or idleness. Returns (why, exit code)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)

    waits = {
        asyncio.create_task(stop.wait()): ("stopped by signal", 0),
        asyncio.create_task(srv.wait()): (f"llama-server exited unexpectedly; log: {srv.log_path}", 1),
    }
    if idle_timeout:
        waits[asyncio.create_task(wait_until_idle(srv, idle_timeout))] = (f"idle for {idle_timeout:g} s, stopping", 0)
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        return waits[next(iter(done))]
    finally:
        for task in waits:
            task.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)


async def serve_here(
    spec: ModelSpec,
    port: int | None,
    idle_timeout: float | None,
    ctx: int | None,
    echo: Echo,
    progress: ProgressFn | None = None,
) -> int:
    """Run the server in this process until stopped: the body of foreground serve and the supervisor."""
    _restart_keyless(spec, echo)
    lock = _serve_lock(spec)
    if lock is None:
        found = await find_running_server(spec.name)
        echo(
            f"{spec.name} is already served at {found.base_url}"
            if found
            else f"another `assistant serve` for {spec.name} is starting or unhealthy"
        )
        return 0 if found else 1
    try:
        path = await asyncio.to_thread(ensure_model_file, spec, progress)
        async with LocalServer(path, model=spec.name, port=port, ctx=ctx or spec.context) as srv:
            assert srv.pid is not None
            write_state(
                ServedState(
                    model=spec.name,
                    model_sha256=spec.sha256,
                    port=srv.port,
                    pid=srv.pid,
                    supervisor_pid=os.getpid(),
                    started_at=time.time(),
                    idle_timeout=idle_timeout,
                    log_path=str(srv.log_path or ""),
                    api_key=srv.api_key or "",
                )
            )
            try:
                echo(
                    f"Serving {spec.name} at {srv.base_url} (model id {srv.model!r}, pid {srv.pid}, "
                    f"ready in {srv.startup_seconds or 0:.1f} s; key: `assistant serve --print-key`)"
                )
                why, code = await _until_done(srv, idle_timeout)
                echo(why)
            finally:
                remove_state(spec.name, pid=srv.pid)
        return code
    finally:
        lock.close()


# ---- background --------------------------------------------------------------------------------


def _supervisor_command(spec: ModelSpec, port: int | None, idle_timeout: float | None, ctx: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "assistant.local.serve", "--model", spec.name]
    if port:
        cmd += ["--port", str(port)]
    if idle_timeout:
        cmd += ["--idle-timeout", str(idle_timeout)]
    if ctx:
        cmd += ["--ctx", str(ctx)]
    return cmd


def _spawn_supervisor(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    package_root = str(Path(__file__).resolve().parents[2])  # so `-m assistant...` imports this copy
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
            cwd=log_path.parent,
        )


async def _wait_served(spec: ModelSpec, proc: subprocess.Popen[bytes], log_path: Path, limit: float) -> LocalServer:
    deadline = time.monotonic() + limit
    while True:
        found = await find_running_server(spec.name)
        if found is not None:
            return found
        if proc.poll() is not None:
            raise LocalModelError(
                f"`assistant serve` for {spec.name} exited with code {proc.returncode} before the server was ready.",
                hint=f"Log {log_path}: {log_tail(log_path)}",
            )
        if time.monotonic() > deadline:
            raise LocalModelError(
                f"`assistant serve` for {spec.name} was not ready within {limit:.0f} s.",
                hint=f"Log {log_path}: {log_tail(log_path)}",
            )
        await asyncio.sleep(0.2)


def _serve_background(
    spec: ModelSpec,
    port: int | None,
    idle_timeout: float | None,
    ctx: int | None,
    echo: Echo,
    progress: ProgressFn | None,
) -> int:
    _restart_keyless(spec, echo)
    found = asyncio.run(find_running_server(spec.name))
    if found is not None:
        echo(f"{spec.name} is already served at {found.base_url}")
        return 0
    ensure_model_file(spec, progress)  # here, where the user can see the progress
    log_path = logs_dir() / f"serve-{spec.name}.log"
    proc = _spawn_supervisor(_supervisor_command(spec, port, idle_timeout, ctx), log_path)
    srv = asyncio.run(_wait_served(spec, proc, log_path, BACKGROUND_START_TIMEOUT))
    idle = f", stops after {idle_timeout:g} s idle" if idle_timeout else ""
    echo(
        f"Serving {spec.name} at {srv.base_url} in the background (supervisor pid {proc.pid}{idle}; "
        f"log {log_path}). Key for other clients: assistant serve --print-key. Stop it with: assistant serve --stop"
    )
    return 0


def _restart_keyless(spec: ModelSpec, echo: Echo) -> None:
    """A live served model whose key we cannot use (an older version's, or an untrusted state file) is
    stopped, so that the new `serve` starts one with a key."""
    state = read_state(spec.name)
    if state is None or not pid_is_llama_server(state.pid):
        return
    why = keyless_reason(state)
    if why is not None:
        echo(f"restarting the served {spec.name} (pid {state.pid}): {why}")
        _stop_one(state, 10.0)
        _wait_gone(state.supervisor_pid, 10.0, _is_supervisor)  # and its serve lock with it


def served_key(model: str = DEFAULT_MODEL) -> str | None:
    """The key of the running served ``model`` (None if none runs or its key is not one we trust)."""
    spec = get_model(model)
    state = read_state(spec.name)
    if state is None or not pid_is_llama_server(state.pid) or keyless_reason(state) is not None:
        return None
    return state.api_key


def run_serve(
    model: str = DEFAULT_MODEL,
    port: int | None = None,
    background: bool = False,
    idle_timeout: float | None = None,
    *,
    ctx: int | None = None,
    echo: Echo | None = None,
    progress: ProgressFn | None = None,
) -> int:
    """Back `assistant serve`. Returns the exit code; setup failures raise ``LocalModelError``.

    Blocking: call it from the CLI edge, not from inside a running event loop.
    """
    spec = get_model(model)
    say = echo or _noop
    if idle_timeout is not None and idle_timeout <= 0:
        idle_timeout = None
    if background:
        return _serve_background(spec, port, idle_timeout, ctx, say, progress)
    return asyncio.run(serve_here(spec, port, idle_timeout, ctx, say, progress))


# ---- stop / status -------------------------------------------------------------------------------


def _served_models() -> list[str]:
    return sorted(p.name[len("server-") : -len(".json")] for p in run_dir().glob("server-*.json"))


def _wait_gone(pid: int, seconds: float, alive: Callable[[int], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _is_supervisor(pid: int) -> bool:
    """Alive and plausibly ours (guards against a recycled pid)."""
    cmd = process_cmdline(pid)
    if not cmd:
        return False
    return b"assistant" in cmd or cmd == b"?"


def _stop_one(state: ServedState, timeout: float) -> bool:
    stopped = False
    supervisor = state.supervisor_pid
    if supervisor != os.getpid() and _is_supervisor(supervisor):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(supervisor, signal.SIGTERM)
            stopped = True
    if pid_is_llama_server(state.pid) and not _wait_gone(state.pid, timeout, pid_is_llama_server):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(state.pid, signal.SIGKILL)
        _wait_gone(state.pid, 5.0, pid_is_llama_server)
        stopped = True
    remove_state(state.model, pid=state.pid)
    return stopped


def stop_served(model: str | None = None, *, timeout: float = 10.0) -> bool:
    """Stop the served llama-server for ``model`` (all models if None). True if one was running."""
    names = [get_model(model).name] if model else _served_models()
    stopped = False
    for name in names:
        state = read_state(name)
        if state is not None:
            stopped = _stop_one(state, timeout) or stopped
    return stopped


def status(model: str | None = None) -> list[ServeStatus]:
    """What `assistant serve` is running now. Stale state files are removed, not reported."""
    names = [get_model(model).name] if model else _served_models()
    result: list[ServeStatus] = []
    for name in names:
        state = read_state(name)
        if state is None:
            continue
        if not pid_is_llama_server(state.pid):
            remove_state(name, pid=state.pid)
            continue
        healthy, protected = _health(state)
        result.append(
            ServeStatus(
                model=name,
                base_url=state.base_url,
                pid=state.pid,
                supervisor_pid=state.supervisor_pid,
                started_at=state.started_at,
                idle_timeout=state.idle_timeout,
                healthy=healthy,
                log_path=state.log_path,
                protected=protected,
            )
        )
    return result


def _health(state: ServedState) -> tuple[bool, bool]:
    """(answers /health, key-protected: refuses a request without the key and accepts ours)."""
    root = f"http://127.0.0.1:{state.port}"
    try:
        with httpx.Client(timeout=3.0, trust_env=False) as client:
            if client.get(f"{root}/health").status_code != 200:
                return False, False
            if keyless_reason(state) is not None or client.get(f"{root}/v1/models").status_code != 401:
                return True, False
            keyed = client.get(f"{root}/v1/models", headers={"Authorization": f"Bearer {state.api_key}"})
            return True, keyed.status_code == 200
    except httpx.HTTPError:
        return False, False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the detached supervisor (and a standalone foreground `serve`)."""
    parser = argparse.ArgumentParser(prog="python -m assistant.local.serve")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--ctx", type=int, default=None)
    args = parser.parse_args(argv)

    def echo(line: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", flush=True)

    try:
        return run_serve(args.model, args.port, False, args.idle_timeout, ctx=args.ctx, echo=echo)
    except LocalModelError as exc:
        echo(f"error: {exc.user_line()}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
