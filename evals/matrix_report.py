"""The matrix report: every cell side by side, with 95% intervals and a paired test against its baseline.

Written into the matrix folder: ``report.md`` (the table), ``report.png`` (pass rates with
intervals per axis; precision cells: pass rate against file size and perplexity) and a
self-contained ``report.html`` (table, chart, each cell's own report.html linked). Each cell's
own chart.png and report.html are (re)written too.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .ablate import read_state
from .report import _sign_test, chart_run, render_html
from .store import FINAL_VERDICTS, RunStore, latest_by_key
from .summary import summarize


def _verdicts(store: RunStore) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for r in latest_by_key(store.load_attempts().records).values():
        if r.get("verdict") in FINAL_VERDICTS and r.get("sample", 0) == 0:
            out[r["task_id"]] = r["verdict"] == "passed"
    return out


def _speeds(store: RunStore) -> dict[str, float | None]:
    """Prompt and generation tokens/s as llama-server measured them, over every request of the run."""
    sums = {"prompt_n": 0.0, "prompt_ms": 0.0, "predicted_n": 0.0, "predicted_ms": 0.0}
    for r in latest_by_key(store.load_attempts().records).values():
        server = (r.get("timing") or {}).get("server") or {}
        for k in sums:
            if isinstance(server.get(k), int | float):
                sums[k] += float(server[k])
    prompt = 1000 * sums["prompt_n"] / sums["prompt_ms"] if sums["prompt_ms"] else None
    gen = 1000 * sums["predicted_n"] / sums["predicted_ms"] if sums["predicted_ms"] else None
    return {"prompt_tps": round(prompt, 1) if prompt else None, "gen_tps": round(gen, 1) if gen else None}


def _weights(model_file: str | None) -> str:
    """The real tensor types of a cell's model file ("5.3 bits/weight: Q4_0 61%, ...")."""
    from .gguf import GGUFError, describe

    if not model_file or not Path(model_file).is_file():
        return ""
    try:
        return describe(Path(model_file))
    except (OSError, GGUFError):
        return ""


def cell_rows(out: Path) -> list[dict[str, Any]]:
    """One row per cell: its settings, state, metrics and the paired comparison with its baseline."""
    state = read_state(out)
    cells = state.get("cells") or []
    states = state.get("states") or {}
    stores: dict[str, RunStore] = {}
    rows: list[dict[str, Any]] = []
    for cell in cells:
        st = states.get(cell["name"], {})
        row: dict[str, Any] = {**cell, "status": st.get("status", "pending"), "reason": st.get("reason", ""),
                               "precision": st.get("precision") or {},
                               "weights": _weights(st.get("model_file"))}  # fmt: skip
        store = RunStore(out / cell["name"])
        if store.exists():
            stores[cell["name"]] = store
            summary = store.read_summary() or summarize(store.load_attempts().records, store.read_config(),
                                                        status="unknown")  # fmt: skip
            row["summary"] = summary
            row.update(_speeds(store))
        rows.append(row)
    for row in rows:
        base = row.get("baseline")
        if base and row["name"] in stores and base in stores:
            mine, theirs = _verdicts(stores[row["name"]]), _verdicts(stores[base])
            common = set(mine) & set(theirs)
            gained = sum(1 for t in common if mine[t] and not theirs[t])
            lost = sum(1 for t in common if theirs[t] and not mine[t])
            row["paired"] = {"baseline": base, "common": len(common), "gained": gained, "lost": lost,
                             "p": round(_sign_test(gained, lost), 4)}  # fmt: skip
    return rows


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _fmt_row(row: dict[str, Any]) -> dict[str, str]:
    s = row.get("summary") or {}
    r = s.get("pass_rate") or {}
    prec = row.get("precision") or {}
    server = s.get("server") or {}
    agent = s.get("agent") or {}
    rate = f"{_pct(r.get('rate'))}% ({r.get('passed')}/{r.get('total')})" if r.get("total") else "-"
    ci = f"[{_pct(r['ci95'][0])}, {_pct(r['ci95'][1])}]" if r.get("total") else "-"
    passk = ", ".join(f"{k} {_pct(v['value'])}" for k, v in (s.get("pass_at_k") or {}).items() if k != "pass@1")
    paired = row.get("paired")
    vs = f"{paired['baseline']}: +{paired['gained']} −{paired['lost']}, p={paired['p']:.3f}" if paired else ""
    size = prec.get("model_file_bytes") or server.get("model_file_bytes")
    status = row["status"] if not row.get("reason") else f"{row['status']}: {row['reason']}"
    return {
        "cell": row["name"], "axis": row.get("axis", ""), "status": status,
        "setup": f"{row.get('suite')} {row.get('mode')} {row.get('model') or 'default'} "
                 f"{row.get('quant')} kv={row.get('kv')}" + (" rag" if row.get("retrieval") else "")
                 + (f" n={row.get('samples')} t={row.get('temperature')}" if row.get("samples", 1) > 1 else ""),
        "pass rate": rate, "95% CI": ci, "pass@k": passk, "paired vs baseline": vs,
        "tok/s prompt": str(row.get("prompt_tps") or "-"), "tok/s gen": str(row.get("gen_tps") or "-"),
        "file MB": f"{size / 1e6:.0f}" if size else "-",
        "weights as stored": row.get("weights") or "-",
        "peak MB": str(server.get("peak_rss_mb") or "-"),
        "PPL": f"{prec['ppl']:.3f}" if "ppl" in prec else "-",
        "KLD": f"{prec['kld']:.4f}" if "kld" in prec else "-",
        "top-1 %": f"{prec['top1_pct']:.1f}" if "top1_pct" in prec else "-",
        "steps / tool calls": f"{agent.get('steps_mean')} / {agent.get('tool_calls_mean')}" if agent else "",
    }  # fmt: skip


def markdown(rows: list[dict[str, Any]], title: str) -> str:
    formatted = [_fmt_row(r) for r in rows]
    if not formatted:
        return f"# {title}\n\nNo cells.\n"
    cols = list(formatted[0])
    lines = [f"# {title}", "", "| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(f[c].replace("|", "\\|") for c in cols) + " |" for f in formatted]
    lines += ["", "95% CI: Wilson interval of the pass rate. Paired: tasks passed only by this cell (+) or only by",
              "its baseline (−), two-sided exact sign test. tok/s: llama-server's own timings per request.",
              "PPL/KLD/top-1: llama-perplexity on held-out code (the repository tasks' files), KL divergence",
              "and top-1 agreement against the shipped weights with an f16 cache."]  # fmt: skip
    return "\n".join(lines) + "\n"


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    from .report import _pyplot

    plt = _pyplot()
    done = [r for r in rows if (r.get("summary") or {}).get("pass_rate", {}).get("total")]
    prec = [r for r in done if (r.get("precision") or {}).get("ppl")]
    fig, axes = plt.subplots(1, 2 if prec else 1, figsize=(14 if prec else 9, 4.8), squeeze=False)
    ax = axes[0][0]
    colors = {"tools": "#457b9d", "retrieval": "#2a9d8f", "size": "#e9c46a", "precision": "#e76f51",
              "kv": "#f4a261", "sampling": "#8d99ae"}  # fmt: skip
    for i, r in enumerate(done):
        pr = r["summary"]["pass_rate"]
        lo, hi = pr["ci95"]
        ax.bar(i, 100 * pr["rate"], color=colors.get(r.get("axis", ""), "#999999"))
        below, above = max(0.0, pr["rate"] - lo), max(0.0, hi - pr["rate"])  # an interval from an older run
        ax.errorbar(i, 100 * pr["rate"], yerr=[[100 * below], [100 * above]],
                    color="black", capsize=4)  # fmt: skip
    ax.set_xticks(range(len(done)), [r["name"] for r in done], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("pass rate % (95% CI)")
    ax.set_ylim(0, 100)
    ax.set_title("cells (colour: axis)", fontsize=9)
    if prec:
        ax2 = axes[0][1]
        for i, r in enumerate(prec):
            p, pr = r["precision"], r["summary"]["pass_rate"]
            size = p.get("model_file_bytes", 0) / 1e6
            ax2.scatter(size, p["ppl"], s=40, color=colors.get(r.get("axis", ""), "#999"))
            ax2.annotate(
                f"{r['name']}: pass {_pct(pr['rate'])}%, KL {p.get('kld', float('nan')):.3f}",
                (size, p["ppl"]),
                xytext=(6, 10 * (i % 4) - 12),
                textcoords="offset points",
                fontsize=7,
            )
        ax2.set_xlabel("model file MB")
        ax2.set_ylabel("perplexity on held-out code")
        ax2.set_title("precision: perplexity against size (label: pass rate, KL vs shipped)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_matrix_report(out: Path) -> list[Path]:
    state = read_state(out)
    title = f"Ablation matrix '{state.get('matrix', out.name)}'"
    rows = cell_rows(out)
    for row in rows:  # each cell's own report (chart and per-task drill-down)
        store = RunStore(out / row["name"])
        if store.exists() and row.get("summary"):
            records = sorted(latest_by_key(store.load_attempts().records).values(),
                             key=lambda r: (r["task_id"], r.get("sample", 0)))  # fmt: skip
            chart_run(row["summary"], records, store.path / "chart.png")
            text = render_html(store.read_config(), row["summary"], records, store.path / "chart.png")
            (store.path / "report.html").write_text(text, encoding="utf-8")
    md = out / "report.md"
    md.write_text(markdown(rows, title), encoding="utf-8")
    png = out / "report.png"
    chart(rows, png)
    page = out / "report.html"
    page.write_text(_html(rows, title, state, png), encoding="utf-8")
    (out / "report.json").write_text(
        json.dumps(
            [
                {k: v for k, v in r.items() if k != "summary"}
                | {"pass_rate": (r.get("summary") or {}).get("pass_rate")}
                for r in rows
            ],
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    return [md, png, page]


def _html(rows: list[dict[str, Any]], title: str, state: dict[str, Any], png: Path) -> str:
    e = html.escape
    formatted = [_fmt_row(r) for r in rows]
    cols = list(formatted[0]) if formatted else []
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = ""
    for f, r in zip(formatted, rows, strict=True):
        cells = [f"<td>{e(f[c])}</td>" for c in cols]
        if (Path(state.get("out", "")) / r["name"] / "report.html").is_file() or r.get("summary"):
            cells[0] = f'<td><a href="{e(r["name"])}/report.html">{e(r["name"])}</a></td>'
        body += "<tr>" + "".join(cells) + "</tr>"
    img = base64.b64encode(png.read_bytes()).decode() if png.is_file() else ""
    style = ("body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:12px;text-align:left}")  # fmt: skip
    return (f"<!doctype html><meta charset=utf-8><title>{e(title)}</title><style>{style}</style>"
            f"<h1>{e(title)}</h1><p>{e(str(state.get('description', '')))} — updated {e(str(state.get('updated')))}</p>"
            f'<img alt="chart" style="max-width:100%" src="data:image/png;base64,{img}">'
            f"<table><tr>{head}</tr>{body}</table>"
            "<p>95% CI: Wilson interval. Paired: tasks only this cell passed (+) or only its baseline (−), "
            "exact two-sided sign test.</p>")  # fmt: skip
