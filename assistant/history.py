"""Conversations and every message in SQLite, written step by step, in transactions.

* One file, ``<data dir>/history.db``, WAL mode, numbered migrations tracked in
  ``PRAGMA user_version``. A database from a newer version, or a file that is
  not a database, is refused with the reason and never touched.
* Every append is one ``BEGIN IMMEDIATE`` transaction: a crash or SIGKILL
  mid-turn leaves every completed step readable, and a failed write (disk
  full) rolls back completely.
* Two chats on one conversation: a turn holds the conversation's *lease*; the
  other chat waits for it, then reloads the messages it missed, so turns
  never interleave and nothing is lost.
* A database locked by another process is waited for (``busy_timeout``), then
  reported in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.conversation import Message, Summary
from assistant.errors import AssistantError
from assistant.events import ToolCall
from assistant.paths import private_file, redact_url


class HistoryError(AssistantError):
    """The history database cannot be used (corrupt, newer, locked, unwritable)."""


class HistoryWriteError(HistoryError):
    """A write failed and was rolled back (for example: disk full)."""


class ConversationBusy(HistoryError):
    """Another chat holds this conversation's turn lease for too long."""


MIGRATIONS: list[str] = [
    # 1: conversations and messages
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        endpoint TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT,
        tool_calls TEXT,
        tool_call_id TEXT,
        name TEXT,
        status TEXT NOT NULL DEFAULT 'complete',
        created_at REAL NOT NULL,
        UNIQUE (conversation_id, seq)
    );
    CREATE INDEX messages_by_conversation ON messages (conversation_id, seq);
    """,
    # 2: the turn lease that keeps two chats from interleaving their turns
    """
    ALTER TABLE conversations ADD COLUMN lease_owner TEXT;
    ALTER TABLE conversations ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;
    """,
    # 3: compaction summaries (a view over the messages, which are never changed by it)
    """
    CREATE TABLE summaries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        covered INTEGER NOT NULL,
        turns INTEGER NOT NULL,
        content TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        active INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL
    );
    CREATE INDEX summaries_by_conversation ON summaries (conversation_id, active);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
LEASE_SECONDS = 30.0


def default_path() -> Path:
    from assistant.paths import data_dir

    return data_dir() / "history.db"


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    created_at: float
    updated_at: float
    model: str
    messages: int


def _explain(exc: sqlite3.Error, path: Path) -> HistoryError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return HistoryError(
            f"The history database {path} is locked by another process.",
            hint="Another assistant may be writing to it; try again in a moment.",
        )
    if "full" in text:
        return HistoryWriteError(f"Disk full: could not write to {path}; nothing of this write was kept.")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return HistoryError(
            f"The history database {path} is corrupt ({exc}); it was left untouched.",
            hint="Move it aside to start a new history.",
        )
    if "readonly" in text or "unable to open" in text:
        return HistoryError(f"Cannot write the history database {path}: {exc}.")
    return HistoryError(f"History database error in {path}: {exc}.")


class History:
    """The SQLite history. Use as a context manager, or call close()."""

    def __init__(self, path: Path | None = None, *, busy_timeout: float = 5.0) -> None:
        self.path = path or default_path()
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            private_file(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"Cannot open the history database {self.path}: {exc}.") from None
        self.db.row_factory = sqlite3.Row
        try:
            self._configure()
            self._migrate()
        except sqlite3.Error as exc:
            self.db.close()
            raise _explain(exc, self.path) from None
        except HistoryError:
            self.db.close()
            raise

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    # -- setup -----------------------------------------------------------
    def _configure(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]  # reads the header: fails if corrupt
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"The history database {self.path} is from a newer version of assistant "
                f"(schema {version}; this version knows {SCHEMA_VERSION}). It was left untouched.",
                hint="Upgrade assistant, or point ASSISTANT_DATA_DIR elsewhere.",
            )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version + 1, SCHEMA_VERSION + 1):
            with self._write():
                current = self.db.execute("PRAGMA user_version").fetchone()[0]
                if current >= number:  # another process migrated meanwhile
                    continue
                for statement in MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One IMMEDIATE transaction; any failure rolls it back whole and becomes a HistoryError."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _explain(exc, self.path) from None
            raise

    # -- conversations ---------------------------------------------------
    def create(self, title: str = "", model: str = "", endpoint: str = "") -> str:
        cid = uuid.uuid4().hex[:12]
        now = time.time()
        with self._write():
            self.db.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, model, endpoint) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (cid, title, now, now, model, redact_url(endpoint)),
            )
        return cid

    def resolve(self, prefix: str) -> str:
        """A conversation id from a unique prefix."""
        rows = self._read("SELECT id FROM conversations WHERE id LIKE ? || '%' LIMIT 2", (prefix,))
        if not rows:
            raise HistoryError(f"No conversation '{prefix}' in the history.", hint="`assistant history list`.")
        if len(rows) > 1:
            raise HistoryError(f"'{prefix}' matches several conversations; give more of the id.")
        return str(rows[0]["id"])

    def latest(self) -> str | None:
        rows = self._read("SELECT id FROM conversations ORDER BY updated_at DESC LIMIT 1")
        return str(rows[0]["id"]) if rows else None

    def conversations(self, limit: int = 50) -> list[ConversationInfo]:
        rows = self._read(
            "SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS n "
            "FROM conversations c ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )
        return [
            ConversationInfo(r["id"], r["title"], r["created_at"], r["updated_at"], r["model"], r["n"]) for r in rows
        ]

    def delete(self, cid: str) -> None:
        with self._write():
            self.db.execute("DELETE FROM messages WHERE conversation_id = ?", (cid,))
            self.db.execute("DELETE FROM summaries WHERE conversation_id = ?", (cid,))
            self.db.execute("DELETE FROM conversations WHERE id = ?", (cid,))

    # -- messages --------------------------------------------------------
    def append(self, cid: str, message: Message) -> int:
        """Append one message in its own transaction; returns its seq."""
        now = time.time()
        with self._write():
            row = self.db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = ?", (cid,)
            ).fetchone()
            seq = int(row[0])
            self.db.execute(
                "INSERT INTO messages (conversation_id, seq, role, content, tool_calls, tool_call_id, name, "
                "status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    seq,
                    message.role,
                    message.content,
                    _calls_json(message.tool_calls),
                    message.tool_call_id,
                    message.name,
                    message.status,
                    now,
                ),
            )
            self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, cid))
            self.db.execute(  # every message written during a turn renews the turn's lease
                "UPDATE conversations SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (now + LEASE_SECONDS, cid, self.owner),
            )
            if message.role == "user":
                self.db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                    (_title(message.content or ""), cid),
                )
        return seq

    def delete_from(self, cid: str, seq: int) -> None:
        """Delete the messages from ``seq`` on (for /retry)."""
        with self._write():
            self.db.execute("DELETE FROM messages WHERE conversation_id = ? AND seq >= ?", (cid, seq))

    def messages(self, cid: str, after_seq: int = 0) -> list[tuple[int, Message]]:
        rows = self._read("SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq", (cid, after_seq))
        return [(int(r["seq"]), _row_to_message(r)) for r in rows]

    def count(self, cid: str) -> int:
        return int(self._read("SELECT COUNT(*) AS n FROM messages WHERE conversation_id = ?", (cid,))[0]["n"])

    # -- compaction summaries --------------------------------------------
    def save_summary(self, cid: str, summary: Summary) -> int:
        """Store a summary as the conversation's active one (earlier ones stay, inactive)."""
        meta = {"covered_tokens": summary.covered_tokens, "focus": summary.focus, "seconds": summary.seconds,
                "model": summary.model, "titles": list(summary.titles), "tokens": summary.tokens}  # fmt: skip
        with self._write():
            self.db.execute("UPDATE summaries SET active = 0 WHERE conversation_id = ?", (cid,))
            cur = self.db.execute(
                "INSERT INTO summaries (conversation_id, covered, turns, content, meta, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (cid, summary.covered, summary.turns, summary.text, json.dumps(meta), time.time()),
            )
        return int(cur.lastrowid or 0)

    def active_summary(self, cid: str) -> Summary | None:
        rows = self._read(
            "SELECT * FROM summaries WHERE conversation_id = ? AND active = 1 ORDER BY id DESC LIMIT 1", (cid,)
        )
        if not rows:
            return None
        r = rows[0]
        meta = json.loads(r["meta"] or "{}")
        return Summary(r["content"], int(r["covered"]), int(r["turns"]), int(meta.get("covered_tokens", 0)),
                       meta.get("focus"), float(meta.get("seconds", 0.0)), str(meta.get("model", "")),
                       tuple(meta.get("titles", ())), int(meta.get("tokens", 0)), id=int(r["id"]))  # fmt: skip

    def drop_summaries(self, cid: str) -> None:
        """No summary in use: requests carry the messages again (the summaries stay, inactive)."""
        with self._write():
            self.db.execute("UPDATE summaries SET active = 0 WHERE conversation_id = ?", (cid,))

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None

    # -- the turn lease --------------------------------------------------
    def acquire_lease(self, cid: str, wait: float = 60.0, poll: float = 0.05) -> None:
        """Hold the conversation for one turn; waits while another live chat holds it."""
        deadline = time.monotonic() + wait
        while True:
            now = time.time()
            with self._write():
                row = self.db.execute(
                    "SELECT lease_owner, lease_until FROM conversations WHERE id = ?", (cid,)
                ).fetchone()
                if row is None:
                    raise HistoryError(f"No conversation '{cid}' in the history.")
                owner, until = row["lease_owner"], row["lease_until"]
                # A live owner keeps its turn even past the lease (a long generation renews nothing);
                # a dead one loses it at once; a lease unrenewed for ten periods counts as abandoned.
                stale = until < now - 10 * LEASE_SECONDS
                if owner in (None, self.owner) or not _owner_alive(owner) or stale:
                    self.db.execute(
                        "UPDATE conversations SET lease_owner = ?, lease_until = ? WHERE id = ?",
                        (self.owner, now + LEASE_SECONDS, cid),
                    )
                    return
            if time.monotonic() > deadline:
                raise ConversationBusy(f"Conversation {cid} is busy in another chat; gave up after {wait:g} s.")
            time.sleep(poll)

    def renew_lease(self, cid: str) -> None:
        with self._write():
            self.db.execute(
                "UPDATE conversations SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (time.time() + LEASE_SECONDS, cid, self.owner),
            )

    def release_lease(self, cid: str) -> None:
        with contextlib.suppress(HistoryError), self._write():
            self.db.execute(
                "UPDATE conversations SET lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
                (cid, self.owner),
            )


def _owner_alive(owner: str) -> bool:
    try:
        pid = int(owner.split("-", 1)[0])
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:59] + "…"


def _calls_json(calls: list[ToolCall]) -> str | None:
    if not calls:
        return None
    return json.dumps([{"id": c.id, "name": c.name, "arguments": c.arguments, "source": c.source} for c in calls])


def _row_to_message(row: sqlite3.Row) -> Message:
    calls = [ToolCall(c["id"], c["name"], c["arguments"], c.get("source", "native"))
             for c in json.loads(row["tool_calls"] or "[]")]  # fmt: skip
    return Message(
        role=row["role"],
        content=row["content"],
        tool_calls=calls,
        tool_call_id=row["tool_call_id"],
        name=row["name"],
        status=row["status"],
    )
