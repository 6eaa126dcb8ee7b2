"""`assistant trace show FILE`: the wire trace as a readable timeline."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.cli.common import short, user_errors

app = typer.Typer(help="Wire traces written with --trace or /trace on.", no_args_is_help=True, rich_markup_mode=None)


@app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="A trace file (JSONL).")],
    events: Annotated[int, typer.Option("--events", "-e", help="SSE events shown per response (head+tail).")] = 8,
) -> None:
    """Show each HTTP request, the server-sent events of its one streamed response, tool calls, timings."""
    with user_errors():
        from assistant.trace import read_trace

        records = read_trace(path)
        for line in timeline(records, events):
            typer.echo(line)


def _delta_text(data: dict[str, Any]) -> str:
    choices = data.get("choices") or []
    if not choices:
        usage = data.get("usage")
        return f"usage {usage}" if usage else "(no choices)"
    c = choices[0]
    delta = c.get("delta") or {}
    bits = []
    if delta.get("role"):
        bits.append(f"role={delta['role']}")
    if delta.get("content"):
        bits.append(json.dumps(delta["content"], ensure_ascii=False))
    if delta.get("tool_calls"):
        bits.append("tool_call " + short(json.dumps(delta["tool_calls"], ensure_ascii=False), 80))
    if c.get("finish_reason"):
        bits.append(f"finish_reason={c['finish_reason']}")
    return " ".join(bits) or "(empty delta)"


def _request_line(r: dict[str, Any]) -> str:
    body = r.get("body") if isinstance(r.get("body"), dict) else {}
    assert isinstance(body, dict)
    size = len(json.dumps(body)) if body else 0
    parts = [f"{len(body.get('messages', []))} messages"]
    if body.get("tools"):
        parts.append(f"{len(body['tools'])} tools")
    parts.append(f"stream={body.get('stream')}")
    return f"{r.get('method')} {r.get('url')}  ({', '.join(parts)}, {size:,} bytes of JSON)"


def timeline(records: list[dict[str, Any]], per_response: int = 8) -> list[str]:
    calls = sum(1 for r in records if r.get("type") == "request")
    turns = sum(1 for r in records if r.get("type") == "turn")
    sse_total = sum(1 for r in records if r.get("type") == "sse")
    out = [f"{turns} user turn(s), {calls} API call(s), {sse_total} server-sent event(s)"]
    sse: list[dict[str, Any]] = []
    turn_calls = 0

    def flush_sse() -> None:
        if not sse:
            return
        head = per_response - per_response // 3
        shown = sse if len(sse) <= per_response else [*sse[:head], {}, *sse[-(per_response - head) :]]
        for r in shown:
            if not r:
                out.append(f"{'':11}  … {len(sse) - per_response} more events …")
                continue
            out.append(f"  {r['t']:>8.3f}s  data: {short(_delta_text(r.get('data') or {}), 100)}")
        gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(sse)]
        mean = f", {1000 * sum(gaps) / len(gaps):.1f} ms apart on average" if gaps else ""
        out.append(f"{'':11}  {len(sse)} events in this one response{mean}")
        sse.clear()

    for r in records:
        kind, t = r.get("type"), r.get("t", 0.0)
        if kind != "sse":
            flush_sse()
        if kind == "turn":
            if turns and turn_calls:
                out.append(f"{'':11}  (that turn took {turn_calls} API call(s))")
            turn_calls = 0
            out.append(f"\nTurn: {short(str(r.get('text', '')), 100)!r}")
        elif kind == "request":
            turn_calls += 1
            out.append(f"  {t:>8.3f}s  → {_request_line(r)}")
        elif kind == "response":
            ctype = (r.get("headers") or {}).get("content-type", "")
            out.append(f"  {t:>8.3f}s  ← HTTP {r.get('status')} {ctype}: one response, its body a stream of events")
        elif kind == "sse":
            sse.append(r)
        elif kind == "step":
            out.append(f"  {t:>8.3f}s  step done: {_step_line(r)}")
        elif kind == "tool_call":
            out.append(f"  {t:>8.3f}s  ⚙ run locally: {r.get('name')}({short(str(r.get('arguments')), 80)})")
        elif kind == "tool_result":
            err = " (error)" if r.get("is_error") else ""
            out.append(f"  {t:>8.3f}s  ↳ result{err}: {short(str(r.get('content')), 80)}")
        elif kind == "context":
            src = r.get("sources") or {}
            hist = (src.get("history") or {}).get("tokens", 0)
            out.append(
                f"  {t:>8.3f}s  context: {r.get('total_tokens')} tokens (history {hist}), window {r.get('window')}"
            )
        elif kind == "error":
            out.append(f"  {t:>8.3f}s  ✗ {r.get('message')}")
    flush_sse()
    if turn_calls:
        out.append(f"{'':11}  (that turn took {turn_calls} API call(s))")
    return out


def _step_line(r: dict[str, Any]) -> str:
    parts = []
    if r.get("seconds_to_first_token") is not None:
        parts.append(f"first token after {r['seconds_to_first_token']:.3f} s")
    n = r.get("completion_tokens")
    total = r.get("seconds_total") or 0.0
    if n:
        parts.append(f"{n} tokens")
    speed = (r.get("server_timings") or {}).get("predicted_per_second")
    if speed:
        parts.append(f"{speed:.1f} tok/s (server)")
    parts.append(f"{total:.3f} s in all")
    return ", ".join(parts)
