"""Finding 13: a llama-server we start answers only its own clients.

llama-server answers any web origin's CORS preflight, so a page in the user's browser (or any local
program) could use a key-less server on a loopback port. Each server we start gets a fresh random
key, passed in a private file (never on the command line), and every client of ours sends it.

Fast tests run the fake llama-server of tests/test_local_server.py (it enforces the key the way
llama-server does: everything but /health needs it); the slow ones run the real binary and model.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.local import models, serve
from assistant.local.keys import keys_dir
from assistant.local.models import DEFAULT_MODEL, MODELS
from assistant.local.server import (
    LocalServer,
    ServedState,
    find_running_server,
    open_local_server,
    read_state,
    run_dir,
    state_path,
    write_state,
)
from tests.security.conftest import run_cli
from tests.test_local_server import child_env, fake_binary, fake_ready_model, gone, wait_for

__all__ = ["fake_binary", "fake_ready_model"]  # fixtures, used by name

SPEC = MODELS[DEFAULT_MODEL]
PROTECTED = ("/v1/models", "/models", "/props", "/metrics", "/slots")


def _get(url: str, key: str | None = None, header: str = "Authorization") -> int:
    headers = {header: (f"Bearer {key}" if header == "Authorization" else key)} if key is not None else {}
    return httpx.get(url, headers=headers, timeout=30, trust_env=False).status_code


def _argv(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _all_argv() -> bytes:
    """Every process's command line, as `ps` shows them to any user."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return b"\n".join(found)


def _files_holding(root: Path, secret: str, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Files under ``root`` (models aside) whose bytes contain ``secret``."""
    hits = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file() or any(path == s or s in path.parents for s in skip):
            continue
        if path.stat().st_size < 64 * 2**20 and secret.encode() in path.read_bytes():
            hits.append(path)
    return hits


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def cleanup_served() -> Iterator[None]:
    yield
    serve.stop_served(timeout=5.0)


def _state(srv: LocalServer, key: str) -> ServedState:
    assert srv.pid is not None
    return ServedState(model=DEFAULT_MODEL, model_sha256=SPEC.sha256, port=srv.port, pid=srv.pid,
                       supervisor_pid=os.getpid(), started_at=0.0, api_key=key)  # fmt: skip


# ---- fast: the fake llama-server ------------------------------------------------------------------


async def test_each_server_gets_a_fresh_key_through_a_private_file_never_argv(fake_binary: Path) -> None:
    async with LocalServer(Path("/unused.gguf")) as one, LocalServer(Path("/unused.gguf")) as two:
        assert one.api_key and two.api_key and one.api_key != two.api_key
        assert len(one.api_key) >= 40  # 256 bits
        assert one.pid is not None
        argv = _argv(one.pid).split(b"\0")
        assert one.api_key.encode() not in b" ".join(argv)
        key_file = Path(argv[argv.index(b"--api-key-file") + 1].decode())
        assert key_file.parent == keys_dir()
        assert list(keys_dir().iterdir()) == [], "a key file outlived its server's start-up"
        log = one.log_path.read_text() if one.log_path else ""
        assert "key file mode 600, folder mode 700" in log  # as llama-server found them when reading
        assert one.api_key not in log
        root = one.root_url
        assert _get(f"{root}/health") == 200  # llama-server's one public path
        assert _get(f"{root}/v1/models") == 401
        assert _get(f"{root}/v1/models", "wrong") == 401
        assert _get(f"{root}/v1/models", two.api_key) == 401  # another server's key is no key here
        assert _get(f"{root}/v1/models", one.api_key) == 200


async def test_a_served_model_without_a_key_is_not_reused(
    fake_ready_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NO_AUTH", "1")  # as a served llama-server from before keys answers anyone
    async with LocalServer(Path("/unused.gguf")) as old:
        monkeypatch.delenv("FAKE_NO_AUTH")
        write_state(_state(old, ""))
        lines: list[str] = []
        assert await find_running_server(status=lines.append) is None
        assert len(lines) == 1 and "no key" in lines[0] and "starting one of our own" in lines[0]
        async with open_local_server(status=lines.append) as srv:
            assert srv.owned and srv.port != old.port and srv.api_key
        assert old.running  # not ours to stop from `ask`
        # a key in the state file, but the server answers without it: not protected, not used
        write_state(_state(old, "k" * 43))
        lines.clear()
        assert await find_running_server(status=lines.append) is None
        assert len(lines) == 1 and "answers without its key" in lines[0]


async def test_a_wrong_key_or_an_exposed_state_file_is_not_trusted(fake_binary: Path) -> None:
    async with LocalServer(Path("/unused.gguf")) as mine:
        assert mine.api_key
        write_state(_state(mine, "not-the-key"))
        lines: list[str] = []
        assert await find_running_server(status=lines.append) is None
        assert len(lines) == 1 and "refuses its key" in lines[0]
        write_state(_state(mine, mine.api_key))
        assert _mode(state_path(DEFAULT_MODEL)) == 0o600 and _mode(run_dir()) == 0o700
        found = await find_running_server()
        assert found is not None and found.api_key == mine.api_key and not found.owned
        os.chmod(state_path(DEFAULT_MODEL), 0o644)  # readable by others: the key may be known
        lines.clear()
        assert await find_running_server(status=lines.append) is None
        assert len(lines) == 1 and "open to other users" in lines[0]
        os.chmod(state_path(DEFAULT_MODEL), 0o600)
        target = state_path(DEFAULT_MODEL).with_name("elsewhere.json")
        state_path(DEFAULT_MODEL).rename(target)
        state_path(DEFAULT_MODEL).symlink_to(target)  # a planted link
        lines.clear()
        assert await find_running_server(status=lines.append) is None
        assert "not a regular file" in lines[0]


def test_served_key_lives_only_in_the_private_state_file(fake_ready_model: Path, cleanup_served: None) -> None:
    lines: list[str] = []
    assert serve.run_serve(background=True, idle_timeout=60, echo=lines.append) == 0
    state = read_state(DEFAULT_MODEL)
    assert state is not None and state.api_key
    key = state.api_key
    assert _mode(state_path(DEFAULT_MODEL)) == 0o600
    assert key not in "\n".join(lines)
    assert key.encode() not in _all_argv()
    data = Path(os.environ["ASSISTANT_DATA_DIR"])
    assert _files_holding(data, key) == [state_path(DEFAULT_MODEL)]  # not in logs, not in a key file
    shown = run_cli("models", cwd=data, env=child_env())
    out = shown.stdout.decode()
    assert shown.returncode == 0 and "key-protected" in out and "NOT key-protected" not in out
    assert key not in out + shown.stderr.decode()
    printed = run_cli("serve", "--print-key", cwd=data, env=child_env())
    assert printed.returncode == 0 and printed.stdout.decode() == key + "\n"  # for other clients, on request
    assert _get(f"http://127.0.0.1:{state.port}/v1/models") == 401
    assert _get(f"http://127.0.0.1:{state.port}/v1/models", key) == 200


def test_serve_restarts_a_served_model_that_has_no_key(
    fake_ready_model: Path, monkeypatch: pytest.MonkeyPatch, cleanup_served: None
) -> None:
    monkeypatch.setenv("FAKE_NO_AUTH", "1")
    old = subprocess.Popen([sys.executable, "-m", "assistant.local.serve"], env=child_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert wait_for(lambda: read_state(DEFAULT_MODEL) is not None, 30)
        state = read_state(DEFAULT_MODEL)
        assert state is not None
        write_state(ServedState(**{**state.__dict__, "api_key": ""}))  # as an older version wrote it
        monkeypatch.delenv("FAKE_NO_AUTH")
        lines: list[str] = []
        assert serve.run_serve(background=True, idle_timeout=60, echo=lines.append) == 0
        assert "restarting the served" in lines[0] and "no key" in lines[0]
        assert gone(state.pid)
        new = read_state(DEFAULT_MODEL)
        assert new is not None and new.api_key and new.pid != state.pid
        assert _get(f"http://127.0.0.1:{new.port}/v1/models") == 401
    finally:
        old.kill()
        old.wait()


def test_print_key_without_a_served_model_is_one_line(tmp_path: Path) -> None:
    done = run_cli("serve", "--print-key", cwd=tmp_path, env=child_env())
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().count("\n") == 1 and "No key-protected served" in done.stderr.decode()


# ---- slow: the real llama-server and model ---------------------------------------------------------


@pytest.fixture
def real_data(shared_local_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir of this test's own (state files, logs, history), with the shared verified model linked in."""
    data = tmp_path / "data"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data))
    monkeypatch.delenv("ASSISTANT_LLAMA_SERVER", raising=False)
    path = models.model_path(SPEC)
    path.parent.mkdir(parents=True, exist_ok=True)
    shared = shared_local_data / path.relative_to(data)
    path.symlink_to(shared)
    shutil.copy(models._sidecar(shared), models._sidecar(path))
    assert models.model_state(SPEC) == "ready"
    return data


@pytest.mark.slow
async def test_real_server_refuses_every_request_without_its_key(real_data: Path) -> None:
    async with open_local_server(reuse=False) as srv:
        assert srv.owned and srv.api_key and srv.pid is not None
        assert srv.api_key.encode() not in _argv(srv.pid)
        root, key = srv.root_url, srv.api_key
        for path in PROTECTED:
            assert (_get(root + path), _get(root + path, "wrong"), _get(root + path, "wrong", "X-Api-Key")) == (
                401, 401, 401), path  # fmt: skip
            assert _get(root + path, key) == 200, path
        async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
            chat = {"model": srv.model, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
            for path, body in (("/v1/chat/completions", chat), ("/tokenize", {"content": "hi"}),
                               ("/slots/0?action=save", {"filename": "x.bin"})):  # fmt: skip
                wrong = {"Authorization": "Bearer no"}
                assert (await client.post(root + path, json=body)).status_code == 401, path
                assert (await client.post(root + path, json=body, headers=wrong)).status_code == 401, path
            tokenized = await client.post(root + "/tokenize", json={"content": "hi"}, headers=srv.headers)
            assert tokenized.status_code == 200
            # a web page's preflight: not allowed to read our answers, and never with credentials
            pre = await client.options(root + "/v1/chat/completions", headers={
                "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization"})  # fmt: skip
            assert pre.headers.get("access-control-allow-origin") != "https://evil.example"
            assert pre.headers.get("access-control-allow-credentials") != "true"
        log = srv.log_path.read_text(errors="replace") if srv.log_path else ""
        assert key not in log and f"****{key[-4:]}" not in log  # some builds log a key's last 4 characters
    assert list(keys_dir().iterdir()) == []


@pytest.mark.slow
def test_real_served_key_never_reaches_ps_logs_traces_json_or_history(real_data: Path, tmp_path: Path) -> None:
    env = child_env()
    work = tmp_path / "work"
    work.mkdir()
    started = run_cli("serve", "--background", "--idle-timeout", "300", cwd=work, env=env, timeout=300)
    try:
        assert started.returncode == 0, started.stderr.decode()
        key = run_cli("serve", "--print-key", cwd=work, env=env).stdout.decode().strip()
        assert len(key) >= 40
        trace = tmp_path / "trace.jsonl"
        asked = run_cli("ask", "--json", "--no-tools", "--trace", str(trace), "Reply with one word: hello",
                        cwd=work, env=env, timeout=300)  # fmt: skip
        assert asked.returncode == 0, asked.stderr.decode()
        assert asked.stdout.strip()
        state = read_state(DEFAULT_MODEL)
        assert state is not None
        metrics = httpx.get(f"http://127.0.0.1:{state.port}/metrics", headers={"Authorization": f"Bearer {key}"},
                            trust_env=False).text  # fmt: skip
        assert serve.parse_metrics(metrics)["llamacpp:tokens_predicted_total"] > 0  # the served one answered
        assert key not in asked.stdout.decode() + asked.stderr.decode()
        assert trace.stat().st_size > 0 and key not in trace.read_text()
        assert key.encode() not in _all_argv()
        shown = run_cli("models", cwd=work, env=env)
        assert "key-protected" in shown.stdout.decode() and key not in shown.stdout.decode()
        listed = run_cli("history", "list", cwd=work, env=env)
        assert listed.returncode == 0 and key not in listed.stdout.decode()
        # on disk: only the private state file holds it (not the history, the logs, the slots)
        assert _files_holding(real_data, key, skip=(real_data / "models",)) == [state_path(DEFAULT_MODEL)]
        assert _get(f"http://127.0.0.1:{state.port}/props") == 401
    finally:
        run_cli("serve", "--stop", cwd=work, env=env)
    assert wait_for(lambda: read_state(DEFAULT_MODEL) is None, 10)
