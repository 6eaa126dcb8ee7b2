"""MCP tools: call round trip over stdio and streamable HTTP vs a direct in-process call; parallel start-up.

1. Round trip of a trivial tool (``echo``, a FastMCP server) through ``ToolRegistry.run`` (schema
   validation, approval hook, timeout: the path the agent loop takes), side by side in one run:
   an in-process Python function, the same tool over stdio, and over streamable HTTP on loopback.
2. Start-up: each of 5 stdio servers connected alone (median of --reps), then all 5 at once in
   one ToolHub. Target: together ≤ 1.5 × the slowest alone. Also printed: the CPU seconds the
   servers spent starting, since on a small machine the parallel start is bounded by
   CPU seconds / cores, whatever the hub does.

    .venv/bin/python benchmarks/bench_mcp.py [--calls 500] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import ROOT, ms, pct

from assistant.events import ToolCall
from assistant.mcp_config import ServerConfig, builtin_config
from assistant.toolhub import ToolHub
from assistant.tools import ToolRegistry
from tests.mcp_helpers import MISBEHAVING, free_port, wait_port

CLK_TCK = os.sysconf("SC_CLK_TCK")


async def measure_calls(registry: ToolRegistry, name: str, n: int) -> list[float]:
    args = json.dumps({"text": "hello"})
    times = []
    for i in range(n + 20):
        start = time.perf_counter()
        result = await registry.run(ToolCall("c", name, args))
        elapsed = time.perf_counter() - start
        assert result.content == "hello" and not result.is_error, result.content
        if i >= 20:  # warm-up
            times.append(elapsed)
    return times


def row(label: str, times: list[float], base: float | None) -> str:
    p50 = pct(times, 50)
    extra = f"{ms(p50 - base)} {p50 / base:8.1f}x" if base else f"{'-':>11} {'-':>9}"
    return f"{label:<26} {ms(p50)} {ms(pct(times, 99))} {ms(statistics.mean(times))} {extra}"


async def round_trips(calls: int, url: str) -> None:
    direct = ToolRegistry()

    @direct.function
    async def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    stdio_cfg = ServerConfig("bench", command=sys.executable, args=(str(MISBEHAVING),))
    async with ToolHub([stdio_cfg, ServerConfig("web", url=url)]) as hub:
        via = ToolRegistry()
        hub.register(via)
        base = await measure_calls(direct, "echo", calls)
        stdio = await measure_calls(via, "bench__echo", calls)
        over_http = await measure_calls(via, "web__echo", calls)
    b50 = pct(base, 50)
    print(f"Tool-call round trip, {calls} calls each (after 20 warm-up), through ToolRegistry.run:")
    print(f"{'':<26} {'p50':>11} {'p99':>11} {'mean':>11} {'p50 added':>11} {'p50 ratio':>9}")
    print(row("in-process Python function", base, None))
    print(row("MCP over stdio", stdio, b50))
    print(row("MCP over streamable HTTP", over_http, b50))


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


async def start(configs: list[ServerConfig]) -> tuple[float, list[float], float]:
    """Wall time to connect them all, each one's connect time, CPU seconds the servers used."""
    hub = ToolHub(configs)
    t0 = time.perf_counter()
    await hub.start()
    wall = time.perf_counter() - t0
    bad = [s.name for s in hub.servers.values() if s.state != "connected"]
    cpu = sum(cpu_seconds(s.pid) for s in hub.servers.values())
    each = [s.connect_seconds or 0.0 for s in hub.servers.values()]
    await hub.aclose()
    assert not bad, f"failed to connect: {bad}"
    return wall, each, cpu


async def startup(reps: int) -> None:
    ws = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    files, run = builtin_config("files", ws), builtin_config("run", ws)
    configs = [files, run, ServerConfig("files2", command=files.command, args=files.args),
               ServerConfig("echo1", command=sys.executable, args=(str(MISBEHAVING),)),
               ServerConfig("echo2", command=sys.executable, args=(str(MISBEHAVING),))]  # fmt: skip
    await start(configs[:1])  # warm the disk cache
    await compare("Start-up of 5 stdio servers", configs, reps)
    waiting = [ServerConfig(f"wait{i}", command=sys.executable, args=(str(MISBEHAVING), "--start-delay", "2"))
               for i in range(1, 6)]  # fmt: skip
    await compare("The same with servers that wait 2 s before serving (as one fetching a package or opening a "
                  "database does), so start-up is not CPU-bound", waiting, reps)  # fmt: skip


async def compare(title: str, configs: list[ServerConfig], reps: int) -> None:
    alone: dict[str, list[float]] = {c.name: [] for c in configs}
    cpu_alone: dict[str, list[float]] = {c.name: [] for c in configs}
    together: list[float] = []
    cpu_together: list[float] = []
    for _ in range(reps):
        for c in configs:
            wall, _, cpu = await start([c])
            alone[c.name].append(wall)
            cpu_alone[c.name].append(cpu)
        wall, _, cpu = await start(configs)
        together.append(wall)
        cpu_together.append(cpu)
    medians = {name: statistics.median(v) for name, v in alone.items()}
    slowest = max(medians.values())
    both = statistics.median(together)
    cores = os.cpu_count() or 1
    cpu_total = statistics.median(cpu_together)
    print(f"\n{title} (median of {reps}), {cores} CPU cores:")
    for name, value in medians.items():
        print(f"  {name:<8} alone {ms(value)}   (server CPU {statistics.median(cpu_alone[name]):.2f} s)")
    print(f"  all {len(configs)} at once    {ms(both)}   = {both / slowest:.2f}x the slowest alone "
          f"({'meets' if both <= 1.5 * slowest else 'misses'} the 1.5x target)")
    print(f"  sequential would be {ms(sum(medians.values()))}; the servers used {cpu_total:.2f} CPU s starting, "
          f"so {cores} cores need at least {ms(cpu_total / cores)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    os.chdir(ROOT)
    load = os.getloadavg()[0]
    print(f"(load average {load:.1f} on {os.cpu_count()} cores: other work on the machine skews the times)\n")
    port = free_port()
    http = subprocess.Popen([sys.executable, str(MISBEHAVING), "--transport", "streamable-http", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port(port, http)
        asyncio.run(round_trips(args.calls, f"http://127.0.0.1:{port}/mcp"))
    finally:
        http.terminate()
        http.wait(10)
    asyncio.run(startup(args.reps))


if __name__ == "__main__":
    main()
