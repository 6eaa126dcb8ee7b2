"""Context building at 10 … 10,000 stored messages, and writing one step to the SQLite history.

Build time excludes tokenization by the server: counts come from the builder's cache (warmed by
one build first), as they do in a chat where each message is counted once. Growth is reported as
time per message at each size (flat = linear). Target: ≤ 5 ms at 1,000 messages.
History write: one message appended in its own transaction (WAL, synchronous=NORMAL), p50/p99.
    .venv/bin/python benchmarks/bench_context.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from _util import median, ms, pct

from assistant.context import ContextBuilder, EstimateCounter, _Cache
from assistant.conversation import Message
from assistant.history import History


class CachedCounter(EstimateCounter):
    """An estimate behind the same content-hash cache the server tokenizer uses."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = _Cache(200_000)

    async def count(self, texts: list[str]) -> list[int]:
        out = []
        for t in texts:
            key = self.cache.key(t)
            hit = self.cache.get(key)
            if hit is None:
                hit = (await super().count([t]))[0]
                self.cache.put(key, hit)
            out.append(hit)
        return out


def messages(n: int) -> list[Message]:
    return [
        Message("user" if i % 2 == 0 else "assistant", f"message {i} " + "lorem ipsum dolor " * 10) for i in range(n)
    ]


async def build_times(n: int, reps: int) -> list[float]:
    msgs = messages(n)
    builder = ContextBuilder(CachedCounter(), 10**9)  # everything fits: the full history is walked
    await builder.build("system", msgs, [])
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        await builder.build("system", msgs, [])
        times.append(time.perf_counter() - start)
    return times


def write_times(reps: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp, History(Path(tmp) / "h.db") as store:
        cid = store.create()
        times = []
        for i in range(reps):
            msg = Message("assistant", f"step {i} " + "answer text " * 40)
            start = time.perf_counter()
            store.append(cid, msg)
            times.append(time.perf_counter() - start)
        return times


def main() -> None:
    print(f"{'messages':>9} {'build p50':>12} {'build p90':>12} {'µs/message':>11}")
    for n in (10, 100, 1000, 10_000):
        t = asyncio.run(build_times(n, 30 if n < 10_000 else 10))
        print(f"{n:>9} {ms(median(t))} {ms(pct(t, 90))} {median(t) / n * 1e6:>10.2f}")
    w = write_times(500)
    print(f"\nhistory write, one message per transaction (500 writes): p50 {ms(median(w))}, p99 {ms(pct(w, 99))}")


if __name__ == "__main__":
    main()
