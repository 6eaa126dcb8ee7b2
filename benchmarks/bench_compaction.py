"""Compaction against dropping: facts planted early in a long conversation, asked about at the end.

A scripted conversation (no generation: the turns are written here) plants FACTS in its first turns,
then talks about other things until it is well past the model's window. Each question is then asked
in a fresh copy of that conversation, three ways:

* dropping  — compact_at off: the builder drops the oldest turns (the facts go first);
* compacted — the earlier turns summarised by the model (the automatic path's rule: all but the
              recent turns that fit a quarter of the budget), the summary in place of them;
* full      — reference: a window large enough for everything (what the model recalls when nothing
              is lost); skipped with --no-full.

Reported: facts recalled (the expected value appears in the answer) per arm, and the time one
compaction takes on the local model (the summary request itself, every piece of it).

    .venv/bin/python benchmarks/bench_compaction.py --threads 1          # the 0.5B, our own llama-server
    .venv/bin/python benchmarks/bench_compaction.py --model qwen2.5-coder-1.5b --window 4096

Greedy decoding (temperature 0), so a run is repeatable on one machine; the figures are for one
conversation and ten facts, an indication and not a score.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import _util  # noqa: F401  (puts the repository on sys.path)

from assistant.conversation import Conversation, Message, Summary

FACTS: list[tuple[str, str, str]] = [  # (what the user says, the question, the expected answer)
    ("My sister's name is Alma.", "What is my sister's name?", "Alma"),
    ("The wifi password at the office is tangerine-42.", "What is the office wifi password?", "tangerine-42"),
    ("Our production database runs in Reykjavik.", "In which city does our production database run?", "Reykjavik"),
    ("The project budget is 3750 euros.", "What is the project budget in euros?", "3750"),
    ("My cat is called Pixel.", "What is my cat called?", "Pixel"),
    ("The release is planned for the 14th of March.", "On which day of March is the release planned?", "14"),
    ("Our team lead is named Okonkwo.", "What is the name of our team lead?", "Okonkwo"),
    ("The staging server listens on port 8443.", "On which port does the staging server listen?", "8443"),
    ("I prefer tabs over spaces, always.", "Do I prefer tabs or spaces?", "tabs"),
    ("The customer ticket number is QX-5521.", "What is the customer ticket number?", "QX-5521"),
]

TOPICS = [
    "how Python's GIL affects threads", "the difference between a list and a tuple", "what a context manager is",
    "how git rebase differs from merge", "what an index does in SQLite", "how HTTP keep-alive works",
    "what a Python generator is", "how to profile a slow function", "what dependency injection means",
    "how TCP retransmission works", "why immutability helps concurrency", "what a B-tree is",
    "how garbage collection works in CPython", "what idempotent HTTP methods are", "what a race condition is",
    "how asyncio's event loop schedules tasks", "what a hash collision is", "how a bloom filter works",
    "what the CAP theorem says", "how JSON differs from YAML", "what memoization is", "what a mutex protects",
]  # fmt: skip


def conversation(filler_turns: int) -> list[Message]:
    """The facts, one a turn, then filler turns about programming topics."""
    msgs: list[Message] = []
    for said, _, _ in FACTS:
        msgs += [Message("user", f"Please remember this: {said}"), Message("assistant", f"Noted: {said}")]
    for i in range(filler_turns):
        topic = TOPICS[i % len(TOPICS)]
        msgs.append(Message("user", f"Explain {topic}, briefly."))
        msgs.append(Message("assistant", _filler(topic)))
    return msgs


def _filler(topic: str) -> str:
    return (f"In short, {topic} comes down to a few ideas. " + "First, the mechanism has a cost that grows with "
            "the amount of work and the number of participants, and the usual advice is to measure before "
            "changing anything. Second, the common mistakes are forgetting edge cases, mixing concerns and "
            "assuming that what works on one machine works everywhere. Third, the standard library and the "
            "documentation explain the details well, with examples worth running yourself. ") * 2  # fmt: skip


async def ask_all(bot: Any, base: list[Message], summary: Summary | None) -> tuple[int, list[str], float]:
    """Each question in a fresh copy of the conversation; (recalled, answers, seconds)."""
    recalled, answers = 0, []
    started = time.perf_counter()
    for _, question, expected in FACTS:
        bot.new_conversation()
        conv: Conversation = bot.conversation
        conv.messages = list(base)
        conv.summary = summary
        answer = await bot.ask(question + " Answer in a few words.")
        answers.append(answer.strip().replace("\n", " ")[:80])
        recalled += expected.lower() in answer.lower()
    return recalled, answers, time.perf_counter() - started


async def arm(srv: Any, window: int, base: list[Message], compact: bool, verbose: bool) -> dict[str, Any]:
    from assistant import Assistant
    from assistant.compaction import CompactionFailed

    out: dict[str, Any] = {"summary": None}
    async with Assistant(base_url=srv.base_url, model=srv.model, api_key=srv.api_key, history=False, mcp=False,
                         retrieval="off", temperature=0.0, max_tokens=48, context_size=window,
                         compact_at=0.8 if compact else "off") as bot:  # fmt: skip
        agent = bot.agent
        assert agent is not None
        agent.builder.window = window  # the server may have room for more (it serves the full arm too)
        summary = None
        if compact:
            bot.conversation.messages = list(base)
            started = time.perf_counter()
            try:
                summary = await agent.compact(auto=True)
            except CompactionFailed as exc:
                out["failed"] = exc.user_line()
            out["seconds"] = time.perf_counter() - started
            out["summary"] = summary
        out["window"] = agent.builder.window
        out["recalled"], out["answers"], out["ask_seconds"] = await ask_all(bot, base, summary)
        report = bot.last_report
        out["dropped_turns"] = report.dropped_turns if report else 0
    if verbose:
        for (_, q, e), a in zip(FACTS, out["answers"], strict=True):
            print(f"    {'✓' if e.lower() in a.lower() else '✗'} {q} → {a}")
    return out


async def main(args: argparse.Namespace) -> None:
    from assistant.local.server import open_local_server

    base = conversation(args.filler)
    ctx = max(args.window, args.full_window) if args.full else args.window
    print(f"model {args.model}; conversation: {len(FACTS)} facts in the first {len(FACTS)} turns, then "
          f"{args.filler} filler turns ({len(base)} messages); window {args.window:,} tokens")  # fmt: skip
    async with open_local_server(args.model, ctx=ctx, reuse=False, threads=args.threads, parallel=1) as srv:
        results: dict[str, dict[str, Any]] = {}
        for name, compact, window in (("dropping", False, args.window), ("compacted", True, args.window),
                                      ("full", False, ctx)):  # fmt: skip
            if name == "full" and not args.full:
                continue
            print(f"-- {name}")
            results[name] = await arm(srv, window, base, compact, args.verbose)
    print()
    print(f"{'arm':10} {'recalled':>9} {'dropped turns':>14} {'asking 10 (s)':>14}")
    for name, r in results.items():
        print(f"{name:10} {r['recalled']:>6}/{len(FACTS)} {r['dropped_turns']:>14} {r['ask_seconds']:>14.1f}")
    c = results["compacted"]
    summary: Summary | None = c["summary"]
    if summary is None:
        print(f"compaction failed: {c.get('failed')} ({c['seconds']:.1f} s); the compacted arm fell back to dropping")
    else:
        print(f"one compaction: {summary.turns} turns (~{summary.covered_tokens:,} tokens) → {summary.tokens:,}-token "
              f"summary in {summary.seconds:.1f} s")  # fmt: skip
        if args.show_summary:
            print(summary.text)
    d = results["dropping"]["recalled"]
    print(f"ratio compacted/dropping: {c['recalled']}/{d} facts")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--window", type=int, default=4096, help="context window of the dropping/compacted arms")
    parser.add_argument("--filler", type=int, default=24, help="filler turns after the facts")
    parser.add_argument("--threads", type=int, default=None, help="llama-server --threads (1 on a busy machine)")
    parser.add_argument("--full", action=argparse.BooleanOptionalAction, default=True, help="run the reference arm")
    parser.add_argument("--full-window", type=int, default=16384)
    parser.add_argument("--verbose", "-v", action="store_true", help="every question and answer")
    parser.add_argument("--show-summary", action="store_true")
    asyncio.run(main(parser.parse_args()))
