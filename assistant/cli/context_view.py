"""`/context`: what the model saw in the last request, and the cost of statelessness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.cli.render import SOURCE_LABELS


@dataclass
class SentLedger:
    """Totals over this chat: what was sent, request after request."""

    reports: list[Any] = field(default_factory=list)
    last_step: int = 1

    def record(self, report: Any, step: int) -> None:
        self.reports.append(report)
        self.last_step = step

    @property
    def requests(self) -> int:
        return len(self.reports)

    @property
    def prompt_tokens(self) -> int:
        """Summed over every request (the server's count where it sent one)."""
        return sum(r.actual_prompt_tokens or r.total_tokens for r in self.reports)


def resent_tokens(report: Any, step: int, first_request: bool) -> int:
    """Tokens of this request that an earlier request had already carried."""
    if first_request:
        return 0
    s = report.sources
    again = s["system"].tokens + s["instructions"].tokens + s["tools"].tokens + s["history"].tokens
    again += s["retrieval"].tokens
    if step > 1:  # later steps of a turn re-send the input and earlier tool results too
        again += s["input"].tokens + s["tool_results"].tokens + s["attachments"].tokens
    return again


def context_table(report: Any, ledger: SentLedger) -> Any:
    from rich.table import Table

    window = report.window or 1
    table = Table(title="What the model saw in the last request", show_edge=False, title_justify="left")
    table.add_column("source")
    table.add_column("messages", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("of window", justify="right")
    for key, label in SOURCE_LABELS.items():
        src = report.sources[key]
        table.add_row(label, str(src.messages), f"{src.tokens:,}", f"{100 * src.tokens / window:.1f}%")
    total = report.total_tokens
    table.add_row("[bold]total[/]", str(len(report.messages)), f"[bold]{total:,}[/]", f"{100 * total / window:.1f}%")
    counted = "llama-server's tokenizer" if report.counted_by == "server" else "an estimate (~3.5 characters/token)"
    notes = [f"Window {report.window:,} tokens, {report.budget:,} usable for the prompt; counted with {counted}."]
    if report.actual_prompt_tokens is not None:
        notes.append(f"The server reported {report.actual_prompt_tokens:,} prompt tokens for this request.")
    if report.cached_prompt_tokens is not None:
        notes.append(
            f"Prompt cache: {report.evaluated_prompt_tokens:,} prompt tokens evaluated, "
            f"{report.cached_prompt_tokens:,} reused from the server's cache (a prefix an earlier request left there)."
        )
    again = resent_tokens(report, ledger.last_step, ledger.requests <= 1)
    notes.append(
        f"Re-sent: {again:,} of these tokens were already sent by earlier requests — the model keeps nothing "
        f"between requests, so every request carries the whole conversation again. This chat has sent "
        f"{ledger.prompt_tokens:,} prompt tokens in {ledger.requests} request(s)."
    )
    if report.dropped_turns:
        notes.append(
            f"Dropped to fit: the {report.dropped_turns} oldest turn(s) ({report.dropped_messages} messages, "
            f"~{report.dropped_tokens:,} tokens)."
        )
    from assistant.cli.render import attribution_lines

    notes.extend(line[0].upper() + line[1:] + "." for line in attribution_lines(report))
    if report.folded:
        notes.append("Tool results are folded into the user's turn for this small model (see README).")
    from rich.console import Group
    from rich.text import Text

    return Group(table, *(Text(n, style="dim") for n in notes))
