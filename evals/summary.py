"""summary.json: metrics of a run, computed from its attempt records alone (so any run can be re-summarized)."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any

from .metrics import pass_at_k_table, rate
from .store import FINAL_VERDICTS, latest_by_key


def failure_kind(result: str) -> str:
    """A short category of why an attempt failed: 'AssertionError', 'timeout', 'no code', 'NameError'..."""
    if result == "passed":
        return "passed"
    if "no code" in result:
        return "no code"
    if result.startswith("timed out"):
        return "timeout"
    for phrase in ("edited the tests", "deleted the tests", "wrote outside its copy"):  # repository tasks
        if phrase in result:
            return phrase
    if re.match(r"failed: \d+ of \d+ tests", result):
        return "hidden tests failed"
    match = re.match(r"failed: (\w+(?:Error|Exception|Exit|Interrupt)?)", result)
    return match.group(1) if match else "other"


def busy_time(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end] intervals: time with at least one generation in flight."""
    total = 0.0
    cur_start = cur_end = None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def summarize(
    records: list[dict[str, Any]],
    config: dict[str, Any],
    *,
    status: str,
    this_wall: float | None = None,
    invocation: int = 0,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    latest = latest_by_key(records)
    finals = [r for r in latest.values() if r.get("verdict") in FINAL_VERDICTS]
    task_ids = config.get("task_ids") or sorted({r["task_id"] for r in records})
    samples = int(config.get("samples", 1))
    counts: dict[str, tuple[int, int]] = {}
    for r in finals:
        n, c = counts.get(r["task_id"], (0, 0))
        counts[r["task_id"]] = (n + 1, c + (r["verdict"] == "passed"))
    complete_tasks = {t: v for t, v in counts.items() if v[0] >= samples}
    passed = sum(r["verdict"] == "passed" for r in finals)
    summary: dict[str, Any] = {
        "run": config.get("name"), "suite": config.get("suite"), "mode": config.get("mode"),
        "model": config.get("model"), "template": (config.get("template") or {}).get("name"),
        "status": status, "tasks": len(task_ids), "samples_per_task": samples,
        "finished": len(finals), "unfinished": len(task_ids) * samples - len(finals),
        "attempt_records": len(records),
        "pass_rate": rate(passed, len(finals)),
        "pass_at_k": pass_at_k_table(complete_tasks) if len(complete_tasks) == len(task_ids) else {},
    }  # fmt: skip
    summary["tokens"] = _tokens(finals)
    summary["time"] = _times(finals, records, this_wall, invocation, previous)
    summary["failures"] = dict(Counter(failure_kind(r.get("result", "")) for r in finals).most_common())
    summary["finish_reasons"] = dict(Counter(r.get("finish_reason", "?") for r in finals).most_common())
    summary["extraction"] = dict(Counter(_how_kind(r) for r in finals).most_common())
    if config.get("mode") == "agent":
        summary["agent"] = {
            "steps_mean": _mean([float(r.get("steps", 0)) for r in finals]),
            "tool_calls_mean": _mean([float(len(r.get("tool_calls") or [])) for r in finals]),
            "tasks_with_tool_calls": sum(1 for r in finals if r.get("tool_calls")),
            "hit_step_limit": sum(1 for r in finals if r.get("finish_reason") == "max_steps"),
        }
    if any("kind" in r for r in finals):  # repository tasks: pass rate per kind and per difficulty
        summary["by_kind"] = _rates_by(finals, "kind")
        summary["by_difficulty"] = _rates_by(finals, "difficulty")
    summary["per_task"] = {t: {"n": n, "passed": c} for t, (n, c) in sorted(counts.items(), key=_task_order)}
    return summary


def _task_order(item: tuple[str, Any]) -> tuple[str, int]:
    name, _, num = item[0].rpartition("/")
    return (name, int(num)) if num.isdigit() else (item[0], 0)


def _how_kind(record: dict[str, Any]) -> str:
    how = (record.get("extraction") or {}).get("how", "")
    return re.sub(r"block \d+ of \d+ ", "block ", how).split(",")[0] or "?"


def _tokens(finals: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = [float((r.get("usage") or {}).get("prompt_tokens", 0)) for r in finals]
    completion = [float((r.get("usage") or {}).get("completion_tokens", 0)) for r in finals]
    return {"prompt_total": int(sum(prompt)), "completion_total": int(sum(completion)),
            "prompt_mean": _mean(prompt), "completion_mean": _mean(completion)}  # fmt: skip


def _times(
    finals: list[dict[str, Any]],
    records: list[dict[str, Any]],
    this_wall: float | None,
    invocation: int,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    gen = [float(r["timing"]["generate_s"]) for r in finals if r.get("timing")]
    scoring = [float(r["timing"].get("score_s", 0.0)) for r in finals if r.get("timing")]
    invocations = list(((previous or {}).get("time") or {}).get("invocations", []))
    out: dict[str, Any] = {"generation_mean_s": _mean(gen), "score_mean_s": _mean(scoring),
                           "generation_sum_s": round(sum(gen), 2)}  # fmt: skip
    if this_wall is not None:
        mine = [r for r in records if r.get("invocation", 0) == invocation and r.get("timing")]
        busy = busy_time([(float(r["timing"]["start_s"]), float(r["timing"]["end_s"])) for r in mine])
        gen_sum = sum(float(r["timing"]["generate_s"]) for r in mine)
        invocations.append({
            "wall_s": round(this_wall, 2), "attempts": len(mine), "generation_busy_s": round(busy, 2),
            "generation_sum_s": round(gen_sum, 2),
            "overhead_pct": round(100 * (this_wall - busy) / busy, 2) if busy > 0 else None,
            "tasks_per_min": round(60 * len(mine) / this_wall, 2) if this_wall > 0 else None,
        })  # fmt: skip
    out["invocations"] = invocations
    out["wall_s"] = round(sum(float(i["wall_s"]) for i in invocations), 2)
    return out


def _rates_by(finals: list[dict[str, Any]], field: str) -> dict[str, Any]:
    groups: dict[str, list[bool]] = {}
    for r in finals:
        groups.setdefault(str(r.get(field)), []).append(r["verdict"] == "passed")
    return {k: rate(sum(v), len(v)) for k, v in sorted(groups.items())}
