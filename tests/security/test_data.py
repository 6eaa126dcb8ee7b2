"""Findings 7 and 12: bad input leaves nothing behind; stored data is private and holds no secrets."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from assistant.approval import ApprovalStore
from assistant.paths import data_dir, redact_url
from tests.scripted_server import ScriptedServer, text
from tests.security.conftest import run_cli


def conversations() -> int:
    path = data_dir() / "history.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM conversations").fetchone()[0])


@pytest.mark.parametrize("data", [b"hello \xff\xfe world", bytes(range(256)) * 12, b"text\x00with a NUL"],
                         ids=["invalid-utf8", "3kb-binary", "nul"])  # fmt: skip
def test_bad_stdin_is_one_line_and_leaves_nothing(data: bytes, ws: Path) -> None:
    done = run_cli("ask", "--base-url", "http://127.0.0.1:9/v1", "-m", "m", "explain", cwd=ws, stdin=data)
    err = done.stderr.decode()
    assert done.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert conversations() == 0


def test_invalid_utf8_in_argv_is_one_line_and_leaves_nothing(ws: Path) -> None:
    done = run_cli("ask", "--base-url", "http://127.0.0.1:9/v1", "-m", "m", os.fsdecode(b"q\xff"), cwd=ws)
    err = done.stderr.decode()
    assert done.returncode == 2 and "Traceback" not in err and "not valid UTF-8" in err
    assert conversations() == 0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_files_are_private(scripted: ScriptedServer, ws: Path, tmp_path: Path) -> None:
    os.chmod(data_dir(), 0o755)  # as an older version left it
    scripted.script(text("hi"))
    trace = tmp_path / "trace.jsonl"
    done = run_cli("ask", "--no-tools", "--base-url", scripted.base_url, "-m", "m", "--trace", str(trace), "hello",
                   cwd=ws)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert mode(data_dir()) == 0o700
    assert mode(data_dir() / "history.db") == 0o600
    assert mode(trace) == 0o600
    store = ApprovalStore()
    store.allow_tool(str(ws), "files", "write_file")
    assert mode(store.path) == 0o600


@pytest.mark.parametrize("url", ["http://user:SECRETPW@127.0.0.1:{port}/v1", "http://SECRETPW@127.0.0.1:{port}/v1"])
def test_keys_in_urls_are_neither_stored_nor_traced(url: str, scripted: ScriptedServer, ws: Path,
                                                    tmp_path: Path) -> None:  # fmt: skip
    port = scripted.base_url.split(":")[2].split("/")[0]
    scripted.script(text("hi"))
    trace = tmp_path / "trace.jsonl"
    done = run_cli("ask", "--no-tools", "--base-url", url.format(port=port), "-m", "m", "--trace", str(trace), "hello",
                   cwd=ws)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"SECRETPW" not in (data_dir() / "history.db").read_bytes()
    assert "SECRETPW" not in trace.read_text()


@pytest.mark.parametrize("query", ["api_key=SECRETPW", "token=SECRETPW&x=1", "sig=SECRETPW", "auth=SECRETPW"])
def test_keys_in_url_queries_are_not_stored(query: str) -> None:
    from assistant.history import History

    with History() as store:
        store.create(endpoint=f"https://example.com/v1?{query}")
    assert b"SECRETPW" not in (data_dir() / "history.db").read_bytes()


def test_redact_url_keeps_what_is_not_secret() -> None:
    assert redact_url("http://127.0.0.1:8080/v1?model=m") == "http://127.0.0.1:8080/v1?model=m"
    assert redact_url("https://u:p@h/v1?key=k") == "https://u:***@h/v1?key=***"
