"""Time to first token on screen vs. time to the first SSE content byte, against the real llama-server.

Side by side, alternating, same prompts, prompt cache off for both:
  raw  — a bare httpx streaming POST; clock stops at the first SSE `data:` line carrying content.
  ours — Agent.run → Endpoint (openai SDK) → PlainRenderer writing to a terminal-like sink;
         clock stops when the first text delta has been written and flushed.
Target: ours − raw ≤ 20 ms. Also prints llama-server's own prompt and generation speed.
    .venv/bin/python benchmarks/bench_ttft.py [--reps 12] [--model qwen2.5-coder-0.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import httpx
from _util import median, ms

from assistant.agent import Agent
from assistant.cli.render import PlainRenderer
from assistant.endpoint import Endpoint, EndpointConfig
from assistant.events import TextDelta, Timing
from assistant.local.server import open_local_server

SYSTEM = "You are a helpful assistant."
NO_CACHE = {"cache_prompt": False}


def prompt(i: int) -> str:
    return f"Question {i}: in two sentences, what is a hash map?"


async def raw_ttft(client: httpx.AsyncClient, base_url: str, model: str, i: int) -> float:
    try:
        return await _raw_ttft(client, base_url, model, i)
    except httpx.RemoteProtocolError:  # llama-server closed an idle keep-alive connection
        return await _raw_ttft(client, base_url, model, i)


async def _raw_ttft(client: httpx.AsyncClient, base_url: str, model: str, i: int) -> float:
    body = {
        "model": model,
        "stream": True,
        "max_tokens": 24,
        "temperature": 0,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt(i)}],
        **NO_CACHE,
    }
    start = time.perf_counter()
    first = None
    async with client.stream("POST", base_url + "/chat/completions", json=body) as resp:
        async for line in resp.aiter_lines():
            if first is None and line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"]
                if delta and delta[0]["delta"].get("content"):
                    first = time.perf_counter() - start
    assert first is not None
    return first


async def our_ttft(ep: Endpoint, i: int, sink: Any) -> tuple[float, dict[str, Any]]:
    """One fresh conversation over a long-lived endpoint, as in a chat session."""
    agent = Agent(ep, system_prompt=SYSTEM, params={"max_tokens": 24, "temperature": 0})
    renderer = PlainRenderer(out=sink, info=sink)
    start = time.perf_counter()
    first = None
    timings: dict[str, Any] = {}
    async for event in agent.run(prompt(i)):
        renderer.handle(event)
        if first is None and isinstance(event, TextDelta):
            first = time.perf_counter() - start
        if isinstance(event, Timing):
            timings = event.server_timings
    assert first is not None
    return first, timings


async def main(reps: int, model_name: str) -> None:
    async with open_local_server(model_name) as srv:
        sink = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 — a file sink for the whole run
        raws: list[float] = []
        ours: list[float] = []
        pps: list[float] = []
        gps: list[float] = []
        ep = Endpoint(EndpointConfig(base_url=srv.base_url, model=srv.model, api_key=srv.api_key, extra_body=NO_CACHE))
        async with httpx.AsyncClient(timeout=300, headers=srv.headers) as client:
            await raw_ttft(client, srv.base_url, srv.model, -1)  # warm-up
            await our_ttft(ep, -1, sink)
            for i in range(reps):
                if i % 2:
                    raws.append(await raw_ttft(client, srv.base_url, srv.model, 2 * i))
                    o, t = await our_ttft(ep, 2 * i + 1, sink)
                else:
                    o, t = await our_ttft(ep, 2 * i + 1, sink)
                    raws.append(await raw_ttft(client, srv.base_url, srv.model, 2 * i))
                ours.append(o)
                pps.append(float(t.get("prompt_per_second", 0.0)))
                gps.append(float(t.get("predicted_per_second", 0.0)))
        await ep.aclose()
        sink.close()
    diff = median(ours) - median(raws)
    print(f"model {model_name}, {reps} requests each, prompt cache off")
    print(f"  first content SSE line, bare httpx : {ms(median(raws))} (median)")
    print(f"  first token on screen, assistant   : {ms(median(ours))} (median)")
    print(f"  difference                         : {ms(diff)}  (target ≤ 20 ms: {'OK' if diff <= 0.02 else 'MISSED'})")
    print(f"  llama-server prompt speed          : {median(pps):8.1f} tokens/s (median)")
    print(f"  llama-server generation speed      : {median(gps):8.1f} tokens/s (median)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    args = parser.parse_args()
    asyncio.run(main(args.reps, args.model))
