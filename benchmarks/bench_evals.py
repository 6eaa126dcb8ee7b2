"""Eval harness throughput on the real local model: overhead over generation, tasks/minute by concurrency.

For each concurrency (default 1, 2, 4) the first N HumanEval tasks (default 8) run in direct mode
(template qwen, greedy) against a fresh llama-server with that many slots, through the real
runner (scoring in the bwrap sandbox, records written). Printed side by side:

  wall       — the runner's wall time (server startup excluded)
  gen sum    — sum of every request's generation time
  gen busy   — time with at least one request in flight (= gen sum at concurrency 1)
  overhead   — (wall - gen busy) / gen busy: scoring and bookkeeping not hidden behind
               generation. Target ≤ 5 %.
  tasks/min  — and the speed-up over concurrency 1

    .venv/bin/python benchmarks/bench_evals.py [--limit 8] [--concurrency 1,2,4] [--template qwen] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import _util  # noqa: F401  (puts the repo on sys.path)
from assistant.evals.launch import EvalRequest, run_eval

from assistant.config import load_settings


async def one(
    limit: int, concurrency: int, template: str, folder: Path, model: str, threads: int | None
) -> dict[str, Any]:
    req = EvalRequest(suite="humaneval", limit=limit, concurrency=concurrency, template=template, threads=threads,
                      out=folder / f"c{concurrency}", command="bench_evals")  # fmt: skip
    _, summary = await run_eval(req, load_settings({"local_model": model}))
    inv: dict[str, Any] = summary["time"]["invocations"][-1]
    inv["pass"] = f"{summary['pass_rate']['passed']}/{summary['pass_rate']['total']}"
    inv["tokens"] = summary["tokens"]["completion_total"]
    return inv


async def main(limit: int, levels: list[int], template: str, model: str, threads: int | None) -> None:
    rows: list[tuple[int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-evals-") as tmp:
        for c in levels:
            rows.append((c, await one(limit, c, template, Path(tmp), model, threads)))
    base = next((r["tasks_per_min"] for c, r in rows if c == 1), None)
    print(f"model {model}, first {limit} HumanEval tasks, direct mode, template {template}, greedy, "
          f"llama-server threads {threads or 'default'}")  # fmt: skip
    print(f"{'conc':>4} {'wall s':>8} {'gen sum s':>10} {'gen busy s':>10} {'overhead':>9} {'tasks/min':>9} "
          f"{'speed-up':>8} {'tokens':>7} {'passed':>7}")  # fmt: skip
    worst = 0.0
    for c, r in rows:
        overhead = float(r["overhead_pct"] or 0.0)
        worst = max(worst, overhead)
        speed = f"{r['tasks_per_min'] / base:.2f}x" if base else "-"
        print(f"{c:>4} {r['wall_s']:>8.1f} {r['generation_sum_s']:>10.1f} {r['generation_busy_s']:>10.1f} "
              f"{overhead:>8.2f}% {r['tasks_per_min']:>9.2f} {speed:>8} {r['tokens']:>7} {r['pass']:>7}")  # fmt: skip
    print(f"overhead of scoring and bookkeeping over generation: worst {worst:.2f}% "
          f"(target ≤ 5%: {'OK' if worst <= 5 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--template", default="qwen")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--threads", type=int, default=None, help="llama-server threads (1 is steadier on a busy box)")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    asyncio.run(main(args.limit, levels, args.template, args.model, args.threads))
