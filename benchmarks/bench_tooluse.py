"""Benchmark: does the agent use its tools right? (issue 10: tool use, chains)

Runs a labelled set of plain requests (``benchmarks/tooluse/{dev,test,chains}.jsonl``, format in
benchmarks/tooluse/README.md) through the public ``assistant.api.Assistant`` set up as `assistant ask`
sets it up in a project folder: the built-in ``files`` and ``run`` tool servers on the workspace, the
default system prompt and settings, approvals answered yes (the workspace is a throwaway copy of
``benchmarks/tooluse/workspace``, reset before every request). Earlier turns of a record are sent
first, in the same conversation. Per request it records the first tool and its arguments, every tool
call, steps, time to the first token and in total, and the outcome check; it prints

* right first tool: share of needs-tool requests whose first call is one of the expected tools;
* false calls: share of no-tool requests that called anything;
* outcome: share of requests whose outcome check passed (for chains: tasks completed);
* answer: share whose final answer matches the labelled facts;
* time per measured turn (first token, total), with and without tool use;

and writes one JSON line per request (plus a summary line at the end) to ``--out``.

Usage::

    .venv/bin/python benchmarks/bench_tooluse.py --set dev                 # local 0.5B
    .venv/bin/python benchmarks/bench_tooluse.py --set test --local-model qwen2.5-coder-1.5b
    .venv/bin/python benchmarks/bench_tooluse.py --set chains --limit 3
    .venv/bin/python benchmarks/bench_tooluse.py --base-url http://127.0.0.1:8080/v1 --model NAME
    .venv/bin/python benchmarks/bench_tooluse.py --summary results.jsonl    # print figures again

With no ``--base-url`` the local model is served once (`assistant serve --background`; an already
served one is reused) and every ``Assistant`` reuses it, as `assistant ask` would; a server this
script started is stopped at the end. The user's config file is ignored (defaults are measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tooluse_lib import (
    ROOT,
    LocalServe,
    answer_problems,
    check_outcome,
    isolate_environment,
    jsonl_writer,
    load_jsonl,
    rate,
    reset_workspace,
    run_turn,
    snapshot,
    time_line,
    warn_if_own_server,
)

SETS = ROOT / "benchmarks" / "tooluse"
FIXTURE = SETS / "workspace"


def _options(ws: Path) -> Any:
    from assistant.cli.tools import BUILTIN
    from assistant.mcp_config import load_servers
    from assistant.toolhub import McpOptions

    servers = load_servers(ws, BUILTIN, files=[])  # the built-ins only: no user or project mcp.json
    return McpOptions(workspace=ws, builtin=BUILTIN, servers=servers, yes=True)


async def run_set(records: list[dict[str, Any]], args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    from assistant.api import Assistant

    scratch = Path(tempfile.mkdtemp(prefix="bench-tooluse-"))
    isolate_environment(scratch)
    ws = scratch / "tipcalc"
    reset_workspace(FIXTURE, ws)
    overrides: dict[str, Any] = {"retrieval": "off"}
    if args.base_url:
        overrides.update(base_url=args.base_url, model=args.model)
    else:
        overrides["local_model"] = args.local_model
    if args.max_steps:
        overrides["max_steps"] = args.max_steps
    results: list[dict[str, Any]] = []
    serve = contextlib.nullcontext() if args.base_url else LocalServe(args.local_model)
    async with serve, Assistant(history=False, mcp=_options(ws), **overrides) as bot:
        warn_if_own_server(bot)
        tools = sorted(bot.tools.names())
        print(f"# model {bot.model} at {bot.base_url}; tools: {', '.join(tools)}", file=sys.stderr)
        done = _earlier_rows(out) if args.resume else []
        results.extend(done)
        records = [r for r in records if r["id"] not in {d["id"] for d in done}]
        with jsonl_writer(out, append=bool(done)) as write:
            for i, rec in enumerate(records, 1):
                row = await _one(bot, rec, ws, args.turn_timeout)
                row["model"] = bot.model
                results.append(row)
                write(row)
                _progress(i, len(records), row)
            summary = summarise(results)
            summary.update(model=bot.model, base_url=bot.base_url, set=args.set, tools=tools)
            write({"summary": summary})
    shutil.rmtree(scratch, ignore_errors=True)
    return results


async def _one(bot: Any, rec: dict[str, Any], ws: Path, limit: float) -> dict[str, Any]:
    reset_workspace(FIXTURE, ws)
    bot.new_conversation()
    earlier = []
    for text in rec.get("turns", []):
        turn = await run_turn(bot, text, limit)
        earlier.append({"request": text, "calls": [c.name for c in turn.calls], "error": turn.error})
    before = snapshot(FIXTURE)
    turn = await run_turn(bot, rec["request"], limit)
    problems = check_outcome(rec.get("check", {}), turn, ws, before)
    wrong_answer = answer_problems(rec.get("answer", []), turn.text)
    first = turn.calls[0].name if turn.calls else None
    return {
        "id": rec["id"],
        "category": rec.get("category", ""),
        "request": rec["request"],
        "needs_tool": rec["needs_tool"],
        "expect_tool": rec.get("expect_tool", []),
        "first_tool": first,
        "first_arguments": turn.calls[0].arguments if turn.calls else None,
        "right_first_tool": first in rec.get("expect_tool", []) if rec["needs_tool"] else None,
        "false_call": bool(turn.calls) if not rec["needs_tool"] else None,
        "outcome_ok": not problems,
        "outcome_problems": problems,
        "answer_ok": not wrong_answer if rec.get("answer") else None,
        "answer_problems": wrong_answer,
        "earlier_turns": earlier,
        **turn.as_dict(),
    }


def _earlier_rows(out: Path) -> list[dict[str, Any]]:
    """Rows of an interrupted run of the same set (``--resume``); its summary lines are dropped."""
    return [r for r in load_jsonl(out) if "summary" not in r] if out.exists() else []


def interleave(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Round-robin over categories, so a run cut short is still a fair sample of the set."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r.get("category", "")].append(r)
    out: list[dict[str, Any]] = []
    while any(groups.values()):
        for name in sorted(groups):
            if groups[name]:
                out.append(groups[name].pop(0))
    return out


def _progress(i: int, n: int, row: dict[str, Any]) -> None:
    mark = "ok " if row["outcome_ok"] else "BAD"
    calls = ",".join(c["name"] for c in row["calls"]) or "-"
    print(f"[{i:3d}/{n}] {mark} {row['id']:<10} {row['total_s']:6.1f}s calls={calls:<30} "
          f"{row['request'][:60]!r} {'; '.join(row['outcome_problems'])[:120]}", file=sys.stderr)  # fmt: skip


TOOL_NAMES = {"list_files", "read_file", "glob", "grep", "write_file", "edit_file", "run_command", "run_python",
              "sandbox_info"}  # fmt: skip
CALL_NAME = re.compile(r'"name"\s*:\s*"([^"]*)"')


def invented_name(text: str) -> str | None:
    """A call written as text that names no tool (``{"name": "calc.py", ...}``): left as text."""
    names = [n for n in CALL_NAME.findall(text) if n not in TOOL_NAMES]
    return names[0] if names else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    need = [r for r in rows if r["needs_tool"]]
    none = [r for r in rows if not r["needs_tool"]]
    answered = [r for r in rows if r["answer_ok"] is not None]
    tool_turns = [r for r in rows if r["calls"]]
    plain_turns = [r for r in rows if not r["calls"]]

    def times(group: list[dict[str, Any]], key: str) -> list[float]:
        return [r[key] for r in group if r.get(key) is not None]

    cats: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        cats[r["category"]].append(r)
    return {
        "requests": len(rows),
        "right_first_tool": [sum(bool(r["right_first_tool"]) for r in need), len(need)],
        "any_call_when_needed": [sum(bool(r["calls"]) for r in need), len(need)],
        "false_calls": [sum(bool(r["false_call"]) for r in none), len(none)],
        "outcome": [sum(r["outcome_ok"] for r in rows), len(rows)],
        "outcome_needs_tool": [sum(r["outcome_ok"] for r in need), len(need)],
        "answer": [sum(bool(r["answer_ok"]) for r in answered), len(answered)],
        "invented_names": [sum(invented_name(r["text"]) is not None for r in need), len(need)],
        "errors": sum(bool(r["error"]) for r in rows),
        "mean_steps": round(sum(r["steps"] for r in rows) / len(rows), 2) if rows else 0,
        "first_token_s": times(rows, "first_token_s"),
        "total_s": times(rows, "total_s"),
        "total_s_tool_turns": times(tool_turns, "total_s"),
        "total_s_plain_turns": times(plain_turns, "total_s"),
        "first_token_s_tool_turns": times(tool_turns, "first_token_s"),
        "by_category": {
            c: {
                "n": len(g),
                "outcome": sum(r["outcome_ok"] for r in g),
                "right_first_tool": sum(bool(r["right_first_tool"]) for r in g),
            }
            for c, g in sorted(cats.items())
        },
    }


def report(summary: dict[str, Any]) -> str:
    s = summary
    lines = [
        f"model: {s.get('model', '?')}   set: {s.get('set', '?')}   requests: {s['requests']}   "
        f"turn errors/timeouts: {s['errors']}",
        f"right first tool (needs a tool):   {rate(*s['right_first_tool'])}",
        f"any tool call (needs a tool):      {rate(*s['any_call_when_needed'])}",
        f"false calls (needs none):          {rate(*s['false_calls'])}",
        f"outcome check passed (all):        {rate(*s['outcome'])}",
        f"outcome check passed (needs tool): {rate(*s['outcome_needs_tool'])}",
        f"answer has the labelled facts:     {rate(*s['answer'])}",
        f"call text naming no tool (needs):  {rate(*s['invented_names'])}",
        f"mean model requests per turn:      {s['mean_steps']}",
        f"time to first token:               {time_line(s['first_token_s'])}",
        f"turn time, all:                    {time_line(s['total_s'])}",
        f"turn time, turns with tool calls:  {time_line(s['total_s_tool_turns'])}",
        f"turn time, turns without:          {time_line(s['total_s_plain_turns'])}",
        "by category (outcome / right first tool / n): "
        + ", ".join(f"{c} {v['outcome']}/{v['right_first_tool']}/{v['n']}" for c, v in s["by_category"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="dev", help="a set of benchmarks/tooluse (dev, test, test2..test12, chains, "
                        "chains-heldout, chains-heldout2..chains-heldout9) or a path to a .jsonl set")
    parser.add_argument("--limit", type=int, default=0, help="only the first N records")
    parser.add_argument("--ids", default="", help="only these record ids (comma-separated)")
    parser.add_argument("--local-model", default="qwen2.5-coder-0.5b", help="qwen2.5-coder-0.5b | qwen2.5-coder-1.5b")
    parser.add_argument("--base-url", default=None, help="an OpenAI-compatible endpoint instead of the local model")
    parser.add_argument("--model", default=None, help="model name at --base-url")
    parser.add_argument("--max-steps", type=int, default=0, help="override max_steps (default: the setting's)")
    parser.add_argument("--turn-timeout", type=float, default=300.0, help="seconds per turn before it counts as failed")
    parser.add_argument("--out", type=Path, default=None, help="results JSONL (default benchmarks/results/...)")
    parser.add_argument("--resume", action="store_true", help="keep the rows already in --out, run the rest")
    parser.add_argument("--interleave", action="store_true", help="run categories round-robin (fair partial runs)")
    parser.add_argument("--summary", type=Path, default=None, help="print the figures of a results JSONL and exit")
    args = parser.parse_args(argv)
    if args.summary:
        rows = [r for r in load_jsonl(args.summary) if "summary" not in r]
        head = next((r["summary"] for r in load_jsonl(args.summary) if "summary" in r), {})
        s = summarise(rows)
        s.update(model=rows[0].get("model", "?") if rows else "?", set=rows[0]["id"].split("-")[0] if rows else "?")
        s.update({k: head[k] for k in ("model", "set") if k in head})
        print(report(s))
        return 0
    path = Path(args.set) if args.set.endswith(".jsonl") else SETS / f"{args.set}.jsonl"
    records = load_jsonl(path)
    if args.ids:
        wanted = set(args.ids.split(","))
        records = [r for r in records if r["id"] in wanted]
    if args.interleave:
        records = interleave(records)
    if args.limit:
        records = records[: args.limit]
    name = args.model or args.local_model
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "benchmarks" / "results" / f"tooluse-{path.stem}-{name.replace(':', '_')}-{stamp}.jsonl"
    rows = asyncio.run(run_set(records, args, out))
    s = summarise(rows)
    s.update(model=rows[0]["model"] if rows else name, set=path.stem)
    print(report(s))
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
