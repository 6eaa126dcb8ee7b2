"""`/context`: what the model saw in the last request, and the cost of statelessness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCE_LABELS = {
    "system": "system prompt",
    "instructions": "project instructions",
    "server_instructions": "MCP server instructions",
    "tools": "tool schemas",
    "summary": "summary of earlier turns",
    "retrieval": "retrieved passages",
    "attachments": "attachments",
    "history": "history (earlier turns)",
    "input": "current input",
    "tool_results": "tool calls & results",
}


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
    again = sum(s[k].tokens for k in ("system", "instructions", "server_instructions", "tools", "summary", "history",
                                      "retrieval"))  # fmt: skip
    if step > 1:  # later steps of a turn re-send the input and earlier tool results too
        again += s["input"].tokens + s["tool_results"].tokens + s["attachments"].tokens
    return again


def compaction_notes(report: Any) -> list[str]:
    """What the summary in use stands for: the turns it replaced, and what they took."""
    summary = getattr(report, "compaction", None)
    if summary is None:
        return []
    shown = [f"{i}. {t}" for i, t in enumerate(summary.titles[:8], 1)]
    if len(summary.titles) > 8:
        shown.append(f"… and {len(summary.titles) - 8} more")
    focus = f" (focus: {summary.focus})" if summary.focus else ""
    return [
        f"Summarised: the first {summary.turns} turn(s) ({summary.covered} messages, ~{summary.covered_tokens:,} "
        f"tokens) are replaced by a {report.sources['summary'].tokens:,}-token summary written by "
        f"{summary.model or 'the model'}{focus}; the history keeps them. /compact --show prints it, "
        "/compact --undo restores them.",
        *(f"  {line}" for line in shown),
    ]


def context_report(report: Any, ledger: SentLedger | None = None) -> Any:
    """The report as a rich table with notes (both front ends print it; the plain one without colour)."""
    ledger = ledger or SentLedger([report])
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
    files = getattr(report, "instruction_files", [])
    if files:
        notes.append(f"Project instructions, in the system message after the system prompt: {', '.join(files)}.")
    notes += compaction_notes(report) + attribution_notes(report)
    if report.folded:
        notes.append("Tool results are folded into the user's turn for this small model (see README).")
    from rich.console import Group
    from rich.text import Text

    from assistant.termsafe import visible

    return Group(table, *(Text(visible(n), style="dim") for n in notes))


def attribution_notes(report: Any) -> list[str]:
    """Whose instructions and which attachments the request carried (shown with controls visible)."""
    notes = []
    if getattr(report, "instructions_from", None):
        names = ", ".join(report.instructions_from)
        notes.append(f"MCP server instructions from: {names} (the servers' own text, after the system prompt).")
    if getattr(report, "attached", None):
        notes.append("Attached to this turn: " + ", ".join(report.attached) + ".")
    return notes
