"""Finding 8: a turn longer than the lease cannot be interleaved by a second `ask -c`."""

from __future__ import annotations

import time

import pytest

from assistant.errors import AssistantError
from assistant.history import LEASE_SECONDS, History, Message


def expire(store: History, cid: str, seconds_ago: float) -> None:
    store.db.execute("UPDATE conversations SET lease_until = ? WHERE id = ?", (time.time() - seconds_ago, cid))


def test_a_live_turn_past_its_lease_keeps_the_conversation() -> None:
    with History() as first, History() as second:
        cid = first.create()
        first.acquire_lease(cid)
        expire(first, cid, LEASE_SECONDS)  # a generation longer than the lease, nothing written meanwhile
        with pytest.raises(AssistantError, match="busy"):
            second.acquire_lease(cid, wait=0.3)
        first.release_lease(cid)
        second.acquire_lease(cid, wait=0.3)


def test_writing_renews_the_lease() -> None:
    with History() as store:
        cid = store.create()
        store.acquire_lease(cid)
        expire(store, cid, 5)
        store.append(cid, Message(role="user", content="hi"))
        until = store.db.execute("SELECT lease_until FROM conversations WHERE id = ?", (cid,)).fetchone()[0]
        assert until > time.time() + LEASE_SECONDS - 5


def test_a_dead_owners_lease_is_taken_at_once() -> None:
    with History() as store:
        cid = store.create()
        store.db.execute("UPDATE conversations SET lease_owner = '999999999-dead', lease_until = 9e12 WHERE id = ?",
                         (cid,))  # fmt: skip
        store.acquire_lease(cid, wait=0.3)
