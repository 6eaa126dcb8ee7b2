"""Benchmark: tool calls that the local model writes as text, recognised or not.

Runs every prompt of ``benchmarks/textcalls_prompts.jsonl`` (half need a tool, half must not call
one) on the real local model through llama-server's OpenAI-compatible API (streamed, temperature 0,
the tool set below, the project's system prompt) and reports, per prompt and in total:

* recognised: share of tool-needing prompts where a call to the expected tool came back
  (native ``tool_calls`` or recognised in the text by ``assistant.textcalls``);
* false calls: share of no-tool prompts where any call came back;
* the same two figures with the recogniser off (native ``tool_calls`` only: the baseline);
* how often the streamed result (``TextCallFilter`` fed delta by delta) differed from the one-shot
  ``find_text_tool_calls`` on the whole text (must be 0).

Usage::

    .venv/bin/python benchmarks/bench_textcalls.py                       # start the local 0.5B model
    .venv/bin/python benchmarks/bench_textcalls.py --base-url http://127.0.0.1:8080/v1
    .venv/bin/python benchmarks/bench_textcalls.py --dump /tmp/raw.jsonl  # keep raw answers
    .venv/bin/python benchmarks/bench_textcalls.py --replay /tmp/raw.jsonl  # re-score, no model
    .venv/bin/python benchmarks/bench_textcalls.py --tool-hint            # + proposed system line

The server: ``assistant.local.open_local_server`` (reuses ``assistant serve`` if it runs, else starts
llama-server with ``--jinja``), or any OpenAI-compatible server given with ``--base-url``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = ROOT / "benchmarks" / "textcalls_prompts.jsonl"
SYSTEM_PROMPT = ROOT / "prompts" / "system.md"
# A candidate system-prompt line for tool use, measured separately with --tool-hint.
TOOL_HINT = (
    "Call a tool when the answer depends on what you cannot know from memory (files, program output, "
    "live data, the docs): never guess it. Otherwise answer directly, with no tool call."
)


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


TOOLS: list[dict[str, Any]] = [
    _fn(
        "read_file",
        "Read a text file from the user's project and return its contents.",
        {"path": {"type": "string", "description": "File path, relative to the project root."}},
        ["path"],
    ),
    _fn(
        "list_dir",
        "List the files and folders in a directory of the user's project.",
        {"path": {"type": "string", "description": "Directory path; '.' is the project root."}},
        ["path"],
    ),
    _fn(
        "run_python",
        "Run a Python 3 program in a sandbox and return what it printed.",
        {"code": {"type": "string", "description": "The complete program."}},
        ["code"],
    ),
    _fn(
        "get_weather",
        "Get the current weather for a city.",
        {
            "city": {"type": "string", "description": "City name, e.g. 'Paris'."},
            "units": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit."},
        },
        ["city"],
    ),
    _fn(
        "search_docs",
        "Search the project's documentation and return the best matching passages.",
        {
            "query": {"type": "string", "description": "What to look for."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 20, "description": "How many passages."},
        },
        ["query"],
    ),
]


@dataclass
class Raw:
    """What the model sent for one prompt."""

    id: str
    prompt: str
    expect_tool: str | None
    category: str
    deltas: list[str] = field(default_factory=list)
    native: list[dict[str, str]] = field(default_factory=list)
    finish_reason: str = ""
    seconds: float = 0.0
    error: str = ""
    system: str = ""  # the system prompt sent

    @property
    def content(self) -> str:
        return "".join(self.deltas)


@dataclass
class Scored:
    raw: Raw
    native_names: list[str]
    text_names: list[str]
    shown_before_finish: int  # characters released by the streaming filter before finish()
    shown_total: int  # characters shown in all (released before and at finish)
    stream_matches_oneshot: bool

    @property
    def attempted(self) -> bool:
        """The model wrote a call naming the expected tool: native, or ``"name": "<tool>", "arguments"``
        (or ``"parameters"``) in the text. A crude yardstick for the recogniser's recall."""
        tool = self.raw.expect_tool
        if not tool:
            return False
        named = re.search(rf'"name"\s*:\s*"{re.escape(tool)}"\s*,\s*"(arguments|parameters)"', self.raw.content)
        return tool in self.native_names or named is not None


# ---------------------------------------------------------------- the server


def _server(args: argparse.Namespace) -> contextlib.AbstractAsyncContextManager[Any]:
    if args.base_url:
        return contextlib.nullcontext(SimpleNamespace(base_url=args.base_url, model=args.model))
    from assistant.local import open_local_server

    return open_local_server(model_name=args.model)


# ---------------------------------------------------------------- running the prompts


def load_prompts(path: Path = PROMPTS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def system_prompt(tool_hint: bool) -> str:
    text = SYSTEM_PROMPT.read_text().strip()
    return f"{text}\n{TOOL_HINT}" if tool_hint else text


async def run_one(client: Any, model: str, item: dict[str, Any], system: str, max_tokens: int) -> Raw:
    raw = Raw(item["id"], item["prompt"], item["expect_tool"], item["category"], system=system)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": item["prompt"]}]
    pending: dict[int, dict[str, str]] = {}
    started = time.perf_counter()
    try:
        stream = await client.chat.completions.create(
            model=model, messages=messages, tools=TOOLS, stream=True, temperature=0, max_tokens=max_tokens,
        )
        async for chunk in stream:
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta is not None and delta.content:
                    raw.deltas.append(delta.content)
                for tc in (delta.tool_calls if delta is not None else None) or []:
                    call = pending.setdefault(tc.index or 0, {"name": "", "arguments": ""})
                    if tc.function is not None:
                        call["name"] = tc.function.name or call["name"]
                        call["arguments"] += tc.function.arguments or ""
                if choice.finish_reason:
                    raw.finish_reason = choice.finish_reason
    except Exception as exc:
        raw.error = f"{type(exc).__name__}: {exc}"
    raw.native = [pending[i] for i in sorted(pending)]
    raw.seconds = time.perf_counter() - started
    return raw


async def run_all(args: argparse.Namespace, items: list[dict[str, Any]]) -> list[Raw]:
    from openai import AsyncOpenAI

    system = system_prompt(args.tool_hint)
    async with _server(args) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key=getattr(server, "api_key", None) or "no-key")
        limit = asyncio.Semaphore(args.concurrency)

        async def one(item: dict[str, Any]) -> Raw:
            async with limit:
                raw = await run_one(client, server.model, item, system, args.max_tokens)
            print(f"  {raw.id}: {raw.seconds:5.1f}s {raw.finish_reason}", file=sys.stderr, flush=True)
            return raw

        try:
            return list(await asyncio.gather(*(one(item) for item in items)))
        finally:
            await client.close()


# ---------------------------------------------------------------- scoring


def score(raw: Raw, tools: Sequence[dict[str, Any]] = TOOLS) -> Scored:
    from assistant.textcalls import TextCallFilter, find_text_tool_calls

    calls, rest = find_text_tool_calls(raw.content, tools)
    filt = TextCallFilter(tools)
    shown = "".join(filt.feed(d) for d in raw.deltas)
    held, stream_calls = filt.finish()
    same = shown + held == rest and [(c.name, c.arguments) for c in stream_calls] == [
        (c.name, c.arguments) for c in calls
    ]
    names = [c["name"] for c in raw.native]
    return Scored(raw, names, [c.name for c in calls], len(shown), len(shown + held), same)


@dataclass
class Summary:
    tool_prompts: int
    none_prompts: int
    recognised: int  # tool prompts with a call to the expected tool (native or text)
    any_call: int  # tool prompts with any call
    attempted: int  # tool prompts where the model wrote a call naming the expected tool
    attempted_recognised: int  # ... and it was recognised
    false_calls: int  # no-tool prompts with any call
    native_recognised: int  # baseline: native tool_calls only
    native_false: int
    native_total: int  # prompts with any native tool_calls
    stream_mismatch: int

    def pct(self, n: int, d: int) -> str:
        return f"{100 * n / d:5.1f}% ({n}/{d})" if d else "  n/a"


def summarise(scored: list[Scored]) -> Summary:
    tool = [s for s in scored if s.raw.expect_tool]
    none = [s for s in scored if not s.raw.expect_tool]
    return Summary(
        tool_prompts=len(tool),
        none_prompts=len(none),
        recognised=sum(s.raw.expect_tool in s.native_names + s.text_names for s in tool),
        any_call=sum(bool(s.native_names or s.text_names) for s in tool),
        attempted=sum(s.attempted for s in tool),
        attempted_recognised=sum(s.attempted and s.raw.expect_tool in s.native_names + s.text_names for s in tool),
        false_calls=sum(bool(s.native_names or s.text_names) for s in none),
        native_recognised=sum(s.raw.expect_tool in s.native_names for s in tool),
        native_false=sum(bool(s.native_names) for s in none),
        native_total=sum(bool(s.native_names) for s in scored),
        stream_mismatch=sum(not s.stream_matches_oneshot for s in scored),
    )


def _shape(content: str) -> str:
    """A short label for how the answer is formatted (for the raw-output observations)."""
    c = content.strip()
    if "<tool_call>" in c:
        return "tags"
    if c.startswith("```"):
        return "fence-only" if c.endswith("```") and c.count("```") == 2 else "fence+text"
    if "```json" in c:
        return "text+fence"
    if c.startswith(("{", "[")):
        return "bare"
    return "prose"


def print_report(scored: list[Scored], label: str) -> Summary:
    print(f"\n## {label}\n")
    print(f"{'id':9} {'expect':12} {'native':12} {'text calls':24} {'shape':11} {'ok':3} first 60 chars")
    for s in scored:
        exp = s.raw.expect_tool or "-"
        names = s.native_names + s.text_names
        ok = (exp in names) if s.raw.expect_tool else not names
        preview = s.raw.content.strip().replace("\n", "\\n")[:60]
        print(
            f"{s.raw.id:9} {exp:12} {','.join(s.native_names) or '-':12} {','.join(s.text_names) or '-':24} "
            f"{_shape(s.raw.content):11} {'✓' if ok else '✗':3} {preview}"
        )
    m = summarise(scored)
    print()
    print(f"recognised (expected tool called, native or text): {m.pct(m.recognised, m.tool_prompts)}")
    print(f"tool prompts with any call:                        {m.pct(m.any_call, m.tool_prompts)}")
    print(f"recogniser recall (model named the right tool):    {m.pct(m.attempted_recognised, m.attempted)}")
    print(f"false calls on no-tool prompts:                    {m.pct(m.false_calls, m.none_prompts)}")
    print(f"baseline, recogniser off (native tool_calls only): recognised "
          f"{m.pct(m.native_recognised, m.tool_prompts)}, false {m.pct(m.native_false, m.none_prompts)}")
    print(f"prompts answered with native tool_calls:           {m.native_total}/{len(scored)}")
    print(f"streamed != one-shot:                              {m.stream_mismatch}")
    plain = [s for s in scored if not (s.native_names or s.text_names)]
    early = sum(s.shown_before_finish for s in plain)
    total = sum(s.shown_total for s in plain)
    print(f"answers without calls, text shown before finish(): {m.pct(early, total)} characters")
    return m


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-url", help="use this running OpenAI-compatible server instead of starting one")
    p.add_argument("--model", default="qwen2.5-coder-0.5b", help="local model to start, or the name to request")
    p.add_argument("--prompts", type=Path, default=PROMPTS)
    p.add_argument("--tool-hint", action="store_true", help="append the proposed tool-use line to the system")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--max-tokens", type=int, default=400)
    p.add_argument("--dump", type=Path, help="write the raw answers here (JSONL)")
    p.add_argument("--replay", type=Path, help="score raw answers from a --dump file; no model")
    p.add_argument("--show", action="store_true", help="print every raw answer")
    args = p.parse_args(argv)

    items = load_prompts(args.prompts)
    started = time.perf_counter()
    if args.replay:
        raws = [Raw(**json.loads(line)) for line in args.replay.read_text().splitlines() if line.strip()]
    else:
        raws = asyncio.run(run_all(args, items))
    if args.dump:
        args.dump.write_text("".join(json.dumps(asdict(r)) + "\n" for r in raws))
    if args.show:
        for r in raws:
            print(f"--- {r.id} [{r.finish_reason}] native={r.native} {r.error}\n{r.content}")
    errors = [r for r in raws if r.error]
    for r in errors:
        print(f"error on {r.id}: {r.error}", file=sys.stderr)
    hinted = any(TOOL_HINT in r.system for r in raws)
    label = "system prompt + proposed tool line (--tool-hint)" if hinted else "system prompt as the agent sends it"
    print_report([score(r) for r in raws], f"{label} ({len(raws)} prompts, {time.perf_counter() - started:.0f}s)")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
