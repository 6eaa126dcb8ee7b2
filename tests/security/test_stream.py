"""Finding 9: a stream that just stops is not saved as a complete answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant.paths import data_dir
from tests.scripted_server import Reply, ScriptedServer
from tests.security.conftest import run_cli


def test_a_stream_cut_without_finish_is_an_error_and_marked_partial(scripted: ScriptedServer, ws: Path) -> None:
    chunks = [{"role": "assistant", "content": ""}, {"content": "The answer is"}]
    scripted.script(Reply(kind="eof", chunks=chunks))
    done = run_cli("ask", "--no-tools", "--base-url", scripted.base_url, "-m", "m", "q", cwd=ws)
    assert done.returncode != 0
    assert b"ended without a finish reason" in done.stderr
    with sqlite3.connect(data_dir() / "history.db") as db:
        rows = db.execute("SELECT role, content, status FROM messages ORDER BY seq").fetchall()
    assert rows[-1][0] == "assistant" and rows[-1][2] != "complete", rows
