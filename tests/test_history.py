"""The SQLite history: durability, migrations, and every bad-input case from the issue."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.agent import Agent
from assistant.context import ContextBuilder, ContextOverflow, EstimateCounter
from assistant.conversation import Conversation, Message
from assistant.endpoint import Endpoint, EndpointConfig
from assistant.events import Notice, ToolCall, TurnEnd
from assistant.history import SCHEMA_VERSION, History, HistoryError
from tests.scripted_server import ScriptedServer, text, tool_calls


def test_round_trip_with_tool_calls(tmp_path: Path) -> None:
    with History(tmp_path / "h.db") as store:
        cid = store.create()
        call = ToolCall("c1", "read_file", '{"path": "a"}', source="text")
        for m in [
            Message("user", "read a"),
            Message("assistant", None, tool_calls=[call]),
            Message("tool", "contents", tool_call_id="c1", name="read_file"),
            Message("assistant", "partial", status="interrupted"),
        ]:
            store.append(cid, m)
    with History(tmp_path / "h.db") as store:
        msgs = [m for _, m in store.messages(cid)]
        assert msgs[1].tool_calls == [call]
        assert msgs[2].tool_call_id == "c1" and msgs[3].status == "interrupted"
        info = store.conversations()[0]
        assert info.title == "read a" and info.messages == 4


def test_migrates_an_old_database_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    from assistant.history import MIGRATIONS

    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('old', 't', 0, 0)")
    db.execute(
        "INSERT INTO messages (conversation_id, seq, role, content, created_at) VALUES ('old', 1, 'user', 'hi', 0)"
    )
    db.commit()
    db.close()
    with History(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [m.content for _, m in store.messages("old")] == ["hi"]
        store.acquire_lease("old")  # the column from migration 2 exists


def test_newer_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="newer version") as info:
        History(path)
    assert f"schema {SCHEMA_VERSION + 5}" in str(info.value)
    assert path.read_bytes() == before


def test_corrupt_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database at all" * 100)
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="corrupt") as info:
        History(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def _hold_lock(path: str, ready: multiprocessing.synchronize.Event, seconds: float) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    ready.set()
    time.sleep(seconds)
    db.execute("ROLLBACK")


def test_locked_database_waits_then_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with History(path) as store:
        cid = store.create()
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(path), ready, 3.0))
    holder.start()
    try:
        assert ready.wait(10)
        store = History(path, busy_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(HistoryError, match="locked by another process"):
            store.append(cid, Message("user", "hello"))
        assert time.monotonic() - started >= 0.4  # it waited first
    finally:
        holder.join()
    store.append(cid, Message("user", "after the lock"))  # and works once the lock is gone
    assert store.count(cid) == 1
    store.close()


async def test_disk_full_rolls_back_and_reports_turn_not_saved(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text("first answer"), text("second answer"))
    store = History(tmp_path / "h.db")
    conv = Conversation.create(store)
    ep = Endpoint(EndpointConfig(base_url=scripted.base_url, model="m", max_retries=0))
    agent = Agent(ep, conversation=conv)
    await agent.ask("one")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    events = [e async for e in agent.run("two " + "x" * 20000)]
    notices = [e for e in events if isinstance(e, Notice)]
    assert notices and "Disk full" in notices[0].message and "Not saved" in notices[0].message
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "second answer"  # the chat goes on
    await ep.aclose()
    store.close()
    with History(tmp_path / "h.db") as again:
        assert [m.content for _, m in again.messages(conv.id)] == ["one", "first answer"]
        integrity = again.db.execute("PRAGMA integrity_check").fetchone()[0]
        assert integrity == "ok"


async def test_message_larger_than_window_is_refused_with_sizes(scripted: ScriptedServer, tmp_path: Path) -> None:
    store = History(tmp_path / "h.db")
    conv = Conversation.create(store)
    ep = Endpoint(EndpointConfig(base_url=scripted.base_url, model="m"))
    agent = Agent(ep, conversation=conv, builder=ContextBuilder(EstimateCounter(), 2048, reserve=256))
    with pytest.raises(ContextOverflow) as info:
        await agent.ask("word " * 5000)
    assert "2,048" in str(info.value) and "tokens" in str(info.value)
    assert store.count(conv.id) == 0  # nothing saved, nothing sent
    assert not scripted.requests
    await ep.aclose()
    store.close()


def _chat_turns(path: str, cid: str, name: str, turns: int) -> None:
    store = History(Path(path), busy_timeout=10)
    for i in range(turns):
        store.acquire_lease(cid)
        store.append(cid, Message("user", f"{name} question {i}"))
        time.sleep(0.01)  # the model "thinks"; the other chat must wait, not interleave
        store.append(cid, Message("assistant", f"{name} answer {i}"))
        store.release_lease(cid)
    store.close()


def test_two_chats_on_one_conversation_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with History(path) as store:
        cid = store.create()
    procs = [multiprocessing.Process(target=_chat_turns, args=(str(path), cid, n, 15)) for n in ("A", "B")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with History(path) as store:
        msgs = [m.content or "" for _, m in store.messages(cid)]
    assert len(msgs) == 60  # nothing lost
    for q, a in zip(msgs[::2], msgs[1::2], strict=True):  # each answer follows its own question
        assert q.replace("question", "answer") == a


async def test_second_chat_sees_the_first_chats_turn(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text("A1"), text("B1"))
    path = tmp_path / "h.db"
    store_a, store_b = History(path), History(path)
    conv_a = Conversation.create(store_a)
    conv_b = Conversation.load(store_b, conv_a.id)
    ep = Endpoint(EndpointConfig(base_url=scripted.base_url, model="m"))
    await Agent(ep, conversation=conv_a).ask("from A")
    await Agent(ep, conversation=conv_b).ask("from B")
    sent = [m["content"] for m in scripted.requests[1]["messages"]]
    assert sent == ["from A", "A1", "from B"]
    await ep.aclose()
    store_a.close()
    store_b.close()


def test_sigkill_mid_turn_keeps_completed_steps(scripted: ScriptedServer, tmp_path: Path) -> None:
    # step 1: a tool call (completed, its result saved); step 2: an answer that never finishes
    scripted.script(tool_calls(("current_time", {})), text("word " * 400, delay=0.05))
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "ask", "what time is it?", "--base-url", scripted.base_url, "-m", "m"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.read(30)  # the second step is streaming
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    with History(tmp_path / "history.db") as store:
        cid = store.latest()
        assert cid is not None
        msgs = [m for _, m in store.messages(cid)]
    assert [m.role for m in msgs] == ["user", "assistant", "tool"]
    assert msgs[1].tool_calls[0].name == "current_time"
    assert msgs[2].content and msgs[2].content[:4].isdigit()  # an ISO timestamp from the real tool
    scripted.replies.clear()
