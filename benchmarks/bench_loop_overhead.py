"""Loop overhead per turn against the scripted server, at 10, 100 and 1,000 history messages.

Side by side in one run: (a) a bare httpx streaming POST of the same request body, reading every
SSE line; (b) one full turn through Agent.run (context rebuild, SDK, event folding, history append).
Overhead = median(b) - median(a). Target: ≤ 5 ms at 100 messages.
    .venv/bin/python benchmarks/bench_loop_overhead.py [--reps 40]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from _util import median, ms, pct

from assistant.agent import Agent
from assistant.conversation import Message
from assistant.endpoint import Endpoint, EndpointConfig
from tests.scripted_server import ScriptedServer, text

ANSWER = "The quick brown fox jumps over the lazy dog. " * 4


def seeded_agent(server: ScriptedServer, n: int) -> Agent:
    ep = Endpoint(EndpointConfig(base_url=server.base_url, model="m", max_retries=0))
    agent = Agent(ep, system_prompt="You are terse.")
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        agent.conversation.add(Message(role, f"message {i}: " + "lorem ipsum dolor sit amet " * 8))
    return agent


async def raw_turn(client: httpx.AsyncClient, server: ScriptedServer, body: dict) -> float:
    start = time.perf_counter()
    async with client.stream("POST", server.base_url + "/chat/completions", json=body) as resp:
        async for _line in resp.aiter_lines():
            pass
    return time.perf_counter() - start


async def agent_turn(agent: Agent) -> float:
    start = time.perf_counter()
    async for _ in agent.run("next question"):
        pass
    elapsed = time.perf_counter() - start
    del agent.conversation.messages[-2:]  # keep the history size fixed
    return elapsed


async def measure(server: ScriptedServer, n: int, reps: int) -> tuple[list[float], list[float]]:
    agent = seeded_agent(server, n)
    raw: list[float] = []
    ours: list[float] = []
    async with httpx.AsyncClient() as client:
        for i in range(reps + 3):
            server.script(text(ANSWER), text(ANSWER))
            sent = [*(await agent.build()).messages, {"role": "user", "content": "next question"}]
            body = {"model": "m", "stream": True, "stream_options": {"include_usage": True}, "messages": sent}
            r = await raw_turn(client, server, body)
            o = await agent_turn(agent)
            if i >= 3:  # warm-up
                raw.append(r)
                ours.append(o)
    await agent.endpoint.aclose()
    return raw, ours


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    server = ScriptedServer().start()
    try:
        print(f"{'history':>8} {'bare httpx':>12} {'agent turn':>12} {'overhead':>12} {'ovh p90':>12}")
        for n in (10, 100, 1000):
            raw, ours = asyncio.run(measure(server, n, args.reps))
            diffs = [o - r for o, r in zip(ours, raw, strict=True)]
            print(f"{n:>8} {ms(median(raw))} {ms(median(ours))} {ms(median(ours) - median(raw))} "
                  f"{ms(pct(diffs, 90))}")  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
