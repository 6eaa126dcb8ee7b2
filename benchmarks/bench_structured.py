"""Benchmark: structured output on the local model, with and without grammar constraints.

Each of the 30 cases in ``benchmarks/structured_cases.jsonl`` (a schema in the compact form or as
JSON Schema, a question, and a few expected values) is asked through the Python API
(``bot.stream(text, output=schema)``: the schema in the prompt, validation, one retry) twice:

* **constrained**: the request carries ``response_format: json_schema``; llama-server decodes
  under a grammar made from the schema;
* **prompt only**: the same prompt, no constraint (what an endpoint without structured output gets).

Reported per mode: valid on the first try (the first answer parses and validates), the first
answer being bare JSON (no fence or prose around it), valid after the one retry, expected values
right (of the cases' ``expect`` fields, counted over all cases, a failed case counting as wrong),
and seconds per case. Temperature 0, ``max_tokens`` 300.

Usage::

    .venv/bin/python benchmarks/bench_structured.py                 # starts the local 0.5B model
    .venv/bin/python benchmarks/bench_structured.py --model qwen2.5-coder-1.5b
    .venv/bin/python benchmarks/bench_structured.py --base-url http://127.0.0.1:8080/v1 --only person,city
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = ROOT / "benchmarks" / "structured_cases.jsonl"


@dataclass
class Outcome:
    case: str
    mode: str
    first_valid: bool
    first_bare: bool
    valid: bool
    right: int
    expected: int
    seconds: float
    first_text: str


def load_cases(only: set[str] | None = None) -> list[dict[str, Any]]:
    from assistant.structured import check_schema, compact_schema

    cases = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        if only and case["id"] not in only:
            continue
        schema = case["schema"]
        case["schema"] = compact_schema(schema) if isinstance(schema, str) else schema
        check_schema(case["schema"])
        cases.append(case)
    return cases


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, str) and isinstance(got, str):
        return got.strip().lower() == want.lower()
    if isinstance(want, int | float) and isinstance(got, int | float) and not isinstance(want, bool):
        return abs(float(got) - float(want)) < 1e-6 * max(1.0, abs(float(want)))
    return bool(got == want)


def _bare(text: str) -> bool:
    try:
        json.loads(text.strip())
    except ValueError:
        return False
    return True


async def run_case(bot: Any, case: dict[str, Any], constrained: bool) -> Outcome:
    from assistant.events import TurnEnd
    from assistant.structured import OutputSpec, StructuredOutputError, StructuredResult

    spec = OutputSpec(case["schema"], name=case["id"], constrained=constrained)
    bot.new_conversation()
    first_text, result = None, None
    started = time.perf_counter()
    try:
        async for event in bot.stream(case["text"], output=spec):
            if isinstance(event, TurnEnd) and first_text is None:
                first_text = event.text
            elif isinstance(event, StructuredResult):
                result = event
    except StructuredOutputError:
        result = None
    seconds = time.perf_counter() - started
    expect = case.get("expect") or {}
    value = result.value if result is not None else None
    right = sum(1 for k, v in expect.items() if isinstance(value, dict) and k in value and _same(value[k], v))
    return Outcome(
        case["id"], "constrained" if constrained else "prompt only",
        first_valid=result is not None and result.attempts == 1, first_bare=_bare(first_text or ""),
        valid=result is not None, right=right, expected=len(expect), seconds=seconds, first_text=first_text or "",
    )  # fmt: skip


def report(outcomes: list[Outcome]) -> str:
    lines = [f"{'mode':14} {'valid 1st try':>14} {'bare JSON 1st':>14} {'valid w/ retry':>15} "
             f"{'values right':>13} {'s/case':>7}"]  # fmt: skip
    for mode in ("constrained", "prompt only"):
        rows = [o for o in outcomes if o.mode == mode]
        if not rows:
            continue
        n = len(rows)
        first = sum(o.first_valid for o in rows)
        bare = sum(o.first_bare for o in rows)
        valid = sum(o.valid for o in rows)
        right, expected = sum(o.right for o in rows), sum(o.expected for o in rows)
        secs = sum(o.seconds for o in rows) / n
        first_s, valid_s = f"{first}/{n} ({100 * first / n:.0f}%)", f"{valid}/{n} ({100 * valid / n:.0f}%)"
        bare_s, right_s = f"{bare}/{n}", f"{right}/{expected}"
        lines.append(f"{mode:14} {first_s:>14} {bare_s:>14} {valid_s:>15} {right_s:>13} {secs:7.2f}")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    from assistant import Assistant

    only = set(args.only.split(",")) if args.only else None
    cases = load_cases(only)
    overrides: dict[str, Any] = {"temperature": 0.0, "max_tokens": 300}
    if args.base_url:
        overrides["base_url"] = args.base_url
    if args.model:
        overrides["model"] = args.model
    outcomes: list[Outcome] = []
    async with Assistant(history=False, mcp=False, retrieval="off", **overrides) as bot:
        print(f"model {bot.model} at {bot.base_url}; {len(cases)} cases", file=sys.stderr)
        for constrained in (True, False):
            for case in cases:
                outcome = await run_case(bot, case, constrained)
                outcomes.append(outcome)
                mark = "ok " if outcome.first_valid else ("ok2" if outcome.valid else "BAD")
                print(f"  {mark} {outcome.mode:12} {case['id']:15} {outcome.seconds:5.1f}s "
                      f"{json.dumps(outcome.first_text[:90])}", file=sys.stderr)  # fmt: skip
    print(report(outcomes))
    if args.dump:
        rows = "".join(json.dumps(o.__dict__, ensure_ascii=False) + "\n" for o in outcomes)
        Path(args.dump).write_text(rows, encoding="utf-8")  # noqa: ASYNC240 - once, after the run


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url")
    parser.add_argument("--model", help="a local model name, or the model at --base-url")
    parser.add_argument("--only", help="comma-separated case ids")
    parser.add_argument("--dump", help="write every outcome (with the first answer) as JSONL")
    asyncio.run(main(parser.parse_args()))
