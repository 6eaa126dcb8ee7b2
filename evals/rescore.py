"""Score a run's recorded answers again with other extraction settings, without asking the model.

``assistant eval rescore RUN --extract first --no-sanitize`` writes a new run folder whose records
are the old ones (same messages, outputs, tokens, timings) with new extraction and verdicts. With
``compare`` this isolates how much of a score is the model and how much the harness's reading of
its answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from .extract import extract
from .sandbox import Sandbox, eval_limits
from .store import FINAL_VERDICTS, RunError, RunStore, latest_by_key
from .suites import BUILTIN, load_suite, score
from .summary import summarize


async def rescore(source: RunStore, target: Path, *, strategy: str, sanitize: bool, concurrency: int = 2) -> RunStore:
    config = source.read_config()
    if config.get("mode") != "direct":
        raise RunError("rescore works on direct-mode runs (agent runs depend on their tool results).")
    out = RunStore(target)
    if out.exists():
        raise RunError(f"{target} already holds a run; pick another --out.")
    name = config["suite"] if config.get("suite") in BUILTIN else config.get("suite_source", "")
    suite = load_suite(name).select(config.get("task_ids"))
    if suite.sha256 != config.get("suite_sha256"):
        raise RunError(f"The suite file {suite.source} differs from the one {source.name} was run on (sha256).")
    tasks = {t.task_id: t for t in suite.tasks}
    limits = config.get("sandbox_limits") or {}
    sandbox = Sandbox(eval_limits(float(limits.get("timeout_s", 10.0))))
    new_config = {**config, "name": out.name, "extract": {"strategy": strategy, "sanitize": sanitize},
                  "rescored_from": str(source.path), "created": dt.datetime.now().isoformat(timespec="seconds"),
                  "sandbox": sandbox.describe()}  # fmt: skip
    out.write_config(new_config)
    finals = [r for r in latest_by_key(source.load_attempts().records).values() if r.get("verdict") in FINAL_VERDICTS]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(record: dict[str, Any]) -> dict[str, Any]:
        task = tasks[record["task_id"]]
        ex = extract(record.get("answer") or "", task.entry_point, strategy, sanitize)  # type: ignore[arg-type]
        new = {**record, "extraction": {"how": ex.how, "sanitized": ex.sanitized, "code": ex.code},
               "completion": ex.completion}  # fmt: skip
        if not ex.code:
            new.update(verdict="failed", result="failed: no code in the answer", test_output="")
            return new
        async with gate:
            verdict = await score(sandbox, task, ex.completion)
        new.update(verdict="passed" if verdict.passed else "failed", result=verdict.result, test_output=verdict.output)
        return new

    order = {tid: i for i, tid in enumerate(tasks)}
    results = await asyncio.gather(*(one(r) for r in finals if r["task_id"] in tasks))
    results.sort(key=lambda r: (order[r["task_id"]], r.get("sample", 0)))
    for record in results:
        out.append(record)
    out.write_samples(results)
    records = out.load_attempts().records
    out.write_summary(
        summarize(records, new_config, status="complete" if len(records) == len(finals) else "incomplete")
    )
    return out
