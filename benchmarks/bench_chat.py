"""The terminal chat: rendering cost of a long streamed answer, and keystroke-to-request time.

1. Render: a 5,000-token answer (Markdown: paragraphs, lists, code blocks) streamed by the scripted
   server as fast as it can, consumed through the agent loop by (a) a plain-text sink and (b) the
   chat's rich Markdown renderer on a 100-column terminal (output to /dev/null), alternating.
   Target: (b)/(a) ≤ 1.05 — rendering is never the bottleneck.
2. Keystroke-to-request: from Enter (ChatUI.turn called) to the HTTP request leaving (the
   transport's request hook), with a 100-turn history in SQLite. Target ≤ 10 ms.
    .venv/bin/python benchmarks/bench_chat.py [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _util import median, ms, pct

from assistant.agent import Agent
from assistant.cli.render import PlainRenderer
from assistant.cli.stream_render import RichRenderer
from assistant.endpoint import Endpoint, EndpointConfig
from tests.scripted_server import Reply, ScriptedServer

PARAGRAPH = "The quick brown fox jumps over the lazy dog while the model keeps streaming tokens. "
CODE = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\n\n"


def long_answer_pieces(tokens: int = 5000) -> list[str]:
    words: list[str] = []
    while len(words) < tokens:
        words += [w + " " for w in PARAGRAPH.split()] * 3
        words += ["\n\n", "- item one\n", "- item two\n", "\n"]
        words += [CODE]
    return words[:tokens]


def reply(pieces: list[str]) -> Reply:
    chunks: list[dict[str, Any]] = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
    return Reply(chunks=chunks, usage={"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 0})


async def one_render(url: str, pieces: list[str], rich: bool) -> float:
    from rich.console import Console

    ep = Endpoint(EndpointConfig(base_url=url, model="m"))
    agent = Agent(ep)
    sink = open(os.devnull, "w")  # noqa: SIM115, ASYNC230
    renderer: Any = (
        RichRenderer(Console(file=sink, force_terminal=True, width=100, color_system="truecolor"))
        if rich
        else PlainRenderer(out=sink, info=sink)
    )
    start = time.perf_counter()
    async for event in agent.run("write a long answer"):
        renderer.handle(event)
    elapsed = time.perf_counter() - start
    sink.close()
    await ep.aclose()
    return elapsed


SERVER_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/benchmarks")
from bench_chat import long_answer_pieces, reply
from tests.scripted_server import ScriptedServer
s = ScriptedServer().start()
s.script(*[reply(long_answer_pieces()) for _ in range(int(sys.argv[2]))])
paced = reply(long_answer_pieces(1000)); paced.delay = 0.005  # 200 tokens/s, a fast hosted API
s.script(*[paced for _ in range(4)])
print(s.base_url, flush=True)
time.sleep(600)
"""


def bench_render(reps: int) -> None:
    """The scripted server runs in its own process, as llama-server would."""
    import subprocess
    import sys

    from _util import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(ROOT), str(2 * reps + 1)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    pieces = long_answer_pieces()
    plain: list[float] = []
    rich: list[float] = []
    try:
        asyncio.run(one_render(url, pieces, True))  # warm-up (imports, pygments lexers)
        for i in range(reps):
            order = (False, True) if i % 2 == 0 else (True, False)
            for use_rich in order:
                t = asyncio.run(one_render(url, pieces, use_rich))
                (rich if use_rich else plain).append(t)
        paced_plain = asyncio.run(one_render(url, pieces[:1000], False))
        paced_rich = asyncio.run(one_render(url, pieces[:1000], True))
        paced_plain2 = asyncio.run(one_render(url, pieces[:1000], False))
        paced_rich2 = asyncio.run(one_render(url, pieces[:1000], True))
    finally:
        proc.kill()
    paced_ratio = (paced_rich + paced_rich2) / (paced_plain + paced_plain2)
    ratio = median(rich) / median(plain)
    print(f"5,000-token answer, {reps} runs each, server (own process) sending as fast as it can")
    print(f"  plain-text sink      : {ms(median(plain))} (median)")
    print(f"  rich Markdown render : {ms(median(rich))} (median)")
    print(f"  ratio                : {ratio:.3f}  (target ≤ 1.05: {'OK' if ratio <= 1.05 else 'MISSED'})")
    print(f"1,000 tokens paced at 200 tokens/s: rich/plain = {paced_ratio:.3f}")


async def keystroke(reps: int) -> list[float]:
    from rich.console import Console

    from assistant.api import Assistant
    from assistant.cli.tui import ChatUI
    from assistant.conversation import Message
    from tests.scripted_server import text

    server = ScriptedServer().start()
    sent_at: list[float] = []

    class Hook:
        async def on_request(self, request: Any) -> None:
            sent_at.append(time.perf_counter())

        async def on_response(self, response: Any) -> None:
            pass

        def write(self, *a: Any, **k: Any) -> None:
            pass

        error = None

    times: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with Assistant(base_url=server.base_url, model="m", history=Path(tmp) / "h.db", mcp=False) as bot:
                for i in range(100):
                    bot.conversation.add(Message("user", f"question {i} " + "lorem ipsum " * 20))
                    bot.conversation.add(Message("assistant", f"answer {i} " + "dolor sit amet " * 30))
                ui = ChatUI(bot, Console(file=open(os.devnull, "w")))  # noqa: SIM115, ASYNC230
                assert bot.endpoint is not None
                bot.endpoint.tracer = Hook()  # type: ignore[assignment]
                for i in range(reps + 3):
                    server.script(text("ok"))
                    pressed = time.perf_counter()
                    await ui.turn(f"next {i}")
                    if i >= 3:
                        times.append(sent_at[-1] - pressed)
                    bot.forget_last_turn()  # keep the history at 100 turns
    finally:
        server.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    bench_render(args.reps)
    t = asyncio.run(keystroke(30))
    print("\nkeystroke to request, 100-turn history in SQLite (30 turns)")
    print(f"  p50 {ms(median(t))}, p90 {ms(pct(t, 90))}  (target ≤ 10 ms: {'OK' if median(t) <= 0.010 else 'MISSED'})")


if __name__ == "__main__":
    main()
