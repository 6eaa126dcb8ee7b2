"""Reports: a table in the terminal, chart.png (matplotlib), and a self-contained report.html.

The HTML page needs nothing else: styles inline, the chart embedded as base64, and one
collapsible row per task attempt with the prompt, the exact context sent, the answer, the code
that was scored and the test output.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .store import FINAL_VERDICTS, RunStore, latest_by_key
from .summary import failure_kind, summarize


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _ci(ci: list[float]) -> str:
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def headline(summary: dict[str, Any]) -> str:
    r = summary.get("pass_rate") or {}
    if not r.get("total"):
        return "no finished attempts"
    return f"{_pct(r['rate'])} ({r['passed']}/{r['total']}), 95% CI {_ci(r['ci95'])}"


def _console() -> Any:
    """Rich console on stdout; wide when not a terminal (files and pipes should not wrap tables)."""
    import sys

    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def print_summary(summary: dict[str, Any], path: Path) -> None:
    from rich.table import Table

    table = Table(title=f"{summary.get('run')} ({summary.get('status')})", show_header=True)
    table.add_column("metric")
    table.add_column("value")
    table.add_row("suite / mode / model", f"{summary.get('suite')} / {summary.get('mode')} / {summary.get('model')}")
    table.add_row("template", str(summary.get("template")))
    table.add_row("finished", f"{summary.get('finished')} (unfinished {summary.get('unfinished')})")
    table.add_row("pass rate", headline(summary))
    for name, v in (summary.get("pass_at_k") or {}).items():
        table.add_row(name, f"{_pct(v['value'])}, 95% CI {_ci(v['ci95'])}")
    tok, t = summary.get("tokens") or {}, summary.get("time") or {}
    table.add_row("tokens / attempt", f"prompt {tok.get('prompt_mean')}, completion {tok.get('completion_mean')}")
    table.add_row("time / attempt", f"generation {t.get('generation_mean_s')} s, scoring {t.get('score_mean_s')} s")
    last = (t.get("invocations") or [{}])[-1]
    if last:
        wall = f"{last.get('wall_s')} s, overhead vs generation {last.get('overhead_pct')}%"
        table.add_row("wall (last invocation)", f"{wall}, {last.get('tasks_per_min')} tasks/min")
    if summary.get("agent"):
        a = summary["agent"]
        table.add_row("agent", f"steps {a['steps_mean']}, tool calls {a['tool_calls_mean']}, "
                      f"used tools {a['tasks_with_tool_calls']}, hit step limit {a['hit_step_limit']}")  # fmt: skip
    table.add_row("failures", ", ".join(f"{k} {v}" for k, v in (summary.get("failures") or {}).items()))
    _console().print(table)
    print(f"run folder: {path}")


def _records(store: RunStore) -> list[dict[str, Any]]:
    latest = latest_by_key(store.load_attempts().records)
    return sorted(latest.values(), key=lambda r: (_num(r["task_id"]), r.get("sample", 0)))


def _num(task_id: str) -> tuple[str, int]:
    name, _, num = task_id.rpartition("/")
    return (name, int(num)) if num.isdigit() else (task_id, 0)


def report_run(store: RunStore, *, html: bool = True, png: bool = True) -> list[Path]:
    config = store.read_config()
    records = store.load_attempts().records
    summary = store.read_summary() or summarize(records, config, status="unknown")
    print_summary(summary, store.path)
    written: list[Path] = []
    chart = None
    if png:
        chart = store.path / "chart.png"
        chart_run(summary, _records(store), chart)
        written.append(chart)
    if html:
        page = store.path / "report.html"
        page.write_text(render_html(config, summary, _records(store), chart), encoding="utf-8")
        written.append(page)
    return written


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_run(summary: dict[str, Any], records: list[dict[str, Any]], path: Path) -> None:
    """Left: failure kinds. Right: generation time per attempt, passed vs failed."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    kinds = {k: v for k, v in (summary.get("failures") or {}).items()}
    left.barh(list(kinds), list(kinds.values()), color=["#2a9d8f" if k == "passed" else "#e76f51" for k in kinds])
    left.invert_yaxis()
    left.set_title(f"outcomes: {headline(summary)}", fontsize=9)
    for verdict, color in (("passed", "#2a9d8f"), ("failed", "#e76f51")):
        xs = [float((r.get("usage") or {}).get("completion_tokens", 0)) for r in records if r.get("verdict") == verdict]
        ys = [float((r.get("timing") or {}).get("generate_s", 0)) for r in records if r.get("verdict") == verdict]
        right.scatter(xs, ys, s=12, alpha=0.7, color=color, label=verdict)
    right.set_xlabel("completion tokens")
    right.set_ylabel("generation time (s)")
    right.legend()
    fig.suptitle(
        f"{summary.get('run')}: {summary.get('suite')} {summary.get('mode')} on {summary.get('model')}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_compare(summaries: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(summaries)), 4))
    names, rates, lows, highs = [], [], [], []
    for s in summaries:
        r = s.get("pass_rate") or {"rate": 0.0, "ci95": [0.0, 0.0]}
        names.append(str(s.get("run"))[:28])
        rates.append(100 * r["rate"])
        lows.append(100 * (r["rate"] - r["ci95"][0]))
        highs.append(100 * (r["ci95"][1] - r["rate"]))
    ax.bar(range(len(names)), rates, yerr=[lows, highs], capsize=6, color="#457b9d")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("pass rate % (95% CI)")
    ax.set_ylim(0, 100)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare_runs(stores: list[RunStore], png: Path | None = None) -> None:
    from rich.table import Table

    summaries = [s.read_summary() or summarize(s.load_attempts().records, s.read_config(), status="unknown")
                 for s in stores]  # fmt: skip
    table = Table(title="runs")
    for col in ("run", "mode", "template", "extract", "model", "pass rate (95% CI)", "completion tokens", "gen s/task"):
        table.add_column(col)
    for store, s in zip(stores, summaries, strict=True):
        ex = store.read_config().get("extract") or {}
        how = f"{ex.get('strategy', '?')}{'+sanitize' if ex.get('sanitize') else ''}"
        table.add_row(str(s.get("run")), str(s.get("mode")), str(s.get("template")), how, str(s.get("model")),
                      headline(s), str((s.get("tokens") or {}).get("completion_mean")),
                      str((s.get("time") or {}).get("generation_mean_s")))  # fmt: skip
    console = _console()
    console.print(table)
    base = _passed_tasks(stores[0])
    for store, s in zip(stores[1:], summaries[1:], strict=True):
        other = _passed_tasks(store)
        common = set(base) & set(other)
        gained = sorted((t for t in common if other[t] and not base[t]), key=_num)
        lost = sorted((t for t in common if base[t] and not other[t]), key=_num)
        console.print(f"{s.get('run')} vs {summaries[0].get('run')}: {len(common)} tasks in common, "
                      f"+{len(gained)} newly passed, -{len(lost)} newly failed "
                      f"(sign test p={_sign_test(len(gained), len(lost)):.3f})")  # fmt: skip
        if gained:
            console.print("  newly passed: " + ", ".join(gained))
        if lost:
            console.print("  newly failed: " + ", ".join(lost))
    if png is not None:
        chart_compare(summaries, png)
        print(f"wrote {png}")


def _passed_tasks(store: RunStore) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for r in latest_by_key(store.load_attempts().records).values():
        if r.get("verdict") in FINAL_VERDICTS and r.get("sample", 0) == 0:
            out[r["task_id"]] = r["verdict"] == "passed"
    return out


def _sign_test(a: int, b: int) -> float:
    """Two-sided exact sign test (McNemar on the discordant pairs)."""
    from math import comb

    n = a + b
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(0, min(a, b) + 1)) / 2**n
    return min(1.0, 2 * tail)


_CSS = """body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}.passed{color:#1b7f5f}
.failed{color:#c0392b}details{margin:2px 0}summary{cursor:pointer}pre{background:#f6f6f6;padding:8px;
overflow-x:auto;white-space:pre-wrap;font-size:12px}h3{margin:.6em 0 .2em}"""


def render_html(
    config: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]], chart: Path | None
) -> str:
    e = html.escape
    parts = [f"<!doctype html><meta charset=utf-8><title>{e(str(summary.get('run')))}</title><style>{_CSS}</style>",
             f"<h1>{e(str(summary.get('run')))}</h1><p><b>{e(headline(summary))}</b>"
             f" — status {e(str(summary.get('status')))}</p>"]  # fmt: skip
    if chart is not None and chart.is_file():
        data = base64.b64encode(chart.read_bytes()).decode()
        parts.append(f'<img alt="chart" src="data:image/png;base64,{data}" style="max-width:100%">')
    rows = "".join(f"<tr><th>{e(k)}</th><td><pre>{e(_short_json(v))}</pre></td></tr>" for k, v in config.items())
    parts.append(f"<details><summary>config</summary><table>{rows}</table></details>")
    srows = "".join(f"<tr><th>{e(k)}</th><td><pre>{e(_short_json(v))}</pre></td></tr>"
                    for k, v in summary.items() if k != "per_task")  # fmt: skip
    parts.append(f"<details><summary>summary</summary><table>{srows}</table></details><h2>Tasks</h2>")
    for r in records:
        parts.append(_task_html(r))
    return "\n".join(parts)


def _short_json(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False)
    return text if len(text) < 4000 else text[:4000] + "…"


def _task_html(r: dict[str, Any]) -> str:
    e = html.escape
    verdict = str(r.get("verdict"))
    result = str(r.get("result") or r.get("error") or "")
    usage, timing = r.get("usage") or {}, r.get("timing") or {}
    head = (f"<span class={e(verdict)}>{e(verdict)}</span> {e(r['task_id'])}#{r.get('sample', 0)} — "
            f"{e(failure_kind(result) if verdict != 'error' else 'endpoint error')}: {e(result[:160])} "
            f"({usage.get('completion_tokens', '?')} tokens, {timing.get('generate_s', '?')} s, "
            f"steps {r.get('steps', 1)})")  # fmt: skip
    body = []
    messages = r.get("messages") or []
    prompt = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    body.append(f"<h3>prompt</h3><pre>{e(str(prompt))}</pre>")
    ctx = "\n\n".join(f"[{m.get('role')}] {m.get('content') or ''}" + (f"\n  tool_calls: {json.dumps(m['tool_calls'])}"
                      if m.get("tool_calls") else "") for m in messages)  # fmt: skip
    body.append(f"<details><summary>context sent ({len(messages)} messages)</summary><pre>{e(ctx)}</pre></details>")
    body.append(
        f"<h3>answer (finish: {e(str(r.get('finish_reason')))})</h3>"
        f"<pre>{e(str(r.get('answer') or r.get('output') or ''))}</pre>"
    )
    for call in r.get("tool_calls") or []:
        body.append(f"<details><summary>tool call {e(call.get('name', ''))}</summary>"
                    f"<pre>{e(call.get('arguments', ''))}"
                    f"</pre><pre>{e(call.get('result', ''))}</pre></details>")  # fmt: skip
    ex = r.get("extraction") or {}
    body.append(f"<h3>scored code — {e(str(ex.get('how', '')))} {e(str(ex.get('sanitized', '')))}</h3>"
                f"<pre>{e(str(r.get('completion', '')))}</pre>")  # fmt: skip
    body.append(f"<h3>test output</h3><pre>{e(str(r.get('test_output', '')))}</pre>")
    return f"<details><summary>{head}</summary>{''.join(body)}</details>"
